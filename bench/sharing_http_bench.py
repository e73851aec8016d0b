"""Authorised reads through the HTTP API of a real ``govchain up`` process on loopback: the
same reads as ``bench.sharing_bench`` (signed request, live grant, decryption, read-log entry
committed durably, answer sealed for the reader), each a ``POST /v1/sharing/reads`` from one of
C concurrent clients; printed beside this machine's signature limits measured in the same run.

Usage: ``python -m bench.sharing_http_bench [--reads N] [--clients C] [--subjects S]``
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson

from bench.common import children_cpu_s, make_network, process_cpu_s, write_result
from bench.http_bench import free_port, start_node
from bench.sharing_bench import PURPOSE, RESOURCE
from govchain.crypto import get_suite
from govchain.crypto.limits import measure_limits
from govchain.ledger.transactions import build_transaction
from govchain.node.network import NetworkDir
from govchain.sharing.requests import build_request

JSON = {"content-type": "application/json"}


def run(reads: int, clients: int, subjects: int) -> dict[str, Any]:
    """Set up records and a grant over HTTP, then time concurrent reads."""
    network = make_network("intl")
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    keys = {m: net.member_key(m).keypair.private for m in ("tax/admin", "market/admin")}
    nonces = iter(range(1, 1 << 30))
    port = free_port()
    proc = start_node(network, port)
    base = f"http://127.0.0.1:{port}"
    api = httpx.Client(base_url=base, timeout=120)

    def tx(member: str, contract: str, method: str, args: dict[str, Any]) -> Any:
        t = build_transaction(
            chain=genesis.chain_id, signer=member, nonce=next(nonces), contract=contract,
            method=method, args=args, actor=member, sign=lambda m: suite.sign(keys[member], m),
            hash_fn=suite.hash,
        )  # fmt: skip
        r = api.post("/v1/transactions", content=t.encode(), headers=JSON)
        assert r.status_code == 200 and r.json()["receipt"]["status"] == "ok", r.text
        return r.json()["receipt"]["result"]

    def request(member: str, kind: str, args: dict[str, Any], purpose: str = "") -> bytes:
        return orjson.dumps(
            build_request(
                chain=genesis.chain_id, kind=kind, signer=member,
                actor=f"{member.split('/')[0]}/officer-7", args=args,
                time_ms=time.time_ns() // 1_000_000, sign=lambda m: suite.sign(keys[member], m),
                case="case-2026-0815", purpose=purpose,
            ).envelope()
        )  # fmt: skip

    try:
        tx("tax/admin", "sharing.catalogue", "register", RESOURCE)

        def publish(i: int) -> None:
            subject = f"91330100MA{i % subjects:08d}"
            body = request("tax/admin", "publish", {
                "resource": "tax.arrears", "record": f"r{i}", "subject": subject,
                "data": {"amount_fen": i, "due_date": "2026-10-15", "settled": i % 3 == 0},
            })  # fmt: skip
            r = api.post("/v1/sharing/records", content=body, headers=JSON)
            assert r.status_code == 200, r.text

        with ThreadPoolExecutor(32) as pool:
            list(pool.map(publish, range(subjects * 2)))
        grant = tx("market/admin", "sharing.grants", "request", {
            "resource": "tax.arrears", "fields": ["amount_fen", "settled"], "purpose": PURPOSE,
            "legal_basis": "《市场主体登记管理条例》", "case": "case-2026-0815",
            "expires_ms": time.time_ns() // 1_000_000 + 3_600_000,
        })["id"]  # fmt: skip
        tx("tax/admin", "sharing.grants", "approve", {"grant": grant})
        bodies = [
            request("market/admin", "read", {
                "resource": "tax.arrears", "subject": f"91330100MA{i % subjects:08d}",
                "fields": ["amount_fen", "settled"], "grant": grant}, PURPOSE)
            for i in range(reads)
        ]  # fmt: skip
        latencies: list[float] = []
        queue = list(reversed(bodies))
        lock = threading.Lock()

        def client() -> int:
            # The standard library's client: the load generator must not be what is measured
            # (an asyncio httpx client spent several ms of CPU per request on this machine).
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            done = 0
            try:
                while True:
                    with lock:
                        if not queue:
                            return done
                        body = queue.pop()
                    t = time.perf_counter()
                    conn.request(
                        "POST", "/v1/sharing/reads", body, {"content-type": "application/json"}
                    )
                    response = conn.getresponse()
                    text = response.read()
                    latencies.append(time.perf_counter() - t)
                    assert response.status == 200, text[:300]
                    done += 1
            finally:
                conn.close()

        cpu0 = process_cpu_s(proc.pid)
        verifiers0 = children_cpu_s(proc.pid)
        client0 = time.process_time()
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            ok = sum(pool.map(lambda _: client(), range(clients)))
        elapsed = time.perf_counter() - start
        server_cpu = process_cpu_s(proc.pid) - cpu0
        verifier_cpu = children_cpu_s(proc.pid) - verifiers0
        client_cpu = time.process_time() - client0
    finally:
        api.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    latencies.sort()
    return {
        "reads": ok,
        "clients": clients,
        "seconds": round(elapsed, 3),
        "reads_per_s": round(ok / elapsed),
        "server_cpu_us_per_read": round(server_cpu / ok * 1e6),
        "verifier_cpu_us_per_read": round(verifier_cpu / ok * 1e6),
        "client_cpu_us_per_read": round(client_cpu / ok * 1e6),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
        "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 1),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "machine_limit": measure_limits("intl", 1.0),
    }


def main(argv: list[str] | None = None) -> None:
    """Run and print the benchmark; write ``bench/results/sharing_http.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=256)
    parser.add_argument("--subjects", type=int, default=500)
    args = parser.parse_args(argv)
    r = run(args.reads, args.clients, args.subjects)
    lim = r["machine_limit"]
    print("data sharing over HTTP, suite intl, one govchain up process (LMDB, durable)")
    print(
        f"  authorised reads   {r['reads_per_s']:>8,}/s  ({r['reads']:,} reads by {r['clients']} "
        f"clients in {r['seconds']} s; p50 {r['latency_ms_p50']} ms, p99 "
        f"{r['latency_ms_p99']} ms; server {r['server_cpu_us_per_read']} µs CPU each; "
        "target >= 1,000/s)"
    )
    print(
        f"  CPU per read       server {r['server_cpu_us_per_read']} µs + its verifier processes "
        f"{r['verifier_cpu_us_per_read']} µs; the {r['clients']} client threads "
        f"{r['client_cpu_us_per_read']} µs (same two cores; load average "
        f"{r['loadavg_1m_after']} after)"
    )
    print(
        f"  machine limit      sign {lim['sign_per_s']:,.0f}/s, verify "
        f"{lim['verify_per_s_1core']:,.0f}/s on 1 core, "
        f"{lim['verify_per_s_all_cores']:,.0f}/s on {lim['cores']} cores"
    )
    print(f"wrote {write_result('sharing_http', r)}")


if __name__ == "__main__":
    main()
