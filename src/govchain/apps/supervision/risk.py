"""Risk scores of enterprises from facts of several departments, each score with the facts and
weights that made it.

The weights are data (``data/risk_weights.json``): each factor names a fact, a weight, the
value from which it counts (``threshold``) and the most units it counts (``cap``); its points are
``weight × min(value, cap)`` once the value reaches the threshold, else 0. The score is the sum of
the points; its class (low, medium, high) follows the class thresholds of the same file. The
class is what the inspection draw weighs (``inspections.allocate``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from govchain.apps.supervision.facts import FactBook, period_add
from govchain.errors import SchemaViolation

FACTS = (
    "tax_drop_pct",
    "insured_drop_pct",
    "complaints_12m",
    "penalties_24m",
    "abnormal",
    "inspection_result",
)
"""Facts a factor may name."""


@dataclass(frozen=True, slots=True)
class Factor:
    """One weighted fact of a risk model."""

    fact: str
    """Name of the fact (one of ``FACTS``)."""
    kind: str
    """Kind of reported fact it is computed from (its inputs)."""
    weight: int
    """Points per unit."""
    threshold: int
    """Value from which the factor counts."""
    cap: int
    """Most units counted."""
    name: Mapping[str, str]
    """What the fact is, in Chinese and English."""


@dataclass(frozen=True, slots=True)
class RiskModel:
    """Factors and class thresholds."""

    factors: tuple[Factor, ...]
    """The weighted facts."""
    high: int
    """Least score of the high class."""
    medium: int
    """Least score of the medium class."""


@dataclass(frozen=True, slots=True)
class Contribution:
    """One line of a score's explanation: ``(fact, value, weight, points)``."""

    fact: str
    """The fact."""
    value: int
    """Its value for the enterprise."""
    weight: int
    """The factor's weight."""
    points: int
    """Points it added."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "fact": self.fact,
            "value": self.value,
            "weight": self.weight,
            "points": self.points,
        }


@dataclass(frozen=True, slots=True)
class RiskScore:
    """An enterprise's score, class and the contributions it is the sum of."""

    uscc: str
    """The enterprise."""
    period: str
    """Month the facts run up to."""
    score: int
    """Sum of the points."""
    risk: str
    """``low``, ``medium`` or ``high``."""
    contributions: tuple[Contribution, ...]
    """Every factor's line, in the model's order."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "uscc": self.uscc,
            "period": self.period,
            "score": self.score,
            "risk": self.risk,
            "contributions": [c.to_json() for c in self.contributions],
        }


def parse_model(doc: Any) -> RiskModel:
    """Check a risk model document and return it (``SchemaViolation`` naming the place)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("factors"), list):
        raise SchemaViolation("a risk model holds factors and classes", field="factors")
    classes = doc.get("classes")
    if (
        not isinstance(classes, dict)
        or not all(isinstance(classes.get(k), int) for k in ("high", "medium"))
        or not 0 < classes["medium"] < classes["high"]
    ):
        raise SchemaViolation("classes needs integers 0 < medium < high", field="classes")
    factors = []
    for i, f in enumerate(doc["factors"]):
        where = f"factors[{i}]"
        if not isinstance(f, dict) or f.get("fact") not in FACTS:
            raise SchemaViolation(f"{where}.fact must be one of {', '.join(FACTS)}", field=where)
        for key in ("weight", "threshold", "cap"):
            v = f.get(key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise SchemaViolation(f"{where}.{key} must be an integer ≥ 0", field=where)
        name = f.get("name")
        if not isinstance(name, dict) or not all(
            isinstance(name.get(k), str) for k in ("zh", "en")
        ):
            raise SchemaViolation(f"{where}.name needs zh and en", field=where)
        factors.append(
            Factor(f["fact"], str(f["kind"]), f["weight"], f["threshold"], f["cap"], name)
        )
    return RiskModel(tuple(factors), classes["high"], classes["medium"])


@cache
def default_model() -> RiskModel:
    """The model shipped in ``data/risk_weights.json``."""
    text = resources.files("govchain.apps.supervision").joinpath("data/risk_weights.json")
    return parse_model(json.loads(text.read_text("utf-8")))


def drop_pct(book: FactBook, kind: str, uscc: str, period: str) -> int:
    """Per cent drop of ``kind`` over the three months to ``period`` against the three before
    (0 if it did not drop or there was nothing before)."""
    before = book.window(kind, uscc, period_add(period, -3), 3)
    now = book.window(kind, uscc, period, 3)
    if before <= 0 or now >= before:
        return 0
    return (before - now) * 100 // before


def fact_values(book: FactBook, uscc: str, period: str) -> dict[str, int]:
    """Every fact of ``FACTS`` for one enterprise as of ``period``."""
    return {
        "tax_drop_pct": drop_pct(book, "tax", uscc, period),
        "insured_drop_pct": drop_pct(book, "social", uscc, period),
        "complaints_12m": book.window("complaint", uscc, period, 12),
        "penalties_24m": book.count("penalty", uscc, period, 24),
        "abnormal": 1 if book.latest_value("abnormal", uscc, period) > 0 else 0,
        "inspection_result": min(2, book.latest_value("inspection", uscc, period)),
    }


def score(
    uscc: str, period: str, values: Mapping[str, int], model: RiskModel | None = None
) -> RiskScore:
    """Score one enterprise from its fact values: each factor's points and their sum."""
    m = model or default_model()
    lines = []
    for f in m.factors:
        value = int(values.get(f.fact, 0))
        points = f.weight * min(value, f.cap) if value >= max(f.threshold, 1) else 0
        lines.append(Contribution(f.fact, value, f.weight, points))
    total = sum(c.points for c in lines)
    risk = "high" if total >= m.high else "medium" if total >= m.medium else "low"
    return RiskScore(uscc, period, total, risk, tuple(lines))


def score_all(book: FactBook, period: str, model: RiskModel | None = None) -> list[RiskScore]:
    """Score every enterprise of the book as of ``period``, highest score first (then by
    code)."""
    out = [score(u, period, fact_values(book, u, period), model) for u in book.enterprises()]
    out.sort(key=lambda s: (-s.score, s.uscc))
    return out
