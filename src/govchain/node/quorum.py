"""Quorum checkpoints on a network node: whose signatures count at a height, and what a set
of published checkpoint statements says about this node's own checkpoint.

Pure functions over typed records (no I/O): ``node/replica.py`` reads the statements from the
ordering service and acts on the verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from govchain.crypto.suite import CryptoSuite
from govchain.errors import Divergence, GovchainError
from govchain.ledger.checkpoints import Checkpoint, SignedCheckpoint
from govchain.ledger.membership import Membership
from govchain.types import DeptId


class MembershipHistory:
    """The membership in force from each height on (membership changes are rare)."""

    def __init__(self, height: int, membership: Membership) -> None:
        self._entries: list[tuple[int, Membership]] = [(height, membership)]

    def record(self, height: int, membership: Membership) -> None:
        """Note the membership in force from ``height`` on (the block after the change)."""
        self._entries.append((height, membership))

    def at(self, height: int) -> Membership:
        """Return the departments whose signatures count for the checkpoint at ``height``
        (heights before the first entry: the first known membership)."""
        current = self._entries[0][1]
        for start, m in self._entries:
            if start <= height:
                current = m
        return current

    @property
    def current(self) -> Membership:
        """The departments in force now."""
        return self._entries[-1][1]


@dataclass(frozen=True, slots=True)
class Tally:
    """Valid member signatures on this node's checkpoint, and on other checkpoints."""

    agree: tuple[tuple[DeptId, bytes], ...]
    """``(department, signature)`` of the departments that signed the same checkpoint."""
    others: Mapping[Checkpoint, tuple[DeptId, ...]]
    """Other checkpoints of the same height, with the departments that validly signed each."""


def tally(
    suite: CryptoSuite, mine: Checkpoint, statements: Mapping[str, bytes], members: Membership
) -> Tally:
    """Sort published statements (``dept -> signed checkpoint JSON``) of one height. A statement
    counts only if it is well formed, by a member department, and its signature verifies under
    that department's node key; everything else is ignored."""
    claims: list[tuple[DeptId, Checkpoint, bytes]] = []
    for dept, raw in sorted(statements.items()):
        try:
            sc = SignedCheckpoint.from_json(orjson.loads(raw))
        except (GovchainError, orjson.JSONDecodeError):
            continue
        sig = dict(sc.signatures).get(dept)
        if sig is not None:
            claims.append((dept, sc.checkpoint, sig))
    return _count(suite, mine, claims, members)


def tally_signed(
    suite: CryptoSuite, mine: Checkpoint, signed: SignedCheckpoint, members: Membership
) -> Tally:
    """Sort the signatures of one signed checkpoint (a peer's stored one, sent with the block
    in a catch-up answer) like ``tally``: each counts only if it is a member's and verifies."""
    claims = [(dept, signed.checkpoint, sig) for dept, sig in signed.signatures]
    return _count(suite, mine, claims, members)


def _count(
    suite: CryptoSuite,
    mine: Checkpoint,
    claims: list[tuple[DeptId, Checkpoint, bytes]],
    members: Membership,
) -> Tally:
    keys = members.keys()
    agree: list[tuple[DeptId, bytes]] = []
    others: dict[Checkpoint, list[DeptId]] = {}
    seen: set[DeptId] = set()
    for dept, cp, sig in claims:
        key = keys.get(dept)
        if key is None or dept in seen or not suite.verify(key, cp.signing_message(), sig):
            continue
        seen.add(dept)
        if cp == mine:
            agree.append((dept, sig))
        else:
            others.setdefault(cp, []).append(dept)
    return Tally(tuple(agree), {cp: tuple(d) for cp, d in others.items()})


def holds_quorum(signed: SignedCheckpoint, members: Membership) -> bool:
    """Whether ``signed`` carries the signatures of a quorum of ``members`` (the departments in
    force at its height). Only counts: the signatures are verified where the checkpoint is
    read (``Ledger.checkpoint``) or merged (``tally``)."""
    ids = set(members.ids())
    return len({dept for dept, _ in signed.signatures if dept in ids}) >= members.quorum()


def check_divergence(mine: Checkpoint, result: Tally, quorum: int) -> None:
    """Raise ``Divergence`` (height, both state roots and block hashes) if a quorum of
    departments signed a checkpoint other than ``mine``."""
    for cp, depts in result.others.items():
        if len(depts) >= quorum:
            raise Divergence(
                f"block {mine.height}: this node's state root {mine.state_root.hex()} differs "
                f"from the state root {cp.state_root.hex()} that {len(depts)} departments "
                f"({', '.join(sorted(depts))}) signed; the node stops committing and serving",
                height=mine.height,
                local_state_root=mine.state_root.hex(),
                quorum_state_root=cp.state_root.hex(),
                local_block_hash=mine.block_hash.hex(),
                quorum_block_hash=cp.block_hash.hex(),
            )


def peer_certificates(
    suite: CryptoSuite,
    mine: Callable[[int], Checkpoint],
    members: MembershipHistory,
    sent: Mapping[int, Any],
) -> dict[int, tuple[tuple[DeptId, bytes], ...]]:
    """Check the signed checkpoints peers sent with caught-up blocks (``height -> decoded
    JSON``) against this node's own: return, per height, the valid member signatures on this
    node's checkpoint where they are a quorum of the departments in force there. Malformed
    ones and signatures that do not verify are ignored; ``Divergence`` if a quorum signed
    another checkpoint."""
    out: dict[int, tuple[tuple[DeptId, bytes], ...]] = {}
    for height, doc in sorted(sent.items()):
        try:
            signed = SignedCheckpoint.from_json(doc)
        except GovchainError:
            continue
        own = mine(height)
        in_force = members.at(height)
        result = tally_signed(suite, own, signed, in_force)
        check_divergence(own, result, in_force.quorum())
        if len(result.agree) >= in_force.quorum():
            out[height] = result.agree
    return out
