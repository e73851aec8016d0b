"""The access log of the access layer: logins, failed logins and user actions.

Append-only and hash-chained: entry ``n`` stores ``prev`` = hash of entry ``n-1``, and its own
hash is ``SHA-256(prev || canonical JSON of the entry)``. The head (size and last hash) is stored
with every append; ``verify_entries`` recomputes the chain, so an auditor detects any changed,
removed or reordered entry. A per-user index gives each user their own history (and the later
personalisation feature its input).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from govchain.errors import IntegrityError, SchemaViolation
from govchain.identity.records import RecordStore

GENESIS_PREV = "00" * 32
"""``prev`` of the first entry."""
EVENTS = frozenset(
    {
        "login",
        "login_failed",
        "locked",
        "logout",
        "token_refreshed",
        "page_viewed",
        "service_started",
        "action",
    }
)
"""Kinds of entries."""
USER_EVENTS = frozenset({"page_viewed", "service_started"})
"""Kinds a user's client may report itself."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One access-log entry."""

    seq: int
    """Position in the log, from 0."""
    time_ms: int
    """When it happened (milliseconds since the epoch)."""
    user: str
    """User id (or ``-`` for a login attempt with an unknown name)."""
    event: str
    """One of ``EVENTS``."""
    detail: Mapping[str, Any]
    """Event details: page, service, client, route, case ... (never a secret)."""
    prev: str
    """Hex hash of the previous entry."""

    def body(self) -> dict[str, Any]:
        """Return the hashed JSON form."""
        return {
            "seq": self.seq,
            "time_ms": self.time_ms,
            "user": self.user,
            "event": self.event,
            "detail": dict(self.detail),
            "prev": self.prev,
        }

    def hash(self) -> str:
        """Return this entry's chain hash (hex)."""
        data = orjson.dumps(self.body(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(bytes.fromhex(self.prev) + data).hexdigest()


def verify_entries(entries: Iterable[Entry], expected_size: int, expected_head: str) -> str:
    """Recompute the chain of ``entries`` (from seq 0); return the head hash or raise
    ``IntegrityError`` naming the first entry that does not link up."""
    prev = GENESIS_PREV
    n = 0
    for e in entries:
        if e.seq != n or e.prev != prev:
            raise IntegrityError(f"access log entry {n} does not link to its predecessor", seq=n)
        prev = e.hash()
        n += 1
    if n != expected_size or prev != expected_head:
        raise IntegrityError(
            f"access log has {n} entries ending in {prev}; the head says {expected_size} "
            f"ending in {expected_head}",
            size=n,
        )
    return prev


def _entry_key(seq: int) -> str:
    return f"alog/e/{seq:016d}"


def _user_index_key(user: str, seq: int) -> str:
    return f"alog/u/{user}/{seq:016d}"


class AccessLog:
    """The durable access log on the node's store."""

    def __init__(self, records: RecordStore, clock: Callable[[], float] = time.time) -> None:
        self._records = records
        self._clock = clock

    def head(self) -> tuple[int, str]:
        """Return ``(size, head hash)``."""
        obj = self._records.get("alog/head")
        return (0, GENESIS_PREV) if obj is None else (obj["size"], obj["hash"])

    def append(self, user: str, event: str, detail: Mapping[str, Any] | None = None) -> Entry:
        """Append one entry (durable when this returns)."""
        if event not in EVENTS:
            raise SchemaViolation(f"unknown access-log event {event!r}", field="event")
        with self._records.lock:
            size, prev = self.head()
            entry = Entry(size, int(self._clock() * 1000), user, event, dict(detail or {}), prev)
            self._records.write(
                {
                    _entry_key(size): entry.body(),
                    _user_index_key(user, size): b"",
                    "alog/head": {"size": size + 1, "hash": entry.hash()},
                }
            )
        return entry

    def entries(self, start: int = 0) -> list[Entry]:
        """Return the entries from ``start`` on, in order."""
        out = []
        for key, raw in self._records.scan("alog/e/"):
            if int(key.rsplit("/", 1)[1]) >= start:
                out.append(Entry(**orjson.loads(raw)))
        return out

    def verify(self) -> dict[str, Any]:
        """Recompute the whole chain against the stored head (``IntegrityError`` if broken)."""
        size, head = self.head()
        verify_entries(self.entries(), size, head)
        return {"size": size, "head": head, "verified": True}

    def history(self, user: str, limit: int = 100) -> list[Entry]:
        """Return a user's entries, newest first."""
        out: list[Entry] = []
        for key, _ in self._records.scan(f"alog/u/{user}/", reverse=True):
            seq = int(key.rsplit("/", 1)[1])
            obj = self._records.get(_entry_key(seq))
            if obj is not None:
                out.append(Entry(**obj))
            if len(out) >= limit:
                break
        return out
