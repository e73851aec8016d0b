"""The plain keyword-overlap baseline the review is measured against.

Each entry's description (name, purpose, functions) becomes its set of words (rjieba, the
review's stop words removed); entries are ranked by the Jaccard index of their word set with the
application's. The recommendation takes the best-ranked entry whose overlap reaches a cut-off,
by the same status rules as the review (in use → reuse, in development → join, pending → merge),
and build otherwise. This is roughly what reading documents side by side with a keyword search
finds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from govchain.apps.projects import text
from govchain.apps.projects.review import (
    COMPARED_STATUSES,
    TARGET_STATUS,
    Candidate,
    Review,
)


class KeywordOverlap:
    """Ranks entries by the Jaccard index of their word sets."""

    def __init__(self, entries: Sequence[Mapping[str, Any]], cutoff: int = 300) -> None:
        self.cutoff = cutoff
        """Overlap (per mille) from which the best entry is taken as a duplicate."""
        self.entries = [e for e in entries if e.get("status") in COMPARED_STATUSES]
        self._words = [text.keywords(text.document(e)) for e in self.entries]

    def review(self, application: Mapping[str, Any], k: int = 10) -> Review:
        """Return the entries with the largest keyword overlap, and a recommendation."""
        words = text.keywords(text.document(application))
        own = str(application.get("id"))
        scored: list[Candidate] = []
        for entry, other in zip(self.entries, self._words, strict=True):
            if str(entry["id"]) == own or not (words & other):
                continue
            overlap = round(1000 * len(words & other) / len(words | other))
            scored.append(
                Candidate(
                    id=str(entry["id"]),
                    name=str(entry["name"]),
                    department=str(entry["department"]),
                    department_name=str(entry.get("department_name", "")),
                    status=str(entry["status"]),
                    score=overlap,
                    similarity=overlap,
                    coverage=overlap,
                    functions=(),
                    shared_resources=(),
                    department_relation="same"
                    if entry["department"] == application.get("department")
                    else "other",
                    budget_fen=int(entry.get("budget_fen", 0)),
                )
            )
        scored.sort(key=lambda c: (-c.score, c.id))
        top = tuple(scored[:k])
        for recommendation, status in TARGET_STATUS.items():
            fitting = [c for c in top if c.status == status and c.score >= self.cutoff]
            if fitting:
                return Review(own, recommendation, fitting[0].id, fitting[0].score, (), top)
        return Review(own, "build", None, 1000 - (top[0].score if top else 0), (), top)
