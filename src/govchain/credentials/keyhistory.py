"""The key history of ``did:govchain`` DIDs, read from a ledger: genesis plus every member key
added or revoked since (``dids.KeyHistory``).

Member records live under ``sys/member/<id>`` with their full version history, so the history
needs no index of its own: a member that is not in genesis was added by the block that wrote
its first version, and revoked by the first version whose status is ``revoked``. Additions
are numbered in ledger order (height, transaction index, member id), which is the order
``dids.history_from_genesis`` numbers keys in. A suspended key stays in the history unrevoked:
suspension stops new transactions, it does not withdraw what the key signed.

The history can be written to JSON (``history_to_json``) for a verifier that is offline and
needs keys added after genesis; with genesis alone, genesis keys resolve.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from govchain.credentials.dids import (
    KeyRecord,
    MemberKeyChange,
    StaticKeyHistory,
    history_from_genesis,
)
from govchain.errors import SchemaViolation
from govchain.ledger.encoding import decode
from govchain.ledger.execution import MEMBER_PREFIX
from govchain.ledger.genesis import Genesis
from govchain.ledger.state import VersionedValue

MAX_VERSIONS = 10_000
"""Most versions of one member record read (a record changes a handful of times)."""


class MemberHistory(Protocol):
    """Committed state with history (``ledger.state.WorldState`` satisfies it)."""

    def iter_range(self, prefix: bytes) -> Iterator[tuple[bytes, VersionedValue]]:
        """Iterate the current versions of the keys under ``prefix``."""
        ...

    def history(self, key: bytes, limit: int = 100) -> list[VersionedValue]:
        """Return up to ``limit`` versions of ``key``, newest first."""
        ...


def member_key_changes(state: MemberHistory, genesis: Genesis) -> list[MemberKeyChange]:
    """Return every member key added or revoked after genesis, in ledger order."""
    in_genesis = {m.id for m in genesis.members}
    found: list[tuple[int, int, int, str, MemberKeyChange]] = []
    for key, _ in state.iter_range(MEMBER_PREFIX):
        member = key[len(MEMBER_PREFIX) :].decode()
        versions = list(reversed(state.history(key, MAX_VERSIONS)))
        for n, v in enumerate(versions):
            if v.value is None:
                continue
            record = decode(v.value)
            if n == 0 and member not in in_genesis:
                change = MemberKeyChange(
                    v.height, member, "added", bytes.fromhex(record["public_key"])
                )
                found.append((v.height, v.tx_index, 0, member, change))
            if record.get("status") == "revoked":
                found.append(
                    (v.height, v.tx_index, 1, member, MemberKeyChange(v.height, member, "revoked"))
                )
                break
    found.sort(key=lambda item: item[:4])
    return [item[4] for item in found]


def ledger_key_history(state: MemberHistory, genesis: Genesis) -> StaticKeyHistory:
    """Return the key history of every department as the ledger shows it now."""
    return history_from_genesis(genesis, member_key_changes(state, genesis))


def current_key(history: StaticKeyHistory, member: str) -> KeyRecord:
    """Return the unrevoked key record of ``member`` (``SchemaViolation`` if it has none)."""
    dept = member.split("/", 1)[0]
    for record in history.keys(dept):
        if record.member == member and record.revoked_height is None:
            return record
    raise SchemaViolation(f"member {member} has no valid key in the history", field="member")


def history_to_json(history: StaticKeyHistory) -> dict[str, Any]:
    """Return the JSON form of a key history (for an offline verifier's cache)."""
    return {
        "network_id": history.network_id,
        "departments": {
            dept: [
                {
                    "n": r.n,
                    "member": r.member,
                    "public_key": r.public_key.hex(),
                    "suite": r.suite,
                    "added_height": r.added_height,
                    "revoked_height": r.revoked_height,
                }
                for r in records
            ]
            for dept, records in sorted(history.records.items())
        },
    }


def history_from_json(obj: Any) -> StaticKeyHistory:
    """Parse ``history_to_json``'s form (``SchemaViolation`` if malformed)."""
    try:
        return StaticKeyHistory(
            network_id=str(obj["network_id"]),
            records={
                str(dept): tuple(
                    KeyRecord(
                        department=str(dept),
                        n=int(r["n"]),
                        public_key=bytes.fromhex(r["public_key"]),
                        suite=str(r["suite"]),
                        added_height=int(r["added_height"]),
                        revoked_height=(
                            None if r["revoked_height"] is None else int(r["revoked_height"])
                        ),
                        member=str(r["member"]),
                    )
                    for r in records
                )
                for dept, records in obj["departments"].items()
            },
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise SchemaViolation("a key history has network_id and departments") from None
