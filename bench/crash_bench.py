"""``kill -9`` under load: nothing acknowledged is lost, and the node restarts at once.

A real ``govchain up`` on a loopback port takes pre-signed kv transactions from two clients
through ``POST /v1/transactions/batch?wait=true`` (an answer means durable); after a random
0.5-2.5 s the node is killed with SIGKILL mid-load and started again **on the same port**. After
the last run the node is stopped, every acknowledged transaction is looked up in the store and
the whole chain is verified offline (``govchain verify``). Printed beside this machine's
Ed25519 verifications/s measured in the same run.

Usage: ``python -m bench.crash_bench [--runs N] [--batch B] [--seed S]``; writes
``bench/results/crash.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.common import make_network, presign, write_result
from bench.http_bench import free_port, start_node
from govchain.crypto.limits import measure_limits


def _load(url: str, bodies: list[bytes], acked: list[str], stop: threading.Event) -> None:
    """Post batches until told to stop or the node dies; record acknowledged tx ids."""
    with httpx.Client(timeout=60) as http:
        for body in bodies:
            if stop.is_set():
                return
            try:
                r = http.post(url, content=body, headers={"content-type": "application/json"})
            except httpx.HTTPError:
                return  # the node was killed: what it did not answer was never acknowledged
            if r.status_code != 200:
                return
            for item in orjson.loads(r.content)["results"]:
                if item.get("status") == "committed":
                    acked.append(str(item["tx_id"]))


def _batches(txs: list[bytes], batch: int) -> list[bytes]:
    return [b"[" + b",".join(txs[i : i + batch]) + b"]" for i in range(0, len(txs), batch)]


def run(runs: int, batch: int, seed: int) -> dict[str, Any]:
    """Kill the node ``runs`` times under load; return what was acknowledged and lost."""
    rng = random.Random(seed)
    network = make_network("intl")
    per_run = 40_000
    txs = presign(network, per_run * runs)
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/transactions/batch?wait=true"
    acked: list[str] = []
    restarts: list[float] = []
    per_run_acked: list[int] = []
    proc = start_node(network, port)
    try:
        for n in range(runs):
            mine = txs[n * per_run : (n + 1) * per_run]
            halves = [mine[0::2], mine[1::2]]
            stop = threading.Event()
            before = len(acked)
            clients = [
                threading.Thread(
                    target=_load,
                    args=(
                        url,
                        [
                            b"[" + b",".join(h[i : i + batch]) + b"]"
                            for i in range(0, len(h), batch)
                        ],
                        acked,
                        stop,
                    ),
                )
                for h in halves
            ]
            for c in clients:
                c.start()
            time.sleep(rng.uniform(0.5, 2.5))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
            stop.set()
            for c in clients:
                c.join(60)
            per_run_acked.append(len(acked) - before)
            t = time.perf_counter()
            proc = start_node(network, port)  # the same port, at once
            restarts.append(time.perf_counter() - t)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    lost = _missing(network, acked)
    verify = subprocess.run(
        [str(Path(sys.executable).with_name("govchain")), "verify", "--network", str(network)],
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "runs": runs,
        "acknowledged": len(acked),
        "acknowledged_per_run": per_run_acked,
        "lost": len(lost),
        "restart_s": [round(s, 2) for s in restarts],
        "verify_exit_code": verify.returncode,
        "verify_last_line": (verify.stdout.strip().splitlines() or [""])[-1],
    }


def _missing(network: Path, acked: list[str]) -> list[str]:
    """Return the acknowledged transactions the stopped node's store does not hold."""
    from govchain.node.embedded import open_embedded

    node = open_embedded(network)
    try:
        missing = []
        for tx_id in acked:
            try:
                node.ledger.locate(bytes.fromhex(tx_id))
            except Exception:  # NotFound: lost
                missing.append(tx_id)
        return missing
    finally:
        node.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run and print the benchmark; write ``bench/results/crash.json``."""
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)
    limits = measure_limits("intl", 1.0)
    r = run(args.runs, args.batch, args.seed)
    r["machine_limit"] = limits
    print(
        f"[crash] {r['runs']} kill -9 runs under load: {r['acknowledged']:,} transactions "
        f"acknowledged ({', '.join(f'{a:,}' for a in r['acknowledged_per_run'])}), "
        f"{r['lost']} lost; restarted on the same port in "
        f"{', '.join(f'{s} s' for s in r['restart_s'])}; govchain verify exit "
        f"{r['verify_exit_code']} ({r['verify_last_line']})"
        f" | machine: Ed25519 verify {limits['verify_per_s_1core']:,.0f}/s on 1 core"
    )
    write_result("crash", r)
    return r


if __name__ == "__main__":
    main()
