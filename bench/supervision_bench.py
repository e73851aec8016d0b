"""Supervision: risk scores of every enterprise from 24 months of facts, and a random
inspection draw over them, timed beside this machine's limits measured in the same run.

- **Scoring**: the demo generator's facts of N enterprises (24 months of tax, insured staff,
  complaints, penalties, the abnormal-operation list, inspections) gathered into a ``FactBook``
  as the desk does from the analytics index, then every enterprise scored with the default
  weights (``risk.score_all``), three times; the best run is reported.
- **Draw**: a plan of T targets, 2 inspectors each from a pool of 24, over the N scored
  enterprises (``inspections.draw``, the pure function the contract checks), with a fixed seed.
- **Machine limits**: the SHA-256 of a short message per second on one core (a draw hashes
  every member once to order them) and a plain Python loop of dictionary reads per second
  (what scoring mostly is).

``python -m bench.supervision_bench [--enterprises N] [--targets T] [--repeat K]``; writes
``bench/results/supervision.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from typing import Any

from bench.common import peak_rss_mib, write_result
from govchain.apps.supervision.demodata import SEED, generate
from govchain.apps.supervision.facts import FactBook
from govchain.apps.supervision.inspections import draw
from govchain.apps.supervision.risk import default_model, score_all

DIVISIONS = ("330102", "330105", "330106", "330108", "330109", "330110", "330111", "330112",
             "330113", "330114", "330122", "330127")  # fmt: skip
"""Divisions of the inspector pool (two inspectors each)."""


def machine_limits(seconds: float = 0.5) -> dict[str, float]:
    """SHA-256 of 64-byte messages per second, and dictionary reads per second, on one core."""
    message = b"x" * 64
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(10_000):
            hashlib.sha256(message).digest()
        n += 10_000
    sha = n / (time.perf_counter() - started)
    table = {f"k{i}": i for i in range(1000)}
    keys = list(table)
    n, total, started = 0, 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for k in keys:
            total += table[k]
        n += len(keys)
    return {"sha256_per_s": sha, "dict_reads_per_s": n / (time.perf_counter() - started)}


def run(enterprises: int, targets: int, repeat: int) -> dict[str, Any]:
    """Generate, score and draw; return the figures."""
    started = time.perf_counter()
    data = generate(enterprises, SEED)
    book = FactBook.of(data.fact_rows())
    prepared_s = time.perf_counter() - started
    facts = sum(len(rows) for rows in data.rows.values())
    model = default_model()
    runs = []
    scores: list[Any] = []
    for _ in range(repeat):
        started = time.perf_counter()
        scores = score_all(book, data.last, model)
        runs.append(time.perf_counter() - started)
    score_s = min(runs)
    classes = {c: sum(1 for s in scores if s.risk == c) for c in ("low", "medium", "high")}
    caught = len({s.uscc for s in scores if s.risk == "high"} & set(data.risky))
    population = [
        {"uscc": s.uscc, "division": p.division, "industry": p.industry, "risk": s.risk,
         "last": []}
        for s, p in zip(
            sorted(scores, key=lambda s: s.uscc),
            sorted(data.profiles, key=lambda p: p.uscc),
            strict=True,
        )
    ]  # fmt: skip
    plan = {
        "id": "bench-plan",
        "targets": targets,
        "per_target": 2,
        "weights": {"low": 1, "medium": 2, "high": 4},
        "inspectors": [
            {"id": f"insp-{i:02d}", "name": f"检查员{i}", "division": DIVISIONS[i % 12],
             "related": []}
            for i in range(24)
        ],
    }  # fmt: skip
    seed = hashlib.sha256(b"bench seed block").digest()
    draws = []
    for _ in range(repeat):
        started = time.perf_counter()
        drawn = draw(plan, population, seed)
        draws.append(time.perf_counter() - started)
    draw_s = min(draws)
    return {
        "enterprises": enterprises,
        "months": len({p for _, p in data.rows}),
        "facts": facts,
        "prepare_s": prepared_s,
        "score_s": score_s,
        "scores_per_s": enterprises / score_s,
        "classes": classes,
        "injected_collapsing": len(data.risky),
        "injected_scored_high": caught,
        "targets": targets,
        "drawn": len(drawn.targets),
        "draw_s": draw_s,
        "peak_rss_mib": peak_rss_mib(),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures beside the machine's limits."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    limits = machine_limits()
    found = run(args.enterprises, args.targets, args.repeat)
    # What the draw must do at least: hash every member once to order them.
    floor_s = found["enterprises"] / limits["sha256_per_s"]
    print(
        f"[supervision] risk scores of {found['enterprises']:,} enterprises over "
        f"{found['months']} months ({found['facts']:,} facts): {found['score_s'] * 1000:.0f} ms "
        f"({found['scores_per_s']:,.0f} scores/s); {found['classes']['high']} high, "
        f"{found['injected_scored_high']} of the {found['injected_collapsing']} injected "
        f"collapses among them (facts generated and gathered in {found['prepare_s']:.1f} s) | "
        f"machine: {limits['dict_reads_per_s'] / 1e6:.1f} M dict reads/s on one core"
    )
    print(
        f"[supervision] draw of {found['drawn']} targets × 2 inspectors over "
        f"{found['enterprises']:,} enterprises: {found['draw_s'] * 1000:.1f} ms | machine: "
        f"{limits['sha256_per_s'] / 1e6:.2f} M SHA-256/s on one core, so hashing every member "
        f"once takes {floor_s * 1000:.1f} ms; peak memory {found['peak_rss_mib']:.0f} MiB"
    )
    path = write_result("supervision", {"limits": limits, **found})
    print(f"[supervision] written to {path}")


if __name__ == "__main__":
    main()
