"""Catch-up in one process: a fresh node applies a source node's chain through the pipeline of
``node/catchup.py``, beside this machine's Ed25519 verify limit measured in the same run.

An embedded node commits pre-signed kv transactions in blocks of ``--block`` to LMDB (the
source); then a second node, on an empty LMDB store behind a ``BufferedStore``, catches up
from it: ranges served by ``blocks_from`` (what a peer's ``/v1/peer/blocks`` answers) and
parsed as a peer's answer, signatures verified on the worker processes, every block
re-executed and checked, many blocks per LMDB transaction. No TLS and no other processes: the
figure is the catching-up node's own rate, with its CPU per transaction split by thread.

Usage: ``python -m bench.catchup_bench [--count 40000] [--block 4000] [--held 0]``;
writes ``bench/results/catchup.json``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.common import fresh_page_us, make_network, presign, submit_all, write_result
from govchain.contracts.registry import builtin_registry
from govchain.crypto import get_suite, parallel
from govchain.crypto.limits import measure_limits
from govchain.node.catchup import CatchUp
from govchain.node.embedded import open_embedded
from govchain.node.network import NetworkDir
from govchain.node.node import Node, NodeIdentity
from govchain.node.wire import blocks_from
from govchain.ordering.solo import SoloOrderer
from govchain.storage.buffered import BufferedStore
from govchain.storage.factory import open_store


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_source(count: int, block: int) -> tuple[Path, Node]:
    """Commit ``count`` transactions in blocks of ``block`` on an embedded node; return the
    network directory and the (stopped) node."""
    network = make_network("intl", block_max_txs=block, block_max_ms=1000)
    txs = presign(network, count)
    node = open_embedded(network)
    node.start()
    for i in range(0, count, block):
        submit_all(node, txs[i : i + block])
    while node.ledger.log.size < count:
        time.sleep(0.02)
    node.stop()
    return network, node


def run(count: int, block: int, held: int = 0) -> dict[str, Any]:
    """Build a source chain, catch a fresh node up from it; return the figures. With
    ``held``, the node first catches up (untimed) to the block holding that many transactions,
    as a node restarting with state of its own does, then the timed catch-up covers the rest."""
    held_blocks = -(-held // block)
    held = held_blocks * block
    count += held
    network, source = make_source(count, block)
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    key = net.node_key(genesis.departments[0].id).keypair.private
    store = BufferedStore(open_store(tempfile.mkdtemp(prefix="catchup-", dir=network.parent)))
    node = Node(
        store=store,
        genesis=genesis,
        suite=suite,
        host=builtin_registry(genesis, suite.hash),
        orderer=SoloOrderer(block, 50),
        identity=NodeIdentity(
            proposer=genesis.departments[0].id,
            proposer_key=key,
            checkpoint_keys=((genesis.departments[0].id, key),),
        ),
    )
    served = [0.0]
    fetch_thread = [0.0]

    def fetch(first: int, limit: int) -> list[Any]:
        t = time.thread_time()
        body = blocks_from(source.ledger, first, limit)  # the peer's side
        served[0] += time.thread_time() - t
        blocks: list[Any] = orjson.loads(body)["blocks"]
        return blocks

    catch_up = CatchUp(node, fetch, store)
    original = catch_up._fetch_loop

    def timed_fetch_loop(*args: Any) -> None:
        t = time.thread_time()
        original(*args)
        fetch_thread[0] = time.thread_time() - t

    catch_up._fetch_loop = timed_fetch_loop  # type: ignore[method-assign]
    parallel.warm_up()
    if held_blocks:
        catch_up.run(held_blocks, defer=True)
    served[0], flushes = 0.0, store.flushes
    limit = measure_limits("intl", 1.0)
    workers = parallel.worker_pids()
    workers_before = sum(_cpu_seconds(p) for p in workers)
    started, thread_before = time.perf_counter(), time.thread_time()
    blocks = catch_up.run(source.ledger.height, defer=True)
    elapsed = time.perf_counter() - started
    apply_cpu = time.thread_time() - thread_before
    workers_cpu = sum(_cpu_seconds(p) for p in workers) - workers_before
    page_us = fresh_page_us()  # after: touching memory before would warm what the run uses
    if node.ledger.state.root != source.ledger.state.root or node.ledger.log.size != count:
        raise SystemExit("the caught-up node does not hold the source's state")
    n = count - held
    node.close()
    source.close()
    per_tx = 1e6 / n
    result = {
        "transactions": n,
        "held_before": held,
        "blocks": blocks,
        "block_size": block,
        "storage_commits": store.flushes - flushes,
        "seconds": round(elapsed, 3),
        "tx_per_s": round(n / elapsed),
        "cpu_us_per_tx": {
            "applying_thread": round(apply_cpu * per_tx, 1),
            "fetch_and_decode_thread": round((fetch_thread[0] - served[0]) * per_tx, 1),
            "serving_peer": round(served[0] * per_tx, 1),
            "verifier_workers": round(workers_cpu * per_tx, 1),
        },
        "machine_limit": limit,
        "fresh_page_us": round(page_us, 2),
    }
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40_000, help="transactions")
    parser.add_argument("--block", type=int, default=4_000, help="transactions per block")
    parser.add_argument(
        "--held", type=int, default=0, help="transactions the node holds before (untimed)"
    )
    args = parser.parse_args(argv)
    r = run(args.count, args.block, args.held)
    lim = r["machine_limit"]
    print(f"machine: Ed25519 verify {lim['verify_per_s_all_cores']:,.0f}/s on all cores "
          f"({lim['verify_per_s_1core']:,.0f}/s on one); fresh memory "
          f"{r['fresh_page_us']:.1f} µs per 4 KiB page first touched")  # fmt: skip
    cpu = r["cpu_us_per_tx"]
    held = f" (holding {r['held_before']:,} before)" if r["held_before"] else ""
    print(f"catch-up in one process{held}: {r['transactions']:,} tx in {r['blocks']} blocks, "
          f"{r['seconds']:.2f} s = {r['tx_per_s']:,} tx/s verified and applied "
          f"({r['storage_commits']} LMDB commits)")  # fmt: skip
    print(f"CPU per transaction: applying {cpu['applying_thread']} µs, fetching and decoding "
          f"{cpu['fetch_and_decode_thread']} µs, verifier workers {cpu['verifier_workers']} µs "
          f"(the serving peer: {cpu['serving_peer']} µs)")  # fmt: skip
    print(f"wrote {write_result('catchup', r)}")
    return r


if __name__ == "__main__":
    main()
