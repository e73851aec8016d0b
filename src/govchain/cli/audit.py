"""``govchain verify`` (re-verify a stored chain offline) and ``govchain verify-receipt``."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from govchain.apps.notary.service import verify_document
from govchain.cli.notary import print_document
from govchain.cli.options import DEFAULT_NETWORK, DataOpt, NetworkOpt
from govchain.cli.output import (
    CliError,
    console,
    err_console,
    json_text,
    new_grid,
    print_table,
    reports_errors,
)
from govchain.contracts.registry import builtin_registry
from govchain.crypto import get_suite
from govchain.errors import GovchainError, ProofError
from govchain.ledger.audit import AuditReport
from govchain.ledger.bundles import VerifiedReceipt, verify_bundle
from govchain.ledger.chain import META_GENESIS_HASH, Ledger
from govchain.ledger.checkpoints import SignedCheckpoint, valid_signers
from govchain.ledger.encoding import decode
from govchain.ledger.genesis import Genesis, parse_genesis
from govchain.ledger.membership import quorum_of
from govchain.ledger.store_audit import MAX_FAULTS
from govchain.ledger.store_audit import audit_store as audit_store_tables
from govchain.node.embedded import EMBEDDED_NODE
from govchain.node.network import NetworkDir
from govchain.storage.base import KVStore
from govchain.storage.factory import open_store


def audit_store(genesis: Genesis, data: Path) -> AuditReport:
    """Check the store in ``data`` (opened read-only): replay its chain into a scratch ledger in
    a temporary directory, then compare every table with the replayed one, with a progress bar.
    The store is read as it is, not opened as a ledger: a node refuses to open a corrupt store,
    and this is the tool that says where it is corrupt."""
    suite = get_suite(genesis.suite)
    store = open_store(str(data), readonly=True)
    try:
        if store.get("meta", META_GENESIS_HASH) is None:
            raise CliError(f"{data} holds no chain data")
        with tempfile.TemporaryDirectory(prefix="govchain-verify-") as scratch_dir:
            scratch_store = open_store(scratch_dir)
            try:
                scratch = Ledger(
                    scratch_store, genesis, suite, builtin_registry(genesis, suite.hash)
                )
                return _replay(store, scratch)
            finally:
                scratch_store.close()
    finally:
        store.close()


def _replay(store: KVStore, scratch: Ledger) -> AuditReport:
    with Progress(
        TextColumn("verifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks  {task.fields[txs]} tx  {task.fields[rate]} tx/s"),
        TimeElapsedColumn(),
        console=err_console,
    ) as progress:
        task = progress.add_task("verify", total=None, txs=0, rate=0)
        started = time.monotonic()
        txs = 0

        def advance(done: int, total: int) -> None:
            nonlocal txs
            head = scratch.head
            txs += 0 if head is None else head.header.tx_count
            rate = int(txs / max(time.monotonic() - started, 1e-6))
            progress.update(task, completed=done, total=total, txs=txs, rate=rate)

        return audit_store_tables(store, scratch, advance)


@reports_errors
def verify(network: NetworkOpt = DEFAULT_NETWORK, data: DataOpt = None) -> None:
    """Check a node's stored data offline against what its chain commits to: every signature,
    the re-execution of every block, and every table (log tiles, state, history, buckets,
    indexes, checkpoints and their signatures); exits 1 naming each table, key and block at
    fault."""
    net = NetworkDir(network)
    genesis = net.genesis()
    path = data or net.data_dir(EMBEDDED_NODE)
    started = time.monotonic()
    report = audit_store(genesis, path)
    elapsed = time.monotonic() - started
    if report.ok:
        console.print(
            f"[green]OK[/]: {report.height} blocks, {report.transactions} transactions "
            f"verified; every table matches the chain ({elapsed:.1f} s)"
        )
        return
    for fault in report.faults:
        # Descriptions start with "block <height>:" where a block is to blame.
        where = "" if fault.height is None else f" at block {fault.height}"
        text = fault.describe().removeprefix(f"block {fault.height}: ")
        console.print(f"[bold red]FAILED[/]{where}: {escape(text)}", soft_wrap=True)
    more = " (the first ones)" if len(report.faults) >= MAX_FAULTS else ""
    console.print(f"{len(report.faults)} record(s) at fault{more}", soft_wrap=True)
    raise typer.Exit(1)


def print_verified(v: VerifiedReceipt, genesis: Genesis, bundle: dict[str, Any]) -> None:
    """Print what a verified receipt proves."""
    signed = SignedCheckpoint.from_json(bundle["checkpoint"])
    # verify_bundle stops checking signatures at a quorum; report every valid one.
    departments = v.departments or genesis.departments
    signers = valid_signers(get_suite(genesis.suite), genesis, signed, departments=departments)
    log_size = signed.checkpoint.log_size
    grid = new_grid()
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("transaction", v.tx_id)
    grid.add_row("chain", escape(genesis.chain_id))
    grid.add_row("block", f"{v.height} (log index {v.log_index})")
    grid.add_row("status", escape(v.status))
    grid.add_row("result", escape(json_text(v.result)))
    signature = (
        "signature verified against genesis"
        if v.signature_checked
        else "member added after genesis: signature not checkable offline"
    )
    grid.add_row("signer", f"{escape(v.signer)} ({signature})")
    grid.add_row("actor", escape(v.actor))
    if v.case:
        grid.add_row("case", escape(v.case))
    grid.add_row("included", f"in the transaction log of {log_size} entries (inclusion proof)")
    changes = len(bundle.get("membership", []))
    if changes:
        grid.add_row(
            "departments",
            f"{escape(', '.join(d.id for d in departments))} (genesis's, after {changes} "
            "proved membership change(s))",
        )
    n = len(departments)
    grid.add_row(
        "checkpoint",
        f"height {v.checkpoint_height}, signed by {len(signers)}/{n} departments "
        f"({escape(', '.join(signers))}; quorum {quorum_of(n)})",
    )
    print_table(grid)


@reports_errors
def verify_receipt(
    file: Annotated[Path, typer.Argument(help="Receipt bundle (JSON).", dir_okay=False)],
    genesis_path: Annotated[
        Path | None,
        typer.Option("--genesis", "-g", help="genesis.json to verify against.", dir_okay=False),
    ] = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    document: Annotated[
        Path | None,
        typer.Argument(help="Notarised document to check against the receipt.", dir_okay=False),
    ] = None,
) -> None:
    """Verify a receipt bundle offline with nothing but the network's genesis file; with a
    DOCUMENT, also check that the receipt notarises exactly that document."""
    if genesis_path is not None:
        try:
            genesis = parse_genesis(genesis_path.read_bytes())
        except FileNotFoundError:
            raise CliError(f"{genesis_path} does not exist") from None
    else:
        genesis = NetworkDir(network).genesis()
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{file} does not exist") from None
    try:
        bundle = decode(data)
        verified = verify_bundle(bundle, genesis, get_suite(genesis.suite))
    except GovchainError as exc:
        kind = "" if isinstance(exc, ProofError) else f"{exc.code}: "
        raise CliError(f"receipt verification FAILED: {kind}{exc.message}") from None
    console.print(f"[green]receipt verified[/] ({escape(str(file))})")
    print_verified(verified, genesis, bundle)
    if document is not None:
        try:
            content = document.read_bytes()
        except FileNotFoundError:
            raise CliError(f"{document} does not exist") from None
        try:
            checked = verify_document(bundle, genesis, get_suite(genesis.suite), content)
        except GovchainError as exc:
            raise CliError(f"document verification FAILED: {exc.message}") from None
        print_document(checked)
