"""The review of an IT project application: the entries most like it, with the evidence, and a
recommendation to reuse, join, merge or build.

Two passes (docs/duplication-review.md has the measurements behind each choice):

1. **Shortlist** by whole-text similarity: the cosine of TF-IDF vectors of words and character
   bigrams (``text.features``) between the application and every entry of the registry (one
   sparse matrix product, ~1 ms for 10,000 entries).
2. **Function-level alignment** with each shortlisted entry: the cosine of every pair of
   function sentences (application x entry), then the one-to-one assignment that maximises the
   total (the Hungarian method, ``scipy.optimize.linear_sum_assignment``); a pair at or above
   ``Thresholds.match`` is a matching function. *Coverage* is the share of the application's
   functions that match one of the entry's.

An entry's score mixes the whole-text similarity, the matched functions, the data resources
both use or produce, and whether the departments are the same or related. The recommendation
follows from coverage and status, in the order of the issue: an in-use system covering the
application → reuse; a project in development covering it → join; another pending application
covering or overlapping it → merge; otherwise build (on the common platform). Every figure that
leaves this module is an integer per mille, so a review can be recorded on-chain as is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources as package_files
from typing import Any

from govchain.apps.projects import text

RECOMMENDATIONS = ("reuse", "join", "merge", "build")
"""The four recommendations, in order of preference."""
TARGET_STATUS = {"reuse": "in_use", "join": "in_development", "merge": "pending"}
"""Status an entry must have to be the target of a recommendation."""
COMPARED_STATUSES = frozenset({"in_use", "in_development", "pending"})
"""Entries a review compares with (retired systems and decided applications are history)."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The review's cut-offs, per mille (tuned on the evaluation set's tuning half)."""

    match: int = 300
    """Function-sentence similarity at which two functions count as the same."""
    covers: int = 575
    """Score at which an entry covers the application (reuse, join)."""
    overlaps: int = 350
    """Score at which another pending application overlaps it enough to merge."""
    shortlist: int = 40
    """Entries aligned function by function after the whole-text pass."""


@dataclass(frozen=True, slots=True)
class FunctionMatch:
    """One of the application's functions matched to one of an entry's."""

    function: int
    """Index of the application's function."""
    matches: int
    """Index of the entry's function it matches."""
    score: int
    """Similarity of the two sentences, per mille."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """An entry like the application, with the evidence."""

    id: str
    """Entry id."""
    name: str
    """Entry name."""
    department: str
    """Department code of the entry."""
    department_name: str
    """Department name of the entry."""
    status: str
    """``in_use``, ``in_development`` or ``pending``."""
    score: int
    """Overall likeness, per mille (the ranking key)."""
    similarity: int
    """Whole-text similarity, per mille."""
    coverage: int
    """Share of the application's functions that match one of the entry's, per mille."""
    functions: tuple[FunctionMatch, ...]
    """The matching functions."""
    shared_resources: tuple[str, ...]
    """Data resources both use or produce."""
    department_relation: str
    """``same``, ``related`` (same sector) or ``other``."""
    budget_fen: int
    """The entry's budget in fen."""

    def to_json(self) -> dict[str, Any]:
        """Return the candidate as JSON (integers only)."""
        return {
            "id": self.id,
            "name": self.name,
            "department": self.department,
            "department_name": self.department_name,
            "status": self.status,
            "score": self.score,
            "similarity": self.similarity,
            "coverage": self.coverage,
            "functions": [
                {"function": m.function, "matches": m.matches, "score": m.score}
                for m in self.functions
            ],
            "shared_resources": list(self.shared_resources),
            "department_relation": self.department_relation,
            "budget_fen": self.budget_fen,
        }


@dataclass(frozen=True, slots=True)
class Review:
    """The review of one application."""

    application: str
    """Id of the application reviewed."""
    recommendation: str
    """One of ``RECOMMENDATIONS``."""
    target: str | None
    """The entry to reuse, join or merge with (``None`` for build)."""
    confidence: int
    """How clear-cut the recommendation is, per mille (500: on a threshold)."""
    reasons: tuple[str, ...]
    """Why, in sentences a reviewer reads."""
    candidates: tuple[Candidate, ...]
    """The most similar entries, best first."""

    def to_json(self) -> dict[str, Any]:
        """Return the review as JSON (integers only: it can be recorded on-chain)."""
        return {
            "application": self.application,
            "recommendation": self.recommendation,
            "target": self.target,
            "confidence": self.confidence,
            "reasons": list(self.reasons),
            "candidates": [c.to_json() for c in self.candidates],
        }


@dataclass(frozen=True, slots=True)
class MergePair:
    """Two pending applications that ask for the same or overlapping things."""

    first: str
    """Id of one application (the smaller id)."""
    second: str
    """Id of the other."""
    score: int
    """Likeness, per mille, as a review scores a candidate."""
    similarity: int
    """Whole-text similarity, per mille."""
    coverage: int
    """Share of the shorter function list matched in the other, per mille."""

    def to_json(self) -> dict[str, Any]:
        """Return the pair as JSON."""
        return {
            "first": self.first,
            "second": self.second,
            "score": self.score,
            "similarity": self.similarity,
            "coverage": self.coverage,
        }


def load_sectors() -> dict[str, str]:
    """Return department code -> sector from the shipped ``data/departments.json``."""
    path = package_files.files("govchain.apps.projects").joinpath("data/departments.json")
    doc = json.loads(path.read_text("utf-8"))
    return {str(d["code"]): str(d["sector"]) for d in doc["departments"]}


def _permille(x: float) -> int:
    return max(0, min(1000, round(x * 1000)))


def _wan(fen: int) -> str:
    """Format fen as 万元 (ten thousand yuan) with two decimals, in integer arithmetic."""
    whole, rest = divmod(fen, 1_000_000)
    return f"{whole}.{rest // 10_000:02d} 万元"


WEIGHTS = {
    "coverage": 0.45,
    "matched": 0.25,
    "similarity": 0.25,
    "resources": 0.03,
    "department": 0.02,
}
"""How an entry's score mixes the evidence: the share of the application's functions matched,
the same weighted by how closely each matches, the whole-text similarity, the shared data
resources (Jaccard) and the departments (same 1, related 0.5). The first three weights are
those of a logistic regression telling ``same`` from other relations on the tuning half,
rescaled to sum to 0.95 (docs/duplication-review.md); resources and departments are kept small
because a department's different systems share both."""


def _fit(vectors: Any, docs: list[Any]) -> Any:
    """Fit ``vectors`` on ``docs`` and return their matrix. An empty registry (a new node) has
    no word at all, which the vectoriser refuses: it is fitted on one placeholder word instead,
    whose row is dropped, so every review then finds nothing and recommends build."""
    if any(docs):
        return vectors.fit_transform(docs).tocsr()
    return vectors.fit_transform([*docs, ("\0",)]).tocsr()[: len(docs)]


class Reviewer:
    """Reviews applications against a registry (built once, then ~ms per review)."""

    def __init__(
        self,
        entries: Sequence[Mapping[str, Any]],
        sectors: Mapping[str, str] | None = None,
        thresholds: Thresholds | None = None,
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.thresholds = thresholds or Thresholds()
        self._sectors = dict(load_sectors() if sectors is None else sectors)
        self.entries = [e for e in entries if e.get("status") in COMPARED_STATUSES]
        self._index = {str(e["id"]): i for i, e in enumerate(self.entries)}
        cut = [text.entry_features(e) for e in self.entries]
        self._doc_vectors = TfidfVectorizer(analyzer=text.given, sublinear_tf=True)
        self._docs = _fit(self._doc_vectors, [w for w, _ in cut])
        sentences: list[tuple[str, ...]] = []
        self._offsets = [0]
        for _whole, functions in cut:
            sentences.extend(functions)
            self._offsets.append(len(sentences))
        self._fn_vectors = TfidfVectorizer(analyzer=text.given, sublinear_tf=True)
        self._functions = _fit(self._fn_vectors, sentences)
        self._resources = [text.resources(e) for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def relation(self, a: str, b: str) -> str:
        """Return ``same``, ``related`` (same sector) or ``other`` for two departments."""
        if a == b:
            return "same"
        sa, sb = self._sectors.get(a), self._sectors.get(b)
        return "related" if sa is not None and sa == sb else "other"

    def review(self, application: Mapping[str, Any], k: int = 10) -> Review:
        """Return the review of ``application`` (an entry; itself excluded if registered)."""
        import numpy as np

        own = self._index.get(str(application.get("id")))
        whole, functions = text.entry_features(application)
        sims = np.asarray((self._docs @ self._doc_vectors.transform([whole]).T).todense()).ravel()
        if own is not None:
            sims[own] = -1.0
        n = min(self.thresholds.shortlist, len(self.entries) - (own is not None))
        if n <= 0:
            return self._recommend(application, [])
        shortlist = np.argpartition(-sims, n - 1)[:n] if n < len(sims) else np.arange(len(sims))
        queries = self._fn_vectors.transform(functions)
        found = [
            self._candidate(application, int(i), float(sims[i]), queries)
            for i in shortlist
            if sims[i] > 0
        ]
        found.sort(key=lambda c: (-c.score, -c.coverage, c.id))
        return self._recommend(application, found[:k])

    def _align(self, queries: Any, functions: Any) -> list[FunctionMatch]:
        """Return the one-to-one matching functions of the application (``queries``, one
        vector per function) and an entry (``functions``, likewise)."""
        import numpy as np
        from scipy.optimize import linear_sum_assignment

        scores = np.asarray((queries @ functions.T).todense())
        rows, cols = linear_sum_assignment(scores, maximize=True)
        matched = [
            FunctionMatch(int(r), int(c), _permille(float(scores[r, c])))
            for r, c in zip(rows, cols, strict=True)
            if scores[r, c] * 1000 >= self.thresholds.match
        ]
        return sorted(matched, key=lambda m: m.function)

    def _candidate(
        self, application: Mapping[str, Any], index: int, similarity: float, queries: Any
    ) -> Candidate:
        lo, hi = self._offsets[index], self._offsets[index + 1]
        return self._compare(
            application,
            queries,
            self.entries[index],
            self._functions[lo:hi],
            similarity,
            self._resources[index],
        )

    def _compare(
        self,
        application: Mapping[str, Any],
        queries: Any,
        entry: Mapping[str, Any],
        functions: Any,
        similarity: float,
        resources: frozenset[str],
    ) -> Candidate:
        """Return ``entry`` as a candidate for ``application``, with the evidence."""
        matches = self._align(queries, functions)
        count = max(1, len(application["functions"]))
        coverage = len(matches) / count
        soft = sum(m.score for m in matches) / 1000 / count
        own = text.resources(application)
        shared = sorted(own & resources)
        union = len(own | resources) or 1
        relation = self.relation(str(application.get("department", "")), str(entry["department"]))
        dept = {"same": 1.0, "related": 0.5, "other": 0.0}[relation]
        score = (
            WEIGHTS["coverage"] * coverage
            + WEIGHTS["matched"] * soft
            + WEIGHTS["similarity"] * similarity
            + WEIGHTS["resources"] * len(shared) / union
            + WEIGHTS["department"] * dept
        )
        return Candidate(
            id=str(entry["id"]),
            name=str(entry["name"]),
            department=str(entry["department"]),
            department_name=str(entry.get("department_name", entry["department"])),
            status=str(entry["status"]),
            score=_permille(score),
            similarity=_permille(similarity),
            coverage=_permille(coverage),
            functions=tuple(matches),
            shared_resources=tuple(shared),
            department_relation=relation,
            budget_fen=int(entry.get("budget_fen", 0)),
        )

    def _recommend(self, application: Mapping[str, Any], found: list[Candidate]) -> Review:
        t = self.thresholds
        app_id = str(application.get("id", ""))
        count = len(application["functions"])
        for recommendation in ("reuse", "join", "merge"):
            status = TARGET_STATUS[recommendation]
            needed = t.overlaps if recommendation == "merge" else t.covers
            fitting = [c for c in found if c.status == status and c.score >= needed]
            if fitting:
                best = max(fitting, key=lambda c: (c.score, c.coverage))
                margin = (best.score - needed) / max(1, 1000 - needed)
                reasons = [_reason(recommendation, best, count), *_evidence(application, best)]
                return Review(
                    app_id,
                    recommendation,
                    best.id,
                    _permille(0.5 + 0.5 * margin),
                    tuple(reasons),
                    tuple(found),
                )
        # Build: how far the nearest entry of each kind stays below the cut-off it would need.
        margins = [
            (
                (t.overlaps if c.status == "pending" else t.covers) - c.score,
                t.overlaps if c.status == "pending" else t.covers,
            )
            for c in found
        ]
        margin = min((gap / need for gap, need in margins), default=1.0)
        reasons = [_build_reason(found, count)]
        if found:
            reasons.extend(_evidence(application, found[0]))
        return Review(
            app_id, "build", None, _permille(0.5 + 0.5 * margin), tuple(reasons), tuple(found)
        )

    def merge_candidates(
        self, applications: Sequence[Mapping[str, Any]] | None = None, min_score: int = 0
    ) -> list[MergePair]:
        """Return the pairs of pending applications (those of the registry by default) that
        ask for the same or overlapping things: a score of at least ``min_score`` per mille
        (default: the ``overlaps`` threshold) with the one that has fewer functions taken as
        the application, best first."""
        import numpy as np

        needed = min_score or self.thresholds.overlaps
        apps = list(applications) if applications is not None else self.pending()
        if len(apps) < 2:
            return []
        cut = [text.entry_features(a) for a in apps]
        docs = self._doc_vectors.transform([w for w, _ in cut])
        sims = np.asarray((docs @ docs.T).todense())
        vectors = [self._fn_vectors.transform(f) for _, f in cut]
        resources = [text.resources(a) for a in apps]
        pairs: list[MergePair] = []
        # Only pairs whose whole texts are alike enough can score as overlapping: this cut
        # (no labelled merge pair of the evaluation set is below it) spares most of the n^2/2
        # alignments.
        first, second = np.nonzero(np.triu(sims, 1) >= MERGE_SHORTLIST_SIMILARITY)
        for i, j in zip(first.tolist(), second.tolist(), strict=True):
            a, b = (i, j) if len(apps[i]["functions"]) <= len(apps[j]["functions"]) else (j, i)
            found = self._compare(
                apps[a], vectors[a], apps[b], vectors[b], float(sims[i, j]), resources[b]
            )
            if found.score >= needed:
                x, y = sorted((str(apps[i]["id"]), str(apps[j]["id"])))
                pairs.append(MergePair(x, y, found.score, found.similarity, found.coverage))
        pairs.sort(key=lambda p: (-p.score, -p.coverage, p.first, p.second))
        return pairs

    def pending(self) -> list[Mapping[str, Any]]:
        """Return the registry's pending applications."""
        return [e for e in self.entries if e["status"] == "pending"]


MERGE_SHORTLIST_SIMILARITY = 0.2
"""Whole-text similarity below which two applications are not aligned function by function."""


SHOWN_RESOURCES = 10
"""Shared data resources a reason names (the evidence lists them all)."""
_KIND = {"in_use": "在用系统", "in_development": "在建项目", "pending": "待审申请"}


def _name(c: Candidate) -> str:
    return f"{_KIND.get(c.status, '条目')}「{c.name}」（{c.department_name}，{c.id}）"


def _reason(recommendation: str, c: Candidate, count: int) -> str:
    covered = f"覆盖本申请 {count} 项功能中的 {len(c.functions)} 项（{c.coverage // 10}%）"
    if recommendation == "reuse":
        return f"{_name(c)}{covered}，建议直接复用或少量改造后复用。"
    if recommendation == "join":
        return f"{_name(c)}{covered}，建议并入该在建项目，不再单独立项。"
    return (
        f"{_name(c)}与本申请有 {len(c.functions)} 项功能相同（{c.coverage // 10}%），建议合并申报。"
    )


def _build_reason(found: list[Candidate], count: int) -> str:
    if not found:
        return "登记库中没有与本申请相似的系统、项目或申请，建议在公共平台上单独建设。"
    best = max(found, key=lambda c: (c.score, c.coverage))
    return (
        f"没有系统或项目覆盖本申请的主要功能：最接近的{_name(best)}只覆盖 {count} 项功能中的 "
        f"{len(best.functions)} 项（{best.coverage // 10}%），建议在公共平台上单独建设，"
        "复用已有的数据资源和共性组件。"
    )


def _evidence(application: Mapping[str, Any], c: Candidate) -> list[str]:
    out: list[str] = []
    if c.shared_resources:
        shown = "、".join(c.shared_resources[:SHOWN_RESOURCES])
        more = len(c.shared_resources) - SHOWN_RESOURCES
        total = f" 等 {len(c.shared_resources)} 项" if more > 0 else ""
        out.append(f"共同使用或产生的数据资源：{shown}{total}。")
    relation = {"same": "同一部门", "related": "同一领域的相关部门", "other": "不同领域的部门"}
    out.append(f"{c.department_name}与申请单位属于{relation[c.department_relation]}。")
    budget = int(application.get("budget_fen", 0))
    out.append(f"本申请预算 {_wan(budget)}；「{c.name}」预算 {_wan(c.budget_fen)}。")
    return out
