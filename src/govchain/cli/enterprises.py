"""``govchain enterprise ...``: the enterprise and licence registries, name checks, industries
(GB/T 4754), the permits an enterprise needs ("one industry, one licence" questionnaires), and
who may act for an enterprise."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from govchain.cli.client import NodeClient, path_segment
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import CliError, console
from govchain.cli.services import committed, zh_en
from govchain.cli.session import (
    JsonOpt,
    LoginOpt,
    local_time,
    new_grid,
    new_table,
    print_json,
    print_table,
    reports_problems,
    user_client,
    yuan,
)
from govchain.errors import MalformedEncoding
from govchain.ledger.encoding import decode

app = typer.Typer(
    name="enterprise",
    help="Enterprises and licences: registry, name check, industries, permits, agents.",
    no_args_is_help=True,
)
agent_app = typer.Typer(
    name="agent", help="Who may act for an enterprise (its legal representative's agents)."
)
app.add_typer(agent_app, name="agent")

UsccArg = Annotated[
    str, typer.Argument(metavar="USCC", help="Unified social credit code (18 characters).")
]


def _licence_rows(lic: dict[str, Any]) -> list[str]:
    until = local_time(lic["valid_until_ms"]) if lic["valid_until_ms"] else "no end"
    status = lic["status"]
    if lic.get("revoked"):
        r = lic["revoked"]
        status += f" ({local_time(r['time_ms'])}: {r['reason']})"
    return [
        lic["number"],
        zh_en(lic["name"]),
        lic["issuer"],
        local_time(lic["valid_from_ms"]),
        until,
        status,
        lic["case"] or "-",
    ]


_LICENCE_COLUMNS = ("licence", "name", "issuer", "valid from", "valid until", "status", "case")


@app.command("show")
@reports_problems
def show(uscc: UsccArg, as_json: JsonOpt = False, url: UrlOpt = DEFAULT_URL) -> None:
    """Show an enterprise: public particulars, status, history and licences."""
    with NodeClient(url) as client:
        ent = client.get(f"/v1/enterprises/{path_segment(uscc)}")
    if as_json:
        print_json(ent)
        return
    console.print(f"[bold]{escape(ent['name'])}[/]  {escape(ent['uscc'])}")
    grid = new_grid()
    for label, value in (
        ("status", ent["status"]),
        ("legal representative", ent["legal_rep_name"]),
        ("industry", ent["industry"]),
        ("registered capital", yuan(ent["capital_fen"])),
        ("address", ent["address"]),
        ("division", ent["division"]),
        ("business scope", ent["scope"]),
        ("employees", str(ent.get("employees", 0))),
        ("established", local_time(ent["established_ms"])),
        (
            "registered by",
            f"{ent['registered_by']}" + (f", case {ent['case']}" if ent["case"] else ""),
        ),
        ("acting for it", ", ".join(ent["agents"]) or "-"),
    ):
        grid.add_row(label, escape(value))
    print_table(grid)
    history = new_table("time", "status", "case", "reason", title="history")
    for h in ent["history"]:
        history.add_row(
            *map(
                escape,
                (
                    local_time(h["time_ms"]),
                    h["status"],
                    h.get("case") or "-",
                    h.get("reason") or "-",
                ),
            )
        )
    print_table(history)
    licences = new_table(*_LICENCE_COLUMNS, title="licences")
    for lic in ent.get("licences", []):
        licences.add_row(*map(escape, _licence_rows(lic)))
    print_table(licences)


@app.command("list")
@reports_problems
def list_enterprises(
    after: Annotated[str, typer.Option("--after", help="Start after this USCC.")] = "",
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """List registered enterprises in code order."""
    params: dict[str, Any] = {"limit": limit}
    if after:
        params["after"] = after
    with NodeClient(url) as client:
        found = client.get("/v1/enterprises", **params)
    if as_json:
        print_json(found)
        return
    table = new_table("USCC", "name", "status", "industry", "division", "established")
    for e in found:
        table.add_row(
            *map(
                escape,
                (
                    e["uscc"],
                    e["name"],
                    e["status"],
                    e["industry"],
                    e["division"],
                    local_time(e["established_ms"]),
                ),
            )
        )
    print_table(table)
    console.print(f"{len(found)} enterprise(s)")


@app.command("licence")
@reports_problems
def licence(
    number: Annotated[str, typer.Argument(help="Licence number.")],
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Show a licence of the licence registry and its status."""
    with NodeClient(url) as client:
        lic = client.get(f"/v1/licences/{path_segment(number)}")
    if as_json:
        print_json(lic)
        return
    grid = new_grid()
    row = _licence_rows(lic)
    for label, value in zip(_LICENCE_COLUMNS, row, strict=True):
        grid.add_row(label, escape(value))
    grid.add_row("holder", escape(f"{lic['holder_name']} ({lic['holder']})"))
    grid.add_row("scope", escape(lic["scope"] or "-"))
    if lic.get("commitment"):
        grid.add_row("commitment", "granted on a commitment (告知承诺)")
    print_table(grid)


@app.command("name-check")
@reports_problems
def name_check(
    name: Annotated[str, typer.Argument(help="Proposed enterprise name.")],
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Check a proposed name: its structure and words, and whether it is free in the area."""
    with NodeClient(url) as client:
        doc = client.get("/v1/names/check", name=name)
    if as_json:
        print_json(doc)
        return
    grid = new_grid()
    holder = doc.get("holder") or {}
    taken = holder.get("uscc") or (f"case {holder['case']}" if holder.get("case") else "")
    available = "[green]yes[/]" if doc["available"] else f"[red]no[/] (taken by {escape(taken)})"
    grid.add_row("name", escape(doc["name"]))
    grid.add_row("available", available)
    for label, key in (
        ("division", "division"),
        ("trade name", "trade_name"),
        ("industry words", "industry_words"),
        ("form", "form"),
    ):
        grid.add_row(label, escape(str(doc.get(key) or "-")))
    print_table(grid)
    if not doc["available"]:
        raise typer.Exit(1)


@app.command("industries")
@reports_problems
def industries(
    text: Annotated[str, typer.Argument(help="Words of the industry name (中文 or English).")],
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Search the industries of GB/T 4754-2017 (sections to classes)."""
    with NodeClient(url) as client:
        found = client.get("/v1/industries", q=text)
    if as_json:
        print_json(found)
        return
    table = new_table("code", "level", "parent", "name", "English")
    for i in found:
        table.add_row(
            *map(escape, (i["code"], str(i["level"]), i["parent"] or "-", i["zh"], i["en"]))
        )
    print_table(table)
    console.print(f"{len(found)} industr{'y' if len(found) == 1 else 'ies'}")


@app.command("permits")
@reports_problems
def permits(
    industry: Annotated[str, typer.Option("--industry", help="Industry code (GB/T 4754).")],
    scope: Annotated[str, typer.Option("--scope", help="Business scope.")] = "",
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """The permits an enterprise needs from its industry and business scope, and why."""
    with NodeClient(url) as client:
        found = client.get("/v1/permits/needed", industry=industry, scope=scope)
    if as_json:
        print_json(found)
        return
    table = new_table("permit", "why")
    for p in found:
        table.add_row(escape(p["code"]), escape(zh_en(p["why"])))
    print_table(table)
    console.print(f"{len(found)} permit(s)")


@app.command("questionnaires")
@reports_problems
def questionnaires(as_json: JsonOpt = False, url: UrlOpt = DEFAULT_URL) -> None:
    """The "one industry, one licence" (一业一证) industries: the permits each needs at most,
    and how many form fields and materials merging their applications saves."""
    with NodeClient(url) as client:
        found = client.get("/v1/permits/industries")
    if as_json:
        print_json(found)
        return
    table = new_table("industry", "name", "permits", "form fields", "materials to upload")
    for q in found:
        table.add_row(
            escape(q["industry"]),
            escape(zh_en(q["name"])),
            escape(", ".join(q["codes"])),
            f"{q['fields_before']} → {q['fields_after']}",
            f"{q['materials_before']} → {q['materials_after']}",
        )
    print_table(table)


def _answer(spec: str) -> tuple[str, Any]:
    """``q=v``: ``v`` is read as JSON when it is (true, 3, "x"), else as text."""
    key, sep, value = spec.partition("=")
    if not sep or not key:
        raise CliError(f"--answer must look like question=value, not {spec!r}")
    try:
        return key, decode(value)
    except MalformedEncoding:
        return key, value


@app.command("navigate")
@reports_problems
def navigate(
    industry: Annotated[str, typer.Argument(help="Industry of the questionnaire.")],
    answer: Annotated[
        list[str] | None, typer.Option("--answer", "-a", help="An answer as question=value.")
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Answer an industry's questionnaire: the permits needed and their forms merged into one
    (each field asked once)."""
    body = {"industry": industry, "answers": dict(_answer(a) for a in answer or [])}
    with NodeClient(url) as client:
        doc = client.post("/v1/permits/navigate", orjson.dumps(body))
    if as_json:
        print_json(doc)
        return
    console.print(f"permits: {escape(', '.join(doc['permits']) or '-')}")
    c = doc["counts"]
    grid = new_grid()
    grid.add_row("permits", str(c["permits"]))
    grid.add_row(
        "fields to fill in", f"{c['fields_before']} separately → {c['fields_after']} merged"
    )
    grid.add_row(
        "materials to upload", f"{c['materials_before']} separately → {c['materials_after']} merged"
    )
    print_table(grid)
    fields = doc["schema"].get("properties", {})
    required = set(doc["schema"].get("required", []))
    form = new_table("field", "title", "required", title="merged form")
    for name, prop in fields.items():
        mark = "yes" if name in required else "no"
        form.add_row(escape(name), escape(str(prop.get("title", ""))), mark)
    print_table(form)
    materials = new_table("material", "name", "required", "for", "provided by", title="materials")
    for m in doc["materials"]:
        source = f"{m['held_by']} ({m['resource']})" if m["held_by"] else "applicant uploads"
        required_mark = "yes" if m["required"] else "no"
        row = (m["id"], zh_en(m["name"]), required_mark, ", ".join(m["permits"]), source)
        materials.add_row(*map(escape, row))
    print_table(materials)


def _agents(
    method: str, uscc: str, agent: str, login: str | None, network: Path, url: str, as_json: bool
) -> None:
    with user_client(network, url, login) as client:
        if method == "add":
            path = f"/v1/enterprises/{path_segment(uscc)}/agents"
            doc = client.post(path, orjson.dumps({"agent": agent}))
        else:
            path = f"/v1/enterprises/{path_segment(uscc)}/agents/{path_segment(agent)}"
            doc = client.request("DELETE", path).json()
    if as_json:
        print_json(doc)
        return
    agents = doc["result"]["agents"]
    console.print(f"acting for {escape(uscc)}: {escape(', '.join(agents))} ({committed(doc)})")


@agent_app.command("add")
@reports_problems
def add_agent(
    uscc: UsccArg,
    agent: Annotated[str, typer.Argument(help="The person's user id (citizen/…).")],
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Authorise a person to act for the enterprise (you act for it already)."""
    _agents("add", uscc, agent, login, network, url, as_json)


@agent_app.command("remove")
@reports_problems
def remove_agent(
    uscc: UsccArg,
    agent: Annotated[str, typer.Argument(help="The person's user id.")],
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Revoke a person's authorisation (the last one acting for it cannot be removed)."""
    _agents("remove", uscc, agent, login, network, url, as_json)
