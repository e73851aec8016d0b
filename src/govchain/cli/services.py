"""``govchain service ...``: the catalogue of services (政务服务事项), a service's guide, checking
a definition, and publishing one: the owner's admin proposes, every department concerned
approves its hash, the owner publishes (each step run with that department's admin login)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from govchain.cli.client import NodeClient, path_segment
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import CliError, ProblemError, console, json_text
from govchain.cli.session import (
    JsonOpt,
    LoginOpt,
    current_session,
    local_time,
    new_grid,
    new_table,
    print_json,
    print_problem,
    print_table,
    reports_problems,
    user_client,
    yuan,
)
from govchain.cli.transactions import parse_json
from govchain.ledger.encoding import canonical_unchecked
from govchain.node.network import NetworkDir

app = typer.Typer(
    name="service",
    help="Services (政务服务事项): catalogue, guide, check and publish definitions.",
    no_args_is_help=True,
)

VersionOpt = Annotated[int, typer.Option("--version", min=1, help="Definition version.")]
FileArg = Annotated[Path, typer.Argument(help="Service definition (JSON file).", dir_okay=False)]


def read_json_file(path: Path, *, ledger: bool = False) -> Any:
    """Read a JSON file; ``ledger``: as signed data is read (integers only, no floats)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    if ledger:
        return parse_json(text, str(path))
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CliError(f"{path} is not JSON: {exc}") from None


def read_definition(path: Path) -> dict[str, Any]:
    """Read a service definition file."""
    obj = read_json_file(path, ledger=True)
    if type(obj) is not dict:
        raise CliError(f"{path} must hold a JSON object (a service definition)")
    return obj


def zh_en(names: Any) -> str:
    """Return a ``{zh, en}`` name as ``中文 / English`` (either alone if the other is missing)."""
    if not isinstance(names, dict):
        return str(names or "")
    return " / ".join(str(names[k]) for k in ("zh", "en") if names.get(k))


def committed(doc: dict[str, Any]) -> str:
    """Return where a committed transaction is: ``transaction <id> (block <height>)``."""
    return f"transaction {doc['tx_id']} (block {doc['height']})"


def _summary_row(s: dict[str, Any]) -> list[str]:
    return [
        s["code"],
        str(s["version"]),
        s["category"],
        s["name"].get("zh", ""),
        s["owner"],
        ", ".join(s.get("co_handlers", [])) or "-",
        str(s["time_limit_days"]),
        yuan(s["fee_fen"]),
    ]


_SUMMARY_COLUMNS = ("code", "version", "category", "name", "owner", "co-handlers", "days", "fee")


@app.command("list")
@reports_problems
def list_services(
    owner: Annotated[str | None, typer.Option("--owner", help="Owning department.")] = None,
    category: Annotated[
        str | None, typer.Option("--category", help="registration, permit, deregistration …")
    ] = None,
    dept: Annotated[
        str | None, typer.Option("--dept", help="Owning or co-handling department.")
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """List the published services."""
    params = {k: v for k, v in (("owner", owner), ("category", category), ("dept", dept)) if v}
    with NodeClient(url) as client:
        doc = client.get("/v1/services", **params)
    if as_json:
        print_json(doc)
        return
    table = new_table(*_SUMMARY_COLUMNS)
    for s in doc["services"]:
        table.add_row(*map(escape, _summary_row(s)))
    print_table(table)
    console.print(f"{doc['total']} service(s)")


@app.command("search")
@reports_problems
def search(
    text: Annotated[str, typer.Argument(help="Words to search (中文 or English).")],
    owner: Annotated[str | None, typer.Option("--owner", help="Owning department.")] = None,
    category: Annotated[str | None, typer.Option("--category", help="Category.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 20,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Search the catalogue; the best matches first, with the words each matched."""
    params: dict[str, Any] = {"q": text, "limit": limit}
    params.update({k: v for k, v in (("owner", owner), ("category", category)) if v})
    with NodeClient(url) as client:
        doc = client.get("/v1/services", **params)
    if as_json:
        print_json(doc)
        return
    table = new_table(*_SUMMARY_COLUMNS, "score", "matched")
    for h in doc["hits"]:
        table.add_row(*map(escape, [*_summary_row(h), str(h["score"]), ", ".join(h["matched"])]))
    print_table(table)
    console.print(f"{len(doc['hits'])} match(es)")


def _field_rule(prop: dict[str, Any]) -> str:
    """Return a form field's constraints in words."""
    rules = []
    if "enum" in prop:
        rules.append("one of " + ", ".join(map(str, prop["enum"])))
    if "const" in prop:
        rules.append(f"must be {json_text(prop['const'])}")
    if "pattern" in prop:
        rules.append(f"pattern {prop['pattern']}")
    for key, word in (("minLength", "≥ {} chars"), ("maxLength", "≤ {} chars")):
        if key in prop:
            rules.append(word.format(prop[key]))
    for key, word in (("minimum", "≥ {}"), ("maximum", "≤ {}")):
        if key in prop:
            rules.append(word.format(prop[key]))
    return "; ".join(rules)


def print_guide(found: dict[str, Any]) -> None:
    """Print a service's guide (办事指南) from its definition and publication."""
    d, head = found["definition"], found.get("current") or {}
    console.print(f"[bold]{escape(d['code'])}[/] v{d['version']}  {escape(zh_en(d['name']))}")
    grid = new_grid()
    rows = [
        ("category", d["category"]),
        ("summary", zh_en(d.get("summary"))),
        ("owner", d["owner"]),
        ("co-handlers", ", ".join(d.get("co_handlers", [])) or "-"),
        ("applicants", ", ".join(d.get("applicants", []))),
        ("fee", yuan(d["fee_fen"])),
        ("time limit", f"{d['time_limit_days']} working day(s) from acceptance to decision"),
        ("supplement", f"{d.get('supplement_days', 30)} working day(s) to answer a 补正 request"),
    ]
    if d.get("commitment"):
        rows.append(
            (
                "commitment",
                f"granted on a commitment, checked within "
                f"{d['commitment']['check_days']} working day(s)",
            )
        )
    decision = d.get("decision", {})
    decided = (
        "automatically when every step passed"
        if decision.get("auto")
        else f"by the {decision.get('role', 'approver')} of {d['owner']}"
    )
    rows.append(("decision", decided))
    outputs = [
        zh_en(o["licence_name"]) if o["kind"] == "licence.issue" else o["kind"]
        for o in d.get("outputs", [])
    ]
    rows.append(("outputs", ", ".join(outputs) or "-"))
    if head:
        rows.append(
            (
                "published",
                f"{local_time(head['published_ms'])} at block {head['height']}, "
                f"approved by {', '.join(head.get('approvals', []))}",
            )
        )
        rows.append(("hash", head["hash"]))
    for label, value in rows:
        grid.add_row(label, escape(str(value)))
    print_table(grid)
    console.print("[bold]legal basis[/]")
    for law in d.get("legal_basis", []):
        console.print(f"  {escape(law)}")
    materials = new_table("material", "name", "required", "provided by", title="materials")
    for m in d.get("materials", []):
        held = m.get("held_by")
        source = (
            f"{held['dept']} holds it ({held['resource']}, by {held['via']}): consent, no upload"
            if held
            else "applicant uploads"
        )
        materials.add_row(
            *map(escape, (m["id"], zh_en(m["name"]), _yes(m.get("required", True)), source))
        )
    print_table(materials)
    form = d["form"]
    required = set(form.get("required", []))
    fields = new_table("field", "title", "type", "required", "rules", title="form")
    for name, prop in form.get("properties", {}).items():
        title = " / ".join(str(prop[k]) for k in ("title", "description") if prop.get(k))
        fields.add_row(
            *map(
                escape,
                (name, title, str(prop.get("type", "")), _yes(name in required), _field_rule(prop)),
            )
        )
    print_table(fields)
    steps = new_table(
        "#", "step", "name", "kind", "department", "role", "days", "after", title="steps"
    )
    for i, s in enumerate(d["steps"], 1):
        days = f"{s['days']} calendar" if s["kind"] == "notice" else str(s["days"])
        steps.add_row(
            *map(
                escape,
                (
                    str(i),
                    s["id"],
                    zh_en(s["name"]),
                    s["kind"],
                    s["dept"],
                    s["role"],
                    days,
                    ", ".join(s.get("after", [])) or "-",
                ),
            )
        )
    print_table(steps)
    for s in d["steps"]:
        if s.get("check"):
            console.print(
                f"check {escape(s['id'])}: {escape(s['dept'])} answers "
                f"“{escape(s['check']['statement'])}” from {escape(s['check']['resource'])}"
            )


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


@app.command("show")
@reports_problems
def show(
    code: Annotated[str, typer.Argument(help="Service code.")],
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="A version [default: current].")
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Show a service's guide: owner, legal basis, materials, form, steps, fee and time limit."""
    params = {"version": version} if version is not None else {}
    with NodeClient(url) as client:
        found = client.get(f"/v1/services/{path_segment(code)}", **params)
    if as_json:
        print_json(found)
        return
    print_guide(found)


def _print_check(path: Path, doc: dict[str, Any]) -> None:
    if doc["ok"]:
        console.print(f"[green]{escape(str(path))}: ok[/] ({doc['code']} version {doc['version']})")
        return
    problems = doc["problems"]
    console.print(f"[red]{escape(str(path))}: {len(problems)} problem(s)[/]")
    for p in problems:
        console.print(f"  {escape(p['place'] or '(definition)')}: {escape(p['reason'])}")


@app.command("check")
@reports_problems
def check(
    definition_file: FileArg,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Check a definition as publication will; print every problem with its place (exit 1
    if there is one). Nothing is written."""
    body = orjson.dumps({"definition": read_definition(definition_file)})
    with NodeClient(url) as client:
        doc = client.post("/v1/services/check", body)
    if as_json:
        print_json(doc)
    else:
        _print_check(definition_file, doc)
    if not doc["ok"]:
        raise typer.Exit(1)


def _proposal(client: NodeClient, code: str, version: int) -> dict[str, Any]:
    body = orjson.dumps({"code": code, "version": version})
    found: dict[str, Any] = client.post("/v1/contracts/services/views/proposal", body)["result"]
    return found


def _next_steps(code: str, version: int, digest: str, missing: list[str], owner: str) -> None:
    for dept in missing:
        console.print(
            f"  govchain service approve {code} --version {version} --hash {digest} "
            f"--login {dept}/admin"
        )
    console.print(
        f"  govchain service publish-version {code} --version {version} --login {owner}/admin"
    )


@app.command("publish")
@reports_problems
def publish(
    definition_file: FileArg,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Propose a definition (an admin of its owner department); prints its hash and how each
    department concerned approves it."""
    definition = read_definition(definition_file)
    body = orjson.dumps({"definition": definition})
    with NodeClient(url) as client:
        checked = client.post("/v1/services/check", body)
    if not checked["ok"]:
        problems = checked["problems"]
        detail = f"{definition_file}: {len(problems)} problem(s)"
        print_problem(ProblemError(422, "definition_refused", detail, {"problems": problems}))
        raise typer.Exit(1)
    owner = str(definition["owner"])
    with user_client(network, url, login) as client:
        doc = client.post(f"/v1/departments/{path_segment(owner)}/services", body)
    if as_json:
        print_json(doc)
        return
    result = doc["receipt"]["result"]
    code, version, digest = result["code"], result["version"], result["hash"]
    console.print(f"proposed {escape(code)} version {version} in {committed(doc)}")
    console.print(f"hash {digest}")
    console.print(
        "next: an admin of each department concerned approves this hash, then the owner publishes:"
    )
    _next_steps(code, version, digest, list(result["needs"]), owner)


@app.command("proposal")
@reports_problems
def proposal(
    code: Annotated[str, typer.Argument(help="Service code.")],
    version: VersionOpt,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Show a proposed version: its hash, who proposed it, who approved it, who still must."""
    with NodeClient(url) as client:
        prop = _proposal(client, code, version)
    if as_json:
        print_json(prop)
        return
    missing = [d for d in prop["departments"] if d not in prop["approvals"]]
    grid = new_grid()
    for label, value in (
        ("service", f"{code} version {version}: {zh_en(prop['definition']['name'])}"),
        ("hash", prop["hash"]),
        ("proposed", f"{local_time(prop['proposed_ms'])} by {prop['proposer']}"),
        ("departments", ", ".join(prop["departments"])),
        ("approved by", ", ".join(prop["approvals"]) or "-"),
        ("waiting for", ", ".join(missing) or "- (ready to publish)"),
    ):
        grid.add_row(label, escape(value))
    print_table(grid)


def _local_hash(network: Path, definition_file: Path) -> str:
    net = NetworkDir(network)
    if not net.exists():
        raise CliError(f"--file needs the network directory (its crypto suite): {network}")
    return net.suite().hash(canonical_unchecked(read_definition(definition_file))).hex()


@app.command("approve")
@reports_problems
def approve(
    code: Annotated[str, typer.Argument(help="Service code.")],
    version: VersionOpt,
    digest: Annotated[
        str | None, typer.Option("--hash", help="Hash of the proposed definition.")
    ] = None,
    definition_file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="Or: the definition you reviewed (its hash is approved).", dir_okay=False
        ),
    ] = None,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Approve a proposed version for your department (an admin), naming the hash approved."""
    if (digest is None) == (definition_file is None):
        raise CliError("give the approved definition's --hash or its --file (one of them)")
    if definition_file is not None:
        digest = _local_hash(network, definition_file)
    session = current_session(network, url, login)
    if session.kind != "staff":
        raise CliError(f"{session.login} is not department staff: log in as an admin")
    path = f"/v1/departments/{path_segment(session.dept)}/services/{path_segment(code)}"
    with NodeClient(url, token=session.access_token) as client:
        doc = client.post(f"{path}/versions/{version}/approve", orjson.dumps({"hash": digest}))
        prop = _proposal(client, code, version)
    if as_json:
        print_json(doc)
        return
    missing = [d for d in prop["departments"] if d not in prop["approvals"]]
    console.print(
        f"{escape(session.dept)} approved {escape(code)} version {version} in {committed(doc)}"
    )
    console.print(f"approved by {escape(', '.join(prop['approvals']))}")
    owner = prop["definition"]["owner"]
    if missing:
        console.print(f"waiting for {escape(', '.join(missing))}; then:")
        _next_steps(code, version, prop["hash"], missing, owner)
    else:
        console.print("every department concerned approved; publish it:")
        _next_steps(code, version, prop["hash"], [], owner)


@app.command("publish-version")
@reports_problems
def publish_version(
    code: Annotated[str, typer.Argument(help="Service code.")],
    version: VersionOpt,
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Make an approved version the current one (an admin of the owner department)."""
    session = current_session(network, url, login)
    if session.kind != "staff":
        raise CliError(f"{session.login} is not department staff: log in as an admin")
    path = f"/v1/departments/{path_segment(session.dept)}/services/{path_segment(code)}"
    with NodeClient(url, token=session.access_token) as client:
        doc = client.post(f"{path}/versions/{version}/publish", b"{}")
    if as_json:
        print_json(doc)
        return
    result = doc["receipt"]["result"]
    console.print(
        f"[green]published {escape(code)} version {version}[/] in {committed(doc)}; "
        f"hash {result['hash']}"
    )


__all__ = [
    "app",
    "committed",
    "print_guide",
    "read_definition",
    "read_json_file",
    "zh_en",
]
