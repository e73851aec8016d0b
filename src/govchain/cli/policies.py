"""``govchain policy ...``: enterprise support policies (惠企政策) — lint and test a policy file,
propose and approve it, list and show policies, see matches with their traces, grants made
without an application (免申即享), and decline a grant for an enterprise.

``lint`` runs locally (no node needed); the other commands act as the logged-in person.
Proposals, approvals and declines are ledger transactions whose receipts are verifiable
offline (``govchain verify-receipt``); ``--json`` prints the node's whole answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from govchain.apps.policies.rules import lint as lint_policy
from govchain.cli.client import path_segment
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import CliError, console
from govchain.cli.services import committed
from govchain.cli.session import (
    JsonOpt,
    LoginOpt,
    new_table,
    print_json,
    print_table,
    reports_problems,
    user_client,
    yuan,
)

app = typer.Typer(
    name="policy",
    help="Enterprise support policies (惠企政策): lint, test, publish, match, grants.",
    no_args_is_help=True,
)

BASE = "/v1/apps/policies"
"""Where the service's routes are."""

FileArg = Annotated[Path, typer.Argument(metavar="FILE", help="A policy as JSON.")]
IdArg = Annotated[str, typer.Argument(metavar="POLICY", help="Policy id.")]


def _path(*parts: str) -> str:
    return BASE + "".join("/" + path_segment(p) for p in parts)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None


def _source(attestation: str) -> str:
    """An attestation id, shortened (the registry's own record as ``registry``)."""
    return "registry" if attestation.startswith("registry:") else attestation[:12] + "…"


def _gap(value: Any) -> str:
    return "" if value is None else (f"+{value:,}" if value > 0 else f"{value:,}")


def _print_trace(match: dict[str, Any]) -> None:
    title = match.get("title", {}).get("zh", match["policy"])
    worth = "benefit" if match["status"] == "qualifies" else "benefit if it qualified"
    console.print(
        f"[bold]{escape(match['policy'])}[/] {escape(title)}: {match['status']}, "
        f"{worth} {yuan(match['benefit_fen'])}"
    )
    for clause in match["clauses"]:
        mark = "✓" if clause["result"] else "✗"
        gap = f"  (gap {_gap(clause['gap'])})" if clause["gap"] is not None else ""
        console.print(f"  {mark} [{clause['index']}] {escape(clause['clause'])}{gap}")
        for check in clause["checks"]:
            for f in check["facts"]:
                source = f"{f['dept']} {f['attestation']}" if f["attestation"] else "not attested"
                console.print(
                    f"      {escape(f['attribute'])} = {f['value']!s}  ← {escape(source)}"
                )


@app.command("lint")
def lint(path: FileArg, as_json: JsonOpt = False) -> None:
    """Check a policy file: unknown attributes, type errors, impossible conditions,
    overlapping tiers (locally: no node, no login)."""
    found = lint_policy(_read(path))
    if as_json:
        print_json({"ok": not found, "findings": [f.to_json() for f in found]})
    for f in found if not as_json else []:
        console.print(f"{escape(str(path))}: {escape(f.path)}: {escape(f.message)}")
    if found:
        raise typer.Exit(1)
    if not as_json:
        console.print(f"{escape(str(path))}: ok")


@app.command("test")
@reports_problems
def test(
    path: FileArg,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Run a draft policy against the registry's enterprises: how many qualify, nearly
    qualify, the expected total benefit, and sample traces."""
    with user_client(network, url, login) as client:
        doc = client.post(_path("test"), orjson.dumps(_read(path)))
    if as_json:
        print_json(doc)
        return
    c = doc["counts"]
    console.print(
        f"{escape(doc['policy'])} against {doc['enterprises']} enterprises: "
        f"{c['qualifies']} qualify, {c['nearly']} nearly, {c['not']} not; "
        f"expected benefit {yuan(doc['benefit_fen'])}"
    )
    shown = set()
    for sample in doc["samples"]:  # one enterprise of each outcome
        if sample["status"] in shown:
            continue
        shown.add(sample["status"])
        console.print(f"\n{escape(sample['uscc'])} {escape(sample['name'])}")
        _print_trace(sample)


@app.command("propose")
@reports_problems
def propose(
    path: FileArg,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Propose a policy of your department (linted first)."""
    with user_client(network, url, login) as client:
        doc = client.post(_path("policies"), orjson.dumps(_read(path)))
    if as_json:
        print_json(doc)
        return
    console.print(f"proposed {escape(doc['result']['id'])} version {doc['result']['version']}: "
                  f"{committed(doc)}")  # fmt: skip


@app.command("approve")
@reports_problems
def approve(
    policy_id: IdArg,
    version: Annotated[int, typer.Option("--version", min=1, help="The proposal's version.")],
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Approve (and publish) a proposed policy: another person than its proposer."""
    with user_client(network, url, login) as client:
        doc = client.post(
            _path("policies", policy_id, "approve"), orjson.dumps({"version": version})
        )
    if as_json:
        print_json(doc)
        return
    console.print(f"published {escape(policy_id)} version {version}: {committed(doc)}")


@app.command("list")
@reports_problems
def list_policies(
    status: Annotated[str, typer.Option("--status", help="proposed, published, withdrawn.")] = "",
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """List policies in id order."""
    with user_client(network, url, login) as client:
        doc = client.get(_path("policies"), **({"status": status} if status else {}))
    if as_json:
        print_json(doc)
        return
    table = new_table("id", "status", "v", "issuer", "mode", "valid", "cap", "title")
    for r in doc:
        p = r["policy"]
        table.add_row(
            escape(p["id"]), r["status"], str(r["version"]), p["issuer"], p["mode"],
            f"{p['valid_from']}..{p['valid_until']}", yuan(p["benefit"]["cap_fen"]),
            escape(p["title"]["zh"]),
        )  # fmt: skip
    print_table(table)
    console.print(f"{len(doc)} polic{'y' if len(doc) == 1 else 'ies'}")


@app.command("show")
@reports_problems
def show(
    policy_id: IdArg,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Show a policy: its document, rule, benefit, and who proposed and approved it."""
    with user_client(network, url, login) as client:
        doc = client.get(_path("policies", policy_id))
    if as_json:
        print_json(doc)
        return
    p = doc["policy"]
    console.print(f"[bold]{escape(p['title']['zh'])}[/] / {escape(p['title']['en'])}")
    console.print(f"{escape(p['document']['number'])} {escape(p['document']['title'])} "
                  f"({p['document']['date']})")  # fmt: skip
    approved = escape(doc["approved_by"] or "-")
    console.print(
        f"status {doc['status']} v{doc['version']}; proposed by "
        f"{escape(doc['proposed_by'])}, approved by {approved}"
    )
    console.print("eligibility: " + json.dumps(p["eligibility"], ensure_ascii=False))
    console.print("benefit: " + json.dumps(p["benefit"], ensure_ascii=False))


@app.command("match")
@reports_problems
def match(
    uscc: Annotated[
        str, typer.Argument(help="An enterprise's USCC (none: every enterprise).")
    ] = "",
    mine: Annotated[bool, typer.Option("--mine", help="The enterprises you act for.")] = False,
    everything: Annotated[bool, typer.Option("--all", help="Non-matches too.")] = False,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """An enterprise's matched policies with their traces; with no USCC, every policy
    against every enterprise (staff)."""
    with user_client(network, url, login) as client:
        if mine:
            doc: Any = client.get(_path("mine"))
        elif uscc:
            doc = client.get(_path("enterprises", uscc, "matches"), everything=everything)
        else:
            doc = client.get(_path("matches"))
    if as_json:
        print_json(doc)
        return
    if not mine and not uscc:
        table = new_table("policy", "mode", "qualify", "nearly", "expected benefit")
        for r in doc["policies"]:
            table.add_row(escape(r["policy"]), r["mode"], str(r["qualifies"]), str(r["nearly"]),
                          yuan(r["benefit_fen"]))  # fmt: skip
        print_table(table)
        console.print(f"{doc['enterprises']} enterprises on {doc['on']}")
        return
    for result in doc if mine else [doc]:
        console.print(
            f"[bold]{escape(result['uscc'])} {escape(result['name'])}[/] ({result['on']})"
        )
        for m in result["matches"]:
            _print_trace(m)


@app.command("grants")
@reports_problems
def grants(
    uscc: Annotated[str, typer.Option("--uscc", help="One enterprise's grants.")] = "",
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Grants decided without an application, with the attestations they relied on."""
    with user_client(network, url, login) as client:
        doc = client.get(_path("grants"), **({"uscc": uscc} if uscc else {}))
    if as_json:
        print_json(doc)
        return
    table = new_table("policy", "enterprise", "amount", "status", "attestations")
    for g in doc:
        atts = ", ".join(f"{f['attribute']} ({_source(f['attestation'])})" for f in g["facts"])
        table.add_row(
            escape(g["policy"]), g["uscc"], yuan(g["amount_fen"]), g["status"], escape(atts)
        )
    print_table(table)
    console.print(f"{len(doc)} grant{'' if len(doc) == 1 else 's'}")


@app.command("decline")
@reports_problems
def decline(
    uscc: Annotated[str, typer.Argument(help="The enterprise's USCC.")],
    policy_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="Why (1 to 500 characters).")],
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Decline a grant for an enterprise you act for: the payment is not made."""
    with user_client(network, url, login) as client:
        doc = client.post(
            _path("mine", uscc, "grants", policy_id, "decline"), orjson.dumps({"reason": reason})
        )
    if as_json:
        print_json(doc)
        return
    console.print(f"declined {escape(policy_id)} for {escape(uscc)}: {committed(doc)}")
