"""The pure rules of supervision: the draw's allocation and conflicts, risk scores that list
their inputs, indicators on the demo data's injected anomalies, and suppression of small cells."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.apps.supervision.demodata import DROP_INDUSTRY, generate
from govchain.apps.supervision.facts import FactBook, period_add, periods_between
from govchain.apps.supervision.indicators import (
    MIN_CELL,
    assistance_counts,
    change_permille,
    default_indicators,
    evaluate,
    suppress,
)
from govchain.apps.supervision.inspections import allocate, draw
from govchain.apps.supervision.risk import default_model, fact_values, score, score_all

CLASSES = st.sampled_from(["low", "medium", "high"])


@settings(max_examples=200, deadline=None)
@given(
    targets=st.integers(0, 300),
    sizes=st.fixed_dictionaries({c: st.integers(0, 200) for c in ("low", "medium", "high")}),
    weights=st.fixed_dictionaries({c: st.integers(1, 100) for c in ("low", "medium", "high")}),
)
def test_allocation_fills_the_targets_within_each_class(
    targets: int, sizes: dict[str, int], weights: dict[str, int]
) -> None:
    quota = allocate(targets, sizes, weights)
    assert sum(quota.values()) == min(targets, sum(sizes.values()))
    assert all(0 <= quota[c] <= sizes[c] for c in quota)


def test_allocation_known_answer() -> None:
    # 100 low (w 1), 50 medium (w 2), 25 high (w 4): each class weighs 100, 30 targets split
    # 10/10/10 — a high-risk enterprise is drawn four times as often as a low-risk one.
    sizes = {"low": 100, "medium": 50, "high": 25}
    assert allocate(30, sizes, {"low": 1, "medium": 2, "high": 4}) == {
        "low": 10,
        "medium": 10,
        "high": 10,
    }


def _plan(**changes: Any) -> dict[str, Any]:
    pool = [
        {"id": f"i{n}", "name": f"n{n}", "division": d, "related": []}
        for n, d in enumerate(["330102", "330105", "330106", "330108"])
    ]
    return {
        "id": "P-1",
        "targets": 10,
        "per_target": 2,
        "weights": {"low": 1, "medium": 2, "high": 4},
        "inspectors": pool,
        **changes,
    }


def _population(n: int) -> list[dict[str, Any]]:
    divisions = ["330102", "330105", "330106", "330108", "330110"]
    return [
        {
            "uscc": f"91{divisions[i % 5]}MA{i:08d}X",
            "division": divisions[i % 5],
            "industry": "5211",
            "risk": ("low", "medium", "high")[i % 3],
            "last": [],
        }
        for i in range(n)
    ]


def test_draw_is_a_pure_function_of_plan_population_and_seed() -> None:
    pop = _population(60)
    seed = hashlib.sha256(b"block").digest()
    a, b = draw(_plan(), pop, seed), draw(_plan(), list(reversed(pop)), seed)
    assert a == b
    other = draw(_plan(), pop, hashlib.sha256(b"another block").digest())
    assert other.targets != a.targets


@settings(max_examples=50, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), related=st.integers(0, 59))
def test_no_drawn_inspector_has_a_conflict(seed: bytes, related: int) -> None:
    pop = _population(60)
    pop[3]["last"] = ["i0", "i1"]
    plan = _plan()
    plan["inspectors"][2]["related"] = [pop[related]["uscc"]]
    result = draw(plan, pop, seed)
    by_uscc = {m["uscc"]: m for m in pop}
    pool = {i["id"]: i for i in plan["inspectors"]}
    for t in result.targets:
        m = by_uscc[t["uscc"]]
        for i in t["inspectors"]:
            assert i not in m["last"]
            assert pool[i]["division"] != m["division"]
            assert m["uscc"] not in pool[i]["related"]
    assert len(result.targets) == 10


def test_a_member_without_enough_eligible_inspectors_is_passed_over() -> None:
    pop = _population(30)
    plan = _plan(per_target=4)  # every member's division is one of the pool's but 330110's
    result = draw(plan, pop, b"\x01" * 32)
    assert all(m["uscc"][2:8] == "330110" for m in (dict(t) for t in result.targets))
    assert all(e["reasons"] == {"same_division": 1} for e in result.excluded)


@pytest.fixture(scope="module")
def demo() -> tuple[Any, FactBook]:
    data = generate(1000)
    return data, FactBook.of(data.fact_rows())


def test_a_score_is_the_sum_of_its_listed_facts() -> None:
    # Known answer from data/risk_weights.json: tax down 50 % (≥ 40: 30 points), 3 complaints
    # (3 × 6 = 18), on the abnormal list (25): 73, high (≥ 60).
    values = {"tax_drop_pct": 50, "complaints_12m": 3, "abnormal": 1}
    s = score("91330102MA00000001", "2026-11", values)
    assert s.score == 73 and s.risk == "high"
    lines = {c.fact: (c.value, c.weight, c.points) for c in s.contributions}
    assert lines["tax_drop_pct"] == (50, 30, 30)
    assert lines["complaints_12m"] == (3, 6, 18)
    assert lines["abnormal"] == (1, 25, 25)
    assert lines["penalties_24m"] == (0, 12, 0)
    assert [c.fact for c in s.contributions] == [f.fact for f in default_model().factors]


def test_the_collapsing_enterprises_score_high(demo: tuple[Any, FactBook]) -> None:
    data, book = demo
    scores = score_all(book, data.last)
    high = {s.uscc for s in scores if s.risk == "high"}
    risky = set(data.risky)
    assert len(high & risky) / len(risky) >= 0.9  # recall
    assert len(high & risky) / len(high) >= 0.8  # precision
    one = next(iter(risky))
    assert fact_values(book, one, data.last)["abnormal"] == 1


def test_the_industry_drop_raises_one_alert_with_its_figures(demo: tuple[Any, FactBook]) -> None:
    data, book = demo
    tax = next(i for i in default_indicators() if i.series == "tax_by_industry")
    (signal,) = evaluate(book, tax, data.last)
    assert signal.subject == f"industry-{DROP_INDUSTRY}"
    f = signal.figures
    assert f["change_permille"] == change_permille(f["previous"], f["current"]) <= -200
    assert signal.inputs and all(b.startswith("demo-tax-") for b in signal.inputs)
    assert not evaluate(book, tax, period_add(data.last, -1))  # nothing the month before


def test_change_permille_rounds_towards_zero() -> None:
    assert change_permille(1000, 799) == -201
    assert change_permille(3, 2) == -333
    assert change_permille(3, 4) == 333


def test_small_cells_are_suppressed() -> None:
    cells = {c.group: c for c in suppress({"a": 25, "b": 4, "c": 12, "d": 0})}
    assert cells["b"].count is None and cells["b"].suppressed == "small"
    # One small cell alone would be given away by the total: the next smallest goes too.
    assert cells["c"].count is None and cells["c"].suppressed == "complementary"
    assert cells["a"].count == 25 and cells["d"].count == 0
    two = {c.group: c for c in suppress({"a": 25, "b": 4, "c": 3, "d": 40})}
    assert [g for g, c in two.items() if c.count is None] == ["b", "c"]


def test_assistance_counts_are_counts_only(demo: tuple[Any, FactBook]) -> None:
    data, book = demo
    cells, total = assistance_counts(book, data.last)
    assert all(c.count is None or c.count == 0 or c.count >= MIN_CELL for c in cells)
    assert all(len(c.group) == 6 for c in cells)  # districts, never people
    assert total is None or total >= MIN_CELL


def test_demo_data_is_reproducible() -> None:
    a, b = generate(50), generate(50)
    assert a.rows == b.rows and a.risky == b.risky
    assert len(periods_between("2024-12", "2026-11")) == 24
