"""``govchain case ...``: apply for a service and follow the case (办件) as the logged-in
applicant; staff queues and staff actions as the logged-in department staff.

Every change is a ledger transaction the node signs for the logged-in person; the commands
print the case's new state and the transaction, whose receipt is verifiable offline
(``govchain verify-receipt``)."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from govchain.cli.client import NodeClient, path_segment
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import CliError, console, json_text
from govchain.cli.services import committed, read_json_file, zh_en
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
)

app = typer.Typer(
    name="case",
    help="Cases (办件): apply, follow, withdraw, revoke a consent; staff queues and actions.",
    no_args_is_help=True,
)

_HASH = re.compile(r"[0-9a-f]{64}\Z")

NumberArg = Annotated[str, typer.Argument(metavar="NUMBER", help="Case number.")]
DeptArg = Annotated[str, typer.Argument(metavar="DEPT", help="Your department.")]
MaterialOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--material",
        "-m",
        help="A material as id=FILE (uploaded first) or id=HASH (uploaded before); repeat.",
    ),
]
FormOpt = Annotated[
    Path | None, typer.Option("--form", help="The application form (JSON file).", dir_okay=False)
]


def _definition(client: NodeClient, code: str, version: int | None = None) -> dict[str, Any]:
    params = {"version": version} if version is not None else {}
    defn: dict[str, Any] = client.get(f"/v1/services/{path_segment(code)}", **params)["definition"]
    return defn


def upload_file(client: NodeClient, service: str, path: Path) -> dict[str, Any]:
    """Upload a material for an application to ``service``; return ``{hash, name, size, …}``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise CliError(f"{path} is a directory") from None
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = client.request(
        "POST",
        "/v1/cases/materials",
        params={"service": service, "name": path.name},
        content=data,
        headers={"content-type": media},
    )
    doc: dict[str, Any] = response.json()
    return doc


def _materials(client: NodeClient, service: str, specs: list[str]) -> dict[str, str]:
    """Turn ``id=FILE`` / ``id=HASH`` options into ``{id: hash}``, uploading files."""
    out: dict[str, str] = {}
    for spec in specs:
        mid, sep, value = spec.partition("=")
        if not sep or not mid or not value:
            raise CliError(f"--material must look like id=FILE or id=HASH, not {spec!r}")
        path = Path(value)
        if path.is_file():
            doc = upload_file(client, service, path)
            console.print(f"uploaded {escape(path.name)} as {escape(mid)}: {doc['hash']}")
            out[mid] = doc["hash"]
        elif _HASH.match(value):
            out[mid] = value
        else:
            raise CliError(f"--material {mid}: {value!r} is neither a file nor a 64-hex hash")
    return out


def _form(path: Path) -> dict[str, Any]:
    form = read_json_file(path)
    if type(form) is not dict:
        raise CliError(f"{path} must hold a JSON object (the form)")
    return form


def _steps_of(case: dict[str, Any], defn: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    declared = {s["id"]: s for s in defn["steps"]}
    return [(s, declared.get(s["id"], {})) for s in case["steps"]]


def _open_steps(case: dict[str, Any], defn: dict[str, Any]) -> list[str]:
    return [
        f"{s['id']} ({d.get('dept', '?')} {d.get('role', '')}, {s['status']}, due "
        f"{local_time(s['deadline_ms'])})"
        for s, d in _steps_of(case, defn)
        if s["status"] in ("open", "blocked")
    ]


def _next(case: dict[str, Any], defn: dict[str, Any]) -> str:
    """What the case waits for, in words."""
    status = case["status"]
    if status == "submitted":
        return f"{defn['owner']} accepts it"
    if status == "supplement_requested":
        sup = case["supplement"] or {}
        return (
            f"the applicant supplies it by {local_time(sup.get('deadline_ms', 0))} (case resubmit)"
        )
    if status == "accepted":
        if all(s["status"] == "done" for s in case["steps"]):
            return f"the decision of {defn['owner']}"
        return "its open steps"
    if status == "issued" and case.get("commitment_deadline_ms"):
        due = local_time(case["commitment_deadline_ms"])
        return f"{defn['owner']} checks the commitment by {due} (verify_commitment)"
    if status in ("issued", "decided"):
        return f"{defn['owner']} closes it"
    return "nothing: it is finished"


def print_case_brief(case: dict[str, Any], defn: dict[str, Any], doc: dict[str, Any]) -> None:
    """Print a case's state after a transition and the transaction that made it."""
    grid = new_grid()
    status = case["status"] + (f" ({case['outcome']})" if case["outcome"] else "")
    rows = [
        ("case", case["number"]),
        ("service", f"{case['service']} v{case['version']} {zh_en(defn['name'])}"),
        ("status", status),
    ]
    if case.get("reason"):
        rows.append(("reason", case["reason"]))
    rows.append(("open steps", "; ".join(_open_steps(case, defn)) or "-"))
    for out in case.get("outputs", []):
        rows.append(("output", json_text(out)))
    rows.append(("waiting for", _next(case, defn)))
    rows.append(("recorded in", committed(doc)))
    for label, value in rows:
        grid.add_row(label, escape(value))
    print_table(grid)


def _changed(client: NodeClient, doc: dict[str, Any], as_json: bool) -> None:
    """Print the result of a case transaction."""
    if as_json:
        print_json(doc)
        return
    case = doc["result"]
    print_case_brief(case, _definition(client, case["service"], case["version"]), doc)


@app.command("upload")
@reports_problems
def upload(
    file: Annotated[Path, typer.Argument(help="The file.", dir_okay=False)],
    service: Annotated[str, typer.Option("--service", help="Service the material is for.")],
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Upload a material (kept encrypted by the handling department); prints its hash, which
    an application cites."""
    with user_client(network, url, login) as client:
        doc = upload_file(client, service, file)
    if as_json:
        print_json(doc)
        return
    console.print(f"uploaded {escape(doc['name'])} ({doc['size']} bytes, {doc['media_type']})")
    console.print(doc["hash"])


@app.command("submit")
@reports_problems
def submit(
    service: Annotated[str, typer.Option("--service", help="Service code.")],
    form: Annotated[Path, typer.Option("--form", help="The form (JSON file).", dir_okay=False)],
    material: MaterialOpt = None,
    consent: Annotated[
        list[str] | None,
        typer.Option(
            "--consent",
            help="A material another department holds, read with your consent (repeat).",
        ),
    ] = None,
    subject: Annotated[
        str, typer.Option("--subject", help="USCC of the enterprise you apply for.")
    ] = "",
    particulars: Annotated[
        Path | None,
        typer.Option("--particulars", help="Registration particulars (JSON file).", dir_okay=False),
    ] = None,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Apply for a service: uploads the files given, checks the form, submits the case."""
    body: dict[str, Any] = {"service": service, "form": _form(form), "consents": consent or []}
    if subject:
        body["subject"] = subject
    if particulars is not None:
        body["particulars"] = read_json_file(particulars, ledger=True)
    with user_client(network, url, login) as client:
        body["materials"] = _materials(client, service, material or [])
        doc = client.post("/v1/cases", orjson.dumps(body))
        _changed(client, doc, as_json)


def _timeline(case: dict[str, Any]) -> Any:
    table = new_table(
        "time", "event", "step", "actor", "department", "role", "transaction", title="timeline"
    )
    for h in case["history"]:
        table.add_row(
            *map(
                escape,
                (
                    local_time(h["time_ms"]),
                    h["event"],
                    h.get("step") or "-",
                    h["actor"],
                    h.get("dept") or "-",
                    h.get("role") or "-",
                    h["tx"],
                ),
            )
        )
    return table


def print_case(case: dict[str, Any], defn: dict[str, Any]) -> None:
    """Print a case: its state, its steps and its timeline."""
    grid = new_grid()
    status = case["status"] + (f" ({case['outcome']})" if case["outcome"] else "")
    rows = [
        ("case", case["number"]),
        ("service", f"{case['service']} v{case['version']} {zh_en(defn['name'])}"),
        ("applicant", f"{case['applicant']} ({case['applicant_kind']})"),
        ("subject", case["subject"] or "-"),
        ("status", status),
        ("reason", case["reason"] or "-"),
        ("submitted", local_time(case["submitted_ms"])),
        ("accepted", local_time(case["accepted_ms"])),
        ("decided", local_time(case["decided_ms"])),
        ("form", case["form_hash"]),
    ]
    rows += [(f"material {k}", v) for k, v in sorted(case["materials"].items())]
    if case["consents"]:
        rows.append(("consents", ", ".join(case["consents"])))
    sup = case.get("supplement")
    if sup:
        rows.append(
            (
                "supplement",
                f"{', '.join(sup['items'])}: {sup['reason']} (due "
                f"{local_time(sup['deadline_ms'])}, asked by {sup.get('by', '?')})",
            )
        )
    if case.get("commitment_deadline_ms"):
        rows.append(("commitment", f"check due {local_time(case['commitment_deadline_ms'])}"))
    rows += [("output", json_text(o)) for o in case.get("outputs", [])]
    name = (case.get("particulars") or {}).get("name")
    if name:
        rows.append(("enterprise", str(name)))
    rows.append(("waiting for", _next(case, defn)))
    for label, value in rows:
        grid.add_row(label, escape(str(value)))
    print_table(grid)
    steps = new_table(
        "step",
        "name",
        "department",
        "role",
        "status",
        "result",
        "deadline",
        "assignee",
        "note",
        title="steps",
    )
    for s, d in _steps_of(case, defn):
        steps.add_row(
            *map(
                escape,
                (
                    s["id"],
                    zh_en(d.get("name")),
                    d.get("dept", "?"),
                    d.get("role", "?"),
                    s["status"],
                    s["result"] or "-",
                    local_time(s["deadline_ms"]),
                    s["assignee"] or "-",
                    s["note"] or "-",
                ),
            )
        )
    print_table(steps)
    for s in case["steps"]:
        for i, o in enumerate(s.get("objections", [])):
            console.print(
                f"objection {i} to {escape(s['id'])} by {escape(o['by'])} at "
                f"{local_time(o['time_ms'])} ({escape(o['status'])}): {escape(o['text'])}"
            )
    print_table(_timeline(case))


@app.command("show")
@reports_problems
def show(
    number: NumberArg,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Show a case: status, steps (department, role, deadline in CST, assignee) and its
    timeline, each entry with its transaction."""
    with user_client(network, url, login) as client:
        case = client.get(f"/v1/cases/{path_segment(number)}")
        if as_json:
            print_json(case)
            return
        defn = _definition(client, case["service"], case["version"])
    print_case(case, defn)


@app.command("list")
@reports_problems
def list_cases(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """List my cases."""
    with user_client(network, url, login) as client:
        cases = client.get("/v1/me/cases", limit=limit)
    if as_json:
        print_json(cases)
        return
    table = new_table("case", "service", "subject", "status", "outcome", "submitted", "open steps")
    for c in cases:
        open_steps = ", ".join(s["id"] for s in c["steps"] if s["status"] in ("open", "blocked"))
        table.add_row(
            *map(
                escape,
                (
                    c["number"],
                    f"{c['service']} v{c['version']}",
                    c["subject"] or "-",
                    c["status"],
                    c["outcome"] or "-",
                    local_time(c["submitted_ms"]),
                    open_steps or "-",
                ),
            )
        )
    print_table(table)
    console.print(f"{len(cases)} case(s)")


@app.command("withdraw")
@reports_problems
def withdraw(
    number: NumberArg,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded on-chain).")] = "",
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Withdraw my case (only before its decision)."""
    with user_client(network, url, login) as client:
        path = f"/v1/cases/{path_segment(number)}/withdraw"
        doc = client.post(path, orjson.dumps({"reason": reason}))
        _changed(client, doc, as_json)


@app.command("revoke-consent")
@reports_problems
def revoke_consent(
    number: NumberArg,
    material: Annotated[
        str, typer.Argument(metavar="MATERIAL", help="The material another department holds.")
    ],
    replacement: Annotated[
        str | None,
        typer.Option(
            "--replacement",
            "-r",
            help="Your own file for it (FILE, uploaded first, or the HASH of one uploaded "
            "before); needed when the material is required.",
        ),
    ] = None,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Take back my consent to a department answering for a material (only before the
    decision); a required material needs my own file instead (--replacement)."""
    with user_client(network, url, login) as client:
        body: dict[str, Any] = {"material": material}
        if replacement is not None:
            case = client.get(f"/v1/cases/{path_segment(number)}")
            found = _materials(client, case["service"], [f"{material}={replacement}"])
            body["replacement"] = found[material]
        path = f"/v1/cases/{path_segment(number)}/revoke-consent"
        doc = client.post(path, orjson.dumps(body))
        _changed(client, doc, as_json)


@app.command("resubmit")
@reports_problems
def resubmit(
    number: NumberArg,
    form: FormOpt = None,
    material: MaterialOpt = None,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Answer a supplement request (补正) with a changed form and/or materials."""
    with user_client(network, url, login) as client:
        case = client.get(f"/v1/cases/{path_segment(number)}")
        body: dict[str, Any] = {"materials": _materials(client, case["service"], material or [])}
        if form is not None:
            body["form"] = _form(form)
        doc = client.post(f"/v1/cases/{path_segment(number)}/resubmit", orjson.dumps(body))
        _changed(client, doc, as_json)


@app.command("object")
@reports_problems
def object_to(
    number: NumberArg,
    step: Annotated[str, typer.Option("--step", help="The notice step.")],
    text: Annotated[str, typer.Option("--text", help="The objection.")],
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Object to a case during its public notice (a creditor, an employee …)."""
    with user_client(network, url, login) as client:
        path = f"/v1/cases/{path_segment(number)}/objections"
        doc = client.post(path, orjson.dumps({"step": step, "text": text}))
    if as_json:
        print_json(doc)
        return
    console.print(
        f"objection to step {escape(step)} of case {escape(number)} recorded in {committed(doc)}"
    )


# --- staff --------------------------------------------------------------------------------------


@app.command("queue")
@reports_problems
def queue(
    dept: DeptArg,
    role: Annotated[str, typer.Option("--role", help="Only steps of this role.")] = "",
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only steps past their time limit.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """A department's queue: open steps with their deadlines, and cases waiting for the
    department to accept, decide or close them."""
    params: dict[str, Any] = {"limit": limit}
    if role:
        params["role"] = role
    if overdue:
        params["overdue"] = "true"
    with user_client(network, url, login) as client:
        doc = client.get(f"/v1/departments/{path_segment(dept)}/queue", **params)
    if as_json:
        print_json(doc)
        return
    steps = new_table(
        "case",
        "service",
        "step",
        "kind",
        "role",
        "status",
        "assignee",
        "deadline",
        "overdue",
        title=f"open steps of {dept}",
    )
    for s in doc["steps"]:
        steps.add_row(
            *map(
                escape,
                (
                    s["case"],
                    s["service"],
                    s["step"],
                    s["kind"],
                    s["role"],
                    s["status"],
                    s["assignee"] or "-",
                    local_time(s["deadline_ms"]),
                    "OVERDUE" if s["overdue"] else "-",
                ),
            )
        )
    if doc["steps"]:
        print_table(steps)
    else:
        console.print(f"no open steps for {escape(dept)}" + (f" ({escape(role)})" if role else ""))
    decisions = new_table(
        "case",
        "service",
        "status",
        "since",
        "commitment due",
        title=f"waiting for {dept} to accept, decide or close",
    )
    for d in doc["decisions"]:
        decisions.add_row(
            *map(
                escape,
                (
                    d["case"],
                    d["service"],
                    d["status"],
                    local_time(d["since_ms"]),
                    local_time(d["due_ms"]),
                ),
            )
        )
    if doc["decisions"]:
        print_table(decisions)
    else:
        console.print(f"no case waits for {escape(dept)} to accept, decide or close it")


@app.command("act")
@reports_problems
def act(
    dept: DeptArg,
    number: NumberArg,
    transition: Annotated[
        str,
        typer.Argument(
            metavar="TRANSITION",
            help="accept, reject, request_supplement, claim, reassign, complete, "
            "answer_check, resolve_objection, end_notice, decide, verify_commitment, "
            "close, expire",
        ),
    ],
    step: Annotated[str | None, typer.Option("--step", help="Step id.")] = None,
    result: Annotated[str | None, typer.Option("--result", help="pass or fail.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Note (needed for fail).")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Reason.")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="approve or reject.")] = None,
    item: Annotated[
        list[str] | None, typer.Option("--item", help="A thing to supply (repeat).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Staff id to reassign to.")] = None,
    index: Annotated[int | None, typer.Option("--index", min=0, help="Objection index.")] = None,
    upheld: Annotated[
        bool | None,
        typer.Option("--upheld/--dismissed", help="Uphold or dismiss the objection."),
    ] = None,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Act on a case as staff of DEPT: accept it, claim or complete a step, ask for a
    supplement, decide, close …"""
    body = {
        k: v
        for k, v in (
            ("step", step),
            ("result", result),
            ("note", note),
            ("reason", reason),
            ("outcome", outcome),
            ("items", item or None),
            ("to", to),
            ("index", index),
            ("upheld", upheld),
        )
        if v is not None
    }
    path = f"/v1/departments/{path_segment(dept)}/cases/{path_segment(number)}/"
    with user_client(network, url, login) as client:
        doc = client.post(path + path_segment(transition), orjson.dumps(body))
        _changed(client, doc, as_json)


@app.command("material")
@reports_problems
def material(
    dept: DeptArg,
    number: NumberArg,
    digest: Annotated[str, typer.Argument(metavar="HASH", help="The material's hash.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to save it.", dir_okay=False)],
    login: LoginOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Save a material (or the form) a case cites, as staff of the department holding it."""
    path = f"/v1/departments/{path_segment(dept)}/cases/{path_segment(number)}/materials/"
    with user_client(network, url, login) as client:
        response = client.request("GET", path + path_segment(digest))
    out.write_bytes(response.content)
    console.print(
        f"saved {len(response.content)} bytes ({response.headers.get('content-type', '?')}) to "
        f"{escape(str(out))}"
    )
