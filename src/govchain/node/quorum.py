"""Quorum checkpoints on a network node: whose signatures count at a height, and what a set
of published checkpoint statements says about this node's own checkpoint.

Pure functions over typed records (no I/O): ``node/replica.py`` reads the statements from the
ordering service and acts on the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
    keys = members.keys()
    agree: list[tuple[DeptId, bytes]] = []
    others: dict[Checkpoint, list[DeptId]] = {}
    for dept, raw in sorted(statements.items()):
        key = keys.get(dept)
        if key is None:
            continue
        try:
            sc = SignedCheckpoint.from_json(orjson.loads(raw))
        except (GovchainError, orjson.JSONDecodeError):
            continue
        sig = dict(sc.signatures).get(dept)
        cp = sc.checkpoint
        if sig is None or not suite.verify(key, cp.signing_message(), sig):
            continue
        if cp == mine:
            agree.append((dept, sig))
        else:
            others.setdefault(cp, []).append(dept)
    return Tally(tuple(agree), {cp: tuple(d) for cp, d in others.items()})


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
