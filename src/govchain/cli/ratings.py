"""``govchain rating ...``: rate a finished case (好差评) as its applicant; answer the follow-ups
of dissatisfied ratings and read the service figures as department staff.

A rating and an answer are ledger transactions the node signs for the logged-in person."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from govchain.cli.client import path_segment
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import console
from govchain.cli.session import (
    JsonOpt,
    LoginOpt,
    local_time,
    new_table,
    print_json,
    print_table,
    reports_problems,
    user_client,
)

app = typer.Typer(
    name="rating",
    help="Ratings of finished cases (好差评), their follow-ups, and service figures.",
    no_args_is_help=True,
)

NumberArg = Annotated[str, typer.Argument(metavar="NUMBER", help="Case number.")]
DeptArg = Annotated[str, typer.Argument(metavar="DEPT", help="Your department.")]
LEVELS = {
    1: "very dissatisfied",
    2: "dissatisfied",
    3: "neutral",
    4: "satisfied",
    5: "very satisfied",
}


def _print_rating(r: dict[str, Any]) -> None:
    console.print(
        f"case {escape(r['case'])}: {r['level']}/5 ({LEVELS[r['level']]})"
        + (f" — {escape(r['comment'])}" if r["comment"] else "")
    )
    console.print(f"rated {local_time(r['time_ms'])} · tx {r['tx']}")
    follow = r.get("follow_up")
    if follow is None:
        return
    if follow["status"] == "open":
        console.print(f"follow-up: open, {r['dept']} answers by {local_time(follow['due_ms'])}")
    else:
        late = " (late)" if follow.get("late") else ""
        console.print(
            f"follow-up: answered by {escape(follow['by'])} {local_time(follow['time_ms'])}{late}"
            f" — {escape(follow['answer'])}"
        )


@app.command("give")
@reports_problems
def give(
    number: NumberArg,
    level: Annotated[
        int, typer.Option("--level", min=1, max=5, help="1 very dissatisfied … 5 very satisfied.")
    ],
    comment: Annotated[str, typer.Option("--comment", help="Optional comment.")] = "",
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Rate my finished case (once; 1 or 2 opens a follow-up the department must answer)."""
    with user_client(network, url, login) as client:
        body = orjson.dumps({"level": level, "comment": comment})
        doc = client.post(f"/v1/cases/{path_segment(number)}/rating", body)
    if as_json:
        print_json(doc)
        return
    _print_rating(doc["result"])


@app.command("show")
@reports_problems
def show(
    number: NumberArg,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """A case's rating and its follow-up."""
    with user_client(network, url, login) as client:
        doc = client.get(f"/v1/cases/{path_segment(number)}/rating")
    if as_json:
        print_json(doc)
        return
    _print_rating(doc)


@app.command("follow-ups")
@reports_problems
def follow_ups(
    dept: DeptArg,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Dissatisfied ratings of the department's cases not answered yet, oldest first."""
    with user_client(network, url, login) as client:
        doc = client.get(f"/v1/departments/{path_segment(dept)}/follow-ups")
    if as_json:
        print_json(doc)
        return
    table = new_table("case", "service", "level", "comment", "rated", "due", title="follow-ups")
    for r in doc["follow_ups"]:
        table.add_row(
            r["case"],
            r["service"],
            f"{r['level']}/5",
            escape(r["comment"]),
            local_time(r["time_ms"]),
            local_time(r["follow_up"]["due_ms"]),
        )
    print_table(table)
    console.print(f"{len(doc['follow_ups'])} waiting")


@app.command("answer")
@reports_problems
def answer(
    dept: DeptArg,
    number: NumberArg,
    text: Annotated[str, typer.Argument(help="What was done about it.")],
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Answer a dissatisfied rating's follow-up (shown to the applicant)."""
    with user_client(network, url, login) as client:
        path = f"/v1/departments/{path_segment(dept)}/follow-ups/{path_segment(number)}"
        doc = client.post(path, orjson.dumps({"text": text}))
    if as_json:
        print_json(doc)
        return
    _print_rating(doc["result"])


def _rate(bp: int | None) -> str:
    return "–" if bp is None else f"{bp / 100:.1f} %"


@app.command("figures")
@reports_problems
def figures(
    dept: DeptArg,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Each service's completion rate, digital take-up, satisfaction and time to decision."""
    with user_client(network, url, login) as client:
        doc = client.get(f"/v1/departments/{path_segment(dept)}/figures")
    if as_json:
        print_json(doc)
        return
    table = new_table(
        "service",
        "cases",
        "decided",
        "completion",
        "take-up",
        "satisfaction",
        "ratings",
        "median days",
        "p90 days",
        "open follow-ups",
        title=f"service figures ({dept})",
    )
    for f in doc["services"]:
        table.add_row(
            f["service"],
            str(f["cases"]),
            str(f["decided"]),
            f"{_rate(f['completion_bp'])} ({f['submitted_online']}/{f['started_online']})",
            f"{_rate(f['take_up_bp'])} ({f['online_cases']}/{f['cases']})",
            _rate(f["satisfaction_bp"]),
            str(f["ratings"]),
            "–" if f["median_days"] is None else str(f["median_days"]),
            "–" if f["p90_days"] is None else str(f["p90_days"]),
            str(f["open_follow_ups"]),
        )
    print_table(table)
