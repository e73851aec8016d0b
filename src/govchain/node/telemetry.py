"""What a node measures about itself: the metric families of ``/metrics`` and the hooks the
node's parts call (``docs/operations.md`` lists every family).

- **committing** (``Node``): blocks by source (proposed here, or applied from another node) with
  their commit time and size, the wait of a client for its acknowledgement, and at scrape time
  the committed and certified heights, the log size, transactions committed and per second;
- **admission** (``Node.submit``): transactions admitted, and refused by reason (the error's
  code, ``at_capacity`` or ``node_failed``);
- **catch-up** (``NetworkNode``): whether one runs, towards which height, what it applied, and
  the ordering log's height (how far behind the node is);
- **data sharing** (``SharingService``): requests served and refused by reason, per kind;
- **derived indexes**: how far each index registered with ``track_index`` lags the committed
  height;
- **the process**: CPU, resident memory, open files, start time.

The hooks are called per block or per submitted batch, never per transaction.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from govchain.errors import GovchainError
from govchain.node.metrics import MetricFamily, RateWindow, Registry, family

if TYPE_CHECKING:
    from govchain.node.node import Node

BLOCK_SIZE_BUCKETS = (1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000)
"""Upper bounds of the transactions-per-block histogram (genesis allows up to 5,000)."""
RATE_WINDOW_S = 10
"""Seconds over which ``govchain_transactions_per_second`` is averaged."""
MAX_SAMPLED = 1024
"""Most admitted transactions whose commit latency is being measured at once."""
"""Seconds over which ``govchain_transactions_per_second`` is averaged."""


class NodeMetrics:
    """The metric families of one node and the hooks that update them."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = r = registry or Registry()
        self._admitted = r.counter(
            "govchain_transactions_admitted_total",
            "Transactions that passed admission and were queued for ordering.",
        ).labels()
        self._rejections = r.counter(
            "govchain_admission_rejections_total",
            "Submitted transactions refused before ordering, by reason (error code).",
            ["reason"],
        )
        commit = r.histogram(
            "govchain_block_commit_seconds",
            "Time to execute and durably commit one block, by source (proposed: cut by this "
            "node; applied: proposed by another node, verified and re-executed here).",
            ["source"],
        )
        self._commit = {s: commit.labels(s) for s in ("proposed", "applied")}
        size = r.histogram(
            "govchain_block_transactions",
            "Transactions per committed block.",
            buckets=BLOCK_SIZE_BUCKETS,
        )
        self._size = size.labels()
        self._latency = r.histogram(
            "govchain_commit_latency_seconds",
            "Time from admission to durable commit of a transaction (sampled: the first "
            "admitted transaction of each submitted batch).",
        ).labels()
        self._sampled: dict[bytes, float] = {}
        self._sampled_lock = threading.Lock()
        self._rate = RateWindow(RATE_WINDOW_S)
        self._served = r.counter(
            "govchain_sharing_served_total",
            "Data-sharing requests answered, by kind (read: records sealed for the reader "
            "after the read is logged; attest: a yes/no attestation).",
            ["kind"],
        )
        self._refused = r.counter(
            "govchain_sharing_refusals_total",
            "Data-sharing requests refused, by kind and reason (error code).",
            ["kind", "reason"],
        )
        self._catchup_running = r.gauge(
            "govchain_catchup_running",
            "1 while the node catches up from peers (far behind the ordering log), else 0.",
        ).labels()
        self._catchup_target = r.gauge(
            "govchain_catchup_target_height",
            "Height the last catch-up from peers aimed at (0: none since start).",
        ).labels()
        self._catchup_blocks = r.counter(
            "govchain_catchup_blocks_total", "Blocks applied by catch-ups from peers."
        ).labels()
        self._catchup_txs = r.counter(
            "govchain_catchup_transactions_total", "Transactions applied by catch-ups from peers."
        ).labels()
        self._indexes: dict[str, Callable[[], int]] = {}
        r.add_collector("process", collect_process)

    # --- hooks --------------------------------------------------------------------------------

    def block_committed(self, tx_ids: Sequence[bytes], seconds: float, *, proposed: bool) -> None:
        """Count a committed block (``Node.commit`` or ``Node.apply``) that took ``seconds``,
        and the commit latency of the sampled transactions in it."""
        self._commit["proposed" if proposed else "applied"].observe(seconds)
        self._size.observe(len(tx_ids))
        self._rate.add(len(tx_ids))
        sampled = self._sampled
        if not sampled:
            return
        now = time.perf_counter()
        with self._sampled_lock:
            found = [t for t in map(sampled.pop, tx_ids, itertools.repeat(None)) if t is not None]
        for admitted_at in found:
            self._latency.observe(now - admitted_at)

    def admitted(self, n: int) -> None:
        """Count ``n`` transactions admitted and queued for ordering."""
        self._admitted.inc(n)

    def sample(self, tx_id: bytes) -> None:
        """Measure the commit latency of an admitted transaction (called before it is
        ordered: its block may commit before the submitter's next line)."""
        now = time.perf_counter()
        with self._sampled_lock:
            if len(self._sampled) >= MAX_SAMPLED:
                # The oldest sample is the one most likely never to commit (a failed block).
                del self._sampled[next(iter(self._sampled))]
            self._sampled[tx_id] = now

    def refused_each(self, outcomes: Sequence[object]) -> None:
        """Count every admission outcome that is an error as refused under its code."""
        for o in outcomes:
            if isinstance(o, GovchainError):
                self._rejections.labels(o.code).inc()

    def refused(self, reason: str, n: int) -> None:
        """Count ``n`` submitted transactions refused together (capacity, a failed node, an
        ordering error)."""
        if n:
            self._rejections.labels(reason).inc(n)

    def sharing_outcomes(self, kind: str, outcomes: Sequence[str | None]) -> None:
        """Count data-sharing requests of ``kind``: per request ``None`` (served) or the code
        it was refused with (``SharingService.observer``)."""
        served = 0
        for code in outcomes:
            if code is None:
                served += 1
            else:
                self._refused.labels(kind, code).inc()
        if served:
            self._served.labels(kind).inc(served)

    def catch_up_started(self, target: int) -> None:
        """A catch-up from peers towards ``target`` begins."""
        self._catchup_target.set(target)
        self._catchup_running.set(1)

    def catch_up_ended(self, blocks: int, transactions: int) -> None:
        """The catch-up ended (done, stopped or failed) having applied these."""
        self._catchup_running.set(0)
        self._catchup_blocks.inc(blocks)
        self._catchup_txs.inc(transactions)

    def track_index(self, name: str, indexed_height: Callable[[], int]) -> None:
        """Report the lag of a derived index (rebuilt from committed blocks, such as an
        analytics index) as ``committed height - indexed_height()`` at each scrape."""
        self._indexes[name] = indexed_height

    # --- scrape-time collectors ------------------------------------------------------------------

    def observe_node(self, node: Node) -> None:
        """Collect the node's heights, counts and state at each scrape."""
        self.registry.add_collector("node", lambda: self._node_families(node))

    def _node_families(self, node: Node) -> Iterator[MetricFamily]:
        height = node.ledger.height
        certified = node.certified_height
        yield family(
            "govchain_node_info",
            "gauge",
            "The chain this node serves (value always 1).",
            [({"chain_id": node.genesis.chain_id, "suite": node.genesis.suite}, 1)],
        )
        yield family(
            "govchain_committed_height",
            "gauge",
            "Height of the last block this node committed durably.",
            [({}, height)],
        )
        yield family(
            "govchain_certified_height",
            "gauge",
            "Highest height whose checkpoint a quorum of departments signed (the embedded "
            "node signs with every department's key: its committed height).",
            [({}, height if certified is None else certified)],
        )
        yield family(
            "govchain_log_size",
            "gauge",
            "Entries in the transaction log (every transaction ever committed).",
            [({}, node.ledger.log.size)],
        )
        yield family(
            "govchain_transactions_committed_total",
            "counter",
            "Transactions committed by this process since it started.",
            [({}, node.committed_txs)],
        )
        yield family(
            "govchain_transactions_per_second",
            "gauge",
            f"Transactions committed per second over the last {RATE_WINDOW_S} seconds.",
            [({}, self._rate.rate())],
        )
        yield family(
            "govchain_pending_transactions",
            "gauge",
            "Transactions admitted by this node and not committed yet.",
            [({}, node.admission.pending_count())],
        )
        yield family(
            "govchain_node_failed",
            "gauge",
            "1 if the node stopped committing (its health document says why), else 0.",
            [({}, 0 if node.failure is None else 1)],
        )
        yield family(
            "govchain_node_start_time_seconds",
            "gauge",
            "When the node was opened (Unix time).",
            [({}, node.started_at)],
        )
        indexed = {name: fn() for name, fn in sorted(self._indexes.items())}
        yield family(
            "govchain_index_height",
            "gauge",
            "Height up to which each derived index holds the committed blocks.",
            [({"index": name}, h) for name, h in indexed.items()],
        )
        yield family(
            "govchain_index_lag_blocks",
            "gauge",
            "Blocks committed and not yet in each derived index.",
            [({"index": name}, max(0, height - h)) for name, h in indexed.items()],
        )


def collect_process() -> Iterable[MetricFamily]:
    """The process's CPU time, resident memory, open files and start time (Linux ``/proc``;
    families that cannot be read are left out)."""
    t = os.times()
    yield family(
        "process_cpu_seconds_total",
        "counter",
        "User and system CPU time of the process (its threads, not its worker processes).",
        [({}, t.user + t.system)],
    )
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            rss_pages = int(f.read().split()[1])
        yield family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the process.",
            [({}, rss_pages * os.sysconf("SC_PAGE_SIZE"))],
        )
        yield family(
            "process_open_fds",
            "gauge",
            "Open file descriptors (files, sockets, the store).",
            [({}, len(os.listdir("/proc/self/fd")))],
        )
        yield family(
            "process_start_time_seconds",
            "gauge",
            "When the process started (Unix time).",
            [({}, _process_start_time())],
        )
    except (OSError, ValueError, IndexError):
        return


def _process_start_time() -> float:
    with open("/proc/self/stat", encoding="ascii") as f:
        ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/stat", encoding="ascii") as f:
        boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def ordering_families(
    log_height: int, available: bool, proposer: bool, fetch_cpu: float, apply_cpu: float
) -> Iterator[MetricFamily]:
    """The families of a network node's ordering and catch-up state (``NetworkNode``)."""
    yield family(
        "govchain_ordering_log_height",
        "gauge",
        "Height of the ordering log (etcd) as last read: the committed height catches up to it.",
        [({}, log_height)],
    )
    yield family(
        "govchain_ordering_available",
        "gauge",
        "1 if the ordering service (etcd) answered the last request, else 0.",
        [({}, 1 if available else 0)],
    )
    yield family(
        "govchain_is_proposer",
        "gauge",
        "1 while this node holds the proposer lease, else 0.",
        [({}, 1 if proposer else 0)],
    )
    yield family(
        "govchain_catchup_cpu_seconds_total",
        "counter",
        "CPU time of catch-ups from peers, by stage (fetch: fetching and decoding; apply: "
        "executing and committing).",
        [({"stage": "fetch"}, fetch_cpu), ({"stage": "apply"}, apply_cpu)],
    )
