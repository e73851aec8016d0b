"""The department network on this machine: 4 node processes + 3 etcd members, ``intl`` suite.

Measures, beside this machine's Ed25519 verify limit measured in the same run:

1. **throughput**: clients submit pre-signed transactions to all four nodes as fast as they
   are accepted; the figure is transactions committed **on every node** per second;
2. **commit latency** at half of that load: batches submitted at a fixed rate, each waiting
   until its block is durable on the node it was sent to; p50 and p99;
3. **catch-up**: one node is stopped while more transactions commit, then restarted; the
   rate at which it fetches from peers, verifies and applies them (its own log line).

etcd speaks mutual TLS to the nodes and between its members, as ``govchain network up`` runs
it; ``--plain-etcd`` measures plain HTTP instead.

Usage: ``python -m bench.network_bench [--count 60000] [--catch-up 60000] [--plain-etcd]``;
writes ``bench/results/network.json``.
"""

from __future__ import annotations

import argparse
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.common import fresh_page_us, make_network, presign, write_result
from govchain.cli.cluster import start_node, stop_process, wait_healthy
from govchain.contracts.registry import builtin_registry
from govchain.crypto import get_suite
from govchain.crypto.limits import measure_limits
from govchain.ledger.chain import Ledger
from govchain.node.network import NetworkDir
from govchain.ordering.etcd_cluster import EtcdCluster, free_port
from govchain.storage.factory import open_store

BATCH = 1000
POLL_S = 0.1
"""How often the nodes' health is read while waiting for commits (each read costs the node
CPU that is counted in its CPU per transaction)."""


CATCH_UP_POLL_S = 0.5
"""How often the nodes' health is read while one catches up."""

FAILED: list[str] = []
"""Batches that failed (e.g. ordering unavailable under overload): reported, not retried."""


def _post(http: httpx.Client, url: str, batch: Sequence[bytes], wait: bool) -> bool:
    """Submit one batch; retry while the node is at capacity (refused before admission);
    return False if it failed otherwise (its nonces are used: it cannot be resent as is)."""
    body = b"[" + b",".join(batch) + b"]"
    while True:
        try:
            r = http.post(
                f"{url}/v1/transactions/batch",
                params={"wait": str(wait).lower()},
                content=body,
                headers={"content-type": "application/json"},
            )
        except httpx.HTTPError as exc:
            FAILED.append(f"{type(exc).__name__}")
            return False
        doc = orjson.loads(r.content)  # the results list is long: orjson, not json
        if r.status_code == 503 and doc.get("code") == "unavailable":
            time.sleep(0.02)  # back-pressure: retry like a well-behaved client
            continue
        if r.status_code != 200:
            FAILED.append(f"HTTP {r.status_code} {doc.get('code')}")
            return False
        bad = [x for x in doc["results"] if "problem" in x or x.get("status") == "rejected"]
        if bad:  # reported at the end (this runs on client threads)
            FAILED.append(f"{len(bad)} refused, e.g. {bad[0]}")
            return False
        return True


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (a node and its signature-verifier workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_used(node_pids: Sequence[int], etcd_pids: Sequence[int]) -> dict[str, float]:
    """CPU seconds so far of the node processes (with their workers; ``node_main``: the node
    processes alone), of etcd and of this benchmark process (the clients)."""
    return {
        "nodes": sum(_cpu_seconds(p) for n in node_pids for p in _descendants(n)),
        "node_main": sum(_cpu_seconds(n) for n in node_pids),
        "etcd": sum(_cpu_seconds(p) for p in etcd_pids),
        "clients": _cpu_seconds(os.getpid()),
    }


def cpu_per_tx(
    before: dict[str, float], after: dict[str, float], count: int, nodes: int
) -> dict[str, float]:
    """Microseconds of CPU per committed transaction: per node (every node verifies and
    executes every transaction), split into the node process and its verifier workers, of
    etcd in all, and of the submitting clients."""
    d = {k: after[k] - before[k] for k in before}
    return {
        "node_us_per_tx_per_node": round(d["nodes"] / nodes / count * 1e6, 1),
        "node_process_us_per_tx_per_node": round(d["node_main"] / nodes / count * 1e6, 1),
        "workers_us_per_tx_per_node": round((d["nodes"] - d["node_main"]) / nodes / count * 1e6, 1),
        "etcd_us_per_tx": round(d["etcd"] / count * 1e6, 1),
        "clients_us_per_tx": round(d["clients"] / count * 1e6, 1),
    }


def _client(timeout: float, connections: int = 10) -> httpx.Client:
    """An HTTP client for the whole run: making one costs ~20 ms of CPU (its TLS context),
    which, made per poll or per batch, the nodes would pay for on this shared machine."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.Client(timeout=timeout, limits=limits)


_POLLER: list[httpx.Client] = []


def _health(urls: Sequence[str], field: str) -> list[int]:
    """One number of every node's health answer (-1 where it did not answer)."""
    if not _POLLER:
        _POLLER.append(_client(5.0))
    http = _POLLER[0]
    out = []
    for u in urls:
        try:
            out.append(http.get(f"{u}/v1/health").json()[field])
        except (httpx.HTTPError, KeyError, ValueError):
            out.append(-1)
    return out


def _log_sizes(urls: Sequence[str]) -> list[int]:
    return _health(urls, "log_size")


def _wait_log(urls: Sequence[str], size: int, timeout: float, poll: float = POLL_S) -> float:
    """Wait until every node's log holds ``size`` entries or, if some batches failed, until
    every node holds the same number and it no longer grows; return when (to within
    ``poll``)."""
    deadline = time.monotonic() + timeout
    last: list[int] = []
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        sizes = _log_sizes(urls)
        if min(sizes) >= size:
            return time.monotonic()
        if sizes != last:
            last, stable_since = sizes, time.monotonic()
        elif FAILED and min(sizes) == max(sizes) and time.monotonic() - stable_since > 3:
            return stable_since
        time.sleep(poll)
    raise SystemExit(f"not every node reached log size {size}: {_log_sizes(urls)}")


class Supply:
    """Pre-signed transactions per signer, handed out in nonce order. Each client submits
    one signer's transactions: spread over clients that run at different speeds, one signer's
    nonces would reach the ordering out of order, and those more than the replay window
    (1024) behind would be committed as rejected, counting for nothing."""

    def __init__(self, txs: Sequence[bytes], signers: int) -> None:
        # ``presign`` interleaves the signers: transaction i is signer i % signers's.
        self._lists = [list(txs[s::signers]) for s in range(signers)]
        self._next = [0] * signers

    def take(self, signer: int, n: int) -> list[bytes]:
        """Return the next ``n`` transactions of ``signer``."""
        i = self._next[signer]
        out = self._lists[signer][i : i + n]
        if len(out) < n:
            raise SystemExit(f"signer {signer} has only {len(out)} pre-signed transactions left")
        self._next[signer] = i + n
        return out


def throughput(urls: list[str], supply: Supply, count: int, base: int) -> float:
    """Submit ``count`` transactions through every node at once (client k: signer k, node k);
    return tx/s committed on every node."""
    per = count // len(urls)
    lists = [supply.take(k, per) for k in range(len(urls))]

    def client(k: int) -> None:
        with _client(120.0) as http:
            for i in range(0, per, BATCH):
                _post(http, urls[k], lists[k][i : i + BATCH], wait=False)

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(len(urls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t1 = _wait_log(urls, base + per * len(urls), 600)
    return per * len(urls) / (t1 - t0)


def latency(urls: list[str], supply: Supply, count: int, rate: float, batch: int) -> list[float]:
    """Submit ``count`` transactions in batches at ``rate`` tx/s (batch j: signer and node
    j % 4), each waiting for its commit; return the commit latency of every batch (s)."""
    n = len(urls)
    batches = [supply.take(j % n, batch) for j in range(count // batch)]
    interval = batch / rate
    lat: list[float] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5

    with _client(60.0, connections=len(batches)) as http:

        def one(j: int) -> None:
            due = start + j * interval
            time.sleep(max(0.0, due - time.monotonic()))
            t = time.monotonic()
            if _post(http, urls[j % n], batches[j], wait=True):
                with lock:
                    lat.append(time.monotonic() - t)

        threads = [threading.Thread(target=one, args=(j,)) for j in range(len(batches))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return sorted(lat)


def receipt_statuses(network: Path, dept: str) -> dict[str, int]:
    """Count the receipts of a stopped node's ledger by status: every figure above counts
    committed transactions, and a rejected one (e.g. a replayed nonce) did no work."""
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    store = open_store(str(net.data_dir(dept)), readonly=True)
    try:
        ledger = Ledger(store, genesis, suite, builtin_registry(genesis, suite.hash))
        counts: dict[str, int] = {}
        for _, raw in ledger.store.scan("entries"):
            status = orjson.loads(raw)["receipt"]["status"]
            counts[status] = counts.get(status, 0) + 1
        return counts
    finally:
        store.close()


def pct(values: Sequence[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Long enough for steady state: 60,000 transactions are ~13 blocks of up to 5,000, so the
    # first block's latency and the last one's tail weigh little, and a catch-up of 60,000
    # fills its pipeline (20,000 were 4-5 blocks: the first fetched alone, the last applied
    # alone).
    parser.add_argument("--count", type=int, default=60_000, help="transactions, throughput")
    parser.add_argument("--catch-up", type=int, default=60_000, help="transactions, catch-up")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration, latency run")
    parser.add_argument(
        "--plain-etcd",
        action="store_true",
        help="etcd over plain HTTP instead of mutual TLS (to measure what TLS costs)",
    )
    parser.add_argument(
        "--block-ms", type=int, default=50, help="genesis block_max_ms: the proposer's cut time"
    )
    args = parser.parse_args(argv)

    network = make_network("intl", block_max_txs=5000, block_max_ms=args.block_ms)
    root = network.parent
    genesis = NetworkDir(network).genesis()
    depts = [d.id for d in genesis.departments]
    cluster = EtcdCluster(root / "etcd", tls=not args.plain_etcd)
    procs: dict[str, Any] = {}
    ports = {d: free_port() for d in depts}
    urls = [f"http://127.0.0.1:{ports[d]}" for d in depts]
    try:
        cluster.start()
        for d in depts:
            procs[d] = start_node(
                network, d, cluster.endpoints, ports[d], root / "logs", cluster.client_tls(d)
            )
        if not wait_healthy(urls, 180):
            raise SystemExit(f"nodes did not start; see {root}/logs")
        limit = measure_limits("intl", 1.0)
        print(f"machine: Ed25519 verify {limit['verify_per_s_all_cores']:,.0f}/s on all cores "
              f"({limit['verify_per_s_1core']:,.0f}/s on one)")  # fmt: skip
        print("signing transactions ...")
        n_lat_guess = int(args.seconds * 4000)
        per_signer = (args.count + n_lat_guess) // 4 + args.catch_up // 3 + 2000
        supply = Supply(presign(network, 4 * per_signer), 4)
        node_pids = [p.pid for p in procs.values()]
        etcd_pids = [m.pid for m in cluster.members if m.pid is not None]
        cpu_before = cpu_used(node_pids, etcd_pids)
        h0 = min(_health(urls, "height"))
        tps = throughput(urls, supply, args.count, 0)
        cpu = cpu_per_tx(cpu_before, cpu_used(node_pids, etcd_pids), args.count, len(urls))
        blocks = min(_health(urls, "height")) - h0
        print(f"throughput: {tps:,.0f} tx/s committed on every node ({args.count:,} tx, "
              f"4 nodes, 3 etcd members over {'HTTP' if args.plain_etcd else 'mutual TLS'}) "
              f"in {blocks} blocks of "
              f"{args.count / max(blocks, 1):,.0f} on average")  # fmt: skip
        print(f"CPU per transaction: {cpu['node_us_per_tx_per_node']:.0f} µs in each node "
              f"({cpu['node_process_us_per_tx_per_node']:.0f} in its process, "
              f"{cpu['workers_us_per_tx_per_node']:.0f} in its verifier workers), "
              f"{cpu['etcd_us_per_tx']:.0f} µs in etcd, "
              f"{cpu['clients_us_per_tx']:.0f} µs in the clients")  # fmt: skip

        half = tps / 2
        n_lat = min(n_lat_guess, int(half * args.seconds))
        lat_batch = max(10, int(half / 20))  # about 20 batches a second
        n_lat -= n_lat % lat_batch
        lat = latency(urls, supply, n_lat, half, lat_batch)
        p50, p99 = pct(lat, 0.50), pct(lat, 0.99)
        print(f"commit latency at {half:,.0f} tx/s (batches of {lat_batch}): "
              f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")  # fmt: skip
        _wait_log(urls, args.count + n_lat, 120)
        base = min(_log_sizes(urls))

        # Catch-up: the last department's node stops while the others commit.
        late = depts[-1]
        stop_process(procs[late])
        others = urls[:-1]
        throughput(others, supply, args.catch_up, base)
        log_path = root / "logs" / f"{late}.log"
        before = log_path.read_text(errors="replace")
        procs[late] = start_node(
            network, late, cluster.endpoints, ports[late], root / "logs", cluster.client_tls(late)
        )
        # The catch-up's rate comes from the node's own log line, not from this wait, which
        # polls seldom so as to take little CPU from the catching-up node.
        _wait_log(urls, base + args.catch_up // len(others) * len(others), 300, CATCH_UP_POLL_S)
        # Measured after the catch-up: touching memory just before it would warm part of what
        # the restarted node grows into.
        page_us = fresh_page_us()
        text = log_path.read_text(errors="replace")[len(before) :]
        m = re.search(r"caught up (\d+) blocks \((\d+) transactions\) in ([\d.]+) s", text)
        if m is None:
            raise SystemExit(f"no catch-up line in {log_path}")
        cu_blocks, cu_n, cu_s = int(m[1]), int(m[2]), float(m[3])
        cu_rate = cu_n / cu_s
        c = re.search(
            r"(\d+)\s+µs\s+CPU\s+per\s+transaction:\s+fetching\s+(\d+),\s+applying\s+(\d+)", text
        )
        cu_cpu, cu_fetch, cu_apply = (int(c[1]), int(c[2]), int(c[3])) if c else (None,) * 3
        print(f"catch-up: {cu_n:,} tx in {cu_blocks} blocks, {cu_s:.2f} s = {cu_rate:,.0f} tx/s "
              f"verified and applied (from peers over mutual TLS), {cu_cpu} µs CPU per "
              f"transaction in the catching-up node (fetch thread {cu_fetch}, applying thread "
              f"{cu_apply}, the rest mostly its verifier workers); fresh memory on this "
              f"machine right after: {page_us:.1f} µs per 4 KiB page first touched")  # fmt: skip
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            stop_process(p)
        cluster.stop()
    statuses = receipt_statuses(network, depts[0])
    print(f"receipts on {depts[0]}'s node: {statuses}")
    result = {
        "setup": {
            "nodes": len(depts),
            "etcd_members": 3,
            "etcd_transport": "http" if args.plain_etcd else "mutual TLS",
            "suite": "intl",
            "batch": BATCH,
        },
        "machine_limit": limit,
        "throughput_tx_per_s": round(tps),
        "throughput_blocks": blocks,
        "cpu": cpu,
        "latency": {
            "rate_tx_per_s": round(half),
            "batch": lat_batch,
            "batches": len(lat),
            "p50_ms": round(p50 * 1000, 1),
            "p99_ms": round(p99 * 1000, 1),
        },
        "catch_up": {
            "transactions": cu_n,
            "blocks": cu_blocks,
            "seconds": cu_s,
            "tx_per_s": round(cu_rate),
            "cpu_us_per_tx": cu_cpu,
            "fetch_thread_us_per_tx": cu_fetch,
            "apply_thread_us_per_tx": cu_apply,
            "fresh_page_us": round(page_us, 2),
        },
        "receipts": statuses,
        "failed_batches": FAILED,
        "work_dir": str(Path(root)),
    }
    if FAILED:
        print(f"{len(FAILED)} batches failed and were not resent: {sorted(set(FAILED))}")
    print(f"wrote {write_result('network', result)}")
    return result


if __name__ == "__main__":
    main()
