"""The anomaly rules over indexed fund data: each returns the flags it would raise, each flag
with the figures that raised it (integers and texts: they go on-chain as they are).

- ``missing_evidence``: a disbursement for a milestone of which no evidence (photo,
  acceptance report, invoice) had been notarised before it, in ledger order.
- ``shared_payee``: a payee paid by two projects that are unrelated: different owner
  departments, different categories, and neither declares the other related. Contractors
  working for several projects of one department or one kind of work are ordinary.
- ``peer_outlier``: a project whose cost per unit of output is out of line with the projects
  of its category, by the modified z-score of Iglewicz and Hoaglin (1993),
  ``M = 0.6745 (x - median) / MAD``, flagged when ``|M| > 3.5`` (their recommended cut-off);
  medians and MADs are robust to the outliers they look for, unlike the mean and the standard
  deviation.

All arithmetic is on integers and exact fractions, so every node and every re-run computes the
same figures.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

from govchain.apps.funds.records import Finding, FundsData, Project

Z_CUTOFF_MILLI = 3500
"""``|M|`` above which a unit cost is out of line, in thousandths (Iglewicz & Hoaglin: 3.5)."""
MIN_PEERS = 5
"""Fewest projects of a category for a robust comparison (fewer: no peer flag)."""


def missing_evidence(data: FundsData) -> list[Finding]:
    """Flag every disbursement whose milestone had no notarised evidence before it."""
    first: dict[tuple[str, str], tuple[int, int, str]] = {}
    for ev in data.evidence:
        key = (ev.project, ev.milestone)
        if key not in first or (ev.height, ev.position) < first[key][:2]:
            first[key] = (ev.height, ev.position, ev.digest)
    out = []
    for d in data.disbursements:
        seen = first.get((d.project, d.milestone))
        if seen is not None and seen[:2] < (d.height, d.position):
            continue
        inputs: dict[str, object] = {
            "disbursement": d.id,
            "milestone": d.milestone,
            "amount_fen": d.amount_fen,
            "paid_on": d.paid_on,
            "paid_height": d.height,
            "paid_position": d.position,
            "first_evidence_height": seen[0] if seen is not None else None,
            "first_evidence_position": seen[1] if seen is not None else None,
            "first_evidence": seen[2] if seen is not None else None,
        }
        out.append(Finding("missing_evidence", d.id, (d.project,), inputs))
    return out


def related(a: Project, b: Project) -> bool:
    """Whether two projects belong together: same owner department, same category, or one
    declares the other related."""
    return (
        a.department == b.department
        or a.category == b.category
        or b.id in a.related
        or a.id in b.related
    )


def shared_payees(data: FundsData) -> list[Finding]:
    """Flag every payee paid by two unrelated projects, naming all the projects that paid it
    and the pairs that are unrelated."""
    paid: dict[str, dict[str, list[tuple[str, int]]]] = defaultdict(dict)
    for d in data.disbursements:
        paid[d.payee].setdefault(d.project, []).append((d.id, d.amount_fen))
    out = []
    for payee in sorted(paid):
        by_project = paid[payee]
        ids = sorted(by_project)
        pairs = [
            [a, b]
            for i, a in enumerate(ids)
            for b in ids[i + 1 :]
            if not related(data.projects[a], data.projects[b])
        ]
        if not pairs:
            continue
        projects = [
            {
                "project": p,
                "department": data.projects[p].department,
                "category": data.projects[p].category,
                "disbursements": [d for d, _ in by_project[p]],
                "amount_fen": sum(a for _, a in by_project[p]),
            }
            for p in ids
        ]
        inputs: dict[str, object] = {
            "payee": payee,
            "projects": projects,
            "unrelated_pairs": pairs[:50],
        }
        out.append(Finding("shared_payee", payee, tuple(ids[:20]), inputs))
    return out


def _median(values: list[Fraction]) -> Fraction:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def _rounded(x: Fraction) -> int:
    return int((2 * x.numerator + x.denominator) // (2 * x.denominator))


def peer_outliers(data: FundsData) -> list[Finding]:
    """Flag every project whose budget per unit of output has ``|M| > 3.5`` among the projects
    of its category (categories of fewer than ``MIN_PEERS`` projects are not compared)."""
    by_category: dict[str, list[Project]] = defaultdict(list)
    for p in data.projects.values():
        by_category[p.category].append(p)
    out = []
    for category in sorted(by_category):
        peers = sorted(by_category[category], key=lambda p: p.id)
        if len(peers) < MIN_PEERS:
            continue
        costs = [p.unit_cost_fen for p in peers]
        median = _median([Fraction(c) for c in costs])
        mad = _median([abs(c - median) for c in costs])
        if mad == 0:
            continue  # no spread: nothing is out of line with it
        for p in peers:
            z_milli = Fraction(6745, 10) * (p.unit_cost_fen - median) / mad
            if abs(z_milli) <= Z_CUTOFF_MILLI:
                continue
            inputs: dict[str, object] = {
                "category": category,
                "unit": p.unit,
                "unit_cost_fen": p.unit_cost_fen,
                "budget_fen": p.budget_fen,
                "quantity": p.quantity,
                "peer_median_fen": _rounded(median),
                "peer_mad_fen": _rounded(mad),
                "z_milli": _rounded(z_milli),
                "cutoff_milli": Z_CUTOFF_MILLI,
                "peers": [q.id for q in peers],
            }
            out.append(Finding("peer_outlier", p.id, (p.id,), inputs))
    return out


def rule_findings(data: FundsData) -> list[Finding]:
    """Return every rule's findings (not yet flagged ones and flagged ones alike)."""
    return [*missing_evidence(data), *shared_payees(data), *peer_outliers(data)]
