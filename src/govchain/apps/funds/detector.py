"""The unsupervised detector: an isolation forest (Liu, Ting and Zhou, 2008; scikit-learn's
``IsolationForest``) over the payment pattern of every disbursement.

Features of a disbursement (integers, all relative to its own milestone, so that projects of
any size compare, and none repeats what a rule already checks):

==========================  ===================================================================
``amount_share_milli``      its amount, in thousandths of the milestone's planned amount
``milestone_paid_milli``    the milestone's payments so far, this one included, in thousandths
                            of its planned amount (above 1000: the milestone is overpaid)
``days_since_previous``     days since the previous payment of the milestone to the same payee
                            (``GAP_CAP`` for the first; a repeat a few days later stands out)
==========================  ===================================================================

Two more were tried and left out: the payment's number within its milestone and its distance
from the milestone's due date. Each tree splits on a feature drawn at random, and a feature on
which the anomalies look ordinary only spends splits: with them, the repeated payments of the
demo scored 0.69-0.74 against 0.65 for the most isolated ordinary payment; without them,
0.72-0.78 against 0.62 (``bench/funds_bench.py`` measures other seeds and sizes).

The forest is fitted on all disbursements (no labels) with a fixed ``random_state``, so the
same data always gives the same scores. A disbursement is flagged when its anomaly score
``s = 2^(-E[h(x)] / c(n))`` is at least ``THRESHOLD_MILLI`` / 1000: isolated in fewer splits
than almost every other (the paper: scores near 1 are anomalies, scores well below 0.5 are
normal). The flag records the score, the threshold and the features, as integers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import numpy as np
from sklearn.ensemble import IsolationForest

from govchain.apps.funds.records import Disbursement, Finding, FundsData

FEATURES = ("amount_share_milli", "milestone_paid_milli", "days_since_previous")
"""Feature names, in the order of the feature vectors."""
GAP_CAP = 365
"""``days_since_previous`` of a first payment (and the most any gap counts)."""
RANDOM_STATE = 20261207
"""Seed of the forest: the same data gives the same scores."""
N_ESTIMATORS = 200
"""Trees of the forest."""
THRESHOLD_MILLI = 650
"""Anomaly score (thousandths) from which a disbursement is flagged."""
MAX_SAMPLES = 128
"""Sub-sample each tree is grown on: smaller than the forest's default (256) because a few
similar anomalies together mask each other in large samples (Liu et al. 2008, section 3)."""
MIN_SAMPLES = 20
"""Fewest disbursements the forest is fitted on (fewer: nothing is scored)."""


@dataclass(frozen=True, slots=True)
class Scored:
    """One disbursement's features and anomaly score."""

    disbursement: Disbursement
    """The disbursement."""
    features: tuple[int, ...]
    """Its features, in ``FEATURES`` order."""
    score_milli: int
    """Anomaly score ``s`` in thousandths (higher: more isolated)."""


def _day(text: str) -> int:
    return date.fromisoformat(text).toordinal()


def features(data: FundsData) -> list[tuple[Disbursement, tuple[int, ...]]]:
    """Return each disbursement (in commit order) with its feature vector."""
    plans = {(p.id, m.id): m.amount_fen for p in data.projects.values() for m in p.milestones}
    paid: dict[tuple[str, str], int] = defaultdict(int)
    last: dict[tuple[str, str, str], int] = {}
    out: list[tuple[Disbursement, tuple[int, ...]]] = []
    for d in data.disbursements:
        key = (d.project, d.milestone)
        planned = plans[key]
        paid[key] += d.amount_fen
        day = _day(d.paid_on)
        previous = last.get((*key, d.payee))
        gap = GAP_CAP if previous is None else min(GAP_CAP, abs(day - previous))
        last[(*key, d.payee)] = day
        vector = (d.amount_fen * 1000 // planned, paid[key] * 1000 // planned, gap)
        out.append((d, vector))
    return out


def score(data: FundsData) -> list[Scored]:
    """Fit the forest on every disbursement and return each one's score (empty when there are
    fewer than ``MIN_SAMPLES``)."""
    rows = features(data)
    if len(rows) < MIN_SAMPLES:
        return []
    x = np.array([v for _, v in rows], dtype=np.float64)
    forest = IsolationForest(
        n_estimators=N_ESTIMATORS,
        max_samples=min(MAX_SAMPLES, len(rows)),
        random_state=RANDOM_STATE,
    )
    forest.fit(x)
    # ``score_samples`` is the opposite of the paper's anomaly score s.
    scores = -forest.score_samples(x)
    return [Scored(d, v, round(float(s) * 1000)) for (d, v), s in zip(rows, scores, strict=True)]


def detector_findings(data: FundsData) -> list[Finding]:
    """Return a finding for every disbursement scored at least ``THRESHOLD_MILLI``."""
    out = []
    for s in score(data):
        if s.score_milli < THRESHOLD_MILLI:
            continue
        inputs: dict[str, object] = {
            "detector": "isolation_forest",
            "score_milli": s.score_milli,
            "threshold_milli": THRESHOLD_MILLI,
            "features": dict(zip(FEATURES, s.features, strict=True)),
            "n_estimators": N_ESTIMATORS,
            "max_samples": min(MAX_SAMPLES, len(data.disbursements)),
            "random_state": RANDOM_STATE,
            "samples": len(data.disbursements),
        }
        d = s.disbursement
        out.append(Finding("isolation_forest", d.id, (d.project,), inputs))
    return out
