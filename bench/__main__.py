"""``make bench``: every benchmark in turn; each prints its figures beside the machine limit it
was compared with in the same run and writes ``bench/results/<name>.json``.

``python -m bench`` runs them all at full size; ``python -m bench --quick`` runs small sizes
(a smoke test of the benchmarks themselves, not figures to publish).
"""

from __future__ import annotations

import sys

from bench import (
    analytics_bench,
    cases_bench,
    casework_bench,
    catalogue_bench,
    catchup_bench,
    contracts_bench,
    crash_bench,
    credential_bench,
    credential_issue_bench,
    funds_bench,
    http_bench,
    identity_bench,
    ledger_bench,
    memory_bench,
    network_bench,
    policy_bench,
    portal_bench,
    proofs_bench,
    recommend_bench,
    review_bench,
    sharing_bench,
    sharing_http_bench,
    store_bench,
    supervision_bench,
)


def main(argv: list[str]) -> None:
    """Run all benchmarks."""
    quick = "--quick" in argv
    if quick:
        ledger_bench.main(["--count", "20000"])
        http_bench.main(["--count", "20000"])
        proofs_bench.main(["--log-size", "100000", "--receipts", "200"])
        memory_bench.main(["--count", "20000"])
        identity_bench.main(["--tokens", "2000", "--logins", "5"])
        contracts_bench.main(["--count", "20000", "--calls", "20000"])
        network_bench.main(["--count", "5000", "--catch-up", "2000", "--seconds", "3"])
        catchup_bench.main(["--count", "8000", "--block", "2000"])
        sharing_bench.main(["--reads", "1000", "--attestations", "2000"])
        sharing_http_bench.main(["--reads", "1000"])
        store_bench.main(["--commits", "5"])
        crash_bench.main(["--runs", "1"])
        cases_bench.main(["--cases", "200"])
        casework_bench.main(["--cases", "5", "--burst", "20", "--jumps", "3"])
        catalogue_bench.main(["--quick"])
        recommend_bench.main(["--quick"])
        review_bench.main(["--quick"])
        portal_bench.main(["--quick"])
        credential_bench.main(["--seconds", "0.3"])
        credential_issue_bench.main(["--count", "2000", "--chunk", "1000"])
        analytics_bench.main(["--count", "20000", "--rows", "200000", "--repeat", "5"])
        supervision_bench.main(["--enterprises", "500", "--targets", "20", "--repeat", "1"])
        funds_bench.main(["--quick"])
        policy_bench.main(["--quick"])
    else:
        ledger_bench.main([])
        http_bench.main([])
        proofs_bench.main([])
        memory_bench.main([])
        identity_bench.main([])
        contracts_bench.main([])
        network_bench.main([])
        catchup_bench.main([])
        sharing_bench.main([])
        sharing_http_bench.main([])
        store_bench.main([])
        crash_bench.main([])
        cases_bench.main([])
        casework_bench.main([])
        catalogue_bench.main([])
        recommend_bench.main([])
        review_bench.main([])
        portal_bench.main([])
        credential_bench.main([])
        credential_issue_bench.main([])
        analytics_bench.main([])
        supervision_bench.main([])
        funds_bench.main([])
        policy_bench.main([])


if __name__ == "__main__":
    main(sys.argv[1:])
