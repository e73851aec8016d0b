"""Registry entries drawn from archetypes: which functions, who runs it, and the worded entry.

A *draft* says what an entry is (an archetype, the indices of the functions it has, its status,
department and city); ``write_entry`` words it (``wording``) and fills in the rest: dates,
budget, user count, platform and data resources. Function subsets come from *windows*: the
pool of an archetype (12 to 16 functions, shuffled once per archetype) is covered by three
circular windows of about 62 % of the pool, any two of which share 40-56 % of their functions.
An entry built on one window is thus *overlapping* with entries built on the other two, and
*the same* as entries built on its own window (give or take a function).

``synthetic_registry`` and ``synthetic_applications`` draw many entries this way for the
benchmarks, without labels.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from govchain.apps.projects.evaluation.archetypes import (
    Archetype,
    Wording,
    department_records,
    load_archetypes,
    load_wording,
    resource_names,
)
from govchain.apps.projects.evaluation.wording import (
    render_function,
    render_name,
    render_purpose,
)
from govchain.errors import SchemaViolation

WINDOWS = 3
"""Windows per archetype."""
WAN_FEN = 1_000_000
"""Fen per 万元."""
BUDGET_WAN = (50, 5000)
"""Bounds of any budget, in 万元."""
IN_USE_SINCE, IN_USE_UNTIL = dt.date(2015, 1, 1), dt.date(2025, 6, 30)
"""Go-live dates of systems in use."""
STARTED_SINCE, STARTED_UNTIL = dt.date(2025, 1, 1), dt.date(2026, 9, 30)
"""Start dates of projects in development."""
APPLIED_SINCE, APPLIED_UNTIL = dt.date(2026, 6, 1), dt.date(2026, 11, 30)
"""Dates of the pending applications (for the 2027 budget year)."""
APPLICATION_YEAR = 2027
"""Budget year in application ids (APP-2027-0041)."""
REUSE_TRIES = 12
"""Rewordings tried for a function or name before one unlike the others is given up on."""
PREFIXES = {"in_use": "SYS", "in_development": "PRJ"}
"""Id prefix by status of registered entries."""


@dataclass(frozen=True, slots=True)
class Draft:
    """An entry before it is worded."""

    archetype: Archetype
    """Its kind of system."""
    functions: tuple[int, ...]
    """Indices of the archetype's functions it has, in the entry's order."""
    status: str
    """``in_use``, ``in_development`` or ``pending``."""
    department: str
    """Department code."""
    city: str
    """City running it ('' for the province)."""


def windows(size: int) -> tuple[tuple[int, ...], ...]:
    """Return the three windows over positions ``0..size-1``: circular runs of
    ``ceil(0.62 size)`` positions starting at 0, ``(size+1)//3`` and ``(2 size+1)//3``."""
    width = (62 * size + 99) // 100
    starts = [(i * size + 1) // 3 if i else 0 for i in range(WINDOWS)]
    return tuple(tuple((s + k) % size for k in range(width)) for s in starts)


def window_functions(order: Sequence[int], window: int) -> tuple[int, ...]:
    """Return the function indices of ``window`` (0-2) of an archetype shuffled as ``order``."""
    return tuple(order[p] for p in windows(len(order))[window])


def vary(
    base: Sequence[int], pool: int, rng: random.Random, *, drop: bool, add: bool
) -> tuple[int, ...]:
    """Return ``base`` with maybe one function dropped and one added from the rest of the
    pool, shuffled (an entry lists its functions in its own order)."""
    out = list(base)
    if drop and rng.randrange(2):
        out.pop(rng.randrange(len(out)))
    rest = [i for i in range(pool) if i not in base]
    if add and rest and rng.randrange(2):
        out.append(rng.choice(rest))
    rng.shuffle(out)
    return tuple(out)


def place(
    arch: Archetype, rng: random.Random, wording: Wording, *, applicant: bool = False
) -> tuple[str, str]:
    """Return a department and a city ('' for the province) that run a system of ``arch``; an
    ``applicant`` may be a city asking for what the province runs (the duplicate investment
    the review is for)."""
    department = rng.choice(arch.departments)
    municipal = department_records()[department].municipal_name
    level = "both" if applicant and arch.level == "province" else arch.level
    if level == "province" or not municipal:
        return department, ""
    if level == "both" and rng.randrange(5) < 2:
        return department, ""
    return department, rng.choice(wording.cities)


def _day(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return dt.date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))


def dates(status: str, rng: random.Random) -> tuple[str, str]:
    """Return ``(start_date, end_date)`` of an entry with ``status``."""
    if status == "in_use":
        return _day(rng, IN_USE_SINCE, IN_USE_UNTIL).isoformat(), ""
    if status == "in_development":
        start = _day(rng, STARTED_SINCE, STARTED_UNTIL)
    else:
        start = _day(rng, APPLIED_SINCE, APPLIED_UNTIL)
    end = start + dt.timedelta(days=rng.randint(270, 730))
    return start.isoformat(), end.isoformat()


def round_two(value: int) -> int:
    """Return ``value`` rounded down to two significant digits (38,615 -> 38,000)."""
    scale = 1
    while value >= 100 * scale:
        scale *= 10
    return value // scale * scale


def spread(rng: random.Random, low: int, high: int) -> int:
    """Return an integer of ``[low, high]`` drawn evenly over the orders of magnitude."""
    octaves = max(1, (high // low).bit_length())
    start = low << rng.randrange(octaves)
    return rng.randint(min(start, high), min(2 * start, high))


def budget_fen(arch: Archetype, city: str, rng: random.Random) -> int:
    """Return a budget for a system of ``arch`` (a city's is 30-60 % of the province's)."""
    low, high = arch.budget_wan
    if city:
        low, high = low * 3 // 10, high * 6 // 10
    low = max(low, BUDGET_WAN[0])
    high = min(max(high, low + 10), BUDGET_WAN[1])
    tenths = rng.randint(low * 10, high * 10)
    return tenths * WAN_FEN // 10


def user_count(arch: Archetype, city: str, rng: random.Random, wording: Wording) -> int:
    """Return an estimated number of users (a city has a fifth to a half of a province's)."""
    low, high = wording.reach[arch.reach]
    count = spread(rng, low, high)
    if city:
        count = count // rng.randint(2, 5)
    return max(round_two(count), 10)


def _resources(ids: Sequence[str], rng: random.Random, by_name: bool) -> list[str]:
    """Most of ``ids`` (one may be left out); an applicant names some by their Chinese name."""
    keep = list(ids)
    if len(keep) > 2 and rng.randrange(2):
        keep.pop(rng.randrange(len(keep)))
    names = resource_names()
    return [names[r] if by_name and rng.randrange(4) == 0 else r for r in keep]


def _users(arch: Archetype, city: str, rng: random.Random) -> list[str]:
    groups = [g for g in arch.users if rng.randrange(4)] or [arch.users[0]]
    return [g.replace("全省", "全市") if city else g for g in groups]


def _platform(arch: Archetype, status: str, city: str, rng: random.Random, w: Wording) -> str:
    if arch.platform:
        return arch.platform
    choices = [p for p in w.platforms["city" if city else "province"]]
    if status != "in_use":
        # New projects go on the government cloud, not into a department's own machine room.
        choices = [p for p in choices if "机房" not in p]
    return rng.choice(choices)


def write_entry(
    draft: Draft,
    entry_id: str,
    rng: random.Random,
    *,
    seen: dict[int, set[str]] | None = None,
    names_seen: set[str] | None = None,
) -> dict[str, Any]:
    """Return ``draft`` as a registry entry with ``entry_id``. ``seen`` (function index ->
    sentences already used for this archetype) and ``names_seen`` make its wording differ from
    the entries worded before it where the alternatives allow; they are updated."""
    wording = load_wording()
    arch = draft.archetype
    scope = wording.scope_words["city" if draft.city else "province"]
    functions: list[str] = []
    for index in draft.functions:
        used = seen.setdefault(index, set()) if seen is not None else set()
        sentence = ""
        for _ in range(REUSE_TRIES):
            sentence = render_function(arch.functions[index], rng, wording, scope)
            if draft.city:
                sentence = sentence.replace("全省", "全市")
            if sentence not in used and sentence not in functions:
                break
        used.add(sentence)
        if sentence not in functions:
            functions.append(sentence)
    name = ""
    for _ in range(REUSE_TRIES):
        name = render_name(arch, rng, wording, draft.city)
        if names_seen is None or name not in names_seen:
            break
    if names_seen is not None:
        names_seen.add(name)
    start, end = dates(draft.status, rng)
    pending = draft.status == "pending"
    return {
        "id": entry_id,
        "status": draft.status,
        "department": draft.department,
        "department_name": department_records()[draft.department].name_in(draft.city),
        "name": name,
        "purpose": render_purpose(arch, rng, wording, draft.city),
        "functions": functions,
        "uses": _resources(arch.uses, rng, pending),
        "produces": _resources(arch.produces, rng, pending),
        "users": _users(arch, draft.city, rng),
        "user_count": user_count(arch, draft.city, rng, wording),
        "budget_fen": budget_fen(arch, draft.city, rng),
        "platform": _platform(arch, draft.status, draft.city, rng, wording),
        "start_date": start,
        "end_date": end,
    }


def registry_id(status: str, department: str, number: int) -> str:
    """Return the id of the ``number``-th registered entry of ``department`` with ``status``."""
    prefix = PREFIXES.get(status)
    if prefix is None:
        raise SchemaViolation(f"no registry id for status {status!r}", field="status")
    return f"{prefix}-{department_records()[department].abbr}-{number:04d}"


def application_id(number: int) -> str:
    """Return the id of the ``number``-th pending application (``APP-2027-0041``)."""
    return f"APP-{APPLICATION_YEAR}-{number:04d}"


def _random_draft(rng: random.Random, status: str) -> Draft:
    """A draft of a random archetype, on a random window, varied."""
    wording = load_wording()
    arch = rng.choice(load_archetypes())
    order = list(range(len(arch.functions)))
    rng.shuffle(order)
    base = window_functions(order, rng.randrange(WINDOWS))
    functions = vary(base, len(order), rng, drop=True, add=status == "pending")
    department, city = place(arch, rng, wording, applicant=status == "pending")
    return Draft(arch, functions, status, department, city)


def synthetic_registry(n: int, seed: int) -> list[dict[str, Any]]:
    """Return ``n`` registry entries (about 60 % in use, 40 % in development) with unique ids,
    drawn from the archetypes with rewording, departments and cities at random: a registry as
    large as a benchmark needs (10,000 entries take a few seconds). Same seed, same entries."""
    if n < 0:
        raise SchemaViolation("n must not be negative", field="n")
    rng = random.Random(seed)
    numbers: dict[tuple[str, str], int] = {}
    out: list[dict[str, Any]] = []
    for _ in range(n):
        status = "in_use" if rng.randrange(5) < 3 else "in_development"
        draft = _random_draft(rng, status)
        key = (status, draft.department)
        numbers[key] = numbers.get(key, 0) + 1
        out.append(write_entry(draft, registry_id(status, draft.department, numbers[key]), rng))
    return out


def synthetic_applications(n: int, seed: int) -> list[dict[str, Any]]:
    """Return ``n`` pending applications with unique ids (``APP-2027-0001`` ...): about one in
    six rewords an earlier one for another department or city (the merge candidates an
    all-pairs pass should find), the rest are drawn like ``synthetic_registry``'s."""
    if n < 0:
        raise SchemaViolation("n must not be negative", field="n")
    rng = random.Random(seed)
    wording = load_wording()
    drafts: list[Draft] = []
    for _ in range(n):
        if drafts and rng.randrange(6) == 0:
            earlier = rng.choice(drafts)
            arch = earlier.archetype
            functions = vary(earlier.functions, len(arch.functions), rng, drop=True, add=True)
            department, city = place(arch, rng, wording, applicant=True)
            drafts.append(Draft(arch, functions, "pending", department, city))
        else:
            drafts.append(_random_draft(rng, "pending"))
    return [write_entry(d, application_id(i + 1), rng) for i, d in enumerate(drafts)]
