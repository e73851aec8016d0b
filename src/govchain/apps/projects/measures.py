"""Measuring a reviewer on the labelled evaluation set: retrieval and recommendation figures.

- **precision@1** over the applications that duplicate something (at least one ``same``
  relation): the share whose first candidate is one of those duplicates;
- **recall@5** over the same applications: the share of their duplicates found among the first
  five candidates, averaged;
- **macro-F1** of the four-way recommendation over all applications: the unweighted mean of
  the F1 of reuse, join, merge and build.

The set is split in two halves by a hash of each application's id: thresholds are tuned on the
``tuning`` half and the figures reported on the ``test`` half (and on all), so the numbers are
not those of a model fitted to the answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from govchain.apps.projects.review import RECOMMENDATIONS, Review


class Reviews(Protocol):
    """Anything that reviews an application."""

    def review(self, application: Mapping[str, Any], k: int = 10) -> Review:
        """Return the review of ``application``."""
        ...


@dataclass(frozen=True, slots=True)
class Figures:
    """How well a reviewer did on a set of labelled applications (per mille figures)."""

    applications: int
    """Applications reviewed."""
    duplicates: int
    """Of which duplicate at least one entry (``same``): the retrieval figures' base."""
    precision_at_1: int
    """Duplicates whose first candidate is one they duplicate, per mille."""
    recall_at_5: int
    """Mean share of an application's duplicates among its first five candidates, per mille."""
    macro_f1: int
    """Mean F1 of the four recommendations, per mille."""
    per_class: dict[str, dict[str, int]]
    """Per recommendation: precision, recall, f1 (per mille) and support."""
    confusion: dict[str, dict[str, int]]
    """Expected recommendation -> recommended -> count."""
    wrong: tuple[tuple[str, str, str], ...]
    """(application, expected, recommended) of every wrong recommendation."""

    def to_json(self) -> dict[str, Any]:
        """Return the figures as JSON."""
        return {
            "applications": self.applications,
            "duplicates": self.duplicates,
            "precision_at_1": self.precision_at_1,
            "recall_at_5": self.recall_at_5,
            "macro_f1": self.macro_f1,
            "per_class": self.per_class,
            "confusion": self.confusion,
        }


def half(application_id: str) -> str:
    """Return ``tuning`` or ``test``: the half of the evaluation set an application is in."""
    return "tuning" if hashlib.sha256(application_id.encode()).digest()[0] % 2 == 0 else "test"


def registry_of(dataset: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the entries a review compares with: the registry and the pending applications."""
    return [*dataset["registry"], *dataset["applications"]]


def measure(
    reviewer: Reviews,
    dataset: Mapping[str, Any],
    which: Callable[[str], bool] = lambda _id: True,
) -> Figures:
    """Review every labelled application ``which`` selects and return the figures."""
    apps = {str(a["id"]): a for a in dataset["applications"]}
    labels = [lab for lab in dataset["labels"] if which(str(lab["application"]))]
    hits1 = 0
    recall = 0.0
    duplicates = 0
    pairs: list[tuple[str, str, str]] = []
    for label in labels:
        review = reviewer.review(apps[str(label["application"])], k=10)
        ranked = [c.id for c in review.candidates]
        same = {i for i, rel in label["relations"].items() if rel == "same"}
        if same:
            duplicates += 1
            hits1 += bool(ranked) and ranked[0] in same
            recall += len(same & set(ranked[:5])) / len(same)
        pairs.append((str(label["application"]), str(label["expected"]), review.recommendation))
    per_class, confusion = _classes(pairs)
    macro = sum(v["f1"] for v in per_class.values()) / len(per_class)
    return Figures(
        applications=len(labels),
        duplicates=duplicates,
        precision_at_1=round(1000 * hits1 / duplicates) if duplicates else 0,
        recall_at_5=round(1000 * recall / duplicates) if duplicates else 0,
        macro_f1=round(macro),
        per_class=per_class,
        confusion=confusion,
        wrong=tuple(p for p in pairs if p[1] != p[2]),
    )


def _classes(
    pairs: Sequence[tuple[str, str, str]],
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    confusion = {e: dict.fromkeys(RECOMMENDATIONS, 0) for e in RECOMMENDATIONS}
    for _app, expected, got in pairs:
        confusion[expected][got] += 1
    per_class: dict[str, dict[str, int]] = {}
    for r in RECOMMENDATIONS:
        tp = confusion[r][r]
        predicted = sum(confusion[e][r] for e in RECOMMENDATIONS)
        support = sum(confusion[r].values())
        p = tp / predicted if predicted else 0.0
        rc = tp / support if support else 0.0
        f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
        per_class[r] = {
            "precision": round(1000 * p),
            "recall": round(1000 * rc),
            "f1": round(1000 * f1),
            "support": support,
        }
    return per_class, confusion
