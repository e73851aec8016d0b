"""``govchain analytics ...``: the analytics index (status, verification, rebuild) and decision
support per department, as the logged-in staff member through the node's API; ``query`` runs
SQL on a stopped node's index file.

Tables piped into a file or another program are printed at full width; ``--json`` prints the
node's whole answer."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from govchain.cli.client import path_segment
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, DataOpt, NetworkOpt, UrlOpt
from govchain.cli.output import CliError, console, reports_errors
from govchain.cli.session import (
    CST,
    JsonOpt,
    LoginOpt,
    new_grid,
    new_table,
    print_json,
    print_table,
    reports_problems,
    user_client,
)
from govchain.node.embedded import EMBEDDED_NODE
from govchain.node.network import NetworkDir

app = typer.Typer(
    name="analytics",
    help="Analytics index and decision support (部门决策): status, verify, rebuild, reports.",
    no_args_is_help=True,
)

BASE = "/v1/analytics"
"""Where the analytics routes are."""
DateOpt = Annotated[
    str | None, typer.Option(help="Date (YYYY-MM-DD, China Standard Time).", show_default=False)
]


def ms_of(date: str | None, option: str) -> int | None:
    """Return the start of a ``YYYY-MM-DD`` day in China Standard Time, in ms."""
    if date is None:
        return None
    try:
        day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=CST)
    except ValueError:
        raise CliError(f"{option} must be a date YYYY-MM-DD, not {date!r}") from None
    return int(day.timestamp()) * 1000


def permille(value: int) -> str:
    """Return a per-mille figure as a percentage with one decimal (integer arithmetic)."""
    return f"{value // 10}.{value % 10}%"


def _params(from_: str | None, to: str | None, fmt: str = "json") -> dict[str, Any]:
    params: dict[str, Any] = {"format": fmt}
    start, end = ms_of(from_, "--from"), ms_of(to, "--to")
    if start is not None:
        params["from_ms"] = start
    if end is not None:
        params["to_ms"] = end
    return params


@app.command("status")
@reports_problems
def status(
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Height of the index, its lag behind the ledger, and rows per table."""
    with user_client(network, url, login) as client:
        doc = client.get(f"{BASE}/status")
    if as_json:
        print_json(doc)
        return
    grid = new_grid()
    grid.add_row("indexed height", str(doc["height"]))
    grid.add_row("ledger height", str(doc["ledger_height"]))
    grid.add_row("lag (blocks)", str(doc["lag"]))
    grid.add_row("rebuilds", str(doc["rebuilds"]))
    if doc["error"]:
        grid.add_row("last error", escape(str(doc["error"].get("message"))))
    console.print(grid)
    table = new_table("table", "rows")
    for name, rows in doc["tables"].items():
        table.add_row(name, f"{rows:,}")
    print_table(table)


@app.command("verify")
@reports_problems
def verify(
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Compare the index with the ledger height by height; name every differing row (exit 1
    if any)."""
    with user_client(network, url, login) as client:
        doc = client.request("POST", f"{BASE}/verify").json()
    if as_json:
        print_json(doc)
    elif doc["ok"]:
        console.print(
            f"index verified: {doc['blocks_checked']:,} blocks, {doc['rows_checked']:,} rows "
            "match the ledger"
        )
    else:
        table = new_table("table", "height", "kind", "row")
        for m in doc["mismatches"]:
            table.add_row(m["table"], str(m["height"]), m["kind"], escape(repr(m["row"])))
        print_table(table)
        console.print(f"[red]{len(doc['heights_differing'])} table heights differ[/]")
    if not doc["ok"]:
        raise typer.Exit(1)


@app.command("rebuild")
@reports_problems
def rebuild(
    login: LoginOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Drop the index and build it again from the ledger (admin)."""
    with user_client(network, url, login) as client:
        doc = client.request("POST", f"{BASE}/rebuild", timeout=3600).json()
    console.print(f"index rebuilt: {doc['blocks']:,} blocks, height {doc['height']}")


def _print_report(doc: dict[str, Any]) -> None:
    # Imported here, as in the other commands: DuckDB and openpyxl cost every other govchain
    # command a second of start-up.
    from govchain.analytics.export import MONTH_COLUMNS, SERVICE_COLUMNS, hours

    services = new_table(*SERVICE_COLUMNS, title=f"{doc['department']}: cases per service")
    for s in doc["services"]:
        services.add_row(
            s["service"], str(s["opened"]), str(s["decided"]), str(s["approved"]),
            str(s["rejected"]), str(hours(s["mean_ms"])),
            str(s["decided_late"]), permille(s["overdue_permille"]), str(s["open"]),
            str(s["open_late"]),
        )  # fmt: skip
    print_table(services)
    months = new_table(*MONTH_COLUMNS, title="monthly trend (UTC+8)")
    for m in doc["months"]:
        months.add_row(
            m["month"], str(m["opened"]), str(m["decided"]), str(hours(m["mean_ms"])),
            str(m["decided_late"]), permille(m["overdue_permille"]),
        )  # fmt: skip
    print_table(months)


@app.command("decisions")
@reports_problems
def decisions(
    dept: Annotated[
        str | None, typer.Argument(help="Department (omit for every department's line).")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD, CST).", show_default=False)
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Day after the last (YYYY-MM-DD).", show_default=False),
    ] = None,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Cases per service, processing time (hours), overdue rate and monthly trend of a
    department; without one, every department's line."""
    path = BASE + "/decisions" + ("" if dept is None else "/" + path_segment(dept))
    with user_client(network, url, login) as client:
        doc = client.get(path, **_params(from_, to))
    if as_json:
        print_json(doc)
        return
    if dept is not None:
        _print_report(doc)
        return
    from govchain.analytics.export import OVERVIEW_COLUMNS, hours

    table = new_table(*OVERVIEW_COLUMNS, title="departments")
    for d in doc["departments"]:
        table.add_row(
            d["department"], str(d["opened"]), str(d["decided"]), str(hours(d["mean_ms"])),
            str(d["decided_late"]), permille(d["overdue_permille"]),
        )  # fmt: skip
    print_table(table)


@app.command("export")
@reports_problems
def export(
    out: Annotated[Path, typer.Argument(help="File to write (.csv or .xlsx).", dir_okay=False)],
    dept: Annotated[
        str | None, typer.Option("--dept", help="Department (default: every department).")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD, CST).", show_default=False)
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Day after the last (YYYY-MM-DD).", show_default=False),
    ] = None,
    login: LoginOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Write a department's report (or the overview) as CSV or XLSX."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise CliError(f"{out.name}: the file must end in .csv or .xlsx")
    path = BASE + "/decisions" + ("" if dept is None else "/" + path_segment(dept))
    with user_client(network, url, login) as client:
        body = client.request("GET", path, params=_params(from_, to, fmt)).content
    out.write_bytes(body)
    console.print(f"wrote {out} ({len(body):,} bytes)")


@app.command("query")
@reports_errors
def query(
    sql: Annotated[str, typer.Argument(help="One SELECT statement.")],
    data: DataOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
) -> None:
    """Run a SELECT on a stopped node's index file (a running node's: use the API)."""
    base = data or NetworkDir(network).data_dir(EMBEDDED_NODE)
    from govchain.analytics.follow import INDEX_FILE
    from govchain.analytics.index import query_file

    columns, rows = query_file(Path(base) / INDEX_FILE, sql)
    if as_json:
        print_json([dict(zip(columns, [_plain(v) for v in r], strict=True)) for r in rows])
        return
    table = new_table(*columns)
    for r in rows:
        table.add_row(*(escape(str(v)) for v in r))
    print_table(table)


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, str)) else str(value)
