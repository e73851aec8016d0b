"""``govchain notary ...``: notarise documents (one or a batch), revoke, verify online."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from govchain.apps.notary.batches import build_batch
from govchain.apps.notary.service import (
    CONTRACT,
    document_digest,
    document_receipt,
    notarise_args,
    parse_expiry,
    verify_document,
)
from govchain.cli.client import NodeClient
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import CliError, console, json_text, new_grid, print_table, reports_errors
from govchain.cli.transactions import ActorOpt, CaseOpt, MemberOpt, print_receipt, sign
from govchain.errors import GovchainError
from govchain.node.network import NetworkDir

app = typer.Typer(
    name="notary",
    help="Notarisation (电子存证): notarise, batch, revoke, verify.",
    no_args_is_help=True,
)

TitleOpt = Annotated[str, typer.Option("--title", help="Title recorded with the hash.")]
ExpiresOpt = Annotated[
    str | None,
    typer.Option("--expires", help="Expiry: ISO date/time (UTC) or ms since the epoch."),
]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise CliError(f"{path} is a directory") from None


def _submit(
    network: Path, url: str, member: str, method: str, args: dict[str, Any], **who: str
) -> tuple[dict[str, Any], bytes]:
    """Submit one notary call; print its receipt; return it and its receipt bundle bytes."""
    tx = sign(network, member, CONTRACT, method, args, purpose="notarisation", **who)
    with NodeClient(url) as client:
        doc: dict[str, Any] = client.post("/v1/transactions", tx.encode(), wait="true")
        print_receipt(doc)
        if doc["receipt"]["status"] != "ok":
            raise typer.Exit(1)
        bundle = client.request("GET", f"/v1/transactions/{doc['tx_id']}/receipt").content
    return doc, bundle


def _time(ms: int | None) -> str:
    if ms is None:
        return "none"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@app.command("notarise")
@reports_errors
def notarise(
    document: Annotated[Path, typer.Argument(help="The document file.", dir_okay=False)],
    member: MemberOpt,
    receipt_out: Annotated[
        Path | None, typer.Option("--receipt-out", help="Save the document receipt here.")
    ] = None,
    store: Annotated[
        bool, typer.Option("--store", help="Also keep the file in the node's content store.")
    ] = False,
    title: TitleOpt = "",
    expires: ExpiresOpt = None,
    case: CaseOpt = "",
    actor: ActorOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Notarise one document: its hash (and who, when, case, expiry) goes on-chain."""
    net = NetworkDir(network)
    genesis, suite = net.genesis(), net.suite()
    data = _read(document)
    digest = document_digest(suite, data)
    if store:
        with NodeClient(url) as client:
            client.request("PUT", f"/v1/apps/notary/documents/{digest}", content=data)
        console.print(f"stored in the node's content store ({len(data)} bytes)")
    args = notarise_args(
        digest, title=title or document.name, expires_ms=parse_expiry(expires), stored=store
    )
    _, raw = _submit(network, url, member, "notarise", args, actor=actor or member, case=case)
    if receipt_out is not None:
        receipt = document_receipt(orjson.loads(raw), digest, None)
        verify_document(receipt, genesis, suite, data)
        receipt_out.write_bytes(orjson.dumps(receipt, option=orjson.OPT_INDENT_2))
        console.print(f"document receipt saved to {escape(str(receipt_out))} (verified)")


@app.command("batch")
@reports_errors
def batch(
    directory: Annotated[Path, typer.Argument(help="Folder of documents.", file_okay=False)],
    member: MemberOpt,
    receipts_out: Annotated[
        Path, typer.Option("--receipts-out", help="Folder for one receipt per document.")
    ],
    title: TitleOpt = "",
    expires: ExpiresOpt = None,
    case: CaseOpt = "",
    actor: ActorOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Notarise every file of a folder in one transaction (the Merkle root of their hashes);
    each document gets its own receipt with its inclusion proof."""
    net = NetworkDir(network)
    genesis, suite = net.genesis(), net.suite()
    if not directory.is_dir():
        raise CliError(f"{directory} is not a folder")
    paths = sorted(p for p in directory.iterdir() if p.is_file())
    if not paths:
        raise CliError(f"{directory} holds no files")
    digests = [document_digest(suite, p.read_bytes()) for p in paths]
    root, proofs = build_batch(suite.hash, digests)
    args: dict[str, Any] = {"root": root, "count": len(paths), "title": title or directory.name}
    expiry = parse_expiry(expires)
    if expiry is not None:
        args["expires_ms"] = expiry
    _, raw = _submit(network, url, member, "notarise_batch", args, actor=actor or member, case=case)
    bundle = orjson.loads(raw)
    receipts_out.mkdir(parents=True, exist_ok=True)
    for path, digest, proof in zip(paths, digests, proofs, strict=True):
        receipt = document_receipt(bundle, digest, proof)
        (receipts_out / f"{path.name}.receipt.json").write_bytes(orjson.dumps(receipt))
    verify_document(
        document_receipt(bundle, digests[0], proofs[0]), genesis, suite, paths[0].read_bytes()
    )
    console.print(
        f"{len(paths)} documents notarised under batch root {root}; receipts in "
        f"{escape(str(receipts_out))}"
    )


@app.command("revoke")
@reports_errors
def revoke(
    target: Annotated[str, typer.Argument(help="Document file, digest or batch root.")],
    member: MemberOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why it is revoked.")],
    case: CaseOpt = "",
    actor: ActorOpt = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Revoke a notarisation, with the reason (only its department can)."""
    path = Path(target)
    digest = document_digest(NetworkDir(network).suite(), _read(path)) if path.is_file() else target
    args = {"digest": digest, "reason": reason}
    _submit(network, url, member, "revoke", args, actor=actor or member, case=case)


@app.command("verify")
@reports_errors
def verify(
    document: Annotated[Path, typer.Argument(help="The document file.", dir_okay=False)],
    receipt: Annotated[
        Path | None, typer.Option("--receipt", help="Its receipt (checked offline first).")
    ] = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Verify a document online: is it notarised, and is it still valid (not revoked or
    expired)? With --receipt, the receipt is verified offline first."""
    data = _read(document)
    key: str | None = None
    if receipt is not None:
        net = NetworkDir(network)
        try:
            checked = verify_document(
                orjson.loads(_read(receipt)), net.genesis(), net.suite(), data
            )
        except (GovchainError, orjson.JSONDecodeError) as exc:
            message = getattr(exc, "message", str(exc))
            raise CliError(f"document receipt verification FAILED: {message}") from None
        console.print("[green]receipt verified offline[/]")
        key = checked.on_chain_key
    with NodeClient(url) as client:
        if key is None:
            doc = client.post("/v1/apps/notary/verify", data)
        else:
            doc = client.get(f"/v1/apps/notary/records/{key}")
    if not doc["notarised"]:
        console.print(f"[red]not notarised[/]: {doc['digest']} ({doc['hash']})")
        raise typer.Exit(1)
    record = doc["record"]
    colour = "green" if doc["status"] == "valid" else "red"
    grid = new_grid()
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("status", f"[{colour}]{doc['status']}[/] (as of height {doc['height']})")
    grid.add_row("digest" if record["kind"] == "document" else "batch root", doc["digest"])
    grid.add_row("title", escape(record["title"]))
    grid.add_row("notarised by", escape(f"{record['by']} ({record['actor']})"))
    grid.add_row("when", f"{_time(record['time_ms'])}, block {record['height']}")
    if record["case"]:
        grid.add_row("case", escape(record["case"]))
    grid.add_row("expires", _time(record["expires_ms"]))
    if record["revoked"]:
        r = record["revoked"]
        grid.add_row("revoked", escape(f"{_time(r['time_ms'])} by {r['by']}: {r['reason']}"))
    print_table(grid)
    if doc["status"] != "valid":
        raise typer.Exit(1)


def print_document(checked: Any) -> None:
    """Print what a verified document receipt proves (used by ``verify-receipt``)."""
    line = f"{checked.digest} ({checked.hash_name}) matches the notarised "
    line += "batch root via its inclusion proof" if checked.batch is not None else "digest"
    console.print(f"[green]document verified[/]: {line}")
    if checked.expires_ms is not None:
        console.print(f"expires {_time(checked.expires_ms)}")
    console.print(
        "revocation is on-chain state: check it online with 'govchain notary verify "
        "DOCUMENT --receipt RECEIPT'"
    )


__all__ = ["app", "json_text", "print_document"]
