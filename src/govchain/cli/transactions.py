"""``govchain tx put|delete|call``: sign locally with a member key, submit over HTTP, show the
receipt and keep the offline-verifiable receipt bundle."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from govchain.cli.client import NodeClient
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import CliError, console, json_text, new_grid, print_table, reports_errors
from govchain.crypto import get_suite
from govchain.errors import MalformedEncoding
from govchain.ledger.bundles import verify_bundle
from govchain.ledger.checkpoints import SignedCheckpoint, valid_signers
from govchain.ledger.encoding import decode
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node.network import NetworkDir

app = typer.Typer(
    name="tx",
    help="Sign and submit transactions.",
    no_args_is_help=True,
)

MemberOpt = Annotated[
    str, typer.Option("--as", help="Member whose key signs, e.g. tax/admin.", show_default=False)
]
ActorOpt = Annotated[
    str | None, typer.Option("--actor", help="Person acting [default: the member id].")
]
CaseOpt = Annotated[str, typer.Option("--case", help="Case (办件) id.")]
PurposeOpt = Annotated[str, typer.Option("--purpose", help="Declared purpose.")]
ReceiptOpt = Annotated[
    Path | None,
    typer.Option(
        "--receipt-out", help="Save the receipt bundle (JSON) to this file.", dir_okay=False
    ),
]
NoWaitOpt = Annotated[
    bool, typer.Option("--no-wait", help="Return once admitted, without waiting for the block.")
]


def parse_json(text: str, what: str) -> Any:
    """Parse a JSON argument (integers only: floats are rejected as in signed data)."""
    try:
        return decode(text)
    except MalformedEncoding as exc:
        raise CliError(
            f"{what} is not acceptable JSON ({exc.message}); quote strings, e.g. '\"text\"'"
        ) from None


def sign(
    network: Path, member: str, contract: str, method: str, args: dict[str, Any], **who: str
) -> Transaction:
    """Build and sign a transaction with the member's key from the network directory; the nonce
    is the current time in microseconds, so it increases from call to call."""
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    private = net.member_key(member).keypair.private
    return build_transaction(
        chain=genesis.chain_id,
        signer=member,
        nonce=time.time_ns() // 1000,
        contract=contract,
        method=method,
        args=args,
        sign=lambda msg: suite.sign(private, msg),
        hash_fn=suite.hash,
        **who,
    )


def print_receipt(doc: dict[str, Any]) -> None:
    """Print a committed transaction and its receipt."""
    receipt = doc["receipt"]
    ok = receipt["status"] == "ok"
    grid = new_grid()
    grid.add_column(style="bold")
    grid.add_column()
    colour = "green" if ok else "red"
    grid.add_row("transaction", doc["tx_id"])
    grid.add_row("status", f"[{colour}]committed, {escape(receipt['status'])}[/]")
    grid.add_row("block", f"{doc['height']} (index {doc['index']})")
    grid.add_row("log index", str(doc["log_index"]))
    if ok:
        grid.add_row("result", escape(json_text(receipt["result"])))
    if receipt.get("error"):
        err = receipt["error"]
        grid.add_row(
            "error", f"[red]{escape(str(err.get('code')))}: {escape(str(err.get('message')))}[/]"
        )
    for ev in receipt.get("events") or []:
        grid.add_row("event", escape(f"{ev.get('type')} {json_text(ev.get('data'))}"))
    print_table(grid)


def submit(
    *,
    network: Path,
    url: str,
    member: str,
    contract: str,
    method: str,
    args: dict[str, Any],
    actor: str | None,
    case: str,
    purpose: str,
    receipt_out: Path | None,
    wait: bool,
) -> None:
    """Sign, submit, print the receipt, save the bundle; exit 1 if the call failed."""
    if receipt_out is not None and not wait:
        raise CliError("--receipt-out needs the committed transaction; drop --no-wait")
    tx = sign(
        network, member, contract, method, args, actor=actor or member, case=case, purpose=purpose
    )
    with NodeClient(url) as client:
        doc = client.post("/v1/transactions", tx.encode(), wait="true" if wait else "false")
        if not wait:
            console.print(f"transaction {doc['tx_id']} [yellow]pending[/]")
            return
        print_receipt(doc)
        if receipt_out is not None:
            raw = client.request("GET", f"/v1/transactions/{doc['tx_id']}/receipt").content
            save_receipt(network, raw, receipt_out)
    if doc["receipt"]["status"] != "ok":
        raise typer.Exit(1)


def save_receipt(network: Path, raw: bytes, path: Path) -> None:
    """Check a receipt bundle against genesis, then write it to ``path``."""
    genesis = NetworkDir(network).genesis()
    suite = get_suite(genesis.suite)
    bundle = orjson.loads(raw)
    verified = verify_bundle(bundle, genesis, suite)
    departments = verified.departments or genesis.departments
    signed = SignedCheckpoint.from_json(bundle["checkpoint"])
    signers = valid_signers(suite, genesis, signed, departments=departments)
    path.write_bytes(raw)
    n = len(departments)
    console.print(
        f"receipt saved to {escape(str(path))} (verified: checkpoint at height "
        f"{verified.checkpoint_height} signed by {len(signers)}/{n} departments)"
    )


@app.command("put")
@reports_errors
def put(
    key: Annotated[str, typer.Argument(help="Key of the kv contract.")],
    value_json: Annotated[str, typer.Argument(metavar="VALUE_JSON", help="Value as JSON.")],
    member: MemberOpt,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
    actor: ActorOpt = None,
    case: CaseOpt = "",
    purpose: PurposeOpt = "",
    receipt_out: ReceiptOpt = None,
    no_wait: NoWaitOpt = False,
) -> None:
    """Write KEY = VALUE_JSON with the built-in kv contract."""
    value = parse_json(value_json, "VALUE_JSON")
    submit(
        network=network,
        url=url,
        member=member,
        contract="kv",
        method="put",
        args={"key": key, "value": value},
        actor=actor,
        case=case,
        purpose=purpose,
        receipt_out=receipt_out,
        wait=not no_wait,
    )


@app.command("delete")
@reports_errors
def delete(
    key: Annotated[str, typer.Argument(help="Key of the kv contract.")],
    member: MemberOpt,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
    actor: ActorOpt = None,
    case: CaseOpt = "",
    purpose: PurposeOpt = "",
    receipt_out: ReceiptOpt = None,
    no_wait: NoWaitOpt = False,
) -> None:
    """Delete KEY with the built-in kv contract."""
    submit(
        network=network,
        url=url,
        member=member,
        contract="kv",
        method="delete",
        args={"key": key},
        actor=actor,
        case=case,
        purpose=purpose,
        receipt_out=receipt_out,
        wait=not no_wait,
    )


@app.command("call")
@reports_errors
def call(
    contract: Annotated[str, typer.Argument(help="Contract name.")],
    method: Annotated[str, typer.Argument(help="Entry point.")],
    member: MemberOpt,
    args_json: Annotated[str, typer.Option("--args", help="Arguments as a JSON object.")] = "{}",
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
    actor: ActorOpt = None,
    case: CaseOpt = "",
    purpose: PurposeOpt = "",
    receipt_out: ReceiptOpt = None,
    no_wait: NoWaitOpt = False,
) -> None:
    """Call any contract method."""
    args = parse_json(args_json, "--args")
    if type(args) is not dict:
        raise CliError("--args must be a JSON object")
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
        receipt_out=receipt_out,
        wait=not no_wait,
    )
