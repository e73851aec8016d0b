"""Contract-call throughput: pre-signed ``notary.notarise`` transactions (one document hash
each) on the embedded node, committed durably to LMDB; beside the built-in kv contract's
throughput and this machine's Ed25519 verification limit, all measured in the same run.
Also the execution cost of one contract call (µs), in-process without the ledger: the sandboxed
notary contract against the native kv contract.

Usage: ``python -m bench.contracts_bench [--count N] [--batch B] [--calls N]``
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import SIGNERS, make_network, submit_all, write_result
from bench.ledger_bench import run as run_kv
from govchain.contracts.kv import KvContract
from govchain.contracts.packages import code_hash
from govchain.contracts.registry import builtin_registry
from govchain.crypto import get_suite
from govchain.crypto.limits import measure_limits
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node.embedded import open_embedded
from govchain.node.network import NetworkDir
from govchain.node.node import Node
from govchain.sdk import find_app

FIRST_NONCE = 1_000
"""Nonces of the measured transactions start here (the deployment uses 1, 2, ...)."""


def _sign_range(network: str, signer: str, first: int, count: int) -> list[bytes]:
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    key = net.member_key(signer).keypair
    return [
        build_transaction(
            chain=genesis.chain_id,
            signer=signer,
            nonce=n,
            contract="notary",
            method="notarise",
            args={"digest": suite.hash(f"{signer}:{n}".encode()).hex(), "title": "证明材料"},
            actor=f"{signer.split('/')[0]}/officer-7",
            case=f"case-{n // 100}",
            purpose="benchmark",
            sign=lambda m: suite.sign(key.private, m),
            hash_fn=suite.hash,
        ).encode()
        for n in range(first, first + count)
    ]


def presign_notarise(network: Path, total: int) -> list[bytes]:
    """Return ``total`` signed notarise calls from the four demo signers, interleaved."""
    per = -(-total // len(SIGNERS))
    chunk = 5000
    jobs = [
        (str(network), s, FIRST_NONCE + start, min(chunk, per - start))
        for s in SIGNERS
        for start in range(0, per, chunk)
    ]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        parts = list(pool.map(_sign_range, *zip(*jobs, strict=True)))
    by_signer: dict[str, list[bytes]] = {s: [] for s in SIGNERS}
    for (_, s, *_rest), part in zip(jobs, parts, strict=True):
        by_signer[s].extend(part)
    return [by_signer[s][i] for i in range(per) for s in SIGNERS][:total]


def deploy_notary(node: Node, network: Path) -> str:
    """Install, approve (three of four departments) and commit the notary contract."""
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    files = find_app("notary").contract_files()
    digest = code_hash(suite.hash, files)
    steps = [
        ("market/admin", "install", {"name": "notary", "version": 1, "files": files}),
        *(
            (f"{d}/admin", "approve", {"name": "notary", "version": 1, "code_hash": digest})
            for d in ("market", "tax", "hrss")
        ),
        ("market/admin", "commit", {"name": "notary", "version": 1}),
    ]
    for nonce, (member, method, args) in enumerate(steps, start=1):
        key = net.member_key(member).keypair
        tx = build_transaction(
            chain=genesis.chain_id,
            signer=member,
            nonce=nonce,
            contract="lifecycle",
            method=method,
            args=args,
            actor=member,
            sign=lambda m, k=key.private: suite.sign(k, m),
            hash_fn=suite.hash,
        )
        node.submit([tx.encode()], wait=True)
        status = node.ledger.receipt_bundle(tx.tx_id)["entry"]["receipt"]["status"]
        if status != "ok":
            raise SystemExit(f"deploying the notary contract failed at {method}")
    return digest


def run_notary(count: int, batch: int) -> dict[str, Any]:
    """Committed notarise calls per second on a fresh embedded node."""
    network = make_network("intl")
    txs = presign_notarise(network, count)
    node = open_embedded(network)
    node.start()
    deploy_notary(node, network)
    base = node.ledger.log.size
    done = threading.Event()

    def on_block(_block: Any) -> None:
        if node.ledger.log.size >= base + count:
            done.set()

    node.listeners.append(on_block)
    start = time.perf_counter()
    for i in range(0, count, batch):
        submit_all(node, txs[i : i + batch])
    done.wait(600)
    elapsed = time.perf_counter() - start
    failed = sum(
        1
        for h in range(1, node.ledger.height + 1)
        for e in node.ledger.entries_of(node.ledger.header(h).header)
        if b'"status":"ok"' not in e
    )
    node.close()
    return {
        "transactions": count,
        "seconds": round(elapsed, 3),
        "tx_per_s": round(count / elapsed),
        "not_ok_receipts": failed,
    }


class _MemoryContext:
    """A ``CallContext`` over a dict, to time a call without the ledger around it."""

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx
        self.signer_dept = "market"
        self.signer_role = "admin"
        self.height = 1
        self.block_time_ms = 1_767_225_600_000
        self.data: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        self.data[key] = None

    def emit(self, event_type: str, data: Mapping[str, Any]) -> None:
        pass

    def scan(self, prefix: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        return []


def time_calls(calls: int) -> dict[str, float]:
    """Return µs per call of notary.notarise (sandboxed, installed) and kv.put (native)."""
    network = make_network("intl")
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    registry = builtin_registry(genesis, suite.hash)
    installed = registry.installed
    assert installed is not None
    notary = installed.load("notary", find_app("notary").contract_files(), 200_000)
    kv = KvContract()
    key = net.member_key("market/admin").keypair
    tx = build_transaction(
        chain=genesis.chain_id,
        signer="market/admin",
        nonce=1,
        contract="notary",
        method="notarise",
        args={},
        actor="market/admin",
        sign=lambda m: suite.sign(key.private, m),
        hash_fn=suite.hash,
    )
    digests = [suite.hash(str(i).encode()).hex() for i in range(calls)]
    out: dict[str, float] = {}
    for name, fn, make_args in (
        ("kv_put_us", kv.call, lambda d: ("put", {"key": d, "value": {"title": "证明材料"}})),
        ("notary_notarise_us", notary.call, lambda d: ("notarise", {"digest": d, "title": "x"})),
    ):
        ctx = _MemoryContext(tx)
        prepared = [make_args(d) for d in digests]
        t0 = time.perf_counter()
        for method, args in prepared:
            fn(ctx, method, args)  # type: ignore[arg-type]
        out[name] = round((time.perf_counter() - t0) / calls * 1e6, 2)
    out["overhead_us"] = round(out["notary_notarise_us"] - out["kv_put_us"], 2)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure; print and write ``bench/results/contracts.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--calls", type=int, default=100_000)
    args = p.parse_args(argv)
    limits = measure_limits("intl", 1.0)
    per_call = time_calls(args.calls)
    notary = run_notary(args.count, args.batch)
    kv = run_kv("intl", args.count, args.batch)
    result = {
        "benchmark": "contracts",
        "suite": "intl",
        "notary": notary,
        "kv_same_run": {"tx_per_s": kv["tx_per_s"], "seconds": kv["seconds"]},
        "per_call": per_call,
        "machine_limit": limits,
        "share_of_verify_limit": round(notary["tx_per_s"] / limits["verify_per_s_all_cores"], 3),
    }
    print(
        f"[contracts] notary.notarise: {notary['tx_per_s']:,} tx/s committed+durable "
        f"({notary['transactions']:,} tx, {notary['seconds']} s, "
        f"{notary['not_ok_receipts']} not ok) | kv.put same run: {kv['tx_per_s']:,} tx/s | "
        f"machine: verify {limits['verify_per_s_1core']:,.0f}/s on 1 core, "
        f"{limits['verify_per_s_all_cores']:,.0f}/s on {limits['cores']} cores "
        f"-> {result['share_of_verify_limit']:.0%} of the verify limit"
    )
    print(
        f"[contracts] one call, in-process: notary.notarise {per_call['notary_notarise_us']} µs, "
        f"kv.put {per_call['kv_put_us']} µs -> contract runtime overhead "
        f"{per_call['overhead_us']} µs per call"
    )
    path = write_result("contracts", result)
    print(f"[contracts] wrote {path}")
    return result


if __name__ == "__main__":
    main()
