"""Peak memory of the embedded node while it commits 1,000,000 transactions (LMDB, intl).

Transactions are signed by a separate process pool in chunks and streamed to the node, so the
measured process holds only the node and one chunk in flight. Peak RSS is read with getrusage
for the node process and, separately, for its verifier worker processes.

Usage: ``python -m bench.memory_bench [--count N]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from bench.common import (
    SIGNERS,
    _sign_range,
    make_network,
    peak_rss_mib,
    submit_all,
    write_result,
)
from govchain.node.embedded import open_embedded

CHUNK = 4000


class MemorySampler:
    """Samples /proc/self/status: RSS split into anonymous memory (the heap: what the node
    really uses) and file-backed pages (LMDB's memory map of the data file, which the kernel
    reclaims like page cache)."""

    def __init__(self, writer_pid: int | None = None) -> None:
        self.peak = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
        self.writer_peak = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
        """The same fields of the node's LMDB writer process (``storage/lmdb_writer.py``)."""
        self._writer = writer_pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _read(path: str, peak: dict[str, int]) -> None:
        try:
            with open(path) as f:
                for line in f:
                    name, _, rest = line.partition(":")
                    if name in peak:
                        peak[name] = max(peak[name], int(rest.split()[0]))
        except FileNotFoundError:
            pass  # the writer has exited

    def _sample(self) -> None:
        self._read("/proc/self/status", self.peak)
        if self._writer is not None:
            self._read(f"/proc/{self._writer}/status", self.writer_peak)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def mib(self, name: str, writer: bool = False) -> float:
        """Peak of one field in MiB (of the node process, or of its writer)."""
        return round((self.writer_peak if writer else self.peak)[name] / 1024, 1)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Commit ``--count`` transactions and report the peak resident memory."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=1_000_000)
    args = p.parse_args(argv)
    network = make_network("intl")
    node = open_embedded(network)  # forks the verifier processes first
    node.start()
    rss_start = peak_rss_mib()
    per_signer = CHUNK // len(SIGNERS)
    jobs = [
        (str(network), s, first, per_signer, 16)
        for first in range(0, args.count // len(SIGNERS), per_signer)
        for s in SIGNERS
    ]
    total = len(jobs) * per_signer
    start = time.perf_counter()
    signers = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    writer = getattr(node.ledger.store, "writer_pid", None)
    with MemorySampler(writer) as sampler, signers:
        pending = [signers.submit(_sign_range, *jobs[i]) for i in range(min(4, len(jobs)))]
        next_job = len(pending)
        while pending:
            chunk = pending.pop(0).result()
            if next_job < len(jobs):
                pending.append(signers.submit(_sign_range, *jobs[next_job]))
                next_job += 1
            submit_all(node, chunk)
        while node.ledger.log.size < total:
            time.sleep(0.05)
    elapsed = time.perf_counter() - start
    node.close()
    peak = peak_rss_mib()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    data = {
        "benchmark": "memory",
        "transactions": total,
        "seconds": round(elapsed, 1),
        "tx_per_s_while_signing": round(total / elapsed),
        "node_peak_rss_mib": round(peak, 1),
        "node_peak_anonymous_mib": sampler.mib("RssAnon"),
        "node_peak_file_backed_mib": sampler.mib("RssFile"),
        "node_rss_before_load_mib": round(rss_start, 1),
        "largest_child_peak_rss_mib": round(children, 1),
        "writer_peak_anonymous_mib": sampler.mib("RssAnon", writer=True),
        "writer_peak_file_backed_mib": sampler.mib("RssFile", writer=True),
        "limit_mib": 1024,
    }
    print(
        f"[memory] {total:,} tx committed: node peak RSS {data['node_peak_rss_mib']} MiB "
        f"(limit 1024 MiB; {data['node_rss_before_load_mib']} MiB before the load; peak "
        f"anonymous {data['node_peak_anonymous_mib']} MiB, file-backed LMDB map "
        f"{data['node_peak_file_backed_mib']} MiB); LMDB writer process: peak anonymous "
        f"{data['writer_peak_anonymous_mib']} MiB, file-backed "
        f"{data['writer_peak_file_backed_mib']} MiB; largest "
        f"worker process {data['largest_child_peak_rss_mib']} MiB; {elapsed:.0f} s"
    )
    print(f"[memory] wrote {write_result('memory', data)}")
    return data


if __name__ == "__main__":
    main()
