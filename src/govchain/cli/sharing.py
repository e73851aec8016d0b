"""``govchain share ...``: the data catalogue, grants, reads, erasure, attestations and access
receipts. Control-plane changes are transactions signed with the member's key; data requests
are signed requests sent to the owner department's node; read answers are opened here with
the reading department's agreement key."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from govchain.cli.client import NodeClient, path_segment
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import (
    CliError,
    console,
    json_text,
    new_grid,
    new_table,
    print_table,
    reports_errors,
    short,
)
from govchain.cli.session import LoginOpt, current_session
from govchain.cli.transactions import (
    ActorOpt,
    CaseOpt,
    MemberOpt,
    PurposeOpt,
    parse_json,
    submit,
)
from govchain.crypto import get_suite
from govchain.node.network import NetworkDir
from govchain.sharing.keyfiles import agreement_key_path, read_agreement_key
from govchain.sharing.reading import open_answer
from govchain.sharing.requests import build_request

app = typer.Typer(
    name="share",
    help="Cross-department data sharing: catalogue, grants, reads, attestations.",
    no_args_is_help=True,
)

SubjectOpt = Annotated[
    str, typer.Option("--subject", help="Citizen or enterprise id the records are about.")
]
FieldsOpt = Annotated[str, typer.Option("--fields", help="Comma-separated field names.")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded on-chain).")]


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _fields(text: str) -> list[str]:
    fields = [f.strip() for f in text.split(",") if f.strip()]
    if not fields:
        raise CliError("--fields needs at least one field name")
    return fields


def _request(network: Path, member: str, kind: str, args: dict[str, Any], **who: str) -> bytes:
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    private = net.member_key(member).keypair.private
    req = build_request(
        chain=genesis.chain_id,
        kind=kind,
        signer=member,
        args=args,
        time_ms=time.time_ns() // 1_000_000,
        sign=lambda m: suite.sign(private, m),
        **who,
    )
    return orjson.dumps(req.envelope())


def _tx(
    network: Path,
    url: str,
    member: str,
    contract: str,
    method: str,
    args: dict[str, Any],
    *,
    actor: str | None = None,
    case: str = "",
    purpose: str = "",
) -> None:
    submit(
        network=network,
        url=url,
        member=member,
        contract=contract,
        method=method,
        args=args,
        actor=actor,
        case=case,
        purpose=purpose,
        receipt_out=None,
        wait=True,
    )


def _spec(spec_file: Path) -> dict[str, Any]:
    try:
        spec = parse_json(spec_file.read_text(encoding="utf-8"), str(spec_file))
    except OSError as exc:
        raise CliError(f"cannot read {spec_file}: {exc.strerror}") from None
    if type(spec) is not dict:
        raise CliError(f"{spec_file} must hold a JSON object")
    return spec


@app.command("register")
@reports_errors
def register(
    spec_file: Annotated[Path, typer.Argument(help="Resource description (JSON file).")],
    member: MemberOpt,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
    actor: ActorOpt = None,
) -> None:
    """Register a data resource of your department in the catalogue (目录链)."""
    _tx(network, url, member, "sharing.catalogue", "register", _spec(spec_file), actor=actor)


@app.command("update")
@reports_errors
def update(
    spec_file: Annotated[Path, typer.Argument(help="The resource's new description (JSON).")],
    member: MemberOpt,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
    actor: ActorOpt = None,
) -> None:
    """Change a resource's description, share level, sensitivity, frequency or legal basis."""
    _tx(network, url, member, "sharing.catalogue", "update", _spec(spec_file), actor=actor)


@app.command("catalogue")
@reports_errors
def catalogue(
    query: Annotated[str | None, typer.Argument(help="Words to search (中文 or English).")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Only this department.")] = None,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """List or search the data catalogue."""
    params: dict[str, Any] = {}
    if query:
        params["q"] = query
    if owner:
        params["owner"] = owner
    with NodeClient(url) as client:
        resources = client.get("/v1/sharing/catalogue", **params)["resources"]
    table = new_table()
    for col in ("resource", "name", "owner", "share level", "sensitivity", "fields"):
        table.add_column(col)
    if query:
        table.add_column("score", justify="right")
    for r in resources:
        row = [
            r["id"],
            r["name"],
            r["owner"],
            r["share_level"],
            r["sensitivity"],
            ", ".join(f["name"] for f in r["fields"]),
        ]
        if query:
            row.append(str(r["score"]))
        table.add_row(*map(escape, row))
    print_table(table)
    console.print(f"{len(resources)} resource(s)")


@app.command("publish")
@reports_errors
def publish(
    resource: Annotated[str, typer.Argument(help="Resource id.")],
    record: Annotated[str, typer.Argument(help="Record id (unique in the resource).")],
    subject: SubjectOpt,
    data_json: Annotated[str, typer.Option("--data", help="The record as a JSON object.")],
    member: MemberOpt,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
    actor: ActorOpt = None,
    case: CaseOpt = "",
) -> None:
    """Publish a record: the owner's node stores it encrypted and puts its hash on-chain."""
    data = parse_json(data_json, "--data")
    args = {"resource": resource, "record": record, "subject": subject, "data": data}
    body = _request(network, member, "publish", args, actor=actor or member, case=case)
    with NodeClient(url) as client:
        doc = client.post("/v1/sharing/records", body)
    console.print(
        f"record {escape(doc['resource'])}/{escape(doc['record'])} published; ciphertext hash "
        f"{doc['hash']} in transaction {doc['tx_id']}"
    )


@app.command("request-grant")
@reports_errors
def request_grant(
    resource: Annotated[str, typer.Argument(help="Resource id.")],
    fields: FieldsOpt,
    grant_purpose: Annotated[str, typer.Option("--purpose", help="What the data is for.")],
    legal_basis: Annotated[str, typer.Option("--legal-basis", help="Law that allows it.")],
    member: MemberOpt,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="Validity.")] = 30,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
    actor: ActorOpt = None,
    case: CaseOpt = "",
) -> None:
    """Ask for access to fields of a resource (granted at once if unconditional)."""
    args = {
        "resource": resource,
        "fields": _fields(fields),
        "purpose": grant_purpose,
        "legal_basis": legal_basis,
        "case": case,
        "expires_ms": time.time_ns() // 1_000_000 + days * 86_400_000,
    }
    _tx(network, url, member, "sharing.grants", "request", args, actor=actor, case=case)


def _decide(method: str, grant: str, member: str, network: Path, url: str, **extra: Any) -> None:
    _tx(network, url, member, "sharing.grants", method, {"grant": grant, **extra})


@app.command("approve")
@reports_errors
def approve(
    grant: Annotated[str, typer.Argument(help="Grant id.")],
    member: MemberOpt,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Approve a pending grant of your department's resource."""
    _decide("approve", grant, member, network, url)


@app.command("reject")
@reports_errors
def reject(
    grant: Annotated[str, typer.Argument(help="Grant id.")],
    reason: ReasonOpt,
    member: MemberOpt,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Reject a pending grant."""
    _decide("reject", grant, member, network, url, reason=reason)


@app.command("revoke")
@reports_errors
def revoke(
    grant: Annotated[str, typer.Argument(help="Grant id.")],
    reason: ReasonOpt,
    member: MemberOpt,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Revoke a grant (owner or grantee); it stops working at once."""
    _decide("revoke", grant, member, network, url, reason=reason)


@app.command("grants")
@reports_errors
def grants(
    dept: Annotated[str | None, typer.Option("--dept", help="Owner or grantee.")] = None,
    resource: Annotated[str | None, typer.Option("--resource", help="Resource id.")] = None,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """List grants."""
    params = {k: v for k, v in (("dept", dept), ("resource", resource)) if v}
    with NodeClient(url) as client:
        items = client.get("/v1/sharing/grants", **params)["grants"]
    table = new_table()
    table.add_column("grant", no_wrap=True, overflow="fold")
    for col in ("resource", "grantee", "fields", "purpose", "status", "expires"):
        table.add_column(col)
    for g in items:
        table.add_row(
            *map(
                escape,
                (
                    g["id"],
                    g["resource"],
                    g["grantee"],
                    ", ".join(g["fields"]),
                    g["purpose"],
                    g["status"],
                    _when(g["expires_ms"]),
                ),
            )
        )
    print_table(table)


@app.command("read")
@reports_errors
def read(
    resource: Annotated[str, typer.Argument(help="Resource id.")],
    subject: SubjectOpt,
    fields: FieldsOpt,
    member: MemberOpt,
    grant: Annotated[str, typer.Option("--grant", help="Grant id (none for the owner).")] = "",
    purpose: PurposeOpt = "",
    case: CaseOpt = "",
    actor: ActorOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Read a subject's records from the owner's node under a grant; the answer is opened
    with your department's agreement key."""
    args = {"resource": resource, "subject": subject, "fields": _fields(fields), "grant": grant}
    body = _request(
        network, member, "read", args, actor=actor or member, case=case, purpose=purpose
    )
    with NodeClient(url) as client:
        answer = client.post("/v1/sharing/reads", body)
        owner_public = bytes.fromhex(
            client.get(f"/v1/sharing/keys/{path_segment(answer['owner'])}")["public"]
        )
    net = NetworkDir(network)
    suite_name = net.genesis().suite
    key = read_agreement_key(agreement_key_path(net.root, answer["reader"]), suite_name)
    plain = open_answer(get_suite(suite_name), key.private, owner_public, answer)
    table = new_table(title=f"{resource} · {subject}")
    table.add_column("record")
    for f in plain["fields"]:
        table.add_column(f)
    for r in plain["records"]:
        table.add_row(
            escape(r["record"]), *(escape(json_text(r["data"][f])) for f in plain["fields"])
        )
    print_table(table)
    if plain["erased"]:
        console.print(f"erased (unreadable): {escape(', '.join(plain['erased']))}")
    console.print(f"read logged on-chain in transaction {answer['tx_id']}")


@app.command("erase")
@reports_errors
def erase(
    resource: Annotated[str, typer.Argument(help="Resource id.")],
    record: Annotated[str, typer.Argument(help="Record id.")],
    reason: ReasonOpt,
    member: MemberOpt,
    case: CaseOpt = "",
    actor: ActorOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Erase a record by destroying its data key; the ledger keeps the proof."""
    args = {"resource": resource, "record": record, "reason": reason}
    body = _request(network, member, "erase", args, actor=actor or member, case=case)
    with NodeClient(url) as client:
        doc = client.post("/v1/sharing/erasures", body)
    e = doc["erased"]
    console.print(
        f"record {escape(resource)}/{escape(record)} erased by {escape(e['by'])} at "
        f"{_when(e['erased_ms'])}: {escape(e['reason'])} (transaction {doc['tx_id']})"
    )


@app.command("attest")
@reports_errors
def attest(
    resource: Annotated[str, typer.Argument(help="Resource the owner evaluates.")],
    subject: SubjectOpt,
    predicate_json: Annotated[
        str,
        typer.Option(
            "--predicate", help='e.g. \'{"filter":[["settled","eq",false]],"count":["eq",0]}\''
        ),
    ],
    statement: Annotated[str, typer.Option("--statement", help="The question in words.")],
    member: MemberOpt,
    purpose: PurposeOpt = "",
    case: CaseOpt = "",
    actor: ActorOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Ask the owner department for a signed yes/no about a subject instead of the records."""
    args = {
        "resource": resource,
        "subject": subject,
        "predicate": parse_json(predicate_json, "--predicate"),
        "statement": statement,
    }
    body = _request(
        network, member, "attest", args, actor=actor or member, case=case, purpose=purpose
    )
    with NodeClient(url) as client:
        (doc,) = client.post("/v1/sharing/attestations", body)
    if "error" in doc:
        raise CliError(f"[{doc['error']['code']}]: {doc['error']['message']}")
    answer = "[green]yes[/]" if doc["answer"] else "[red]no[/]"
    console.print(f"{escape(statement)}: {answer}")
    console.print(f"attestation {doc['id']} (transaction {doc['tx_id']})")


@app.command("attestation")
@reports_errors
def attestation(
    att_id: Annotated[str, typer.Argument(metavar="ID", help="Attestation id.")],
    subject: SubjectOpt,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Verify an attestation about a subject recorded on-chain."""
    params = {"subject": subject}
    with NodeClient(url) as client:
        a = client.get(f"/v1/sharing/attestations/{path_segment(att_id)}", **params)
    grid = new_grid()
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in (
        ("statement", a["statement"]),
        ("answer", "yes" if a["answer"] else "no"),
        ("issuer", a["issuer"]),
        ("resource", a["resource"]),
        ("predicate", json_text(a["predicate"])),
        ("requested by", f"{a['requester']} ({a['actor']})"),
        ("issued", _when(a["issued_ms"])),
        ("transaction", a["tx_id"]),
    ):
        grid.add_row(label, escape(str(value)))
    print_table(grid)


@app.command("receipts")
@reports_errors
def receipts(
    subject: Annotated[
        str,
        typer.Argument(
            help="Citizen or enterprise id [default: mine: every id I am filed under, from my "
            "token]."
        ),
    ] = "",
    token: Annotated[
        str,
        typer.Option(
            "--token",
            envvar="GOVCHAIN_TOKEN",
            help="Bearer access token from the unified login: the subject's own, or a "
            "department admin's or auditor's [default: the session of 'govchain login'].",
        ),
    ] = "",
    login: LoginOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Access receipts: who read a subject's data, when and why; attestations about them.
    Without SUBJECT: my own (also those filed under the id I act under on-chain)."""
    if not token:
        token = current_session(network, url, login).access_token
    headers = {"Authorization": f"Bearer {token}"}
    with NodeClient(url) as client:
        if subject:
            path = f"/v1/sharing/subjects/{path_segment(subject)}/receipts"
        else:
            path = "/v1/sharing/me/receipts"
        doc = client.request("GET", path, headers=headers).json()
    table = new_table(title=f"reads of {subject}'s data" if subject else "reads of my data")
    for col in ("when", "department", "person", "case", "purpose", "resource", "fields"):
        table.add_column(col)
    for r in doc["reads"]:
        table.add_row(
            *map(
                escape,
                (
                    _when(r["read_ms"]),
                    r["reader_dept"],
                    r["actor"],
                    r["case"],
                    r["purpose"],
                    f"{r['resource']} ({len(r['records'])} records)",
                    ", ".join(r["fields"]),
                ),
            )
        )
    print_table(table)
    for a in doc["attestations"]:
        console.print(
            f"attestation by {escape(a['issuer'])} for {escape(a['requester'])} "
            f"({escape(a['purpose'] or '-')}): {escape(a['statement'])} -> "
            f"{'yes' if a['answer'] else 'no'}  " + escape(f"[{short(a['id'])}]")
        )
