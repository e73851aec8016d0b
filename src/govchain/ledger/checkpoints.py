"""Checkpoints: a node's signed statement of (height, block hash, state root, log size, log root).

A checkpoint signed by more than two thirds of the departments is a *quorum checkpoint*; it is
what clients and offline verifiers trust.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from govchain.crypto.parallel import verify_few
from govchain.crypto.suite import CryptoSuite
from govchain.errors import ProofError, SchemaViolation
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.genesis import Department, Genesis
from govchain.types import DeptId, Hash32, Height

CHECKPOINT_DOMAIN = b"govchain/checkpoint/v1\x00"
"""Prefix of every signed checkpoint message."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What a node commits to after a block."""

    chain: str
    """Chain id."""
    height: Height
    """Height of the block."""
    block_hash: Hash32
    """Hash of the block header."""
    state_root: Hash32
    """State root after the block."""
    log_size: int
    """Transaction log size after the block."""
    log_root: Hash32
    """Transaction log root after the block."""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "chain": self.chain,
            "height": self.height,
            "block_hash": self.block_hash.hex(),
            "state_root": self.state_root.hex(),
            "log_size": self.log_size,
            "log_root": self.log_root.hex(),
        }

    @staticmethod
    def from_json(obj: Any) -> Checkpoint:
        """Parse the JSON form (``SchemaViolation`` on any defect)."""
        try:
            if type(obj["height"]) is not int or type(obj["log_size"]) is not int:
                raise TypeError("height and log_size must be integers")
            if type(obj["chain"]) is not str:
                raise TypeError("chain must be a string")
            return Checkpoint(
                chain=obj["chain"],
                height=obj["height"],
                block_hash=Hash32(bytes.fromhex(obj["block_hash"])),
                state_root=Hash32(bytes.fromhex(obj["state_root"])),
                log_size=obj["log_size"],
                log_root=Hash32(bytes.fromhex(obj["log_root"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaViolation(f"malformed checkpoint: {exc}") from None

    def signing_message(self) -> bytes:
        """Return the bytes each department's node signs."""
        return CHECKPOINT_DOMAIN + canonical_unchecked(self.to_json())


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint with department signatures."""

    checkpoint: Checkpoint
    """The statement."""
    signatures: tuple[tuple[DeptId, bytes], ...]
    """``(department, signature)`` pairs, sorted by department."""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "checkpoint": self.checkpoint.to_json(),
            "signatures": [{"dept": d, "signature": s.hex()} for d, s in self.signatures],
        }

    @staticmethod
    def from_json(obj: Any) -> SignedCheckpoint:
        """Parse the JSON form."""
        if type(obj) is not dict or type(obj.get("signatures")) is not list:
            raise SchemaViolation("malformed signed checkpoint")
        sigs: list[tuple[DeptId, bytes]] = []
        for s in obj["signatures"]:
            try:
                sigs.append((str(s["dept"]), bytes.fromhex(s["signature"])))
            except (KeyError, TypeError, ValueError):
                raise SchemaViolation("malformed checkpoint signature") from None
        return SignedCheckpoint(
            checkpoint=Checkpoint.from_json(obj.get("checkpoint")), signatures=tuple(sorted(sigs))
        )

    def merged(self, more: Iterable[tuple[DeptId, bytes]]) -> SignedCheckpoint:
        """Return this checkpoint with more signatures (one per department)."""
        by_dept = dict(self.signatures)
        for d, s in more:
            by_dept.setdefault(d, s)
        return SignedCheckpoint(self.checkpoint, tuple(sorted(by_dept.items())))


def sign_checkpoint(
    suite: CryptoSuite, checkpoint: Checkpoint, keys: Iterable[tuple[DeptId, bytes]]
) -> SignedCheckpoint:
    """Sign ``checkpoint`` with each ``(department, node private key)``."""
    msg = checkpoint.signing_message()
    sigs = tuple(sorted((d, suite.sign(k, msg)) for d, k in keys))
    return SignedCheckpoint(checkpoint, sigs)


Departments = Sequence[Department]
"""The departments whose node keys sign a checkpoint (default: genesis's)."""


def _quorum(genesis: Genesis, departments: Departments | None) -> int:
    n = len(genesis.departments if departments is None else departments)
    return n * 2 // 3 + 1


def _candidates(
    genesis: Genesis, signed: SignedCheckpoint, departments: Departments | None = None
) -> list[tuple[DeptId, bytes, bytes]]:
    """``(department, node key, signature)`` for each signature by a known department, first
    signature per department only."""
    keys = {d.id: d.node_key for d in (genesis.departments if departments is None else departments)}
    seen: set[DeptId] = set()
    out: list[tuple[DeptId, bytes, bytes]] = []
    for dept, sig in signed.signatures:
        key = keys.get(dept)
        if key is not None and dept not in seen:
            seen.add(dept)
            out.append((dept, key, sig))
    return out


def valid_signers(
    suite: CryptoSuite,
    genesis: Genesis,
    signed: SignedCheckpoint,
    enough: int | None = None,
    departments: Departments | None = None,
) -> list[DeptId]:
    """Return the departments whose signature on the checkpoint verifies (one per department);
    with ``enough``, stop once that many are found (a verifier needs a quorum, not all)."""
    msg = signed.checkpoint.signing_message()
    ok: list[DeptId] = []
    for dept, key, sig in _candidates(genesis, signed, departments):
        if suite.verify(key, msg, sig):
            ok.append(dept)
            if enough is not None and len(ok) >= enough:
                break
    return ok


def _check_chain(genesis: Genesis, signed: SignedCheckpoint) -> None:
    if signed.checkpoint.chain != genesis.chain_id:
        raise ProofError(
            f"checkpoint is for chain {signed.checkpoint.chain!r}, not {genesis.chain_id!r}"
        )


def verify_checkpoint(
    suite: CryptoSuite,
    genesis: Genesis,
    signed: SignedCheckpoint,
    required: int | None = None,
    departments: Departments | None = None,
) -> list[DeptId]:
    """Check a checkpoint carries at least ``required`` valid signatures of ``departments``
    (default: genesis's; ``required`` default: a quorum, more than two thirds) for this chain;
    return the signers checked (the first ``required`` valid ones) or raise ``ProofError``."""
    _check_chain(genesis, signed)
    need = _quorum(genesis, departments) if required is None else required
    ok = valid_signers(suite, genesis, signed, need, departments)
    if len(ok) < need:
        total = len(genesis.departments if departments is None else departments)
        raise ProofError(
            f"checkpoint at height {signed.checkpoint.height} has {len(ok)} valid department "
            f"signature(s) {ok}; {need} of {total} are required",
            valid=ok,
            required=need,
        )
    return ok


def verify_checkpoint_along(
    suite: CryptoSuite,
    genesis: Genesis,
    signed: SignedCheckpoint,
    others: Sequence[tuple[bytes, bytes, bytes]],
    departments: Departments | None = None,
) -> tuple[list[DeptId], list[bool]]:
    """``verify_checkpoint`` (quorum by default) together with more ``(public, message,
    signature)`` checks, all verified at once on every core (``parallel.verify_few``).

    Returns the checkpoint signers and whether each of ``others`` verified. The first quorum of
    candidate signatures is verified alongside ``others``; only if one of them fails are the
    remaining signatures tried, one by one, as ``verify_checkpoint`` does.
    """
    _check_chain(genesis, signed)
    need = _quorum(genesis, departments)
    msg = signed.checkpoint.signing_message()
    first = _candidates(genesis, signed, departments)[:need]
    results = verify_few(suite.verify, [(key, msg, sig) for _, key, sig in first] + list(others))
    ok = [dept for (dept, _, _), good in zip(first, results, strict=False) if good]
    if len(ok) < need:
        ok = verify_checkpoint(suite, genesis, signed, departments=departments)
    return ok, results[len(first) :]
