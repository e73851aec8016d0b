"""Embedded node throughput: pre-signed kv transactions submitted in-process in batches,
committed durably to LMDB; printed beside this machine's signature limits measured in the
same run.

Usage: ``python -m bench.ledger_bench [--suite intl|gm] [--count N] [--batch B] [--profile]``

Batches of 4,000 by default: each becomes one block (genesis allows 5,000), which halves the
per-block work of batches of 2,000 (the state tree's upper levels, the durable commit's two
syncs, header and checkpoint signatures).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import threading
import time
from typing import Any

from bench.common import make_network, presign, submit_all, write_result
from govchain.crypto import parallel
from govchain.crypto.limits import measure_limits
from govchain.node.embedded import open_embedded

DEFAULT_COUNT = {"intl": 200_000, "gm": 20_000}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(suite: str, count: int, batch: int, profile: bool = False) -> dict[str, Any]:
    """Run one throughput measurement; return its figures."""
    network = make_network(suite)
    t0 = time.perf_counter()
    txs = presign(network, count)
    sign_s = time.perf_counter() - t0
    node = open_embedded(network)
    prof = cProfile.Profile() if profile else None
    node.start()
    done = threading.Event()

    def on_block(_block: Any) -> None:
        if node.ledger.log.size >= count:
            done.set()

    node.listeners.append(on_block)
    if prof is not None:
        prof.enable()
    workers = parallel.worker_pids()
    writer = getattr(node.ledger.store, "writer_pid", None)
    writers = [] if writer is None else [writer]
    cpu_before = [
        _cpu_seconds(os.getpid()),
        sum(_cpu_seconds(p) for p in workers),
        sum(_cpu_seconds(p) for p in writers),
    ]
    start = time.perf_counter()
    for i in range(0, count, batch):
        submit_all(node, txs[i : i + batch])
    submitted_at = time.perf_counter()
    done.wait(600)
    elapsed = time.perf_counter() - start
    cpu_node = _cpu_seconds(os.getpid()) - cpu_before[0]
    cpu_workers = sum(_cpu_seconds(p) for p in workers) - cpu_before[1]
    cpu_writer = sum(_cpu_seconds(p) for p in writers) - cpu_before[2]
    if prof is not None:
        prof.disable()
    height = node.ledger.height
    node.close()
    result: dict[str, Any] = {
        "suite": suite,
        "transactions": count,
        "batch": batch,
        "blocks": height,
        "seconds": round(elapsed, 3),
        "tx_per_s": round(count / elapsed),
        "admission_seconds": round(submitted_at - start, 3),
        "presign_seconds": round(sign_s, 2),
        # CPU per transaction, independent of what else the machine runs: the node process
        # (admission, execution, state, log), the signature-verifying workers and the LMDB
        # writer process (sorting and writing each block's batch durably).
        "cpu_us_per_tx_node": round(cpu_node / count * 1e6, 1),
        "cpu_us_per_tx_verifiers": round(cpu_workers / count * 1e6, 1),
        "cpu_us_per_tx_writer": round(cpu_writer / count * 1e6, 1),
    }
    if prof is not None:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
        result["profile_top"] = out.getvalue()
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure the suites asked for; print and write ``bench/results/ledger.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", choices=["intl", "gm"], action="append")
    p.add_argument("--count", type=int)
    p.add_argument("--batch", type=int, default=4000)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args(argv)
    rows = []
    for suite in args.suite or ["intl", "gm"]:
        limits = measure_limits(suite, 1.0)
        row = run(suite, args.count or DEFAULT_COUNT[suite], args.batch, args.profile)
        row["machine_limit"] = limits
        row["share_of_verify_limit"] = round(row["tx_per_s"] / limits["verify_per_s_all_cores"], 3)
        rows.append(row)
        print(
            f"[ledger] {suite}: {row['tx_per_s']:,} tx/s committed+durable "
            f"({row['transactions']:,} tx, {row['blocks']} blocks, {row['seconds']} s) | "
            f"machine: verify {limits['verify_per_s_1core']:,.0f}/s on 1 core, "
            f"{limits['verify_per_s_all_cores']:,.0f}/s on {limits['cores']} cores "
            f"-> {row['share_of_verify_limit']:.0%} of the verify limit; CPU per tx: "
            f"node {row['cpu_us_per_tx_node']} µs, verifier workers "
            f"{row['cpu_us_per_tx_verifiers']} µs, LMDB writer {row['cpu_us_per_tx_writer']} µs"
        )
        if args.profile:
            print(row["profile_top"])
    data = {"benchmark": "ledger", "results": rows}
    path = write_result("ledger", data)
    print(f"[ledger] wrote {path}")
    return data


if __name__ == "__main__":
    main()
