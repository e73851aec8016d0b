"""IT project duplication review: quality on the labelled evaluation set beside a plain
keyword-overlap baseline, and speed against a large registry, printed beside this machine's
limits measured in the same run (a dense matrix product's GFLOP/s on one core and jieba's word
cuts per second).

Quality: precision@1 and recall@5 of the known duplicates (target >= 0.9) and macro-F1 of the
four-way recommendation, on the test half of ``apps/projects/data/evaluation.json`` (thresholds
were tuned on the other half) and on all of it; for three methods: the keyword overlap
baseline, whole-text TF-IDF of words and character bigrams alone (the shortlist pass), and the
review (shortlist + function-level alignment). For the all-pairs pass, exact sparse cosine
against MinHash (128 permutations, LSH 32 bands x 4 rows) over the character 3-gram shingles.

Speed: one review against N registered systems (target < 500 ms for 10,000), the registry's
index build, and all pairs among M pending applications checked for merge candidates (target
< 10 s for 1,000).

Usage: ``python -m bench.review_bench [--systems N] [--applications M] [--reviews K]
[--quick]``; writes ``bench/results/review.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import time
from typing import Any

from bench.common import peak_rss_mib, write_result
from govchain.apps.projects import text
from govchain.apps.projects.baseline import KeywordOverlap
from govchain.apps.projects.evaluation import (
    load_evaluation,
    synthetic_applications,
    synthetic_registry,
)
from govchain.apps.projects.measures import Figures, half, measure, registry_of
from govchain.apps.projects.review import Review, Reviewer, Thresholds


class ShortlistOnly:
    """The review's first pass alone: rank by whole-text similarity, recommend by it."""

    def __init__(self, reviewer: Reviewer, cutoff: int) -> None:
        self.reviewer = reviewer
        self.cutoff = cutoff

    def review(self, application: Any, k: int = 10) -> Review:
        full = self.reviewer.review(application, k=k)
        ranked = sorted(full.candidates, key=lambda c: (-c.similarity, c.id))
        for rec, status in (("reuse", "in_use"), ("join", "in_development"), ("merge", "pending")):
            fit = [c for c in ranked if c.status == status and c.similarity >= self.cutoff]
            if fit:
                return Review(full.application, rec, fit[0].id, 0, (), tuple(ranked))
        return Review(full.application, "build", None, 0, (), tuple(ranked))


def _tune(make: Any, dataset: dict[str, Any], grid: list[int]) -> tuple[int, Figures]:
    """Return the cut-off of ``grid`` with the best macro-F1 on the tuning half."""
    best: tuple[int, Figures] | None = None
    for cut in grid:
        fig = measure(make(cut), dataset, lambda i: half(i) == "tuning")
        if best is None or fig.macro_f1 > best[1].macro_f1:
            best = (cut, fig)
    assert best is not None
    return best


def quality() -> dict[str, Any]:
    """Figures of the three methods on the evaluation set."""
    dataset = load_evaluation()
    entries = registry_of(dataset)
    reviewer = Reviewer(entries)
    methods: dict[str, Any] = {}
    cut, _ = _tune(lambda c: KeywordOverlap(entries, c), dataset, list(range(100, 701, 50)))
    methods["keyword_overlap"] = (KeywordOverlap(entries, cut), cut)
    cut, _ = _tune(lambda c: ShortlistOnly(reviewer, c), dataset, list(range(200, 801, 50)))
    methods["tfidf_whole_text"] = (ShortlistOnly(reviewer, cut), cut)
    methods["review"] = (reviewer, reviewer.thresholds.covers)
    out: dict[str, Any] = {}
    for name, (method, cutoff) in methods.items():
        test = measure(method, dataset, lambda i: half(i) == "test")
        everything = measure(method, dataset)
        out[name] = {"cutoff": cutoff, "test": test.to_json(), "all": everything.to_json()}
    labelled = {
        tuple(sorted((str(lab["application"]), other)))
        for lab in dataset["labels"]
        for other in lab["relations"]
        if other.startswith("APP-")
    }
    found = {(p.first, p.second) for p in reviewer.merge_candidates()}
    out["merge_pairs"] = {
        "labelled": len(labelled),
        "found": len(found),
        "precision": round(1000 * len(found & labelled) / len(found)) if found else 0,
        "recall": round(1000 * len(found & labelled) / len(labelled)) if labelled else 0,
    }
    out["sizes"] = {
        "registry": len(dataset["registry"]),
        "applications": len(dataset["applications"]),
        "test_half": sum(1 for a in dataset["applications"] if half(str(a["id"])) == "test"),
    }
    return out


def _shingles(entry: dict[str, Any]) -> set[int]:
    flat = "".join(ch for ch in text.normalise(text.document(entry)) if ch.isalnum())
    return {
        int.from_bytes(hashlib.blake2b(flat[i : i + 3].encode(), digest_size=8).digest(), "big")
        for i in range(len(flat) - 2)
    }


def minhash_pairs(
    apps: list[dict[str, Any]], perms: int = 128, bands: int = 32
) -> set[tuple[str, str]]:
    """Return the candidate pairs MinHash LSH finds (a comparison for the exact pass)."""
    import numpy as np

    rng = np.random.default_rng(7)
    prime = (1 << 61) - 1
    a = rng.integers(1, prime, perms, dtype=np.uint64)
    b = rng.integers(0, prime, perms, dtype=np.uint64)
    rows = perms // bands
    buckets: dict[tuple[int, bytes], list[int]] = {}
    for idx, app in enumerate(apps):
        sh = np.fromiter(_shingles(app), dtype=np.uint64) % np.uint64(prime)
        # (a*x + b) mod p in uint64 wraps; good enough as a hash family for a comparison.
        sig = ((np.outer(a, sh) + b[:, None]) % np.uint64(prime)).min(axis=1)
        for band in range(bands):
            key = (band, sig[band * rows : (band + 1) * rows].tobytes())
            buckets.setdefault(key, []).append(idx)
    pairs: set[tuple[str, str]] = set()
    for members in buckets.values():
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                x, y = sorted((str(apps[members[i]]["id"]), str(apps[members[j]]["id"])))
                pairs.add((x, y))
    return pairs


def machine_limits() -> dict[str, float]:
    """One core's dense GFLOP/s (float64 matrix product) and jieba word cuts per second."""
    import numpy as np
    import rjieba

    m = np.random.default_rng(1).random((600, 600))
    t = time.perf_counter()
    for _ in range(5):
        m @ m
    gflops = 5 * 2 * 600**3 / (time.perf_counter() - t) / 1e9
    sentence = "支持居民电子健康档案的在线调阅与授权共享，实现检验检查结果互认"
    t = time.perf_counter()
    for _ in range(2000):
        rjieba.cut(sentence)
    cuts = 2000 / (time.perf_counter() - t)
    return {"dense_gflops": round(gflops, 2), "jieba_cuts_per_s": round(cuts)}


def speed(systems: int, applications: int, reviews: int) -> dict[str, Any]:
    """Review latency against ``systems`` entries; all pairs among ``applications``."""
    registry = synthetic_registry(systems, seed=11)
    rss = peak_rss_mib()
    t = time.perf_counter()
    reviewer = Reviewer(registry)
    build_s = time.perf_counter() - t
    queries = synthetic_applications(reviews, seed=12)
    times = []
    for app in queries:
        t = time.perf_counter()
        reviewer.review(app)
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    pending = synthetic_applications(applications, seed=13)
    t = time.perf_counter()
    pairs = reviewer.merge_candidates(pending)
    pairs_s = time.perf_counter() - t
    t = time.perf_counter()
    lsh = minhash_pairs(pending)
    lsh_s = time.perf_counter() - t
    exact = {(p.first, p.second) for p in pairs}
    return {
        "systems": systems,
        "index_build_s": round(build_s, 2),
        "index_rss_growth_mib": round(peak_rss_mib() - rss, 1),
        "reviews": reviews,
        "review_p50_ms": round(statistics.median(times), 1),
        "review_p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
        "review_max_ms": round(times[-1], 1),
        "target_review_ms": 500,
        "pending_applications": applications,
        "all_pairs_s": round(pairs_s, 2),
        "merge_pairs": len(pairs),
        "target_all_pairs_s": 10,
        "minhash_s": round(lsh_s, 2),
        "minhash_candidate_pairs": len(lsh),
        "minhash_recall_of_merge_pairs": round(len(exact & lsh) / len(exact), 3) if exact else None,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run and print the benchmark; write ``bench/results/review.json``."""
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--systems", type=int, default=10_000)
    p.add_argument("--applications", type=int, default=1_000)
    p.add_argument("--reviews", type=int, default=200)
    p.add_argument("--quick", action="store_true", help="1,000 systems, 200 applications")
    args = p.parse_args(argv)
    if args.quick:
        args.systems, args.applications, args.reviews = 1_000, 200, 30
    load = os.getloadavg()[0]
    limits = machine_limits()
    q = quality()
    s = speed(args.systems, args.applications, args.reviews)
    result = {
        "loadavg_1m_before": round(load, 2),
        "thresholds": {f: getattr(Thresholds(), f) for f in Thresholds.__slots__},
        "quality": q,
        "speed": s,
        "machine_limit": limits,
    }
    print(
        f"[review] evaluation set: {q['sizes']['registry']} systems and projects, "
        f"{q['sizes']['applications']} applications ({q['sizes']['test_half']} in the test half); "
        f"load average {load:.2f} on {os.cpu_count()} cores before"
    )
    print(f"  {'method':<18} {'P@1':>6} {'R@5':>6} {'macro-F1':>9}   (test half | all)")
    for name in ("keyword_overlap", "tfidf_whole_text", "review"):
        t, a = q[name]["test"], q[name]["all"]
        print(
            f"  {name:<18} {t['precision_at_1'] / 1000:>6.3f} {t['recall_at_5'] / 1000:>6.3f} "
            f"{t['macro_f1'] / 1000:>9.3f}   | {a['precision_at_1'] / 1000:.3f} "
            f"{a['recall_at_5'] / 1000:.3f} {a['macro_f1'] / 1000:.3f}"
        )
    mp = q["merge_pairs"]
    print(
        f"  merge pairs among the evaluation set's applications: {mp['found']} found, "
        f"{mp['labelled']} labelled; precision {mp['precision'] / 1000:.3f}, "
        f"recall {mp['recall'] / 1000:.3f}"
    )
    print(
        f"  one review against {s['systems']:,} systems: p50 {s['review_p50_ms']} ms, "
        f"p95 {s['review_p95_ms']} ms (target < 500 ms); index build {s['index_build_s']} s"
    )
    print(
        f"  all pairs among {s['pending_applications']:,} pending applications: "
        f"{s['all_pairs_s']} s, {s['merge_pairs']} merge pairs (target < 10 s); MinHash LSH "
        f"{s['minhash_s']} s, recall of those pairs {s['minhash_recall_of_merge_pairs']}"
    )
    print(
        f"  machine: {limits['dense_gflops']} GFLOP/s dense (one core), "
        f"{limits['jieba_cuts_per_s']:,} jieba cuts/s"
    )
    write_result("review", result)
    return result


if __name__ == "__main__":
    main()
