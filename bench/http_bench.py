"""HTTP batch endpoint throughput: a real ``govchain up`` process on a loopback port, clients
posting pre-signed batches to ``POST /v1/transactions/batch?wait=true`` (acknowledged = durable).

Usage: ``python -m bench.http_bench [--count N] [--batch B] [--clients C]``
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.common import SIGNERS, make_network, presign, write_result
from govchain.crypto.limits import measure_limits


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_node(network: Path, port: int) -> subprocess.Popen[bytes]:
    """Start ``govchain up`` and wait until its health endpoint answers."""
    exe = Path(sys.executable).with_name("govchain")
    proc = subprocess.Popen(
        [str(exe), "up", "--network", str(network), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("govchain up did not become healthy")


def run(count: int, batch: int, clients: int) -> dict[str, Any]:
    """Measure committed tx/s through the batch endpoint."""
    network = make_network("intl")
    txs = presign(network, count)
    # Each client signs for its own members (as separate departments' systems would), so its
    # nonces reach the node in order; transactions come interleaved by signer from presign.
    per_client: list[list[bytes]] = [[] for _ in range(clients)]
    for i, tx in enumerate(txs):
        per_client[(i % len(SIGNERS)) % clients].append(tx)
    client_bodies = [
        [b"[" + b",".join(part[i : i + batch]) + b"]" for i in range(0, len(part), batch)]
        for part in per_client
    ]
    port = free_port()
    proc = start_node(network, port)
    url = f"http://127.0.0.1:{port}/v1/transactions/batch?wait=true"
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(part: list[bytes]) -> None:
        with httpx.Client(timeout=120) as http:
            for body in part:
                t = time.perf_counter()
                r = http.post(url, content=body, headers={"content-type": "application/json"})
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    if r.status_code != 200 or orjson.loads(r.content)["rejected"]:
                        errors.append(r.text[:300])

    threads = [threading.Thread(target=client, args=(b,)) for b in client_bodies]
    try:
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        health = httpx.get(f"http://127.0.0.1:{port}/v1/health").json()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(60)
    if errors:
        raise SystemExit(f"{len(errors)} batch requests failed: {errors[0]}")
    latencies.sort()
    return {
        "transactions": count,
        "batch": batch,
        "clients": clients,
        "seconds": round(elapsed, 3),
        "tx_per_s": round(count / elapsed),
        "request_latency_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "request_latency_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "log_size_after": health["log_size"],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the HTTP benchmark; print and write ``bench/results/http.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--clients", type=int, default=2, help="1, 2 or 4 (signers are split)")
    args = p.parse_args(argv)
    limits = measure_limits("intl", 1.0)
    row = run(args.count, args.batch, args.clients)
    row["machine_limit"] = limits
    print(
        f"[http] intl: {row['tx_per_s']:,} tx/s committed through POST /v1/transactions/batch "
        f"({row['transactions']:,} tx in batches of {row['batch']}, {row['clients']} clients; "
        f"request p50 {row['request_latency_p50_ms']} ms, p99 {row['request_latency_p99_ms']} ms)"
        f" | machine: verify {limits['verify_per_s_1core']:,.0f}/s on 1 core, "
        f"{limits['verify_per_s_all_cores']:,.0f}/s on {limits['cores']} cores"
    )
    data = {"benchmark": "http", "results": [row]}
    print(f"[http] wrote {write_result('http', data)}")
    return data


if __name__ == "__main__":
    main()
