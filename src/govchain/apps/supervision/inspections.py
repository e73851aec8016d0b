"""The random inspection draw (双随机、一公开) as one pure function of the plan, the seed and
the committed population, so anyone recomputes it from the ledger alone.

The seed is the hash of the block at ``sealed_height + delay``: a block that did not exist when
the plan's population was sealed, so neither the planning department nor anybody else could pick
it. The draw then has no freedom left:

1. **Allocation.** The plan's ``targets`` are shared among the risk classes in proportion to
   ``size × weight`` (largest remainder, integer arithmetic; a class never gets more than its
   size): with weights 1/2/4 a low-risk enterprise is drawn about a quarter as often as a
   high-risk one (the risk-based part of the supervision).
2. **Order.** Within a class, members are ordered by ``SHA-256(seed | plan | uscc)``.
3. **Inspectors.** Each member in that order gets the ``per_target`` eligible inspectors of
   least load so far, ties broken by ``SHA-256(seed | plan | uscc | inspector)``; an inspector is
   not eligible for a member they inspected last time, whose registered address is in their own
   division, or with whom they declared a relation (``contract.conflict_of``). A member without
   enough eligible inspectors is passed over (recorded with the reasons) and the next one taken.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govchain.apps.supervision.contract import RISK_CLASSES, conflict_of

Member = Mapping[str, Any]
"""A population member: ``{uscc, division, industry, risk, last}``."""


@dataclass(frozen=True, slots=True)
class Draw:
    """The outcome of a draw."""

    targets: tuple[dict[str, Any], ...]
    """Drawn enterprises, in draw order: ``{uscc, risk, inspectors}``."""
    excluded: tuple[dict[str, Any], ...]
    """Members passed over for want of eligible inspectors: ``{uscc, reasons}``."""
    allocation: Mapping[str, int]
    """Targets allotted to each risk class."""

    def to_args(self) -> dict[str, Any]:
        """The ``targets`` and ``excluded`` arguments of the contract's ``draw``."""
        return {"targets": list(self.targets), "excluded": list(self.excluded)}


def allocate(targets: int, sizes: Mapping[str, int], weights: Mapping[str, int]) -> dict[str, int]:
    """Share ``targets`` among the risk classes in proportion to ``size × weight`` by the
    largest-remainder method, never beyond a class's size (what a full class cannot take goes
    to the others, again in proportion)."""
    quota = {c: 0 for c in RISK_CLASSES}
    left = min(targets, sum(sizes.get(c, 0) for c in RISK_CLASSES))
    while left > 0:
        open_ = [c for c in RISK_CLASSES if sizes.get(c, 0) > quota[c]]
        total = sum(sizes[c] * weights[c] for c in open_)
        shares = {c: left * sizes[c] * weights[c] // total for c in open_}
        rest = left - sum(shares.values())
        # Largest remainders first; ties in the fixed class order (high first: risk first).
        by_rest = sorted(
            open_,
            key=lambda c: (-(left * sizes[c] * weights[c] % total), -RISK_CLASSES.index(c)),
        )
        for c in by_rest[:rest]:
            shares[c] += 1
        for c in open_:
            give = min(shares[c], sizes[c] - quota[c])
            quota[c] += give
            left -= give
    return quota


def order_key(seed: bytes, plan_id: str, *parts: str) -> bytes:
    """The SHA-256 that orders members (and inspectors) in a draw."""
    return hashlib.sha256(
        b"|".join([seed, plan_id.encode(), *(p.encode() for p in parts)])
    ).digest()


def draw(plan: Mapping[str, Any], population: Sequence[Member], seed: bytes) -> Draw:
    """Return the draw of ``plan`` over its committed ``population`` with ``seed`` (the seed
    block's hash): a pure function, the same on every machine."""
    plan_id = str(plan["id"])
    sizes = {c: 0 for c in RISK_CLASSES}
    for m in population:
        sizes[m["risk"]] += 1
    quota = allocate(int(plan["targets"]), sizes, plan["weights"])
    ordered = sorted(population, key=lambda m: order_key(seed, plan_id, m["uscc"]))
    pool = list(plan["inspectors"])
    load = {ins["id"]: 0 for ins in pool}
    per = int(plan["per_target"])
    taken = {c: 0 for c in RISK_CLASSES}
    targets: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    for m in ordered:
        risk = m["risk"]
        if taken[risk] >= quota[risk]:
            continue
        reasons: dict[str, int] = {}
        eligible = []
        for ins in pool:
            why = conflict_of(ins, m)
            if why:
                reasons[why] = reasons.get(why, 0) + 1
            else:
                eligible.append(ins["id"])
        if len(eligible) < per:
            excluded.append({"uscc": m["uscc"], "reasons": dict(sorted(reasons.items()))})
            continue
        eligible.sort(key=lambda i: (load[i], order_key(seed, plan_id, m["uscc"], i)))
        chosen = eligible[:per]
        for i in chosen:
            load[i] += 1
        targets.append({"uscc": m["uscc"], "risk": risk, "inspectors": chosen})
        taken[risk] += 1
    return Draw(tuple(targets), tuple(excluded), quota)


def matches(recorded: Mapping[str, Any], computed: Draw) -> list[str]:
    """Return what differs between a recorded draw and a recomputed one (empty: they agree)."""
    problems = []
    got = computed.to_args()
    for name in ("targets", "excluded"):
        if list(recorded.get(name, [])) != got[name]:
            problems.append(f"{name} differ from the recomputed draw")
    return problems
