"""Precision and recall of the flags on the injected anomalies of the demo data.

A flag is a true positive when an injected anomaly of its own kind has its subject: the rules
and the detector are each measured on what they are meant to find. A flag on a subject that
carries an anomaly of another kind counts against precision (it was raised for the wrong
reason), and so does a flag on ordinary data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from govchain.apps.funds.contract import RULES
from govchain.apps.funds.generator import Label
from govchain.apps.funds.records import Finding


@dataclass(frozen=True, slots=True)
class RuleScore:
    """How one rule (or the detector) did on the labelled anomalies."""

    rule: str
    """Rule id."""
    flags: int
    """Flags it raised."""
    labels: int
    """Injected anomalies of its kind."""
    hits: int
    """Flags that name an injected anomaly of its kind."""
    false_flags: tuple[str, ...]
    """Subjects flagged without an anomaly of its kind."""
    missed: tuple[str, ...]
    """Anomalies of its kind it did not flag."""

    @property
    def precision(self) -> float:
        """Share of its flags that are right (1.0 when it raised none)."""
        return self.hits / self.flags if self.flags else 1.0

    @property
    def recall(self) -> float:
        """Share of the anomalies of its kind it flagged (1.0 when there are none)."""
        return self.hits / self.labels if self.labels else 1.0

    def to_json(self) -> dict[str, object]:
        """Return the JSON form."""
        return {
            "rule": self.rule,
            "flags": self.flags,
            "labels": self.labels,
            "hits": self.hits,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "false_flags": list(self.false_flags),
            "missed": list(self.missed),
        }


def evaluate(findings: Iterable[Finding], labels: Iterable[Label]) -> list[RuleScore]:
    """Return the score of every rule and of the detector, in ``RULES`` order."""
    flagged: dict[str, set[str]] = {r: set() for r in RULES}
    for f in findings:
        flagged[f.rule].add(f.subject)
    expected: dict[str, set[str]] = {r: set() for r in RULES}
    for lab in labels:
        expected[lab.kind].add(lab.subject)
    out = []
    for rule in RULES:
        got, want = flagged[rule], expected[rule]
        out.append(
            RuleScore(
                rule=rule,
                flags=len(got),
                labels=len(want),
                hits=len(got & want),
                false_flags=tuple(sorted(got - want)),
                missed=tuple(sorted(want - got)),
            )
        )
    return out
