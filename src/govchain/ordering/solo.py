"""The ``solo`` orderer of the embedded default: one process, one queue.

A batch is cut when it holds ``max_items`` items, or ``max_wait_ms`` after its first item
arrived, whichever comes first.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from govchain.errors import Unavailable

T = TypeVar("T")


class SoloOrderer(Generic[T]):
    """An in-process FIFO orderer with size and time cuts."""

    def __init__(
        self,
        max_items: int = 5000,
        max_wait_ms: int = 50,
        max_pending: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_items < 1 or max_wait_ms < 0:
            raise ValueError("max_items must be >= 1 and max_wait_ms >= 0")
        self.max_items = max_items
        self.max_wait = max_wait_ms / 1000.0
        self.max_pending = max_pending
        self._clock = clock
        self._queue: deque[T] = deque()
        self._first_at: float | None = None
        self._cond = threading.Condition()
        self._closed = False

    def submit(self, items: Sequence[T]) -> None:
        """Queue items; raises ``Unavailable`` when closed or when the queue is full."""
        if not items:
            return
        with self._cond:
            if self._closed:
                raise Unavailable("ordering is stopped")
            if len(self._queue) + len(items) > self.max_pending:
                raise Unavailable(
                    f"ordering queue is full ({len(self._queue)} pending); retry later",
                    pending=len(self._queue),
                )
            if not self._queue:
                self._first_at = self._clock()
            self._queue.extend(items)
            self._cond.notify_all()

    def next_batch(self, timeout: float) -> list[T]:
        """Wait up to ``timeout`` s for a cut batch; return it (or ``[]``)."""
        deadline = self._clock() + timeout
        with self._cond:
            while True:
                n = len(self._queue)
                now = self._clock()
                if n >= self.max_items or (
                    n and self._first_at is not None and now - self._first_at >= self.max_wait
                ):
                    return self._cut()
                if self._closed:
                    return self._cut() if n else []
                if n and self._first_at is not None:
                    wait = min(deadline, self._first_at + self.max_wait) - now
                else:
                    wait = deadline - now
                if wait <= 0:
                    return self._cut() if n and now >= deadline and self._due(now) else []
                self._cond.wait(wait)

    def _due(self, now: float) -> bool:
        return self._first_at is not None and now - self._first_at >= self.max_wait

    def _cut(self) -> list[T]:
        q = self._queue
        take = min(len(q), self.max_items)
        batch = [q.popleft() for _ in range(take)]
        self._first_at = self._clock() if q else None
        return batch

    def pending(self) -> int:
        """Return the number of queued items."""
        with self._cond:
            return len(self._queue)

    def close(self) -> None:
        """Stop accepting items; wake waiters."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
