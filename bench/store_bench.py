"""LMDB commits beside busy Python threads: written inline by the committing thread, or by the
store's writer process (``storage/lmdb_writer.py``).

A batch shaped like one block of 2,000 key/value transactions (about 10,000 puts over five
tables, random 32-byte keys in three of them) is committed durably, first with the process
otherwise idle, then while other threads of the process run Python (as a node's admission and
HTTP server do). python-lmdb releases the GIL around every put, so the inline commit waits for
the GIL after each one; the writer process has no other thread to wait for. The same run
measures the machine's limit for comparison: one durable commit of the batch by a lone process.

Usage: ``python -m bench.store_bench [--commits N] [--busy-threads T]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from typing import Any

from bench.common import write_result
from govchain.storage.base import WriteBatch
from govchain.storage.lmdb import LmdbStore

TXS_PER_BLOCK = 2000


def _block_batch(height: int) -> WriteBatch:
    """One block's writes: state, history, buckets (random keys), entries, txindex."""
    batch = WriteBatch()
    base = height * TXS_PER_BLOCK
    for i in range(TXS_PER_BLOCK):
        n = base + i
        batch.put("state", os.urandom(32), os.urandom(90))
        batch.put("history", height.to_bytes(8, "big") + i.to_bytes(4, "big"), os.urandom(90))
        batch.put("buckets", os.urandom(4), os.urandom(192))
        batch.put("entries", n.to_bytes(8, "big"), os.urandom(420))
        batch.put("txindex", os.urandom(32), os.urandom(20))
    batch.put("meta", b"head", height.to_bytes(8, "big"))
    return batch


def _busy(stop: threading.Event) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(1000):
            x += 1


def _measure(writer_process: bool, commits: int, busy_threads: int) -> list[float]:
    """Milliseconds per commit (wall clock) of ``commits`` block batches."""
    batches = [_block_batch(h) for h in range(1, commits + 1)]
    with tempfile.TemporaryDirectory(prefix="store-bench-") as path:
        store = LmdbStore(path, writer_process=writer_process)
        stop = threading.Event()
        threads = [threading.Thread(target=_busy, args=(stop,)) for _ in range(busy_threads)]
        for t in threads:
            t.start()
        times = []
        try:
            for batch in batches:
                t0 = time.perf_counter()
                store.commit(batch)
                times.append((time.perf_counter() - t0) * 1e3)
        finally:
            stop.set()
            for t in threads:
                t.join()
            store.close()
    return times


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure; print and write ``bench/results/store.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--commits", type=int, default=20)
    p.add_argument("--busy-threads", type=int, default=1)
    args = p.parse_args(argv)
    rows: dict[str, Any] = {}
    for name, writer, busy in [
        ("inline, idle process", False, 0),
        ("writer process, idle process", True, 0),
        ("inline, busy threads", False, args.busy_threads),
        ("writer process, busy threads", True, args.busy_threads),
    ]:
        times = _measure(writer, args.commits, busy)
        rows[name] = {
            "median_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1),
            "busy_threads": busy,
        }
        print(
            f"[store] {name:30} commit of a {TXS_PER_BLOCK}-transaction block: median "
            f"{rows[name]['median_ms']} ms, max {rows[name]['max_ms']} ms"
        )
    limit = rows["inline, idle process"]["median_ms"]
    print(f"[store] machine limit (same run): one durable commit by an idle process {limit} ms")
    data = {"benchmark": "store", "commits": args.commits, "results": rows}
    path = write_result("store", data)
    print(f"[store] wrote {path}")
    return data


if __name__ == "__main__":
    main()
