"""Credential issuance on the embedded node, including notarisation, beside this machine's
Ed25519 (or SM2) signature rate measured in the same run.

One run issues N citizen certificates (social insurance records of ``hrss``) through the
node's credential service exactly as the API does: one ``allocate`` transaction for the status
indices, then each credential is built, given its status entries, signed (Data Integrity,
``eddsa-jcs-2022`` / ``sm2-jcs-2026``) and hashed, each batch is stored in the content store,
and one ``issue`` transaction per batch records every hash on-chain; the figure counts until
the last block is durable (LMDB, fsync). Target: >= 2,000 credentials/s on ``intl``.

Beside it: the rate of signing alone (build + sign + hash, no ledger), and the suite's raw
signature rate on one thread (``crypto.limits``): a credential needs one signature, so that
rate bounds issuance on one core.

Usage: ``python -m bench.credential_issue_bench [--count N] [--suite intl|gm] [--chunk K]``;
writes ``build/bench/credential_issue.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.common import machine, make_network, peak_rss_mib
from govchain.credentials.issuance import Draft, certificate_draft, secure
from govchain.credentials.service import CredentialService
from govchain.crypto.limits import measure_limits
from govchain.node.embedded import open_embedded
from govchain.node.sharing import open_sharing

OUT = Path("build/bench/credential_issue.json")
DEPT = "hrss"


def _drafts(service: CredentialService, count: int, now_ms: int) -> list[Draft]:
    did = service.did(DEPT)
    return [
        certificate_draft(
            "social_insurance_record",
            network=service.network,
            issuer_did=did,
            authority="人力资源和社会保障局",
            holder=f"citizen/{n:016x}",
            holder_name="王伟",
            holder_id_number="11010519491231002X",
            serial=f"{n:08d}",
            facts={"months_paid": 36 + n % 24, "city": "杭州"},
            now_ms=now_ms,
        )
        for n in range(count)
    ]


def bench_issuance(suite: str = "intl", count: int = 20_000, chunk: int = 5_000) -> dict[str, Any]:
    """Issue ``count`` credentials (``chunk`` per service call) on a fresh embedded node and
    return the figures."""
    network = make_network(suite)
    node = open_embedded(network)
    node.start()
    try:
        sharing = open_sharing(node, network)
        service = CredentialService(
            ledger=node.ledger, signer=sharing.signer, content=node.content, clock_ms=node.clock_ms
        )
        now = node.clock_ms()
        # Signing alone: build, add status entries, sign and hash (what issuance does before
        # the ledger), on a sample.
        sample = _drafts(service, min(count, 2_000), now)
        signer, vm = service.issuer(DEPT)
        start = time.perf_counter()
        for i, d in enumerate(sample):
            secure(d, i, signer=signer, verification_method=vm, created_ms=now)
        sign_only = len(sample) / (time.perf_counter() - start)

        drafts = _drafts(service, count, now)
        txs_before = node.ledger.height
        start = time.perf_counter()
        issued = 0
        for first in range(0, count, chunk):
            issued += len(
                service.issue(DEPT, drafts[first : first + chunk], actor=f"{DEPT}/sharing")
            )
        elapsed = time.perf_counter() - start
        blocks = node.ledger.height - txs_before
    finally:
        node.stop(drain=True)
    limits = measure_limits(suite, seconds=1.0)
    return {
        "suite": suite,
        "credentials": issued,
        "seconds": round(elapsed, 3),
        "issued_per_s": round(issued / elapsed, 1),
        "sign_build_hash_per_s": round(sign_only, 1),
        "raw_sign_per_s_1core": round(limits["sign_per_s"], 1),
        "blocks": blocks,
        "target_per_s": 2_000,
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run, print and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="credentials to issue")
    parser.add_argument("--chunk", type=int, default=5_000, help="credentials per service call")
    parser.add_argument("--suite", choices=("intl", "gm"), default="intl")
    args = parser.parse_args(argv)
    figures = bench_issuance(args.suite, args.count, args.chunk)
    print(
        f"issuance ({figures['suite']}): {figures['issued_per_s']:,.0f} credentials/s including "
        f"notarisation ({figures['credentials']:,} in {figures['seconds']} s, "
        f"{figures['blocks']} blocks; target {figures['target_per_s']:,}/s)"
    )
    print(
        f"  build+sign+hash alone: {figures['sign_build_hash_per_s']:,.0f}/s; "
        f"raw signatures on one core: {figures['raw_sign_per_s_1core']:,.0f}/s"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"machine": machine(), "issuance": figures}, indent=2) + "\n")
    print(f"written to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
