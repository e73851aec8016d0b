"""Synthetic supervision facts for the demo: 24 months of tax, social insurance, complaints,
penalties, the abnormal-operation list and inspections of 10,000 enterprises, with known
anomalies injected, drawn from ``random.Random(seed)`` (one seed, one data set).

Injected anomalies (what the indicators and risk scores must find):

- ``DROP_INDUSTRY`` (GB/T 4754 division 52, retail): every enterprise's tax of the last month
  is 40 % lower than usual: the industry's month-over-month change is about -40 %.
- ``risky``: 1.5 % of the enterprises collapse over the last three months (tax down 75 %,
  insured staff halved, two to four complaints a month, on the abnormal-operation list in the
  last month): each must score high.

Everything else is noise around each enterprise's own level. Money is integer fen.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from govchain.apps.supervision.facts import FactRow, period_add, periods_between
from govchain.procedures.divisions import HANGZHOU_DIVISIONS
from govchain.procedures.industries import load_industries
from govchain.procedures.uscc import issue_uscc

SEED = 20261207
"""Seed of the demo data set."""
COUNT = 10_000
"""Enterprises of the demo data set."""
FIRST, LAST = "2024-12", "2026-11"
"""The 24 months of facts."""
SERIAL_BASE = 7_000_000
"""Serials of synthetic codes (clear of the registry's own and the enterprise demo's)."""
DROP_INDUSTRY = "52"
"""Industry whose tax drops in the last month."""
DROP_PERMILLE = 600
"""What the dropping industry pays in the last month, per mille of its usual."""
RISKY_PERMILLE = 15
"""Enterprises that collapse, per mille."""
DIVISIONS = ("13", "18", "26", "36", "47", "48", "51", "52", "54", "61", "62", "65", "70", "72")
"""Industries (GB/T 4754 divisions) of synthetic enterprises."""
PENALTY_DEPTS = ("market", "tax", "fire", "health")
"""Departments that impose the demo's penalties (those of the network report them)."""


@dataclass(frozen=True, slots=True)
class Profile:
    """One enterprise of the data set."""

    uscc: str
    """Its code."""
    industry: str
    """GB/T 4754 class code (four digits)."""
    division: str
    """GB/T 2260 code of its registered address."""
    tax_fen: int
    """Its usual monthly tax, in fen."""
    staff: int
    """Its usual insured staff."""


@dataclass(frozen=True, slots=True)
class Dataset:
    """Facts by ``(kind, period)``, and the anomalies injected into them."""

    profiles: tuple[Profile, ...]
    """The enterprises."""
    rows: dict[tuple[str, str], list[list[str | int]]]
    """Rows ``[uscc, industry, division, value]`` of each kind and month."""
    risky: tuple[str, ...]
    """Enterprises that collapse in the last three months (sorted)."""
    drop_industry: str
    """Industry whose tax drops in the last month."""
    last: str
    """The last month."""

    def fact_rows(self) -> list[FactRow]:
        """Every fact as a ``FactBook`` row (batches named like the demo's)."""
        out: list[FactRow] = []
        for (kind, period), rows in sorted(self.rows.items()):
            for i in range(0, len(rows), 500):
                batch = batch_id(kind, period, i // 500)
                out.extend(
                    (batch, kind, period, str(r[0]), str(r[1]), str(r[2]), int(r[3]))
                    for r in rows[i : i + 500]
                )
        return out


def batch_id(kind: str, period: str, n: int) -> str:
    """The demo's name of the ``n``-th batch of a kind and month."""
    return f"demo-{kind}-{period}-{n:03d}"


EIGHTHS = (1000, 1091, 1189, 1297, 1414, 1542, 1682, 1834)
"""2^(k/8) per mille, k = 0..7: the steps of a log-uniform draw in integers."""


def _log_uniform(rng: random.Random, lo: int, hi: int) -> int:
    """An integer from ``lo`` to ``hi`` whose logarithm is about uniform (in eighths of an
    octave, integer arithmetic only)."""
    octaves = (hi // lo).bit_length() - 1
    j = rng.randrange(octaves * 8 + 1)
    return min(hi, lo * (1 << (j // 8)) * EIGHTHS[j % 8] // 1000)


def profiles(n: int, seed: int = SEED, known: Sequence[tuple[str, str, str]] = ()) -> list[Profile]:
    """``n`` enterprises: first the ``known`` ones ``(uscc, industry, division)`` (e.g. the
    registry's), then synthetic ones."""
    rng = random.Random(seed)
    table = load_industries()
    # The shipped table lists classes of some divisions only: the others use the division code.
    classes = {d: [c for c in table if len(c) == 4 and c[:2] == d] or [d] for d in DIVISIONS}
    divisions = sorted(HANGZHOU_DIVISIONS.values())
    out = []
    for i in range(n):
        if i < len(known):
            uscc, industry, division = known[i]
        else:
            division = rng.choice(divisions)
            industry = rng.choice(classes[rng.choice(DIVISIONS)])
            uscc = issue_uscc(division, SERIAL_BASE + i)
        tax = _log_uniform(rng, 100_000, 200_000_000)
        staff = _log_uniform(rng, 3, 800)
        out.append(Profile(uscc, industry, division, tax, staff))
    return out


def generate(
    n: int = COUNT, seed: int = SEED, known: Sequence[tuple[str, str, str]] = ()
) -> Dataset:
    """The data set of ``n`` enterprises (see the module docstring)."""
    people = profiles(n, seed, known)
    rng = random.Random(seed + 1)
    periods = periods_between(FIRST, LAST)
    tail = {period_add(LAST, -i) for i in range(3)}
    risky = sorted(p.uscc for p in people if rng.randrange(1000) < RISKY_PERMILLE)
    risky_set = dict.fromkeys(risky)
    rows: dict[tuple[str, str], list[list[str | int]]] = {}

    def put(kind: str, period: str, p: Profile, value: int) -> None:
        rows.setdefault((kind, period), []).append([p.uscc, p.industry, p.division, value])

    listed = {p.uscc: rng.choice(periods) for p in people if rng.randrange(1000) < 5}
    for p in people:
        bad = p.uscc in risky_set
        for period in periods:
            tax = p.tax_fen * rng.randrange(900, 1101) // 1000
            moved = p.staff > 5 and rng.randrange(10) == 0
            staff = max(1, p.staff + rng.randrange(-2, 3)) if moved else p.staff
            complaints = rng.randrange(1, 3) if rng.randrange(1000) < 30 else 0
            if bad and period in tail:
                tax = tax * 250 // 1000
                staff = max(1, staff // 2)
                complaints = rng.randrange(2, 5)
            if period == LAST and p.industry[:2] == DROP_INDUSTRY:
                tax = tax * DROP_PERMILLE // 1000
            put("tax", period, p, tax)
            put("social", period, p, staff)
            if complaints:
                put("complaint", period, p, complaints)
            if rng.randrange(1000) < 3:
                put("penalty", period, p, rng.randrange(100_000, 5_000_001))
            if rng.randrange(1000) < 10:
                r = rng.randrange(100)
                put("inspection", period, p, 0 if r < 80 else 1 if r < 95 else 2)
            if listed.get(p.uscc) == period or (bad and period == LAST):
                put("abnormal", period, p, 1)
    for key in rows:
        rows[key].sort()
    return Dataset(tuple(people), rows, tuple(risky), DROP_INDUSTRY, LAST)
