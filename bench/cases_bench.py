"""Case-engine throughput: committed case transitions per second on the embedded node.

Each case of the enterprise registration service (``330100-DJ-0001``) goes through seven
transitions, each a signed transaction run by the ``cases`` contract through ``engine.apply``:
submit (the handling node for the applicant, reserving the enterprise name), accept, the three
steps (market's review, then tax and hrss in parallel), the decision (which registers the
enterprise, issues its USCC and its business licence) and close. The transactions are signed
beforehand (not timed); the figure is all transitions over the time from the first submission
to the last durable commit, beside the raw kv contract and this machine's Ed25519 verification
limit measured in the same run.

Usage: ``python -m bench.cases_bench [--cases N] [--batch B]``
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import make_network, submit_all, write_result
from bench.ledger_bench import run as run_kv
from govchain.apps.enterprise.synthetic import citizens, enterprises
from govchain.cli.apps import publish_definitions
from govchain.crypto import get_suite
from govchain.crypto.limits import measure_limits
from govchain.ledger.transactions import build_transaction
from govchain.node.embedded import open_embedded
from govchain.node.network import NetworkDir
from govchain.node.node import Node
from govchain.sdk import find_app

SERVICE = "330100-DJ-0001"
HEX = "0123456789abcdef"
STEPS = (("market", "review"), ("tax", "tax_setup"), ("hrss", "social_insurance"))


def _particulars(n: int) -> list[dict[str, Any]]:
    people = citizens(max(50, n // 10), seed=7)
    out = []
    for e in enterprises(n, seed=7, citizens=people):
        out.append(
            {
                "name": e.name,
                "division": e.division_code,
                "legal_rep_name": e.legal_representative,
                "legal_rep_ref": "ab" * 32,
                "industry": e.industry,
                "capital_fen": e.registered_capital_fen,
                "address": e.address,
                "scope": e.business_scope,
            }
        )
    return out


def _sign(
    network: str, calls: Sequence[tuple[str, int, str, dict[str, Any], str, str]]
) -> list[bytes]:
    """Sign ``(member, nonce, method, args, actor, case)`` calls of the cases contract."""
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    keys: dict[str, bytes] = {}
    out = []
    for member, nonce, method, args, actor, case in calls:
        key = keys.get(member)
        if key is None:
            key = keys[member] = net.member_key(member).keypair.private
        out.append(
            build_transaction(
                chain=genesis.chain_id,
                signer=member,
                nonce=nonce,
                contract="cases",
                method=method,
                args=args,
                actor=actor,
                case=case,
                sign=lambda m, k=key: suite.sign(k, m),
                hash_fn=suite.hash,
            ).encode()
        )
    return out


def _sign_all(
    network: Path, calls: list[tuple[str, int, str, dict[str, Any], str, str]]
) -> list[bytes]:
    chunk = max(1, -(-len(calls) // ((os.cpu_count() or 1) * 4)))
    parts = [calls[i : i + chunk] for i in range(0, len(calls), chunk)]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        return [tx for part in pool.map(_sign, [str(network)] * len(parts), parts) for tx in part]


def _commit_phase(node: Node, txs: list[bytes], batch: int) -> float:
    base = node.ledger.log.size
    done = threading.Event()

    def on_block(_block: Any) -> None:
        if node.ledger.log.size >= base + len(txs):
            done.set()

    node.listeners.append(on_block)
    start = time.perf_counter()
    for i in range(0, len(txs), batch):
        submit_all(node, txs[i : i + batch])
    done.wait(600)
    node.listeners.remove(on_block)
    return time.perf_counter() - start


def run(cases: int, batch: int) -> dict[str, Any]:
    """Run ``cases`` registrations through all seven transitions; return the figures."""
    network = make_network("intl")
    node = open_embedded(network)
    node.start()
    publish_definitions(
        node, network, [d for d in find_app("enterprise").definitions() if d["code"] == SERVICE]
    )
    # Above the time-based nonces (µs) that published the definition.
    first = time.time_ns() // 1000 + 1_000_000
    nonce = {m: first for m in ("market/admin", "tax/admin", "hrss/admin")}

    def next_nonce(member: str) -> int:
        nonce[member] += 1
        return nonce[member]

    materials = {
        m: HEX[i] * 64
        for i, m in enumerate(
            ("application", "articles", "shareholders", "appointments", "premises")
        )
    }
    submits = [
        ("market/admin", next_nonce("market/admin"), "submit", {
            "service": SERVICE, "form_hash": "f" * 64, "materials": materials, "session": f"s{i}",
            "particulars": p,
        }, f"citizen/bench-{i}", "")
        for i, p in enumerate(_particulars(cases))
    ]  # fmt: skip
    phases_s: list[float] = []
    phases_s.append(_commit_phase(node, _sign_all(network, submits), batch))
    found = []
    for i in range(cases):
        found += [
            c["number"]
            for c in node.query("cases", "cases_of", {"applicant": f"citizen/bench-{i}"})
        ]
    numbers = found

    def staff(dept: str, role: str, method: str, extra: dict[str, Any]) -> list[Any]:
        member = f"{dept}/admin"
        return [
            (
                member,
                next_nonce(member),
                method,
                {"case": n, "role": role, **extra},
                f"{dept}/officer-1",
                n,
            )
            for n in numbers
        ]

    plan = [
        staff("market", "officer", "accept", {}),
        staff("market", "officer", "complete", {"step": "review", "result": "pass"}),
        staff("tax", "officer", "complete", {"step": "tax_setup", "result": "pass"})
        + staff("hrss", "officer", "complete", {"step": "social_insurance", "result": "pass"}),
        staff("market", "approver", "decide", {"outcome": "approve"}),
        staff("market", "officer", "close", {}),
    ]
    for calls in plan:
        phases_s.append(_commit_phase(node, _sign_all(network, calls), batch))
    total = cases * 7
    elapsed = sum(phases_s)
    closed = sum(
        1
        for i in range(0, cases, max(1, cases // 50))
        for c in node.query("cases", "cases_of", {"applicant": f"citizen/bench-{i}"})
        if c["status"] == "closed"
    )
    registered = len(node.query("registry", "enterprises", {"limit": 1000}))
    node.close()
    return {
        "cases": cases,
        "transitions": total,
        "seconds": round(elapsed, 3),
        "transitions_per_s": round(total / elapsed),
        "phase_seconds": [round(s, 3) for s in phases_s],
        "sampled_closed": closed,
        "enterprises_registered_first_1000": registered,
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures beside the machine's limits."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args(argv)
    limits = measure_limits("intl")
    result = run(args.cases, args.batch)
    kv = run_kv("intl", 20_000, 2_000)
    print(
        f"case transitions: {result['transitions_per_s']:,}/s committed "
        f"({result['transitions']:,} transitions of {result['cases']:,} registrations in "
        f"{result['seconds']} s; phases {result['phase_seconds']})"
    )
    print(f"  kv puts on the same node kind: {kv['tx_per_s']:,}/s")
    print(
        f"  machine limit: Ed25519 verify {limits['verify_per_s_all_cores']:,.0f}/s on "
        f"{limits['cores']} cores ({limits['verify_per_s_1core']:,.0f}/s on one)"
    )
    path = write_result("cases", {"limits": limits, "cases": result, "kv": kv})
    print(f"results in {path}")


if __name__ == "__main__":
    main()
