"""Fund supervision: the anomaly flags' precision and recall on the injected anomalies of the
demo data, and how long detection takes, printed beside this machine's limits measured in the
same run (a Python loop's iterations per second on one core and a dense matrix product's
GFLOP/s, what the rules and the isolation forest are bound by).

Quality: precision and recall of each rule and of the detector (target >= 0.8 each) on the
demo seed and on ``--seeds`` other seeds of the same generator (the rules and the threshold
were set on the demo seed; the other seeds show whether they carry over).

Speed: (a) the rules and the detector over generated data of 50 to ``--projects`` projects,
in memory; (b) end to end on an embedded in-memory node: the 50-project demo committed, the
analytics index caught up, and one scan (the index read, the rules, the detector and the
flags committed).

Usage: ``python -m bench.funds_bench [--projects N] [--seeds K] [--quick]``; writes
``bench/results/funds.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import peak_rss_mib, write_result
from govchain.apps.funds.detector import detector_findings
from govchain.apps.funds.evaluation import RuleScore, evaluate
from govchain.apps.funds.flags import rule_findings
from govchain.apps.funds.generator import dataset, generate
from govchain.apps.funds.records import Finding, FundsData


def machine_limits() -> dict[str, float]:
    """One core's Python loop iterations per second and dense float64 GFLOP/s."""
    import numpy as np

    n = 2_000_000
    t = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    loops = n / (time.perf_counter() - t)
    m = np.random.default_rng(1).random((600, 600))
    t = time.perf_counter()
    for _ in range(5):
        m @ m
    gflops = 5 * 2 * 600**3 / (time.perf_counter() - t) / 1e9
    return {"python_loops_per_s": round(loops), "dense_gflops": round(gflops, 2)}


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def findings_of(data: FundsData) -> list[Finding]:
    """Every finding of the rules and the detector."""
    return [*rule_findings(data), *detector_findings(data)]


def quality(seeds: int) -> dict[str, Any]:
    """Scores on the demo seed and summed over ``seeds`` other seeds."""
    demo = generate()
    on_demo = evaluate(findings_of(dataset(demo, _sha256)), demo.labels)
    totals: dict[str, list[int]] = {}
    for seed in range(1, seeds + 1):
        other = generate(seed)
        for s in evaluate(findings_of(dataset(other, _sha256)), other.labels):
            acc = totals.setdefault(s.rule, [0, 0, 0])
            acc[0] += s.flags
            acc[1] += s.labels
            acc[2] += s.hits
    pooled = [
        RuleScore(rule, flags, labels, hits, (), ()).to_json()
        for rule, (flags, labels, hits) in totals.items()
    ]
    return {"demo": [s.to_json() for s in on_demo], "other_seeds": seeds, "pooled": pooled}


def detection_speed(sizes: list[int]) -> list[dict[str, Any]]:
    """Seconds the rules and the detector take over generated data of each size."""
    out = []
    detector_findings(dataset(generate(), _sha256))  # first use imports and warms scikit-learn
    for count in sizes:
        demo = generate(count=count)
        data = dataset(demo, _sha256)
        t = time.perf_counter()
        rules = rule_findings(data)
        rules_s = time.perf_counter() - t
        t = time.perf_counter()
        detected = detector_findings(data)
        detector_s = time.perf_counter() - t
        scores = {s.rule: s for s in evaluate([*rules, *detected], demo.labels)}
        out.append(
            {
                "projects": count,
                "disbursements": len(data.disbursements),
                "evidence": len(data.evidence),
                "rules_ms": round(rules_s * 1e3, 1),
                "detector_ms": round(detector_s * 1e3, 1),
                "flags": len(rules) + len(detected),
                "precision": {r: round(sc.precision, 3) for r, sc in scores.items()},
                "recall": {r: round(sc.recall, 3) for r, sc in scores.items()},
            }
        )
    return out


def end_to_end() -> dict[str, Any]:
    """The demo on an embedded in-memory node: commit, index, scan."""
    from govchain.analytics.follow import follower_for
    from govchain.apps.funds.demo import load_operations
    from govchain.apps.funds.service import FundsDesk
    from govchain.apps.funds.tests.nodes import DEPARTMENTS, deploy, make_network
    from govchain.node.casedesk import open_casedesk
    from govchain.node.embedded import open_embedded

    with tempfile.TemporaryDirectory() as tmp:
        network = make_network(Path(tmp) / "net")
        node = open_embedded(network.root, in_memory=True)
        node.start()
        try:
            casedesk = open_casedesk(node, network.root)
            deploy(casedesk)
            desk = FundsDesk(node, casedesk, lambda: follower_for(node), None, 120.0)
            demo = generate()
            t = time.perf_counter()
            calls = load_operations(desk, demo.operations, {d for d, _ in DEPARTMENTS})
            commit_s = time.perf_counter() - t
            t = time.perf_counter()
            follower_for(node).wait_caught_up(120)
            index_s = time.perf_counter() - t
            t = time.perf_counter()
            report = desk.scan("data", "data/officer-1")
            scan_s = time.perf_counter() - t
            flags = desk.flags()
            found = [Finding(f["rule"], f["subject"], tuple(f["projects"]), {}) for f in flags]
            scores = evaluate(found, demo.labels)
        finally:
            node.stop(drain=True)
    return {
        "calls": calls,
        "commit_s": round(commit_s, 3),
        "index_catch_up_s": round(index_s, 3),
        "scan_s": round(scan_s, 3),
        "flags_raised": len(report.raised),
        "on_chain": [s.to_json() for s in scores],
    }


def _score_line(s: dict[str, Any]) -> str:
    return (
        f"  {s['rule']:<18} flags {s['flags']:>4}  labels {s['labels']:>4}  "
        f"precision {s['precision']:.3f}  recall {s['recall']:.3f}"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print its figures and write them."""
    parser = argparse.ArgumentParser(prog="python -m bench.funds_bench")
    parser.add_argument("--projects", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.projects, args.seeds = 500, 3
    limits = machine_limits()
    sizes = [n for n in (50, 500, 1000, 2000) if n < args.projects] + [args.projects]
    q = quality(args.seeds)
    speed = detection_speed(sizes)
    e = end_to_end()
    result: dict[str, Any] = {
        "machine_limit": limits,
        "quality": q,
        "speed": speed,
        "end_to_end": e,
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }
    path = write_result("funds", result)
    print("fund supervision flags on the demo data (target >= 0.8 each):")
    for s in q["demo"]:
        print(_score_line(s))
    print(f"pooled over {q['other_seeds']} other seeds:")
    for s in q["pooled"]:
        print(_score_line(s))
    print("detection time (rules + isolation forest, in memory):")
    for row in speed:
        print(
            f"  {row['projects']:>6} projects, {row['disbursements']:>7} disbursements: "
            f"rules {row['rules_ms']} ms, detector {row['detector_ms']} ms"
        )
        print(
            "    precision/recall: "
            + ", ".join(f"{r} {v}/{row['recall'][r]}" for r, v in row["precision"].items())
        )
    print(
        f"end to end (embedded node): {e['calls']} calls committed in {e['commit_s']} s, index "
        f"caught up {e['index_catch_up_s']} s later, scan {e['scan_s']} s "
        f"({e['flags_raised']} flags)"
    )
    for s in e["on_chain"]:
        print(_score_line(s))
    print(
        f"  machine: {limits['python_loops_per_s']:,} Python loop iterations/s, "
        f"{limits['dense_gflops']} GFLOP/s dense (one core)"
    )
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
