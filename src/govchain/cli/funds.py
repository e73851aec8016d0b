"""``govchain funds ...``: key projects and public-welfare funds (重点项目和公益资金监管) as the
logged-in department staff member: projects with their disbursements and flags, registering a
project, disbursing, notarising evidence, raising flags from the analytics index and handling
them (assign, explain, close).

Writes are ledger transactions the node signs for the logged-in person; the commands print the
transaction, whose receipt is verifiable offline. ``--json`` prints the node's whole answer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from govchain.cli.client import path_segment
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import console
from govchain.cli.services import committed
from govchain.cli.session import (
    JsonOpt,
    LoginOpt,
    new_grid,
    new_table,
    print_json,
    print_table,
    reports_problems,
    user_client,
    yuan,
)

app = typer.Typer(
    name="funds",
    help="Key projects and public-welfare funds (重点项目和公益资金监管): projects, "
    "disbursements, evidence, anomaly flags.",
    no_args_is_help=True,
)
flag_app = typer.Typer(name="flag", help="One anomaly flag: show it.", no_args_is_help=True)
app.add_typer(flag_app, name="flag")

BASE = "/v1/apps/funds"
"""Where the service's routes are."""

ProjectArg = Annotated[str, typer.Argument(metavar="PROJECT", help="Project id (FP-…).")]
FlagArg = Annotated[str, typer.Argument(metavar="FLAG", help="Flag id (F000001).")]


def _path(*parts: str) -> str:
    return BASE + "".join("/" + path_segment(p) for p in parts)


def _post(client: Any, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, orjson.dumps(body))


def _project_table(projects: list[dict[str, Any]]) -> None:
    table = new_table("id", "name", "owner", "category", "budget", "paid", "open flags")
    for p in projects:
        table.add_row(
            escape(p["id"]),
            escape(p["name"]),
            escape(p["dept"]),
            escape(p["category"]),
            yuan(p["budget_fen"]),
            yuan(p["paid_fen"]),
            str(p.get("open_flags", 0)),
        )
    print_table(table)


def _flag_table(flags: list[dict[str, Any]]) -> None:
    table = new_table("flag", "rule", "subject", "projects", "status", "block")
    for f in flags:
        table.add_row(
            f["id"],
            f["rule"],
            escape(f["subject"]),
            escape(", ".join(f["projects"])),
            f["status"] + (f" ({f['outcome']})" if f["outcome"] else ""),
            str(f["height"]),
        )
    print_table(table)


@app.command("projects")
@reports_problems
def list_projects(
    department: Annotated[str, typer.Option("--department", help="Owner department.")] = "",
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """List the projects, with what is paid and how many flags are open."""
    params = {"department": department} if department else {}
    with user_client(network, url, login) as client:
        doc = client.get(_path("projects"), **params)
    if as_json:
        print_json(doc)
        return
    _project_table(doc["projects"])
    console.print(f"{doc['count']} project(s) at block {doc['height']}")


@app.command("project")
@reports_problems
def show_project(
    project_id: ProjectArg,
    create: Annotated[
        Path | None,
        typer.Option(
            "--create", help="Register the project of this JSON file instead.", exists=True
        ),
    ] = None,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Show a project with its milestones, disbursements, evidence and flags (or, with
    ``--create FILE``, register the project the file holds under this id)."""
    with user_client(network, url, login) as client:
        if create is not None:
            body = orjson.loads(create.read_bytes())
            if body.get("id") != project_id:
                raise typer.BadParameter(f"the file's project id is not {project_id}")
            doc = _post(client, _path("projects"), body)
            if as_json:
                print_json(doc)
                return
            console.print(f"project {escape(project_id)} registered in {committed(doc)}")
            return
        doc = client.get(_path("projects", project_id))
    if as_json:
        print_json(doc)
        return
    p = doc["project"]
    console.print(f"[bold]{escape(p['name'])}[/]  {escape(p['id'])}")
    grid = new_grid()
    for label, value in (
        ("owner", p["dept"]),
        ("fund", p["fund"]),
        ("category", p["category"]),
        ("output", f"{p['quantity']} {p['unit']}"),
        ("budget", yuan(p["budget_fen"])),
        ("paid", yuan(p["paid_fen"])),
        ("payees", "、".join(f"{x['name']} ({x['id']})" for x in p["payees"])),
    ):
        grid.add_row(label, escape(str(value)))
    print_table(grid)
    milestones = new_table("milestone", "name", "planned", "due", "evidence", title="milestones")
    for m in p["milestones"]:
        count = sum(1 for e in doc["evidence"] if e["milestone"] == m["id"])
        milestones.add_row(m["id"], escape(m["name"]), yuan(m["amount_fen"]), m["due"], str(count))
    print_table(milestones)
    paid = new_table(
        "disbursement", "milestone", "payee", "amount", "paid on", title="disbursements"
    )
    for d in doc["disbursements"]:
        paid.add_row(d["id"], d["milestone"], d["payee"], yuan(d["amount_fen"]), d["paid_on"])
    print_table(paid)
    if doc["flags"]:
        _flag_table(doc["flags"])


@app.command("disburse")
@reports_problems
def disburse(
    project_id: ProjectArg,
    milestone: Annotated[str, typer.Option("--milestone", help="Milestone id (M1 …).")],
    payee: Annotated[str, typer.Option("--payee", help="Payee's credit code.")],
    amount_fen: Annotated[int, typer.Option("--amount-fen", min=1, help="Amount in fen.")],
    paid_on: Annotated[str, typer.Option("--paid-on", help="Payment date YYYY-MM-DD.")],
    purpose: Annotated[str, typer.Option("--purpose", help="What it pays for.")],
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Record a disbursement from a project's budget (refused over the budget)."""
    body = {
        "milestone": milestone,
        "payee": payee,
        "amount_fen": amount_fen,
        "paid_on": paid_on,
        "purpose": purpose,
    }
    with user_client(network, url, login) as client:
        doc = _post(client, _path("projects", project_id, "disbursements"), body)
    if as_json:
        print_json(doc)
        return
    r = doc["result"]
    console.print(
        f"disbursement {r['id']} of {yuan(amount_fen)} recorded in {committed(doc)}; "
        f"{yuan(r['paid_fen'])} of the project paid"
    )


@app.command("evidence")
@reports_problems
def add_evidence(
    project_id: ProjectArg,
    milestone: Annotated[str, typer.Argument(help="Milestone id (M1 …).")],
    file: Annotated[Path, typer.Argument(help="The evidence file.", exists=True, dir_okay=False)],
    kind: Annotated[str, typer.Option("--kind", help="photo, acceptance or invoice.")] = "photo",
    title: Annotated[str, typer.Option("--title", help="What the file shows.")] = "",
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Notarise a file as evidence of a milestone (kept in the node's content store)."""
    params = {"kind": kind, "title": title or file.name}
    with user_client(network, url, login) as client:
        doc = client.request(
            "POST",
            _path("projects", project_id, "milestones", milestone, "evidence"),
            content=file.read_bytes(),
            headers={"content-type": "application/octet-stream"},
            params=params,
        ).json()
    if as_json:
        print_json(doc)
        return
    console.print(f"{escape(file.name)} notarised as {doc['digest']} in {committed(doc)}")


@app.command("flags")
@reports_problems
def list_flags(
    status: Annotated[
        str, typer.Option("--status", help="open, assigned, explained, closed.")
    ] = "",
    project: Annotated[str, typer.Option("--project", help="Flags of one project.")] = "",
    scan: Annotated[
        bool, typer.Option("--scan", help="First raise flags from the analytics index.")
    ] = False,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """List the anomaly flags (``--scan``: first run the rules and the detector over the
    analytics index and raise every new finding for your department)."""
    params = {k: v for k, v in (("status", status), ("project", project)) if v}
    with user_client(network, url, login) as client:
        report = _post(client, _path("flags", "scan"), {}) if scan else None
        doc = client.get(_path("flags"), **params)
    if as_json:
        print_json({"scan": report, **doc} if report else doc)
        return
    if report is not None:
        by_rule = ", ".join(f"{n} {r}" for r, n in sorted(report["by_rule"].items())) or "none"
        console.print(
            f"scanned the index at block {report['index_height']}: {report['findings']} "
            f"finding(s), {len(report['raised'])} new flag(s) ({by_rule})"
        )
    _flag_table(doc["flags"])
    console.print(f"{doc['count']} flag(s)")


@flag_app.command("show")
@reports_problems
def show_flag(
    flag_id: FlagArg,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Show a flag: the inputs that raised it and its handling."""
    with user_client(network, url, login) as client:
        f = client.get(_path("flags", flag_id))
    if as_json:
        print_json(f)
        return
    console.print(f"[bold]{f['id']}[/]  {f['rule']} on {f['subject_kind']} {escape(f['subject'])}")
    grid = new_grid()
    grid.add_row("projects", escape(", ".join(f["projects"])))
    grid.add_row("status", f["status"] + (f" ({f['outcome']})" if f["outcome"] else ""))
    grid.add_row("raised by", escape(f"{f['actor']} of {f['dept']} in block {f['height']}"))
    grid.add_row("index height", str(f["index_height"]))
    grid.add_row("case", f["case"] or "(none)")
    print_table(grid)
    inputs = new_table("input", "value", title="inputs")
    for key, value in f["inputs"].items():
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        inputs.add_row(key, escape(text))
    print_table(inputs)
    if f["handling"]:
        steps = new_table("step", "by", "block", "note", title="handling")
        for h in f["handling"]:
            note = h.get("to") or h.get("explanation") or h.get("reason") or ""
            if h["event"] == "close":
                note = f"{h['outcome']}: {note}"
            steps.add_row(h["event"], escape(h["actor"]), str(h["height"]), escape(note))
        print_table(steps)


@app.command("handle")
@reports_problems
def handle(
    flag_id: FlagArg,
    assign: Annotated[
        str,
        typer.Option(
            "--assign",
            help="Claim the explanation (your own staff id) or, as an admin of the project's "
            "department, give it to this staff id.",
        ),
    ] = "",
    explain: Annotated[str, typer.Option("--explain", help="Explain it (as its assignee).")] = "",
    close: Annotated[str, typer.Option("--close", help="Close it: confirmed or dismissed.")] = "",
    note: Annotated[
        str, typer.Option("--note", help="Note to the assignee, or the reason of closing.")
    ] = "",
    evidence: Annotated[
        list[str] | None, typer.Option("--evidence", help="Digest of notarised evidence.")
    ] = None,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Take one handling step on a flag, a transition of its case: ``--assign`` (claim or
    reassign its ``explain`` step), ``--explain`` (complete it) or ``--close`` (decide:
    confirmed approves the case, dismissed rejects it; the case is then closed)."""
    chosen = [
        name
        for name, value in (("assign", assign), ("explain", explain), ("close", close))
        if value
    ]
    if len(chosen) != 1:
        raise typer.BadParameter("give exactly one of --assign, --explain and --close")
    step = chosen[0]
    body: dict[str, Any]
    if step == "assign":
        body = {"to": assign, "note": note}
    elif step == "explain":
        body = {"explanation": explain, "evidence": list(evidence or [])}
    else:
        body = {"outcome": close, "reason": note}
    with user_client(network, url, login) as client:
        doc = _post(client, _path("flags", flag_id, step), body)
    if as_json:
        print_json(doc)
        return
    console.print(
        f"flag {flag_id}: {step} recorded in {committed(doc)}; now {doc['flag']['status']}"
    )
