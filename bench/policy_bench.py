"""Enterprise policy matching: every enterprise against every policy with the bulk matcher
(target < 30 s for 100,000 x 1,000), and one enterprise against every policy with the
contract's scalar evaluator (target < 50 ms), printed beside this machine's limits measured in
the same run: numpy's elementwise comparisons per second on int64 columns (one core) and
Python's scalar comparisons per second.

The enterprises are synthetic columns drawn with a fixed seed in the demo's proportions; the
policies are the shipped ones and variants of them with every threshold moved by -10 % to
+10 % (so that no two policies are the same computation).

Usage: ``python -m bench.policy_bench [--enterprises N] [--policies P] [--quick]``; writes
``bench/results/policy.json``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from typing import Any

import numpy as np

from bench.common import peak_rss_mib, write_result
from govchain.apps.policies.attributes import CATALOGUE
from govchain.apps.policies.contract import assess
from govchain.apps.policies.matcher import Columns, match_policy
from govchain.apps.policies.rules import explain, lint, shipped_policies

SEED = 21


def synthetic_columns(n: int, seed: int = SEED) -> Columns:
    """``n`` enterprises' facts as columns, in the demo's proportions (some facts missing)."""
    rng = np.random.default_rng(seed)
    employees = np.exp2(rng.uniform(0, 11, n)).astype(np.int64)
    revenue = employees * rng.integers(200_000, 1_500_000, n) * 100
    rd = np.where(rng.random(n) < 0.35, rng.integers(0, 1500, n), 0)
    export = np.where(rng.random(n) < 0.25, revenue * rng.integers(500, 6000, n) // 10_000, 0)
    size = np.select(
        [(employees >= 1000) & (revenue >= 4 * 10**10), (employees >= 300) & (revenue >= 2 * 10**9),
         (employees >= 20) & (revenue >= 3 * 10**8)],
        [3, 2, 1], 0,
    )  # fmt: skip
    divisions = rng.integers(1, 98, n)
    starts = np.array(
        [1, 6, 13, 44, 47, 51, 53, 61, 63, 66, 70, 71, 73, 76, 80, 83, 84, 86, 91, 97]
    )
    values: dict[str, Any] = {
        "industry_division": divisions,
        "industry_section": np.searchsorted(starts, divisions, side="right") - 1,
        "district": rng.integers(0, 14, n),
        "years_in_business": rng.integers(0, 27, n),
        "registered_capital_fen": employees * 10**7,
        "size_class": size,
        "revenue_fen": revenue,
        "tax_paid_fen": revenue * rng.integers(200, 800, n) // 10_000,
        "rd_expense_fen": revenue * rd // 10_000,
        "rd_share_bps": rd,
        "tax_credit_rating": rng.choice(5, n, p=[0.25, 0.45, 0.2, 0.07, 0.03]),
        "high_tech": ((rd >= 300) & (rng.random(n) < 0.5)).astype(np.int64),
        "tax_arrears": (rng.random(n) < 0.04).astype(np.int64),
        "employees": employees,
        "graduates_hired": np.where(rng.random(n) < 0.3, rng.integers(1, 10, n), 0),
        "social_insurance_arrears": (rng.random(n) < 0.03).astype(np.int64),
        "export_fen": export,
        "aeo_certified": ((export >= 5 * 10**8) & (rng.random(n) < 0.2)).astype(np.int64),
    }
    present = {a.name: rng.random(n) < 0.97 for a in CATALOGUE}  # a few facts not attested
    cols = {k: np.asarray(v, dtype=np.int64) for k, v in values.items()}
    return Columns(tuple(f"E{i:06d}" for i in range(n)), cols, present)


def _scaled(node: Any, pct: int) -> Any:
    if isinstance(node, bool | str):
        return node
    if isinstance(node, int):
        return node * (100 + pct) // 100 if abs(node) > 1 else node
    if isinstance(node, list):
        return [_scaled(v, pct) for v in node]
    if isinstance(node, dict):
        op, args = next(iter(node.items()))
        if op == "var" or op == "in":
            return node
        return {op: _scaled(args, pct)}
    return node


def policy_set(count: int) -> list[dict[str, Any]]:
    """The shipped policies, then variants with thresholds moved, ``count`` in all, linted."""
    base = shipped_policies()
    out: list[dict[str, Any]] = []
    k = 0
    while len(out) < count:
        p = copy.deepcopy(base[k % len(base)])
        pct = 0 if k < len(base) else (k * 7) % 21 - 10
        p["id"] = f"{p['id']}-v{k}"[:40] if k >= len(base) else p["id"]
        p["eligibility"] = _scaled(p["eligibility"], pct)
        k += 1
        if not lint(p):
            out.append(p)
    return out


def machine_limits(n: int = 1_000_000) -> dict[str, float]:
    """numpy int64 elementwise comparisons per second and Python scalar comparisons per
    second, on this machine now (best of five)."""
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 10**9, n), rng.integers(0, 10**9, n)
    best = min(_timed(lambda: np.greater_equal(a, b)) for _ in range(5))
    xs = list(range(100_000))

    def scalar() -> int:
        return sum(1 for x in xs if x >= 50_000)

    best_py = min(_timed(scalar) for _ in range(5))
    return {
        "numpy_cmp_per_s": round(n / best),
        "python_cmp_per_s": round(len(xs) / best_py),
    }


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--policies", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    n, p = (5_000, 100) if args.quick else (args.enterprises, args.policies)
    limits = machine_limits()
    cols = synthetic_columns(n)
    policies = policy_set(p)
    started = time.perf_counter()
    qualifies = nearly = 0
    benefit = 0
    for policy in policies:
        m = match_policy(policy, cols)
        qualifies += int((m.status == 2).sum())
        nearly += int((m.status == 1).sum())
        benefit += int(m.benefit_fen[m.status == 2].sum())
    bulk_s = time.perf_counter() - started
    # One enterprise against every policy: the scalar evaluator, then the trace of its matches.
    one_ms, traced_ms = [], []
    for row in range(0, n, max(n // 50, 1))[:50]:
        facts: dict[str, Any] = {}
        for a in CATALOGUE:
            if cols.present[a.name][row]:
                v = int(cols.values[a.name][row])
                facts[a.name] = (
                    a.values[v] if a.kind == "enum" else (v == 1 if a.kind == "bool" else v)
                )
        t0 = time.perf_counter()
        outcomes = [assess(pol, facts) for pol in policies]
        t1 = time.perf_counter()
        for pol, o in zip(policies, outcomes, strict=True):
            if o["status"] != "not":
                explain(pol, facts, {})
        t2 = time.perf_counter()
        one_ms.append((t1 - t0) * 1000)
        traced_ms.append((t2 - t0) * 1000)
    pairs = n * len(policies)
    result = {
        "enterprises": n,
        "policies": len(policies),
        "bulk_s": round(bulk_s, 2),
        "pairs_per_s": round(pairs / bulk_s),
        "qualifying_pairs": qualifies,
        "nearly_pairs": nearly,
        "expected_benefit_fen": benefit,
        "one_enterprise_ms_median": round(statistics.median(one_ms), 2),
        "one_enterprise_ms_max": round(max(one_ms), 2),
        "one_enterprise_with_traces_ms_median": round(statistics.median(traced_ms), 2),
        "peak_rss_mib": round(peak_rss_mib()),
        "machine_limit": limits,
    }
    path = write_result("policy", result)
    print(f"policy matching: {n:,} enterprises x {len(policies):,} policies")
    print(
        f"  bulk matcher: {bulk_s:.2f} s (target < 30 s), {pairs / bulk_s:,.0f} pairs/s; "
        f"{qualifies:,} qualifying and {nearly:,} nearly qualifying pairs"
    )
    print(
        f"  one enterprise vs all policies (scalar evaluator): median "
        f"{result['one_enterprise_ms_median']} ms, max {result['one_enterprise_ms_max']} ms "
        f"(target < 50 ms); with the traces of its matches: median "
        f"{result['one_enterprise_with_traces_ms_median']} ms"
    )
    print(
        f"  machine: {limits['numpy_cmp_per_s']:,} numpy int64 comparisons/s (one core), "
        f"{limits['python_cmp_per_s']:,} Python comparisons/s; peak RSS "
        f"{result['peak_rss_mib']} MiB"
    )
    print(f"  written to {path}")


if __name__ == "__main__":
    main()
