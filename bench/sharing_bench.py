"""Data-sharing throughput of one node: authorised reads (signed request checked, live grant
checked, record decrypted, read-log transaction committed durably to LMDB, answer sealed for
the reader) and attestation issuing (predicate evaluated over the subject's encrypted records,
answer committed on-chain); printed beside this machine's signature limits measured in the same
run.

Usage: ``python -m bench.sharing_bench [--suite intl|gm] [--reads N] [--attestations N]
[--clients C]``
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import children_cpu_s, make_network, write_result
from govchain.crypto import get_suite
from govchain.crypto.limits import measure_limits
from govchain.ledger.transactions import build_transaction
from govchain.node.embedded import open_embedded
from govchain.node.network import NetworkDir
from govchain.node.sharing import open_sharing
from govchain.sharing.requests import build_request

RESOURCE = {
    "id": "tax.arrears",
    "name": "纳税人欠税记录",
    "description": "欠税信息 (tax arrears)",
    "fields": [
        {"name": "amount_fen", "type": "integer", "description": "欠税金额(分)"},
        {"name": "due_date", "type": "date", "description": "缴款期限"},
        {"name": "settled", "type": "boolean", "description": "是否已缴清"},
    ],
    "share_level": "conditional",
    "sensitivity": "sensitive",
    "update_frequency": "daily",
    "legal_basis": "《税收征收管理法》",
}
PURPOSE = "企业注销审查"
DEFAULTS = {"intl": (5_000, 20_000), "gm": (1_000, 4_000)}


def _subject(i: int) -> str:
    return f"91330100MA{i:08d}"


def run(
    suite_name: str, reads: int, attestations: int, clients: int, subjects: int
) -> dict[str, Any]:
    """Set up one node with records and a grant, then time reads and attestations."""
    network = make_network(suite_name)
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    node = open_embedded(network)
    node.start()
    service = open_sharing(node, network)
    keys = {m: net.member_key(m).keypair.private for m in ("tax/admin", "market/admin")}
    nonce = iter(range(1, 1 << 30))

    def tx(member: str, contract: str, method: str, args: dict[str, Any]) -> Any:
        t = build_transaction(
            chain=genesis.chain_id,
            signer=member,
            nonce=next(nonce),
            contract=contract,
            method=method,
            args=args,
            actor=member,
            sign=lambda m: suite.sign(keys[member], m),
            hash_fn=suite.hash,
        )
        receipt = service.port.commit([t])[0]
        assert receipt["status"] == "ok", receipt
        return receipt["result"]

    def request(member: str, kind: str, args: dict[str, Any], purpose: str = "") -> Any:
        return build_request(
            chain=genesis.chain_id,
            kind=kind,
            signer=member,
            actor=f"{member.split('/')[0]}/officer-7",
            args=args,
            time_ms=time.time_ns() // 1_000_000,
            sign=lambda m: suite.sign(keys[member], m),
            case="case-2026-0815",
            purpose=purpose,
        ).envelope()

    service.publish_keys()
    tx("tax/admin", "sharing.catalogue", "register", RESOURCE)
    setup = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(
            pool.map(
                lambda i: service.publish(
                    request(
                        "tax/admin",
                        "publish",
                        {
                            "resource": "tax.arrears",
                            "record": f"r{i}",
                            "subject": _subject(i % subjects),
                            "data": {
                                "amount_fen": i * 100,
                                "due_date": "2026-10-15",
                                "settled": i % 3 == 0,
                            },
                        },
                    )
                ),
                range(subjects * 2),
            )
        )
    setup_s = time.perf_counter() - setup
    grant = tx(
        "market/admin",
        "sharing.grants",
        "request",
        {
            "resource": "tax.arrears",
            "fields": ["amount_fen", "settled"],
            "purpose": PURPOSE,
            "legal_basis": "《市场主体登记管理条例》",
            "case": "case-2026-0815",
            "expires_ms": time.time_ns() // 1_000_000 + 3_600_000,
        },
    )["id"]
    tx("tax/admin", "sharing.grants", "approve", {"grant": grant})

    # Clients sign their requests before sending them: not part of the measure.
    read_requests = [
        request(
            "market/admin",
            "read",
            {
                "resource": "tax.arrears",
                "subject": _subject(i % subjects),
                "fields": ["amount_fen", "settled"],
                "grant": grant,
            },
            PURPOSE,
        )
        for i in range(reads)
    ]
    height0 = node.ledger.height
    cpu0 = time.process_time()
    verifiers0 = children_cpu_s(os.getpid())
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(service.read, read_requests))
    read_s = time.perf_counter() - start
    read_cpu = time.process_time() - cpu0
    read_verifier_cpu = children_cpu_s(os.getpid()) - verifiers0
    read_blocks = node.ledger.height - height0
    assert all(a["records"] == 2 for a in answers), "every subject has two records"

    predicate = {"filter": [["settled", "eq", False]], "count": ["eq", 0]}
    att_requests = [
        request(
            "market/admin",
            "attest",
            {
                "resource": "tax.arrears",
                "subject": _subject(i % subjects),
                "predicate": predicate,
                "statement": "无未缴欠税",
            },
            PURPOSE,
        )
        for i in range(attestations)
    ]
    batch = 500
    cpu0 = time.process_time()
    verifiers0 = children_cpu_s(os.getpid())
    start = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        results = [
            r
            for part in pool.map(
                service.attest,
                [att_requests[i : i + batch] for i in range(0, attestations, batch)],
            )
            for r in part
        ]
    att_s = time.perf_counter() - start
    att_cpu = time.process_time() - cpu0
    att_verifier_cpu = children_cpu_s(os.getpid()) - verifiers0
    assert all("answer" in r for r in results), [r for r in results if "answer" not in r][:1]
    node.close()

    limits = measure_limits(suite_name, 1.0)
    return {
        "suite": suite_name,
        "clients": clients,
        "subjects": subjects,
        "records": subjects * 2,
        "publish_per_s": round(subjects * 2 / setup_s),
        "reads": reads,
        "read_seconds": round(read_s, 3),
        "reads_per_s": round(reads / read_s),
        "read_blocks": read_blocks,
        "read_cpu_us": round(read_cpu / reads * 1e6),
        "read_verifier_cpu_us": round(read_verifier_cpu / reads * 1e6),
        "attestations": attestations,
        "attestation_batch": batch,
        "attestation_seconds": round(att_s, 3),
        "attestations_per_s": round(attestations / att_s),
        "attestation_cpu_us": round(att_cpu / attestations * 1e6),
        "attestation_verifier_cpu_us": round(att_verifier_cpu / attestations * 1e6),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
        "machine_limit": limits,
    }


def main(argv: list[str] | None = None) -> None:
    """Run and print the benchmark; write ``bench/results/sharing_<suite>.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=["intl", "gm"], default="intl")
    parser.add_argument("--reads", type=int)
    parser.add_argument("--attestations", type=int)
    parser.add_argument("--clients", type=int, default=256, help="concurrent readers")
    parser.add_argument("--subjects", type=int, default=500)
    args = parser.parse_args(argv)
    reads, atts = DEFAULTS[args.suite]
    r = run(
        args.suite,
        args.reads or reads,
        args.attestations or atts,
        args.clients,
        args.subjects,
    )
    lim = r["machine_limit"]
    print(f"data sharing, suite {r['suite']}, one embedded node (LMDB, durable)")
    print(
        f"  authorised reads   {r['reads_per_s']:>8,}/s  ({r['reads']:,} reads by "
        f"{r['clients']} clients in {r['read_seconds']} s, {r['read_blocks']} blocks, "
        f"{r['read_cpu_us']} µs CPU each; target >= 1,000/s)"
    )
    print(
        f"  attestations       {r['attestations_per_s']:>8,}/s  ({r['attestations']:,} in "
        f"batches of {r['attestation_batch']}, {r['attestation_seconds']} s, "
        f"{r['attestation_cpu_us']} µs CPU each; target >= 5,000/s)"
    )
    print(
        f"  per CPU-second     {1e6 / r['read_cpu_us']:>8,.0f} reads, "
        f"{1e6 / r['attestation_cpu_us']:,.0f} attestations (this process's CPU time, all "
        "threads; the load-independent figure)"
    )
    print(
        f"  verifier processes {r['read_verifier_cpu_us']:>8} µs per read, "
        f"{r['attestation_verifier_cpu_us']} µs per attestation (signature checks of large "
        "batches, in the node's worker processes, beside the figures above)"
    )
    print(f"  publish (setup)    {r['publish_per_s']:>8,}/s  ({r['records']:,} records)")
    print(
        f"  machine limit      sign {lim['sign_per_s']:,.0f}/s, verify "
        f"{lim['verify_per_s_1core']:,.0f}/s on 1 core, "
        f"{lim['verify_per_s_all_cores']:,.0f}/s on {lim['cores']} cores"
    )
    path = write_result(f"sharing_{r['suite']}", r)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
