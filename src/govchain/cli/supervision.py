"""``govchain supervision ...``: enterprise facts, risk scores with their explanations, random
inspections (双随机、一公开: plan, draw, recompute, publish), indicators, alerts and the counts
of people who may need assistance, as the logged-in department staff member (plans, draws,
verification and results are public: no login needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from govchain.cli.client import NodeClient, path_segment
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import CliError, console
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
    name="supervision",
    help="Supervision (监管): facts, risk scores, random inspections, indicators and alerts.",
    no_args_is_help=True,
)
draw_app = typer.Typer(help="Random inspection draws: run one, or recompute one from the ledger.")
app.add_typer(draw_app, name="draw")

BASE = "/v1/apps/supervision"
"""Where the service's routes are."""

PlanArg = Annotated[str, typer.Argument(metavar="PLAN", help="Plan id.")]
PeriodOpt = Annotated[str, typer.Option("--period", help="Month YYYY-MM [default: the last].")]


def _path(*parts: str) -> str:
    return BASE + "".join("/" + path_segment(p) for p in parts)


def permille(value: int) -> str:
    """A per-mille figure as a signed percentage with one decimal (integer arithmetic)."""
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 10}.{abs(value) % 10}%"


@app.command("report")
@reports_problems
def report(
    file: Annotated[Path, typer.Argument(help="JSON file: {batch, kind, period, rows}.")],
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Report a batch of facts your department holds (at most 500 rows)."""
    body = file.read_bytes()
    with user_client(network, url, login) as client:
        doc = client.post(_path("reports"), body)
    if as_json:
        print_json(doc)
        return
    r = doc["result"]
    console.print(f"reported {r['rows']} {r['kind']} facts of {r['period']} as {r['batch']}")
    console.print(f"block {doc['height']}  transaction {doc['tx_id']}")


@app.command("risk")
@reports_problems
def risk(
    uscc: Annotated[str | None, typer.Argument(help="One enterprise's code.")] = None,
    level: Annotated[str, typer.Option("--class", help="low, medium or high.")] = "",
    limit: Annotated[int, typer.Option("--limit")] = 20,
    period: PeriodOpt = "",
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """List risk scores, highest first; with a code, one score and the facts behind it."""
    with user_client(network, url, login) as client:
        if uscc:
            doc = client.get(_path("risk", uscc), period=period)
        else:
            doc = client.get(_path("risk"), period=period, risk=level, limit=limit)
    if as_json:
        print_json(doc)
        return
    if uscc:
        console.print(f"[bold]{escape(uscc)}[/]  score {doc['score']}  class {doc['risk']}")
        table = new_table("fact", "value", "weight", "points", title=f"as of {doc['period']}")
        for c in doc["contributions"]:
            table.add_row(c["fact"], str(c["value"]), str(c["weight"]), str(c["points"]))
        print_table(table)
        return
    counts = ", ".join(f"{n} {c}" for c, n in doc["counts"].items())
    table = new_table(
        "uscc", "score", "class", "facts that count", title=f"{doc['period']}: {counts}"
    )
    for s in doc["scores"]:
        why = ", ".join(
            f"{c['fact']}={c['value']} (+{c['points']})" for c in s["contributions"] if c["points"]
        )
        table.add_row(s["uscc"], str(s["score"]), s["risk"], why or "-")
    print_table(table)


@app.command("plans")
@reports_problems
def plans(as_json: JsonOpt = False, url: UrlOpt = DEFAULT_URL) -> None:
    """List the inspection plans (public)."""
    with NodeClient(url) as client:
        doc = client.get(_path("plans"))
    if as_json:
        print_json(doc)
        return
    table = new_table("plan", "department", "status", "population", "targets", "seed block")
    for p in doc["plans"]:
        table.add_row(
            escape(p["id"]),
            p["department"],
            p["status"],
            str(p["population"]),
            str(p["targets"]),
            str(p.get("seed_height", "-")),
        )
    print_table(table)


@app.command("plan")
@reports_problems
def plan(
    file: Annotated[Path, typer.Argument(help="JSON file: the plan (id, title, filter ...).")],
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Commit an inspection plan of your department, its population and its seal."""
    with user_client(network, url, login) as client:
        doc = client.post(_path("plans"), file.read_bytes())
    if as_json:
        print_json(doc)
        return
    p = doc["plan"]
    console.print(
        f"plan {p['id']} sealed at block {p['sealed_height']} with {p['population']} "
        f"enterprises; the seed is the hash of block {p['seed_height']}"
    )


@draw_app.command("run")
@reports_problems
def draw_run(
    plan_id: PlanArg,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Draw a sealed plan (once: a second draw is refused)."""
    with user_client(network, url, login) as client:
        doc = client.post(_path("plans", plan_id, "draw"), b"{}")
    if as_json:
        print_json(doc)
        return
    _print_draw(doc["draw"])


def _print_draw(d: dict[str, Any]) -> None:
    console.print(f"plan {d['plan']}: seed block {d['seed_height']}, seed {d['seed']}")
    table = new_table("#", "uscc", "risk", "inspectors")
    for n, t in enumerate(d["targets"], start=1):
        table.add_row(str(n), t["uscc"], t["risk"], ", ".join(t["inspectors"]))
    print_table(table)
    if d["excluded"]:
        console.print(f"{len(d['excluded'])} passed over for conflicts of interest")


@draw_app.command("show")
@reports_problems
def draw_show(plan_id: PlanArg, as_json: JsonOpt = False, url: UrlOpt = DEFAULT_URL) -> None:
    """Show a plan's recorded draw (public)."""
    with NodeClient(url) as client:
        doc = client.get(_path("plans", plan_id, "draw"))
    if as_json:
        print_json(doc)
        return
    _print_draw(doc)


@draw_app.command("verify")
@reports_problems
def draw_verify(plan_id: PlanArg, as_json: JsonOpt = False, url: UrlOpt = DEFAULT_URL) -> None:
    """Recompute a draw from the ledger alone (plan, population, seed block) and compare it
    with the recorded one; exit 1 if they differ."""
    with NodeClient(url) as client:
        doc = client.get(_path("plans", plan_id, "verify"))
    if as_json:
        print_json(doc)
    else:
        console.print(f"plan {doc['plan']}: seed block {doc['seed_height']}")
        console.print(f"  seed in the ledger    {doc['seed']}")
        console.print(f"  seed the draw records {doc['recorded_seed']}")
        console.print(f"  targets recomputed    {doc['targets']}")
        if doc["ok"]:
            console.print("[green]the recorded draw is the one the seed gives[/]")
        for p in doc["problems"]:
            console.print(f"[red]{escape(p)}[/]")
    if not doc["ok"]:
        raise CliError("the recorded draw is not the recomputed one")


@app.command("results")
@reports_problems
def results(plan_id: PlanArg, as_json: JsonOpt = False, url: UrlOpt = DEFAULT_URL) -> None:
    """Show the published results of a plan (public)."""
    with NodeClient(url) as client:
        doc = client.get(_path("plans", plan_id, "results"))
    if as_json:
        print_json(doc)
        return
    table = new_table("uscc", "outcome", "findings", "block")
    for r in doc["results"]:
        table.add_row(r["uscc"], r["outcome"], escape(r["findings"]), str(r["height"]))
    print_table(table)


@app.command("publish")
@reports_problems
def publish(
    plan_id: PlanArg,
    uscc: Annotated[str, typer.Argument(help="The inspected enterprise.")],
    outcome: Annotated[str, typer.Argument(help="pass, issues or fail.")],
    findings: Annotated[str, typer.Argument(help="What was found.")],
    login: LoginOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Publish the result of one drawn inspection."""
    body = orjson.dumps({"uscc": uscc, "outcome": outcome, "findings": findings})
    with user_client(network, url, login) as client:
        doc = client.post(_path("plans", plan_id, "results"), body)
    console.print(f"published at block {doc['height']}, transaction {doc['tx_id']}")


@app.command("indicators")
@reports_problems
def indicators(
    period: PeriodOpt = "",
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Show what the indicators flag in a month, with the figures behind it."""
    with user_client(network, url, login) as client:
        doc = client.get(_path("indicators"), period=period)
    if as_json:
        print_json(doc)
        return
    _print_alerts(doc["signals"])


def _print_alerts(alerts: list[dict[str, Any]]) -> None:
    table = new_table("indicator", "subject", "month", "previous", "current", "change", "inputs")
    for a in alerts:
        f = a["figures"]
        money = a["indicator"].startswith("industry-tax")
        table.add_row(
            a["indicator"],
            a["subject"],
            a["period"],
            yuan(f["previous"]) if money else str(f["previous"]),
            yuan(f["current"]) if money else str(f["current"]),
            permille(f["change_permille"]),
            f"{len(a['inputs'])} batches",
        )
    print_table(table)


@app.command("alerts")
@reports_problems
def alerts(
    record: Annotated[
        bool, typer.Option("--record", help="Record the month's new alerts.")
    ] = False,
    period: PeriodOpt = "",
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """List the recorded alerts; with --record, record (and deliver) the month's new ones."""
    with user_client(network, url, login) as client:
        if record:
            doc = client.post(_path("alerts"), b"{}", period=period)
            found = doc["recorded"]
        else:
            doc = client.get(_path("alerts"))
            found = doc["alerts"]
    if as_json:
        print_json(doc)
        return
    _print_alerts(found)


@app.command("assistance")
@reports_problems
def assistance(
    period: PeriodOpt = "",
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Counts by district of insured people who left employment (cells < 10 suppressed)."""
    with user_client(network, url, login) as client:
        doc = client.get(_path("assistance"), period=period)
    if as_json:
        print_json(doc)
        return
    table = new_table("district", "people", title=f"{doc['period']}")
    for c in doc["cells"]:
        shown = str(c["count"]) if c["count"] is not None else f"suppressed ({c['suppressed']})"
        table.add_row(c["division"], shown)
    print_table(table)
    console.print(f"total: {doc['total'] if doc['total'] is not None else 'suppressed'}")
