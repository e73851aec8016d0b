"""Proof costs: offline receipt verification, and inclusion / consistency proof generation on a
transaction log of 1,000,000 entries (LMDB).

Usage: ``python -m bench.proofs_bench [--log-size N] [--receipts N]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import make_network, presign, write_result
from govchain.crypto import get_suite
from govchain.ledger.bundles import verify_bundle
from govchain.ledger.log import MerkleLog
from govchain.ledger.transactions import parse_transaction
from govchain.node.embedded import open_embedded
from govchain.node.network import NetworkDir
from govchain.storage.base import WriteBatch
from govchain.storage.lmdb import LmdbStore


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "mean_us": round(statistics.fmean(samples) * 1e6, 1),
        "p50_us": round(samples[len(samples) // 2] * 1e6, 1),
        "p99_us": round(samples[int(len(samples) * 0.99)] * 1e6, 1),
        "max_us": round(samples[-1] * 1e6, 1),
    }


def log_proofs(log_size: int, samples: int = 2000) -> dict[str, Any]:
    """Build a log of ``log_size`` leaves and time proof generation at that size."""
    suite = get_suite("intl")
    with tempfile.TemporaryDirectory(prefix="govchain-bench-log-") as tmp:
        store = LmdbStore(Path(tmp))
        log = MerkleLog(store, suite.hash)
        t0 = time.perf_counter()
        block = 5000
        for start in range(0, log_size, block):
            leaves = [os.urandom(32) for _ in range(min(block, log_size - start))]
            batch = WriteBatch()
            log.stage(batch, leaves)
            store.commit(batch)
            log.commit_staged()
        build_s = time.perf_counter() - t0
        rng = [int.from_bytes(os.urandom(4), "big") % log_size for _ in range(samples)]
        inclusion = []
        for i in rng:
            t = time.perf_counter()
            log.inclusion_proof(i, log_size)
            inclusion.append(time.perf_counter() - t)
        consistency = []
        for i in rng:
            t = time.perf_counter()
            log.consistency_proof(max(1, i), log_size)
            consistency.append(time.perf_counter() - t)
        store.close()
    return {
        "log_size": log_size,
        "build_seconds": round(build_s, 2),
        "inclusion_proof": _percentiles(inclusion),
        "consistency_proof": _percentiles(consistency),
    }


def receipt_verification(count: int, suite_name: str) -> dict[str, Any]:
    """Commit ``count`` transactions, fetch their receipts, and time offline verification."""
    network = make_network(suite_name)
    txs = presign(network, count)
    node = open_embedded(network, in_memory=True)
    node.start()
    node.submit(txs, wait=True, timeout=300)
    suite = get_suite(suite_name)
    genesis = NetworkDir(network).genesis()
    bundles = [node.receipt_bundle(parse_transaction(t, suite.hash).tx_id) for t in txs]
    node.close()
    times = []
    for b in bundles:
        t = time.perf_counter()
        verify_bundle(b, genesis, suite)
        times.append(time.perf_counter() - t)
    return {"suite": suite_name, "receipts": count, **_percentiles(times)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the proof benchmarks; print and write ``bench/results/proofs.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--log-size", type=int, default=1_000_000)
    p.add_argument("--receipts", type=int, default=2000)
    args = p.parse_args(argv)
    logp = log_proofs(args.log_size)
    print(
        f"[proofs] log of {logp['log_size']:,} entries: inclusion proof p50 "
        f"{logp['inclusion_proof']['p50_us']} µs, p99 {logp['inclusion_proof']['p99_us']} µs; "
        f"consistency proof p50 {logp['consistency_proof']['p50_us']} µs"
    )
    receipts = [receipt_verification(args.receipts, s) for s in ("intl", "gm")]
    for r in receipts:
        print(
            f"[proofs] offline receipt verification ({r['suite']}): mean {r['mean_us']} µs, "
            f"p99 {r['p99_us']} µs per receipt (quorum checkpoint of 4 departments)"
        )
    data = {"benchmark": "proofs", "log": logp, "receipts": receipts}
    print(f"[proofs] wrote {write_result('proofs', data)}")
    return data


if __name__ == "__main__":
    main()
