"""``govchain projects ...``: the registry of government IT systems, projects and applications,
the duplication review of an application (项目重复性审查) and the reviewer's decision, as the
logged-in department staff member.

Registry changes and decisions are ledger transactions the node signs for the logged-in person;
the commands print the transaction, whose receipt is verifiable offline (``govchain
verify-receipt``). Tables piped into a file or another program are printed at full width, and
``--json`` prints the node's whole answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from govchain.apps.projects.imports import SUFFIXES
from govchain.cli.client import NodeClient, path_segment
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import CliError, ProblemError, console, err_console
from govchain.cli.services import committed
from govchain.cli.session import (
    JsonOpt,
    LoginOpt,
    current_session,
    local_time,
    new_grid,
    new_table,
    print_json,
    print_table,
    reports_problems,
    user_client,
    yuan,
)

app = typer.Typer(
    name="projects",
    help="IT project duplication review (项目重复性审查): registry, review, decisions.",
    no_args_is_help=True,
)

BASE = "/v1/apps/projects"
"""Where the service's routes are."""
IMPORT_TIMEOUT_S = 600.0
"""How long an import may take (upload, checks and commits of every transaction)."""
CHUNK = 64 * 1024

IdArg = Annotated[str, typer.Argument(metavar="ID", help="Entry id (SYS-…, PRJ-…, APP-…).")]


def permille(value: int) -> str:
    """Return a per-mille figure as a percentage with one decimal (integer arithmetic)."""
    return f"{value // 10}.{value % 10}%"


def _path(*parts: str) -> str:
    return BASE + "".join("/" + path_segment(p) for p in parts)


def _chunks(data: bytes, progress: Progress, task: Any) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        piece = data[start : start + CHUNK]
        yield piece
        progress.advance(task, len(piece))
    progress.update(task, description="checking and committing", total=None)


def _print_refused(exc: ProblemError) -> None:
    """Print a refused import: the error, then each problem as ``line N, field: reason``."""
    err_console.print(f"[bold red]error {escape(f'[{exc.code}]')}:[/] [red]{escape(exc.detail)}[/]")
    for p in exc.doc.get("problems") or []:
        field = f", {p['field']}" if p.get("field") else ""
        err_console.print(f"  line {p.get('line')}{escape(field)}: {escape(str(p.get('reason')))}")
    count = exc.doc.get("count")
    listed = len(exc.doc.get("problems") or [])
    if isinstance(count, int) and count > listed:
        err_console.print(f"  … and {count - listed} more")


@app.command("import")
@reports_problems
def import_file(
    file: Annotated[
        Path, typer.Argument(help="CSV, XLSX or JSON file of entries.", exists=True, dir_okay=False)
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only check the file: nothing is registered.")
    ] = False,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Import a file's entries for your department: all, or none with every problem listed."""
    media = SUFFIXES.get(file.suffix.lower())
    if media is None:
        raise CliError(f"{file.name}: the file must end in {', '.join(SUFFIXES)}")
    data = file.read_bytes()
    token = current_session(network, url, login).access_token
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    headers = {"content-type": media, "content-length": str(len(data))}
    params = {"dry_run": "true"} if dry_run else {}
    try:
        with NodeClient(url, timeout=IMPORT_TIMEOUT_S, token=token) as client, progress:
            task = progress.add_task("uploading", total=len(data))
            doc = client.request(
                "POST",
                _path("imports"),
                content=_chunks(data, progress, task),
                headers=headers,
                params=params,
            ).json()
    except ProblemError as exc:
        if exc.code != "import_refused":
            raise
        _print_refused(exc)
        raise typer.Exit(1) from None
    if as_json:
        print_json(doc)
        return
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(doc["by_status"].items()))
    if doc["dry_run"]:
        console.print(
            f"{file.name}: {doc['count']} entries ({statuses}) can be imported; "
            "nothing was registered (--dry-run)"
        )
        return
    table = new_table("transaction", "entries", "first", "last", "block")
    for tx in doc["transactions"]:
        table.add_row(
            tx["tx_id"],
            str(tx["count"]),
            escape(tx["first"]),
            escape(tx["last"]),
            str(tx["height"]),
        )
    print_table(table)
    console.print(
        f"imported {doc['count']} entries ({statuses}) from {escape(file.name)} "
        f"in {len(doc['transactions'])} transaction(s)"
    )


@app.command("list")
@reports_problems
def list_entries(
    status: Annotated[
        str, typer.Option("--status", help="in_use, in_development, pending, retired, reviewed.")
    ] = "",
    department: Annotated[str, typer.Option("--department", help="Department code.")] = "",
    search: Annotated[str, typer.Option("--search", "-q", help="Words the entry holds.")] = "",
    after: Annotated[str, typer.Option("--after", help="Start after this id.")] = "",
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """List registry entries in id order, filtered by status, department and words."""
    params = {"status": status, "department": department, "q": search, "after": after}
    params = {k: v for k, v in params.items() if v}
    with user_client(network, url, login) as client:
        doc = client.get(_path("entries"), limit=limit, **params)
    if as_json:
        print_json(doc)
        return
    table = new_table("id", "status", "department", "name", "functions", "budget", "start")
    for e in doc["entries"]:
        table.add_row(
            escape(e["id"]),
            e["status"],
            escape(e["department"]),
            escape(e["name"]),
            str(len(e["functions"])),
            yuan(e["budget_fen"]),
            e["start_date"],
        )
    print_table(table)
    shown = len(doc["entries"])
    more = f"; next page: --after {doc['next']}" if doc["next"] else ""
    console.print(f"{shown} of {doc['total']} entr{'y' if doc['total'] == 1 else 'ies'}{more}")


def _entry_grid(e: dict[str, Any]) -> None:
    grid = new_grid()
    for label, value in (
        ("id", e["id"]),
        ("status", e["status"]),
        ("department", f"{e['department_name']} ({e['department']})"),
        ("purpose", e["purpose"]),
        ("uses", "、".join(e["uses"]) or "-"),
        ("produces", "、".join(e["produces"]) or "-"),
        ("users", "、".join(e["users"]) + f" (about {e['user_count']})"),
        ("budget", yuan(e["budget_fen"])),
        ("platform", e["platform"]),
        ("dates", f"{e['start_date']} – {e['end_date'] or 'open'}"),
        ("kept by", f"{e['keeper']} (version {e['version']}, block {e['height']})"),
    ):
        grid.add_row(label, escape(str(value)))
    print_table(grid)
    functions = new_table("#", "function", title="functions")
    for i, f in enumerate(e["functions"], start=1):
        functions.add_row(str(i), escape(f))
    print_table(functions)


def _decision_lines(d: dict[str, Any]) -> None:
    grid = new_grid()
    target = f" {d['target']}" if d["target"] else ""
    grid.add_row("decision", escape(f"{d['recommendation']}{target}"))
    review = d["reviewed"]
    reviewed_target = f" {review['target']}" if review["target"] else ""
    changed = " (changed by the reviewer)" if d["changed"] else " (confirmed)"
    grid.add_row("review said", escape(f"{review['recommendation']}{reviewed_target}{changed}"))
    grid.add_row("reason", escape(d["reason"]))
    grid.add_row("decided by", escape(f"{d['actor']} of {d['dept']}, {local_time(d['time_ms'])}"))
    grid.add_row("recorded in", f"transaction {d['tx_id']} (block {d['height']})")
    print_table(grid)


@app.command("show")
@reports_problems
def show(
    entry_id: IdArg,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Show an entry, its history (every version and its transaction) and its decision."""
    with user_client(network, url, login) as client:
        doc = client.get(_path("entries", entry_id))
    if as_json:
        print_json(doc)
        return
    e = doc["entry"]
    console.print(f"[bold]{escape(e['name'])}[/]  {escape(e['id'])}")
    _entry_grid(e)
    history = new_table(
        "version", "block", "change", "status", "by", "transaction", title="history"
    )
    for h in doc["history"]:
        r = h["record"]
        history.add_row(
            str(h["version"]),
            str(h["height"]),
            escape(h["change"] + (f": {r['reason']}" if r.get("reason") else "")),
            h["status"],
            escape(r["actor"]),
            h["tx_id"],
        )
    print_table(history)
    if doc.get("decision"):
        _decision_lines(doc["decision"])


@app.command("review")
@reports_problems
def review(
    application: IdArg,
    k: Annotated[int, typer.Option("-k", min=1, max=10, help="Candidates to show.")] = 10,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Review an application: similar entries, matching functions, recommendation and why."""
    with user_client(network, url, login) as client:
        doc = client.get(_path("applications", application, "review"), k=k)
    if as_json:
        print_json(doc)
        return
    grid = new_grid()
    target = f" {doc['target']}" if doc["target"] else ""
    grid.add_row("application", escape(doc["application"]))
    grid.add_row("recommendation", escape(doc["recommendation"] + target))
    grid.add_row("confidence", permille(doc["confidence"]))
    grid.add_row("as of block", str(doc["height"]))
    print_table(grid)
    for reason in doc["reasons"]:
        console.print(f"- {escape(reason)}")
    table = new_table(
        "#",
        "id",
        "name",
        "department",
        "status",
        "score",
        "coverage",
        "matching functions",
        "shared data",
        "budget",
        title="candidates",
    )
    for rank, c in enumerate(doc["candidates"], start=1):
        matches = ", ".join(
            f"{m['function'] + 1}→{m['matches'] + 1 if m['matches'] is not None else '-'} "
            f"({permille(m['score'])})"
            for m in c["functions"]
        )
        table.add_row(
            str(rank),
            escape(c["id"]),
            escape(c["name"]),
            escape(f"{c['department']} ({c['department_relation']})"),
            c["status"],
            permille(c["score"]),
            permille(c["coverage"]),
            matches or "-",
            escape("、".join(c["shared_resources"]) or "-"),
            yuan(c["budget_fen"]),
        )
    print_table(table)
    console.print("matching functions: the application's function → the candidate's (similarity)")


@app.command("merges")
@reports_problems
def merges(
    min_score: Annotated[
        int, typer.Option("--min-score", min=0, max=1000, help="Per mille; 0: the default.")
    ] = 0,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Pending applications that ask for the same or overlapping things (merge candidates)."""
    with user_client(network, url, login) as client:
        doc = client.get(_path("merge-candidates"), min_score=min_score)
    if as_json:
        print_json(doc)
        return
    table = new_table("first", "name", "second", "name", "score", "similarity", "coverage")
    for p in doc["pairs"]:
        table.add_row(
            escape(p["first"]),
            escape(f"{p['first_name']} ({p['first_department']})"),
            escape(p["second"]),
            escape(f"{p['second_name']} ({p['second_department']})"),
            permille(p["score"]),
            permille(p["similarity"]),
            permille(p["coverage"]),
        )
    print_table(table)
    console.print(f"{doc['count']} pair(s) as of block {doc['height']}")


@app.command("decide")
@reports_problems
def decide(
    application: IdArg,
    recommendation: Annotated[
        str, typer.Option("--recommendation", "-r", help="reuse, join, merge or build.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (2 to 1000 characters).")],
    target: Annotated[
        str | None, typer.Option("--target", "-t", help="Entry to reuse, join or merge with.")
    ] = None,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Decide on a pending application (an approver of another department); evidence kept."""
    body = {"recommendation": recommendation, "target": target, "reason": reason}
    with user_client(network, url, login) as client:
        doc = client.post(_path("applications", application, "decision"), orjson.dumps(body))
    if as_json:
        print_json(doc)
        return
    _decision_lines(doc["decision"])
    console.print(f"decided on {escape(application)}: {committed(doc)}")


@app.command("decision")
@reports_problems
def decision(
    application: IdArg,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Show the decision on an application and the review it rests on."""
    with user_client(network, url, login) as client:
        doc = client.get(_path("applications", application, "decision"))
    if as_json:
        print_json(doc)
        return
    _decision_lines(doc)
    evidence = doc["evidence"]
    table = new_table("#", "id", "name", "status", "score", "coverage", title="evidence")
    for rank, c in enumerate(evidence["candidates"], start=1):
        table.add_row(
            str(rank),
            escape(c["id"]),
            escape(c["name"]),
            c["status"],
            permille(c["score"]),
            permille(c["coverage"]),
        )
    print_table(table)


@app.command("retire")
@reports_problems
def retire(
    entry_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="Why it is retired.")],
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Retire a system or project your department keeps."""
    with user_client(network, url, login) as client:
        doc = client.post(_path("entries", entry_id, "retire"), orjson.dumps({"reason": reason}))
    if as_json:
        print_json(doc)
        return
    console.print(f"retired {escape(entry_id)}: {committed(doc)}")
