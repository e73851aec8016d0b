"""Keeping a node's analytics index in step with its commits, off the commit path.

The node calls its listeners after each commit, outside its commit lock; the follower's listener
only appends the block to a bounded queue and wakes a background thread (a few hundred
nanoseconds). The thread indexes what is queued in batches, one DuckDB transaction each; when
the queue overflowed, or the index started behind the ledger, it reads the missing blocks from
the ledger's store instead. An index whose last block is not the ledger's (a restored data
directory) is rebuilt.

``index_for(app_state)`` gives each running API application the follower of its node (one per
node, shared by the applications of that node), started on first use and stopped with the node.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from govchain.analytics.extract import block_of
from govchain.analytics.index import READ_BATCH_TXS, AnalyticsIndex, IndexDiverged
from govchain.errors import GovchainError
from govchain.ledger.chain import CommittedBlock, Ledger

log = logging.getLogger("govchain.analytics")

MAX_QUEUED_BLOCKS = 256
"""Committed blocks held for the follower; past this it reads them from the store instead."""
INDEX_FILE = "analytics/index.duckdb"
"""The index's file under the node's data directory."""
RETRY_S = 1.0
"""Pause after a failed batch before trying again."""


class FollowedNode(Protocol):
    """What the follower needs of a node."""

    ledger: Ledger
    listeners: list[Callable[[CommittedBlock], None]]
    before_close: list[Callable[[], None]]


class Follower:
    """Indexes a node's commits in a background thread (see the module)."""

    def __init__(self, index: AnalyticsIndex, node: FollowedNode) -> None:
        self.index = index
        self._ledger = node.ledger
        self._queue: collections.deque[CommittedBlock] = collections.deque()
        self._overflowed = False
        self._wake = threading.Event()
        self._stopping = False
        self._idle = threading.Condition()
        self.indexed_blocks = 0
        """Blocks indexed since the follower started."""
        self.error: GovchainError | None = None
        """The last failure (cleared by the next successful batch)."""
        self.rebuilds = 0
        """Times the index was found diverged and rebuilt."""
        node.listeners.append(self._on_block)
        self._thread = threading.Thread(target=self._run, name="analytics-follower", daemon=True)
        self._thread.start()

    def _on_block(self, block: CommittedBlock) -> None:
        # Runs on the committer thread: keep it to an append and a wake-up.
        if len(self._queue) < MAX_QUEUED_BLOCKS:
            self._queue.append(block)
        else:
            self._overflowed = True
        self._wake.set()

    def lag(self) -> int:
        """Committed blocks not indexed yet."""
        return self.index.lag(self._ledger)

    def wait_caught_up(self, timeout: float) -> bool:
        """Wait until the index holds every block committed when called; return whether it
        does."""
        target = self._ledger.height
        deadline = time.monotonic() + timeout
        with self._idle:
            while self.index.height < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return self.index.height >= target
                self._wake.set()
                self._idle.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Stop the thread and close the index."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        self.index.close()

    def _run(self) -> None:
        while not self._stopping:
            try:
                self._step()
                self.error = None
            except IndexDiverged as exc:
                log.warning("analytics: %s; rebuilding the index", exc.message)
                self.rebuilds += 1
                self.index.rebuild(self._ledger)
            except GovchainError as exc:
                self.error = exc
                log.warning("analytics: indexing failed: %s", exc.message)
                self._wake.wait(RETRY_S)
            with self._idle:
                self._idle.notify_all()
            if self.index.height >= self._ledger.height and not self._queue:
                self._wake.wait(1.0)
                self._wake.clear()

    def _step(self) -> None:
        """Index what is queued, or read what is missing from the ledger."""
        queue = self._queue
        index = self.index
        # Blocks indexed already (by a catch-up from the store) are dropped.
        while queue and queue[0].header.header.height <= index.height:
            queue.popleft()
        if self._overflowed or (queue and queue[0].header.header.height != index.height + 1):
            self._overflowed = False
            self.indexed_blocks += index.catch_up(self._ledger, limit=MAX_QUEUED_BLOCKS)
            return
        if not queue:
            if index.height < self._ledger.height:
                self.indexed_blocks += index.catch_up(self._ledger, limit=MAX_QUEUED_BLOCKS)
            return
        batch = []
        txs = 0
        while queue and txs < READ_BATCH_TXS:
            block = queue.popleft()
            batch.append(block_of(block))
            txs += len(block.tx_ids)
        self.indexed_blocks += index.ingest(batch)


_FOLLOWERS: weakref.WeakKeyDictionary[Any, Follower] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def index_path(node: Any) -> Path | None:
    """Return where a node's index lives: under its data directory, or ``None`` (in memory)
    for a node without one."""
    content = getattr(node, "content", None)
    root = getattr(content, "root", None)
    if not isinstance(root, Path):
        return None
    return root.parent / INDEX_FILE


def follower_for(node: FollowedNode) -> Follower:
    """Return the follower of a node, starting it (and opening its index) on first use; it
    stops before the node closes its store."""
    with _LOCK:
        found = _FOLLOWERS.get(node)
        if found is not None:
            return found
        follower = Follower(AnalyticsIndex(index_path(node)), node)
        _FOLLOWERS[node] = follower
        node.before_close.append(follower.close)
        return follower


def index_for(app_state: Any) -> AnalyticsIndex:
    """Return the analytics index of a running API application (``app.state``, holding its
    ``node``), kept in step with the node's commits by a background follower."""
    follower: Follower | None = getattr(app_state, "analytics", None)
    if follower is None:
        follower = follower_for(app_state.node)
        app_state.analytics = follower
    return follower.index
