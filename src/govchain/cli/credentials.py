"""``govchain credential ...``: list, show, issue, present, verify (offline), status lists,
revocation, and e-bills (issue, reimburse, red-letter reversal)."""

from __future__ import annotations

from datetime import UTC, datetime
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
    local_time,
    new_table,
    print_json,
    print_table,
    reports_problems,
    user_client,
    yuan,
)
from govchain.credentials import CredentialCheckFailed, qr
from govchain.credentials.holder import read_credential_file, verify_offline
from govchain.credentials.keyhistory import history_from_json
from govchain.credentials.verify import CheckResult, VerificationReport
from govchain.node.network import NetworkDir

app = typer.Typer(
    name="credential",
    help="Credentials (电子证照, 电子票据): list, show, issue, present, verify, status, bills.",
    no_args_is_help=True,
)
bill_app = typer.Typer(name="bill", help="E-bills (电子票据).", no_args_is_help=True)
app.add_typer(bill_app, name="bill")

HashArg = Annotated[str, typer.Argument(metavar="HASH", help="The credential's hash.")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write the answer to this file.")]


def _read_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise CliError(f"{path} does not exist") from None
    except orjson.JSONDecodeError:
        raise CliError(f"{path} is not JSON") from None


def _write(path: Path, value: Any) -> None:
    path.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2))
    console.print(f"saved to {escape(str(path))}")


def print_report(report: VerificationReport) -> None:
    """Print every check of a verification, then the verdict naming the failed check."""
    table = new_table("check", "result", "detail")
    for c in report.checks:
        mark = {True: "[green]passed[/]", False: "[red]FAILED[/]", None: "[dim]not run[/]"}
        table.add_row(escape(c.name), mark[c.passed], escape(c.reason))
    print_table(table)
    bad = report.failed
    if bad is None:
        console.print("[green]valid[/]: every check passed")
    else:
        console.print(f"[red]invalid[/]: check {escape(bad.name)!r} failed: {escape(bad.reason)}")


@app.command("list")
@reports_problems
def list_credentials(
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """List my credentials (and those of the enterprises I act for)."""
    with user_client(network, url, login) as client:
        held = client.get("/v1/credentials/held")
    if as_json:
        print_json(held)
        return
    table = new_table("hash", "kind", "issuer", "holder", "index", "issued")
    for c in held:
        table.add_row(
            *map(
                escape,
                (c["hash"][:16], c["type"], c["issuer"], c["holder"], str(c["index"])),
            ),
            local_time(c["time_ms"]),
        )
    print_table(table)


@app.command("show")
@reports_problems
def show(
    digest: HashArg,
    form: Annotated[str, typer.Option("--format", help="jsonld or sd-jwt.")] = "jsonld",
    out: OutOpt = None,
    qr_out: Annotated[
        Path | None, typer.Option("--qr", help="Also write its QR code (PNG) here.")
    ] = None,
    size: Annotated[str, typer.Option("--size", help="QR size: print or screen.")] = "screen",
    login: LoginOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Download one of my credentials with its issuance receipt (a credential file)."""
    with user_client(network, url, login) as client:
        file = client.get(f"/v1/credentials/{path_segment(digest)}", format=form)
    if out is not None:
        _write(out, file)
    else:
        print_json(file)
    if qr_out is not None:
        credential = file["credential"]
        credential_id = credential["id"] if isinstance(credential, dict) else digest
        payload = qr.payload_for(
            credential, credential_id=credential_id, url=f"{url}/v1/credentials/verify"
        )
        qr_out.write_bytes(qr.render_png(payload, size))
        console.print(f"QR code ({len(payload)} characters) saved to {escape(str(qr_out))}")


@app.command("present")
@reports_problems
def present(
    digest: HashArg,
    disclose: Annotated[
        list[str], typer.Option("--disclose", "-d", help="A claim to show; repeat.")
    ],
    out: OutOpt = None,
    login: LoginOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Make an SD-JWT presentation of a credential showing only the chosen claims."""
    body = orjson.dumps({"disclose": disclose})
    with user_client(network, url, login) as client:
        shown = client.post(f"/v1/credentials/{path_segment(digest)}/present", body)
    if out is not None:
        out.write_text(shown["presentation"] + "\n")
        console.print(f"presentation ({', '.join(shown['disclosed'])}) saved to {escape(str(out))}")
    else:
        console.print(shown["presentation"], soft_wrap=True)


@app.command("issue")
@reports_problems
def issue(
    uscc: Annotated[str, typer.Argument(help="The enterprise whose licences are issued.")],
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Staff: issue the credentials of an enterprise's licences (each once)."""
    with user_client(network, url, login) as client:
        issued = client.post(f"/v1/credentials/licences/{path_segment(uscc)}", b"")
    _print_issued(issued, as_json)


@app.command("certificates")
@reports_problems
def issue_certificates(
    resident_id: Annotated[
        str, typer.Argument(help="The citizen's resident identity number (公民身份号码).")
    ],
    login: LoginOpt = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Staff: issue the credentials of a citizen's certificates that cases decided (each
    once; the name and identity number on them come from the node's identity directory)."""
    with user_client(network, url, login) as client:
        issued = client.post(f"/v1/credentials/certificates/{path_segment(resident_id)}", b"")
    _print_issued(issued, as_json)


def _print_issued(issued: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json(issued)
        return
    table = new_table("hash", "kind", "number", "index", "height")
    for c in issued:
        subject = c.get("credential", {}).get("credentialSubject", {})
        table.add_row(
            *map(
                escape,
                (c["hash"][:16], str(c.get("kind", "")), str(subject.get("licenceNumber", ""))),
            ),
            str(c["index"]),
            str(c["height"]),
        )
    print_table(table)


@app.command("verify")
@reports_problems
def verify(
    file: Annotated[
        Path | None,
        typer.Argument(help="A credential file, a VC (JSON) or an SD-JWT (text).", dir_okay=False),
    ] = None,
    qr_png: Annotated[
        Path | None, typer.Option("--qr", help="Read the credential from a QR code (PNG).")
    ] = None,
    status: Annotated[
        list[Path] | None,
        typer.Option("--status", "-s", help="A cached status list file; repeat."),
    ] = None,
    keys: Annotated[
        Path | None, typer.Option("--keys", help="A cached key history (keys added after genesis).")
    ] = None,
    online: Annotated[
        bool, typer.Option("--online", help="Ask the node instead (POST /v1/credentials/verify).")
    ] = False,
    as_json: JsonOpt = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Verify a credential (offline by default) and say which check failed.

    Offline it needs only the network directory's genesis, the credential file's receipt and
    cached status list files (``credential status --out``); exit 1 if any check fails."""
    if (file is None) == (qr_png is None):
        raise CliError("give a credential FILE or --qr PNG")
    evidence: Any = None
    if qr_png is not None:
        try:
            content = qr.decode_payload(qr.read_png(qr_png.read_bytes()))
        except FileNotFoundError:
            raise CliError(f"{qr_png} does not exist") from None
        except CredentialCheckFailed as exc:
            print_report(VerificationReport((CheckResult(exc.check, False, exc.reason),)))
            raise typer.Exit(1) from None
        if content.reference is not None:
            raise CliError(
                "the QR code refers to a credential held elsewhere; verify it with --online "
                f"at {content.reference.url}"
            )
        credential: dict[str, Any] | str = (
            content.sd_jwt if content.sd_jwt is not None else dict(content.credential or {})
        )
    else:
        assert file is not None
        raw = file.read_bytes() if file.exists() else b""
        if not raw:
            raise CliError(f"{file} does not exist or is empty")
        try:
            parsed: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = raw.decode("ascii", errors="replace")
        credential, evidence = read_credential_file(parsed)
    if online:
        with NodeClient(url) as client:
            answer = client.post("/v1/credentials/verify", orjson.dumps({"credential": credential}))
        print_json(answer)
        if not answer["ok"]:
            raise typer.Exit(1)
        return
    net = NetworkDir(network)
    history = history_from_json(_read_json(keys)) if keys is not None else None
    report = verify_offline(
        credential,
        genesis=net.genesis(),
        suite=net.suite(),
        evidence=evidence,
        status_files=[_read_json(p) for p in status or []],
        key_history=history,
        now=datetime.now(UTC),
    )
    if as_json:
        print_json(report.to_json())
    else:
        print_report(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command("status")
@reports_problems
def status_list(
    dept: Annotated[str, typer.Argument(help="The issuing department.")],
    purpose: Annotated[str, typer.Argument(help="revocation or suspension.")] = "revocation",
    list_no: Annotated[int, typer.Argument(metavar="LIST", help="List number.")] = 0,
    out: OutOpt = None,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Fetch a department's latest signed status list with its anchor receipt.

    Save it with ``--out`` and pass the file to ``credential verify --status`` offline."""
    with NodeClient(url) as client:
        file = client.get(
            f"/v1/credentials/status/{path_segment(dept)}/{path_segment(purpose)}/{list_no}"
        )
    anchor = file["anchor"]
    console.print(
        f"{escape(dept)} {escape(purpose)} list {list_no}: version {anchor['version']}, "
        f"anchored at height {anchor['height']} ({local_time(anchor['time_ms'])})"
    )
    if out is not None:
        _write(out, file)


@app.command("revoke")
@reports_problems
def revoke(
    digest: HashArg,
    reason: Annotated[str, typer.Option("--reason", help="Why.")] = "",
    suspend: Annotated[bool, typer.Option("--suspend", help="Suspend instead.")] = False,
    reinstate: Annotated[bool, typer.Option("--reinstate", help="Lift a suspension.")] = False,
    login: LoginOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Staff: revoke (final), suspend or reinstate a credential of your department."""
    purpose = "suspension" if suspend or reinstate else "revocation"
    body = orjson.dumps({"purpose": purpose, "on": not reinstate, "reason": reason})
    with user_client(network, url, login) as client:
        done = client.post(f"/v1/credentials/{path_segment(digest)}/status", body)
    word = "reinstated" if reinstate else ("suspended" if suspend else "revoked")
    changed = "" if done["changed"] else " (it already was)"
    console.print(f"{digest[:16]} {word}{changed}: {done['dept']} index {done['index']}")


def _print_bill(bill: dict[str, Any]) -> None:
    table = new_table("number", "amount", "status", "reimbursed by", "reversed by")
    reimbursed = bill.get("reimbursed") or {}
    reversed_ = bill.get("reversed") or {}
    table.add_row(
        escape(bill["number"]),
        yuan(int(bill["amount_fen"])),
        escape(bill["status"]),
        escape(str(reimbursed.get("unit", "-"))),
        escape(str(reversed_.get("by", "-"))[:16]),
    )
    print_table(table)


@bill_app.command("issue")
@reports_problems
def bill_issue(
    body_file: Annotated[
        Path, typer.Argument(metavar="FILE", help="The bill as JSON (see the API's BillCreate).")
    ],
    login: LoginOpt = None,
    out: OutOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Issue an e-bill (staff: the department's receipt; an enterprise's agent: its invoice)."""
    body = orjson.dumps(_read_json(body_file))
    with user_client(network, url, login) as client:
        issued = client.post("/v1/credentials/bills", body)
    console.print(f"bill issued: {issued['hash']} (height {issued['height']})")
    if out is not None:
        _write(out, issued["credential"])


@bill_app.command("show")
@reports_problems
def bill_show(
    digest: HashArg,
    login: LoginOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Show an e-bill's on-chain record."""
    with user_client(network, url, login) as client:
        _print_bill(client.get(f"/v1/credentials/bills/{path_segment(digest)}"))


@bill_app.command("reimburse")
@reports_problems
def bill_reimburse(
    digest: HashArg,
    login: LoginOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Staff: record your unit's reimbursement of a bill (refused if already reimbursed)."""
    with user_client(network, url, login) as client:
        _print_bill(client.post(f"/v1/credentials/bills/{path_segment(digest)}/reimburse", b""))


@bill_app.command("reverse")
@reports_problems
def bill_reverse(
    digest: HashArg,
    reason: Annotated[str, typer.Option("--reason", help="Why it is reversed.")],
    login: LoginOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Staff of the issuer: red-letter reversal (红冲) of a bill."""
    body = orjson.dumps({"reason": reason})
    with user_client(network, url, login) as client:
        done = client.post(f"/v1/credentials/bills/{path_segment(digest)}/reverse", body)
    console.print(f"bill {digest[:16]} reversed by {done['reversed_by']}")
