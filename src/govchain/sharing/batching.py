"""Serving single requests in batches: many callers, a few worker threads.

Every read is logged on-chain before it is answered, so a read waits for a block anyway. The
reads that arrive while a worker is busy are taken together by the next free worker and served
as one batch: their signatures verified at once (on every core when the batch is large), the
catalogue entries, grants and keys they share looked up once, their log entries carried by one
transaction per owner — one signature, one admission, one ledger entry for the whole group.
No read waits for a timer: under light load a batch is a single read.

A handful of workers keep the pipeline full (one prepares its batch while the others wait for
their blocks) without the cost of a thread per request: hundreds of threads fighting for the
GIL spent more CPU switching than serving (docs/performance.md). Callers wait on an event
(``call``) or are called back (``submit``), e.g. by an asyncio event loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from govchain.errors import GovchainError, Unavailable

log = logging.getLogger(__name__)

TX_OVERHEAD = 1024
"""Bytes kept free in a log transaction for its envelope around the entries."""
WORKERS = 4
"""Batches in flight at once: while some wait for their blocks, another prepares. Measured
with 256 concurrent readers (docs/performance.md): 2 workers made fewer, larger batches but
left the node waiting for blocks (1,160-1,521 reads/s); 4 gave 1,370-1,699/s for ~15 µs more
CPU per read; 8 little more rate for ~40 µs more CPU."""
MAX_BATCH = 1024
"""Most requests one worker takes at a time."""
MAX_PENDING = 8192
"""Requests queued beyond which new ones are refused with ``Unavailable`` (the client retries)."""

T = TypeVar("T")
R = TypeVar("R")

Done = Callable[[R | GovchainError], None]
"""Receives one request's result, or the error it failed with."""
Handle = Callable[[Sequence[T]], list[R | GovchainError]]
"""Serves a batch: per request, its result or its error, in order."""


class _Call(Generic[R]):
    """A blocking caller's slot."""

    __slots__ = ("event", "outcome")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.outcome: R | GovchainError | None = None

    def done(self, outcome: R | GovchainError) -> None:
        self.outcome = outcome
        self.event.set()


class BatchQueue(Generic[T, R]):
    """Gathers requests from any number of callers into batches served by ``handle`` on
    ``workers`` threads (started with the first request, stopped by ``close``)."""

    def __init__(
        self,
        handle: Handle[T, R],
        *,
        name: str,
        workers: int = WORKERS,
        max_batch: int = MAX_BATCH,
        max_pending: int = MAX_PENDING,
        refused: Callable[[Unavailable], None] | None = None,
    ) -> None:
        if workers < 1 or max_batch < 1 or max_pending < 1:
            raise ValueError("workers, max_batch and max_pending must be >= 1")
        self._handle = handle
        self._name = name
        self._workers = workers
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._queue: list[tuple[T, Done[R]]] = []
        self._cond = threading.Condition(threading.Lock())
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._refused = refused
        """Told of each request refused at once (queue full or closing)."""

    def submit(self, item: T, done: Done[R]) -> None:
        """Queue one request; ``done`` is called (on a worker thread) with its outcome.
        ``Unavailable`` at once if the queue is full or closed."""
        with self._cond:
            refusal = None
            if self._closed:
                refusal = Unavailable(f"the {self._name} service is stopping")
            elif len(self._queue) >= self._max_pending:
                refusal = Unavailable(
                    f"{len(self._queue)} {self._name} requests are waiting; try again shortly",
                    pending=len(self._queue),
                )
            if refusal is not None:
                if self._refused is not None:
                    self._refused(refusal)
                raise refusal
            if not self._threads:
                self._start()
            self._queue.append((item, done))
            self._cond.notify()

    @property
    def pending(self) -> int:
        """Requests queued and not yet taken by a worker."""
        return len(self._queue)

    def call(self, item: T) -> R:
        """Serve one request and return its result, or raise its error."""
        slot: _Call[R] = _Call()
        self.submit(item, slot.done)
        slot.event.wait()
        outcome = slot.outcome
        if isinstance(outcome, GovchainError):
            raise outcome
        assert outcome is not None
        return outcome

    def close(self) -> None:
        """Serve what is queued, then stop the workers."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            threads = list(self._threads)
        for t in threads:
            if t is not threading.current_thread():
                t.join()

    def _start(self) -> None:
        for i in range(self._workers):
            t = threading.Thread(target=self._work, name=f"{self._name}-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
            self._serve(batch)

    def _serve(self, batch: list[tuple[T, Done[R]]]) -> None:
        outcomes: Sequence[R | GovchainError]
        try:
            outcomes = self._handle([item for item, _ in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(outcomes)} outcomes for {len(batch)} requests")
        except GovchainError as exc:
            outcomes = [exc] * len(batch)
        except Exception as exc:  # never leave a caller waiting forever
            log.exception("%s batch failed", self._name)
            outcomes = [Unavailable(f"the {self._name} request failed: {exc}")] * len(batch)
        for (_, done), outcome in zip(batch, outcomes, strict=True):
            try:
                done(outcome)
            except Exception:
                log.exception("%s completion callback failed", self._name)
