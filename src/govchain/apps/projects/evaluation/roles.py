"""Roles of the archetypes in the evaluation set, the entries each role asks for, and the
functions each entry gets.

Each archetype gets one role, drawn with the seed (near-miss pairs first: one side goes into the
registry, the other is asked for anew, so that shared words tempt a keyword matcher into reuse):

``reuse_join`` host
    every one of its three windows is in the registry (in use, in development, or both); most
    windows are asked for again by one application (a few by two, a few by none). An application
    on a window with a system in use is a *reuse*, else a *join*.
``merge`` host
    two or three applications ask for the same window (from different cities or departments),
    or two ask for overlapping windows; at most the windows they do not ask for are registered.
``build_overlapping``
    two windows are registered, one application asks for the third: it overlaps what exists,
    nothing covers it.
``build_fresh``
    no entry in the registry; one application.
``registry_only``
    its three windows are registered and nobody asks for them (distractors).

A registered entry is its window, maybe less one function; an application is its window, maybe
less one function and plus one more from the archetype. Relations are computed from the function
indices, never from text (``relation``); an archetype's draws are redrawn until every pair
involving an application has the relation its windows promise: ``same`` on one window,
``overlapping`` across two, so the labels have no borderline cases.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from govchain.apps.projects.evaluation.archetypes import Archetype, Wording, department_records
from govchain.apps.projects.evaluation.entries import WINDOWS, place, vary, window_functions
from govchain.errors import Conflict

SAME, OVERLAP_LOW, OVERLAP_HIGH, DISTINCT = 750, 300, 650, 250
"""Per-mille bounds of the relations (shared functions / functions of the larger entry)."""
COVERS = 700
"""Most of either entry another may cover and still be only overlapping, per mille."""
REUSE_WINDOWS, JOIN_WINDOWS, IDLE_WINDOWS = 44, 29, 11
"""Windows of the reuse/join hosts asked for again with a system in use, with only a project
in development, and not asked for (one window of each of the first two is asked for twice)."""
BOTH_STATUSES = 12
"""Of the reuse windows, those also with a project in development."""
MERGE_GROUPS = ("pair",) * 6 + ("triple",) * 4 + ("overlap",) * 3
"""Merge groups: two or three applications on one window, or two on overlapping ones."""
BUILD_OVERLAPPING, BUILD_FRESH = 24, 22
"""Archetypes with an overlapping-only application, and with one nobody has built."""
WindowPlan = tuple[tuple[str, ...], int]
"""Statuses registered on a window, and the number of applications asking for it."""
REDRAWS = 500
"""Draws of an archetype's function subsets before giving up on avoiding borderline pairs."""


def relation(a: Sequence[int], b: Sequence[int]) -> str:
    """Return ``same``, ``overlapping``, ``distinct`` or ``borderline`` for two function sets:
    with ``r`` = shared functions per mille of the larger, same if r >= 750, overlapping if
    300 <= r <= 650 and neither covers more than 700 of the other, distinct if r < 250."""
    shared = len(set(a) & set(b))
    r = shared * 1000 // max(len(a), len(b))
    if r >= SAME:
        return "same"
    if OVERLAP_LOW <= r <= OVERLAP_HIGH and shared * 1000 // min(len(a), len(b)) <= COVERS:
        return "overlapping"
    return "distinct" if r < DISTINCT else "borderline"


@dataclass(frozen=True, slots=True)
class Slot:
    """One entry an archetype's role asks for, before its functions are drawn."""

    window: int
    """Its window (0-2)."""
    status: str
    """``in_use``, ``in_development`` or ``pending``."""
    expected: str
    """The recommendation planned for an application ('' for a registered entry)."""
    department: str
    """Department code."""
    city: str
    """City ('' for the province)."""


def varied(arch: Archetype) -> bool:
    """Whether applications for ``arch`` can come from different departments or cities (a
    merge group needs them to)."""
    records = department_records()
    return len(arch.departments) > 1 or bool(records[arch.departments[0]].municipal_name)


def assign_roles(rng: random.Random, archetypes: Sequence[Archetype]) -> dict[str, str]:
    """Return archetype key -> role: near-miss pairs first, then the rest shuffled into the
    quotas (``registry_only`` takes what is left)."""
    quota = {
        "reuse_join": (REUSE_WINDOWS + JOIN_WINDOWS + IDLE_WINDOWS) // WINDOWS,
        "merge": len(MERGE_GROUPS),
        "build_overlapping": BUILD_OVERLAPPING,
        "build_fresh": BUILD_FRESH,
    }
    needed = sum(quota.values())
    if len(archetypes) < needed:
        raise Conflict(f"{len(archetypes)} archetypes, the set needs {needed}")
    roles: dict[str, str] = {}

    def take(key: str, choices: Sequence[str]) -> bool:
        for role in choices:
            if quota[role]:
                quota[role] -= 1
                roles[key] = role
                return True
        return False

    by_key = {a.key: a for a in archetypes}
    known = set(by_key)
    pairs = sorted({tuple(sorted((a.key, a.near_miss))) for a in archetypes if a.near_miss})
    rng.shuffle(pairs)
    for pair in pairs:
        if any(k in roles or k not in known for k in pair):
            continue
        registered, asked = pair if rng.randrange(2) else pair[::-1]
        if take(registered, ("reuse_join", "build_overlapping")):
            take(asked, ("build_fresh", "merge") if varied(by_key[asked]) else ("build_fresh",))
    rest = [a for a in archetypes if a.key not in roles]
    rng.shuffle(rest)
    for arch in rest:
        choices = ("reuse_join", "merge", "build_overlapping", "build_fresh")
        if not take(arch.key, choices if varied(arch) else [c for c in choices if c != "merge"]):
            roles[arch.key] = "registry_only"
    return roles


def _status(rng: random.Random) -> str:
    """A registered status: in use three times in five."""
    return "in_use" if rng.randrange(5) < 3 else "in_development"


class Planner:
    """Places the slots of each role (departments and cities)."""

    def __init__(self, rng: random.Random, wording: Wording) -> None:
        self.rng = rng
        self.wording = wording

    def slot(
        self,
        arch: Archetype,
        window: int,
        status: str,
        expected: str = "",
        avoid: Sequence[Slot] = (),
    ) -> Slot:
        """A slot run by someone other than the runners of ``avoid`` where possible."""
        taken = {(s.department, s.city) for s in avoid}
        applicant = status == "pending"
        department, city = place(arch, self.rng, self.wording, applicant=applicant)
        for _ in range(30):
            if (department, city) not in taken:
                break
            department, city = place(arch, self.rng, self.wording, applicant=applicant)
        return Slot(window, status, expected, department, city)

    def registered(self, arch: Archetype, window: int, statuses: Sequence[str]) -> list[Slot]:
        """Return one registered slot on ``window`` per status, each run by someone else."""
        out: list[Slot] = []
        for status in statuses:
            out.append(self.slot(arch, window, status, avoid=out))
        return out

    def asking(
        self, arch: Archetype, window: int, count: int, expected: str, others: list[Slot]
    ) -> list[Slot]:
        """Return ``count`` applications for ``window`` expecting ``expected``, from
        departments or cities other than those of ``others`` and of each other."""
        out: list[Slot] = []
        for _ in range(count):
            out.append(self.slot(arch, window, "pending", expected, avoid=others + out))
        return out


def window_plans(rng: random.Random) -> list[WindowPlan]:
    """Return (registered statuses, applications) of every window of the reuse/join hosts, in
    the order they are taken (from the end)."""
    plans: list[WindowPlan] = []
    plans += [(("in_use", "in_development"), 1)] * BOTH_STATUSES
    plans += [(("in_use",), 1)] * (REUSE_WINDOWS - BOTH_STATUSES - 1) + [(("in_use",), 2)]
    plans += [(("in_development",), 1)] * (JOIN_WINDOWS - 1) + [(("in_development",), 2)]
    plans += [((_status(rng),), 0) for _ in range(IDLE_WINDOWS)]
    rng.shuffle(plans)
    return plans


def plan_slots(
    arch: Archetype,
    role: str,
    planner: Planner,
    windows_left: list[WindowPlan],
    groups_left: list[str],
) -> list[Slot]:
    """Return the slots of ``arch`` in ``role``; a reuse/join host takes its windows' plans
    from ``windows_left``, a merge host its kind of group from ``groups_left``."""
    rng = planner.rng
    slots: list[Slot] = []
    if role == "reuse_join":
        for w in range(WINDOWS):
            statuses, count = windows_left.pop()
            here = planner.registered(arch, w, statuses)
            expected = "reuse" if "in_use" in statuses else "join"
            slots += here + planner.asking(arch, w, count, expected, here)
    elif role == "merge":
        kind = groups_left.pop()
        first = rng.randrange(WINDOWS)
        asked = [first] * {"pair": 2, "triple": 3}.get(kind, 1)
        if kind == "overlap":
            asked.append((first + 1) % WINDOWS)
        for w in range(WINDOWS):
            if w not in asked and rng.randrange(2):
                slots += planner.registered(arch, w, (_status(rng),))
        group: list[Slot] = []
        for w in asked:
            group += planner.asking(arch, w, 1, "merge", group)
        slots += group
    elif role == "build_overlapping":
        asked_window = rng.randrange(WINDOWS)
        for w in range(WINDOWS):
            if w != asked_window:
                status = _status(rng)
                both = rng.randrange(4) == 0
                other = "in_development" if status == "in_use" else "in_use"
                slots += planner.registered(arch, w, (status, other) if both else (status,))
        slots += planner.asking(arch, asked_window, 1, "build", slots)
    elif role == "build_fresh":
        slots += planner.asking(arch, rng.randrange(WINDOWS), 1, "build", [])
    else:
        for w in range(WINDOWS):
            slots += planner.registered(arch, w, (_status(rng),))
    return slots


def _fits(kind: str, same_window: bool) -> bool:
    """Whether a pair's relation is the one its windows promise (same on one window,
    overlapping across two)."""
    return kind == ("same" if same_window else "overlapping")


def draw_functions(
    arch: Archetype, slots: Sequence[Slot], rng: random.Random
) -> list[tuple[int, ...]]:
    """Return function subsets for ``slots`` where every pair involving an application has
    the relation its windows promise (so no borderline one either)."""
    order = list(range(len(arch.functions)))
    rng.shuffle(order)
    for _ in range(REDRAWS):
        sets = [
            vary(
                window_functions(order, s.window),
                len(order),
                rng,
                drop=True,
                add=s.status == "pending",
            )
            for s in slots
        ]
        if all(
            _fits(relation(sets[i], sets[j]), slots[i].window == slots[j].window)
            for i in range(len(slots))
            for j in range(i + 1, len(slots))
            if "pending" in (slots[i].status, slots[j].status)
        ):
            return sets
    raise Conflict(f"no draw of {arch.key} without borderline relations")
