"""Department membership after genesis: which departments run nodes, sign blocks and
checkpoints, and how many signatures make a quorum at a height.

Genesis names the first departments. Afterwards the ``network`` system contract (``contracts/
network.py``) changes membership by majority approval, and writes the whole current list to
one state key, ``sys/departments``; a node reads it after every block that wrote it, so quorum
sizes follow the membership at each height.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govchain.errors import SchemaViolation
from govchain.ledger.encoding import canonical_unchecked, decode
from govchain.ledger.genesis import Department, Genesis
from govchain.types import DeptId

DEPARTMENTS_KEY = b"sys/departments"
"""State key of the current department list (absent: the genesis departments)."""

NETWORK_CONTRACT = "network"
"""Name of the system contract that changes membership."""

MEMBERSHIP_CHANGED_EVENT = "network.membership_changed"
"""Event of a membership change; its ``membership`` lists the new departments and node keys."""


def quorum_of(n: int) -> int:
    """Return how many of ``n`` departments make a quorum: more than two thirds."""
    return n * 2 // 3 + 1


def majority_of(n: int) -> int:
    """Return how many of ``n`` departments make a majority (membership changes)."""
    return n // 2 + 1


@dataclass(frozen=True, slots=True)
class Membership:
    """The departments in force after some block."""

    departments: tuple[Department, ...]
    """Current departments, in joining order."""

    def keys(self) -> dict[DeptId, bytes]:
        """Node public key of each department."""
        return {d.id: d.node_key for d in self.departments}

    def ids(self) -> list[DeptId]:
        """Department ids."""
        return [d.id for d in self.departments]

    def quorum(self) -> int:
        """Signatures that make a quorum checkpoint."""
        return quorum_of(len(self.departments))

    def to_json(self) -> list[dict[str, str]]:
        """Return the JSON form (also the stored form, canonically encoded)."""
        return [
            {"id": d.id, "name": d.name, "node_key": d.node_key.hex()} for d in self.departments
        ]

    def encode(self) -> bytes:
        """Return the stored form."""
        return canonical_unchecked(self.to_json())

    @staticmethod
    def from_json(items: Any) -> Membership:
        """Parse the JSON form; ``SchemaViolation`` if it is not a list of departments."""
        if type(items) is not list or not items:
            raise SchemaViolation("a membership is a non-empty list of departments")
        try:
            return Membership(
                tuple(
                    Department(str(i["id"]), str(i["name"]), bytes.fromhex(i["node_key"]))
                    for i in items
                )
            )
        except (KeyError, TypeError, ValueError):
            raise SchemaViolation("malformed department in a membership") from None

    @staticmethod
    def decode(raw: bytes) -> Membership:
        """Parse the stored form."""
        return Membership.from_json(decode(raw))


def current_membership(genesis: Genesis, read: Callable[[bytes], bytes | None]) -> Membership:
    """Return the membership recorded in state (read through ``read``), or genesis's."""
    raw = read(DEPARTMENTS_KEY)
    return Membership(genesis.departments) if raw is None else Membership.decode(raw)
