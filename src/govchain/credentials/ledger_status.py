"""On-chain status of credentials: status-list index allocation and status bits.

Each issuing department has one sequence of status indices, allocated in the contract (a
counter in state, so every node allocates the same index in the same transaction). A
credential holds one index and is listed at that index in two Bitstring Status Lists of its
issuer: ``revocation`` and ``suspension``. Index ``i`` is entry ``i % LIST_SIZE`` of list
number ``i // LIST_SIZE``.

A set bit is one state key (``bit/<dept>/<purpose>/<list>/<entry>``), so a flip writes a few
bytes instead of rewriting a 16 KiB bitmap; the list itself is built from a prefix scan when
it is published. Each list also has a version counter, raised by every flip: a published
(signed and anchored) list says which version it shows, so a verifier can tell a stale list.

These functions run inside contract calls (the ``credentials`` contract and the licence
registry's hooks): deterministic, no clock but the block's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from govchain.errors import Conflict, SchemaViolation
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.execution import CallContext

PREFIX = b"c/credentials/"
"""Prefix of every state key of the credentials contract."""
LIST_SIZE = 131_072
"""Entries per status list (the Bitstring Status List minimum, 16 KiB)."""
REVOCATION = "revocation"
"""Status purpose: revoked for good."""
SUSPENSION = "suspension"
"""Status purpose: suspended until the bit is cleared."""
PURPOSES = (REVOCATION, SUSPENSION)
"""The status purposes every credential is listed under."""
MAX_ALLOCATE = 100_000
"""Most indices one call allocates."""
MAX_REASON = 500
"""Longest reason recorded with a status change."""


class AlreadyRevoked(Conflict):
    """A revocation bit is already set; revocation cannot be undone."""

    code = "already_revoked"


def next_key(dept: str) -> bytes:
    """Next unallocated status index of an issuer department: an integer."""
    return PREFIX + b"next/" + dept.encode()


def bit_prefix(dept: str, purpose: str, list_no: int) -> bytes:
    """Prefix of the set bits of one status list."""
    return PREFIX + b"bit/" + dept.encode() + b"/" + purpose.encode() + b"/%06d/" % list_no


def bit_key(dept: str, purpose: str, index: int) -> bytes:
    """A set status bit: ``{reason, case, height, time_ms}`` (absent: the bit is clear)."""
    return bit_prefix(dept, purpose, index // LIST_SIZE) + b"%06d" % (index % LIST_SIZE)


def version_key(dept: str, purpose: str, list_no: int) -> bytes:
    """Version of one status list: the number of flips it has seen."""
    return PREFIX + b"ver/" + dept.encode() + b"/" + purpose.encode() + b"/%06d" % list_no


def published_key(dept: str, purpose: str, list_no: int) -> bytes:
    """Latest published (signed) list: ``{version, hash, tx_id, height, time_ms}``."""
    return PREFIX + b"pub/" + dept.encode() + b"/" + purpose.encode() + b"/%06d" % list_no


def check_purpose(purpose: Any) -> str:
    """Return ``purpose`` if it is a status purpose (``SchemaViolation`` otherwise)."""
    if purpose not in PURPOSES:
        raise SchemaViolation(f"purpose must be one of {', '.join(PURPOSES)}", field="purpose")
    result: str = purpose
    return result


def _int(raw: bytes | None) -> int:
    return 0 if raw is None else int(orjson.loads(raw))


def allocate(ctx: CallContext, dept: str, count: int = 1) -> int:
    """Allocate ``count`` consecutive status indices of ``dept``; return the first."""
    if type(count) is not int or not 1 <= count <= MAX_ALLOCATE:
        raise SchemaViolation(f"count must be 1 to {MAX_ALLOCATE}", field="count")
    first = _int(ctx.get(next_key(dept)))
    ctx.put(next_key(dept), canonical_unchecked(first + count))
    return first


def allocated(read: Callable[[bytes], bytes | None], dept: str) -> int:
    """Return how many status indices ``dept`` has allocated."""
    return _int(read(next_key(dept)))


def is_set(read: Callable[[bytes], bytes | None], dept: str, purpose: str, index: int) -> bool:
    """Return whether a status bit is set (through the state reader ``read``)."""
    return read(bit_key(dept, purpose, index)) is not None


def set_status(
    ctx: CallContext,
    dept: str,
    index: Any,
    purpose: str,
    *,
    on: bool,
    reason: str,
) -> bool:
    """Set (``on``) or clear a status bit of ``dept``'s index; return whether it changed.

    A revocation bit is never cleared (``AlreadyRevoked`` for a second revocation is left to
    callers that must refuse it: this function only reports ``False``)."""
    check_purpose(purpose)
    if type(index) is not int or not 0 <= index < allocated(ctx.get, dept):
        raise SchemaViolation(f"status index {index!r} is not allocated by {dept}", field="index")
    if type(reason) is not str or len(reason) > MAX_REASON:
        raise SchemaViolation(f"a reason of at most {MAX_REASON} characters", field="reason")
    key = bit_key(dept, purpose, index)
    present = ctx.get(key) is not None
    if present == on:
        return False
    if not on and purpose == REVOCATION:
        raise Conflict("a revocation cannot be undone", field="purpose")
    if on:
        record = {
            "reason": reason,
            "case": ctx.tx.case,
            "height": ctx.height,
            "time_ms": ctx.block_time_ms,
        }
        ctx.put(key, canonical_unchecked(record))
    else:
        ctx.delete(key)
    vkey = version_key(dept, purpose, index // LIST_SIZE)
    ctx.put(vkey, canonical_unchecked(_int(ctx.get(vkey)) + 1))
    ctx.emit(
        "credentials.status",
        {"dept": dept, "index": index, "purpose": purpose, "set": on, "reason": reason},
    )
    return True


def set_positions(
    scan: Callable[[bytes], Iterable[tuple[bytes, Any]]], dept: str, purpose: str, list_no: int
) -> list[int]:
    """Return the set entries (positions in the list) of one status list, in order, from a
    prefix scan of committed or in-block state."""
    prefix = bit_prefix(dept, purpose, list_no)
    return [int(key[len(prefix) :]) for key, _ in scan(prefix)]


def list_version(
    read: Callable[[bytes], bytes | None], dept: str, purpose: str, list_no: int
) -> int:
    """Return the version (flip count) of one status list."""
    return _int(read(version_key(dept, purpose, list_no)))


def published(
    read: Callable[[bytes], bytes | None], dept: str, purpose: str, list_no: int
) -> Mapping[str, Any] | None:
    """Return the anchor of the latest published list, or ``None``."""
    raw = read(published_key(dept, purpose, list_no))
    return None if raw is None else dict(orjson.loads(raw))
