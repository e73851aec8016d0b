"""``govchain query`` (a state value, proof verified locally) and ``govchain status``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape

from govchain.cli.client import NodeClient, path_segment
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import (
    CliError,
    ProblemError,
    console,
    json_text,
    new_grid,
    print_table,
    reports_errors,
    short,
)
from govchain.contracts.kv import state_key
from govchain.crypto import get_suite
from govchain.errors import GovchainError, ProofError
from govchain.ledger.bundles import follow_membership
from govchain.ledger.checkpoints import SignedCheckpoint, valid_signers, verify_checkpoint
from govchain.ledger.encoding import canonical_bytes
from govchain.ledger.genesis import Department, Genesis
from govchain.ledger.state_proof import StateProof, verify_state_proof
from govchain.node.network import NetworkDir
from govchain.types import DeptId


@dataclass(frozen=True, slots=True)
class VerifiedState:
    """A state answer whose proof verified against a quorum checkpoint."""

    value: bytes | None
    """The proven value bytes (``None``: the key is absent)."""
    checkpoint: SignedCheckpoint
    """The checkpoint the proof leads to."""
    signers: list[DeptId]
    """Every department whose checkpoint signature verified (at least a quorum)."""
    departments: tuple[Department, ...]
    """The departments in force at the checkpoint."""


def verify_state_answer(doc: Any, key: bytes, genesis: Genesis) -> VerifiedState:
    """Check a ``/v1/state`` answer for ``key``: the checkpoint has a quorum of the signatures
    of the departments in force (genesis's, followed through the membership changes the answer
    proves), and the proof leads from the key's value to its state root.
    Raises ``ProofError`` naming what does not hold."""
    suite = get_suite(genesis.suite)
    if type(doc) is not dict or doc.get("key_hex") != key.hex():
        raise ProofError("the node answered for another key")
    if doc.get("checkpoint") is None:
        raise ProofError("the node has no checkpoint yet: nothing to verify the value against")
    try:
        signed = SignedCheckpoint.from_json(doc["checkpoint"])
        proof = StateProof.from_json(doc["proof"])
        value: bytes | None = None
        if doc["exists"]:
            v = doc["value"]
            value = canonical_bytes(v) if doc["value_encoding"] == "json" else bytes.fromhex(v)
    except (GovchainError, KeyError, TypeError, ValueError) as exc:
        raise ProofError(f"the answer is malformed: {exc}") from None
    departments = follow_membership(
        doc.get("membership", []), genesis, suite, signed.checkpoint.height
    )
    verify_checkpoint(suite, genesis, signed, departments=departments)
    verify_state_proof(
        suite.hash,
        signed.checkpoint.state_root,
        key,
        value,
        proof,
        genesis.params.state_buckets,
    )
    # verify_checkpoint stops at a quorum; count every valid signature for the report.
    return VerifiedState(
        value, signed, valid_signers(suite, genesis, signed, departments=departments), departments
    )


@reports_errors
def query(
    key: Annotated[str, typer.Argument(help="Key of the kv contract (or any state key).")],
    raw_key: Annotated[
        bool, typer.Option("--raw-key", help="KEY is a full state key, not a kv key.")
    ] = False,
    url: UrlOpt = DEFAULT_URL,
    network: NetworkOpt = DEFAULT_NETWORK,
) -> None:
    """Read a value and verify its proof locally against a quorum-signed checkpoint."""
    genesis = NetworkDir(network).genesis()
    skey = key.encode() if raw_key else state_key(key)
    path = f"/v1/state/{path_segment(key)}" if raw_key else f"/v1/kv/{path_segment(key)}"
    with NodeClient(url) as client:
        doc = client.get(path)
    try:
        verified = verify_state_answer(doc, skey, genesis)
    except ProofError as exc:
        raise CliError(f"proof verification FAILED: {exc.message}") from None
    shown = escape(skey.decode(errors="replace"))
    if verified.value is None:
        console.print(f"{shown} [yellow]does not exist[/] (absence proven)")
    else:
        value = json_text(doc["value"]) if doc["value_encoding"] == "json" else doc["value"]
        console.print(f"{shown} = {escape(str(value))}")
        console.print(
            f"version {doc['version']}, written at height {doc['height']} "
            f"by transaction {short(doc['tx_id'])}"
        )
    cp = verified.checkpoint.checkpoint
    console.print(
        f"[green]proof verified[/] against checkpoint at height {cp.height} signed by "
        f"{len(verified.signers)}/{len(verified.departments)} departments"
    )


@reports_errors
def status(url: UrlOpt = DEFAULT_URL) -> None:
    """Show the node's health and its latest checkpoint."""
    with NodeClient(url) as client:
        health = client.get("/v1/health")
        try:
            cp: dict[str, Any] | None = client.get("/v1/checkpoints/latest")
        except ProblemError as exc:
            if exc.status != 404:
                raise
            cp = None
    grid = new_grid()
    grid.add_column(style="bold")
    grid.add_column()
    colour = "green" if health["status"] == "ok" else "red"
    grid.add_row("node", f"{escape(url)} [{colour}]{health['status']}[/]")
    grid.add_row("chain", f"{escape(health['chain_id'])} ({health['suite']})")
    grid.add_row("height", str(health["height"]))
    grid.add_row("log size", str(health["log_size"]))
    grid.add_row("state root", health["state_root"])
    grid.add_row("pending", str(health["pending"]))
    if health.get("last_block_ms"):
        when = datetime.fromtimestamp(health["last_block_ms"] / 1000, UTC)
        grid.add_row("last block", when.isoformat(timespec="seconds"))
    if cp is not None:
        c = cp["checkpoint"]
        depts = ", ".join(s["dept"] for s in cp["signatures"])
        grid.add_row("checkpoint", f"height {c['height']}, block {short(c['block_hash'])}")
        grid.add_row("signed by", f"{len(cp['signatures'])} departments ({escape(depts)})")
    else:
        grid.add_row("checkpoint", "none yet (no block committed)")
    if health.get("error"):
        grid.add_row("error", f"[red]{escape(str(health['error'].get('message')))}[/]")
    print_table(grid)
