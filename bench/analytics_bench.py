"""Analytics index: does it keep up with the node, and are dashboard queries fast?

1. The embedded node's in-process commit rate (pre-signed kv transactions, as ``ledger_bench``)
   without and with the analytics follower; the follower's lag when the last block commits and
   how long it takes to catch up. Target: the node at least 20,000 tx/s and at most 10 % slower
   with the follower. Machine limit: signature verifications per second on every core.
2. Decision-support queries (a department's report: per service, open cases, monthly trend;
   and the departments overview) over ``--rows`` case rows generated directly into DuckDB.
   Target: p95 under 200 ms over 10,000,000 rows. Machine limit: one full scan of the table.

Usage: ``python -m bench.analytics_bench [--count N] [--rows R] [--repeat K]``
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Any

from bench.common import make_network, presign, submit_all, write_result
from govchain.analytics.decisions import Period, department_report, departments_overview
from govchain.analytics.follow import follower_for
from govchain.analytics.index import AnalyticsIndex, update_derived
from govchain.analytics.schema import CASES
from govchain.crypto.limits import measure_limits
from govchain.node.embedded import open_embedded

DAY_MS = 86_400_000
T0 = 1_704_038_400_000  # 2024-01-01T00:00:00+08:00
DEPARTMENTS = 20
SERVICES = 40


def node_rate(count: int, batch: int, follow: bool) -> dict[str, Any]:
    """Commit ``count`` transactions through a fresh embedded node; return its rate (and the
    follower's figures when ``follow``)."""
    network = make_network("intl")
    txs = presign(network, count)
    node = open_embedded(network)
    follower = follower_for(node) if follow else None
    node.start()
    done = threading.Event()

    def on_block(_block: Any) -> None:
        if node.ledger.log.size >= count:
            done.set()

    node.listeners.append(on_block)
    start = time.perf_counter()
    for i in range(0, count, batch):
        submit_all(node, txs[i : i + batch])
    done.wait(600)
    elapsed = time.perf_counter() - start
    out: dict[str, Any] = {
        "follower": follow,
        "transactions": count,
        "blocks": node.ledger.height,
        "seconds": round(elapsed, 3),
        "tx_per_s": round(count / elapsed),
    }
    if follower is not None:
        out["lag_blocks_at_end"] = follower.lag()
        t = time.perf_counter()
        follower.wait_caught_up(600)
        out["catch_up_seconds"] = round(time.perf_counter() - t, 3)
        out["indexed_rows"] = follower.index.tables()["txs"]
        out["index_tx_per_s_end_to_end"] = round(count / (elapsed + out["catch_up_seconds"]))
    node.close()
    return out


def generate_cases(index: AnalyticsIndex, rows: int) -> float:
    """Insert ``rows`` synthetic case rows (a fixed pattern: opened, then decided rows of 20
    departments and 40 services over two years) directly, and the tables derived from them;
    return the seconds it took."""
    started = time.perf_counter()
    con = index.cursor()
    span = 730 * DAY_MS
    con.execute(
        f"""
        INSERT INTO cases
        SELECT
            i // 1000 + 1 AS height,
            i % 1000 AS position,
            'C' || (i // 2) AS case_no,
            CASE WHEN i % 2 = 0 THEN 'opened' ELSE 'decided' END AS kind,
            CASE WHEN i % 2 = 0 THEN 'submitted' WHEN i % 7 = 0 THEN 'rejected'
                 ELSE 'approved' END AS event,
            's' || ((i // 2) % {SERVICES}) AS service,
            'd' || ((i // 2) % {DEPARTMENTS}) AS department,
            CASE WHEN i % 2 = 0 THEN 'submitted' ELSE 'issued' END AS status,
            CASE WHEN i % 2 = 0 THEN '' WHEN i % 7 = 0 THEN 'rejected' ELSE 'approved' END,
            {T0} + (i // 2) * {span} // {rows // 2} AS submitted_ms,
            CASE WHEN i % 2 = 0 THEN 0
                 ELSE {T0} + (i // 2) * {span} // {rows // 2} + (i % 13) * {DAY_MS} END,
            {T0} + (i // 2) * {span} // {rows // 2} + 10 * {DAY_MS} AS deadline_ms,
            {T0} + i * {span} // {rows} AS time_ms
        FROM range({rows}) t(i)
        """
    )
    # The tables the index keeps from the case rows, as ingesting them would have.
    update_derived(con, 1, rows // 1000 + 1)
    con.close()
    return time.perf_counter() - started


def p95(samples: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[max(0, -(-len(ordered) * 95 // 100) - 1)]


def dashboard(rows: int, repeat: int) -> dict[str, Any]:
    """Time the dashboard queries over ``rows`` generated case rows."""
    index = AnalyticsIndex(None, (CASES,))
    gen_s = generate_cases(index, rows)
    scan = []
    for _ in range(3):
        t = time.perf_counter()
        index.query("SELECT sum(length(department)) + sum(time_ms) FROM cases")
        scan.append(time.perf_counter() - t)
    end = T0 + 730 * DAY_MS
    year = Period(end - 365 * DAY_MS, end, end)
    report_s, overview_s = [], []
    for i in range(repeat):
        t = time.perf_counter()
        report = department_report(index, f"d{i % DEPARTMENTS}", year)
        report_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        departments_overview(index, year)
        overview_s.append(time.perf_counter() - t)
    assert report.services and report.months
    return {
        "rows": rows,
        "generate_seconds": round(gen_s, 2),
        "report_p50_ms": round(statistics.median(report_s) * 1000, 1),
        "report_p95_ms": round(p95(report_s) * 1000, 1),
        "overview_p50_ms": round(statistics.median(overview_s) * 1000, 1),
        "overview_p95_ms": round(p95(overview_s) * 1000, 1),
        "machine_full_scan_ms": round(min(scan) * 1000, 1),
        "repeat": repeat,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both parts; print and write ``bench/results/analytics.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=4000)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--repeat", type=int, default=40)
    args = p.parse_args(argv)
    limits = measure_limits("intl", 1.0)
    without = node_rate(args.count, args.batch, follow=False)
    with_ = node_rate(args.count, args.batch, follow=True)
    slower = 1 - with_["tx_per_s"] / without["tx_per_s"]
    print(
        f"[analytics] node: {without['tx_per_s']:,} tx/s alone, {with_['tx_per_s']:,} tx/s with "
        f"the follower ({slower:+.1%} slower; target ≤ 10 %); follower lag at the last commit "
        f"{with_['lag_blocks_at_end']} blocks, caught up {with_['catch_up_seconds']} s later "
        f"({with_['indexed_rows']:,} tx rows) | machine: verify "
        f"{limits['verify_per_s_all_cores']:,.0f}/s on {limits['cores']} cores"
    )
    dash = dashboard(args.rows, args.repeat)
    print(
        f"[analytics] dashboard over {dash['rows']:,} case rows: department report p50 "
        f"{dash['report_p50_ms']} ms, p95 {dash['report_p95_ms']} ms; overview p50 "
        f"{dash['overview_p50_ms']} ms, p95 {dash['overview_p95_ms']} ms (target p95 < 200 ms) "
        f"| machine: one full scan {dash['machine_full_scan_ms']} ms "
        f"(rows generated in {dash['generate_seconds']} s)"
    )
    data = {
        "benchmark": "analytics",
        "machine_limit": limits,
        "node_without_follower": without,
        "node_with_follower": with_,
        "slowdown": round(slower, 4),
        "dashboard": dash,
    }
    path = write_result("analytics", data)
    print(f"[analytics] wrote {path}")
    return data


if __name__ == "__main__":
    main()
