"""Read-through caches of the owner node's hot read path, with exact invalidation.

A read touches the same few things again and again: the reader's member record, the resource,
the grant, the agreement key, the subject's record entries. Each is a small LMDB lookup, but
``lmdb`` releases the GIL around every lookup, so beside the busy committer thread a lookup that
costs 0.3 µs alone costs tens of microseconds and two thread switches (docs/performance.md).

``StateCache`` keeps committed state values in memory and drops every key a committed block
wrote, when the block is committed. Reading a value and putting it in the cache races with a
commit of the same key: a *generation*, bumped by every commit under the cache's lock, tells the
reader that a block committed while it was reading, and the value it read is then returned but
not kept. So the cache never holds a value older than the last committed block that was
announced to it; between a block becoming durable and its announcement a reader may still see
the previous value, exactly as if it had read a moment earlier (the read-log contract re-checks
every read at block time, so such a read is refused there, never answered).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from govchain.errors import GovchainError

T = TypeVar("T")

MAX_ENTRIES = 200_000
"""Values kept; when full, the cache starts again empty (simple, and cheap to refill)."""


class StateCache:
    """Committed state values by key (``None`` for absent keys), read through ``load``."""

    __slots__ = ("_generation", "_load", "_lock", "_max", "_values")

    def __init__(
        self, load: Callable[[bytes], bytes | None], max_entries: int = MAX_ENTRIES
    ) -> None:
        self._load = load
        self._max = max_entries
        self._values: dict[bytes, bytes | None] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        """Return the committed value of ``key`` (from memory when known)."""
        try:
            return self._values[key]
        except KeyError:
            pass
        generation = self._generation
        value = self._load(key)
        with self._lock:
            if self._generation == generation:  # no commit since the load began
                if len(self._values) >= self._max:
                    self._values.clear()
                self._values[key] = value
        return value

    def committed(self, keys: Iterable[bytes]) -> None:
        """Forget the keys a newly committed block wrote (call once it is committed)."""
        with self._lock:
            self._generation += 1
            values = self._values
            for key in keys:
                values.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._generation += 1
            self._values.clear()

    def __len__(self) -> int:
        return len(self._values)


def once(memo: dict[str, T | GovchainError], key: str, load: Callable[[str], T]) -> T:
    """Return ``load(key)``, calling it once per key of ``memo`` (a batch's or a transaction's
    lookups); a ``GovchainError`` is remembered too and raised again."""
    found = memo.get(key)
    if found is None:
        try:
            found = load(key)
        except GovchainError as exc:
            found = exc
        memo[key] = found
    if isinstance(found, GovchainError):
        raise found
    return found
