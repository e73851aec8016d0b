"""The evaluation set of the duplication review (``data/evaluation.json``), built from the
archetypes with one fixed seed; ``build_evaluation(seed)`` gives the same document, byte for byte,
every time (``dumps_evaluation``).

The roles of the archetypes, the entries they ask for and the functions those get are in
``roles``; entries are worded by ``entries.write_entry`` an archetype at a time (so that its
entries are worded unlike each other), numbered, and every application is labelled: its
``same`` and ``overlapping`` entries (``roles.relation``, all within its archetype) and the
recommendation they call for in the spec's order, reuse > join > merge > build
(``expected_of``), which must be the one its role planned.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from govchain.apps.projects.evaluation.archetypes import (
    Archetype,
    load_archetypes,
    load_wording,
    read_json,
)
from govchain.apps.projects.evaluation.entries import (
    Draft,
    application_id,
    registry_id,
    write_entry,
)
from govchain.apps.projects.evaluation.roles import (
    MERGE_GROUPS,
    Planner,
    Slot,
    assign_roles,
    draw_functions,
    plan_slots,
    relation,
    window_plans,
)
from govchain.errors import Conflict

SEED = 20261207
"""Seed of the shipped evaluation set."""
GENERATOR = "python -m govchain.apps.projects.evaluation"
"""Command that regenerates it."""
DATA_FILE = "evaluation.json"
"""Its file name under ``data/``."""
RECOMMENDATIONS = ("reuse", "join", "merge", "build")
"""In order of priority."""


def expected_of(
    relations: dict[str, str], status: dict[str, str], shared: dict[str, int]
) -> tuple[str, str | None]:
    """Return the expected recommendation and its target for an application related to
    ``relations`` (id -> same/overlapping), given every entry's ``status`` and the number of
    functions ``shared`` with each: an in-use ``same`` -> reuse; an in-development ``same`` ->
    join; a pending ``same`` or ``overlapping`` -> merge; else build (target null). Among several
    candidates the target is the one with most shared functions (then ``same`` before
    ``overlapping``, then the smallest id)."""

    def best(ids: list[str]) -> str:
        return min(ids, key=lambda i: (relations[i] != "same", -shared[i], i))

    for rec, wanted, kinds in (
        ("reuse", "in_use", ("same",)),
        ("join", "in_development", ("same",)),
        ("merge", "pending", ("same", "overlapping")),
    ):
        found = [i for i, r in relations.items() if status[i] == wanted and r in kinds]
        if found:
            return rec, best(found)
    return "build", None


def build_evaluation(seed: int = SEED) -> dict[str, Any]:
    """Return the evaluation set drawn with ``seed`` (the shipped file has ``SEED``)."""
    rng = random.Random(seed)
    wording = load_wording()
    archetypes = load_archetypes()
    roles = assign_roles(rng, archetypes)
    planner = Planner(rng, wording)
    windows_left = window_plans(rng)
    groups_left = list(MERGE_GROUPS)
    rng.shuffle(groups_left)
    planned: list[tuple[Archetype, list[Slot], list[tuple[int, ...]]]] = []
    for arch in archetypes:
        slots = plan_slots(arch, roles[arch.key], planner, windows_left, groups_left)
        planned.append((arch, slots, draw_functions(arch, slots, rng)))
    # Word every entry, an archetype at a time so that its entries are worded unlike each other.
    worded: list[tuple[Archetype, Slot, tuple[int, ...], dict[str, Any]]] = []
    for arch, slots, sets in planned:
        seen: dict[int, set[str]] = {}
        names: set[str] = set()
        for slot, functions in zip(slots, sets, strict=True):
            draft = Draft(arch, functions, slot.status, slot.department, slot.city)
            entry = write_entry(draft, "", rng, seen=seen, names_seen=names)
            worded.append((arch, slot, functions, entry))
    _number(worded)
    return _document(seed, worded, roles)


def _number(worded: list[tuple[Archetype, Slot, tuple[int, ...], dict[str, Any]]]) -> None:
    """Give ids: registered entries numbered per department and status in order of date,
    applications in order of application date."""
    entries = [w[3] for w in worded]
    registered = sorted(
        (e for e in entries if e["status"] != "pending"),
        key=lambda e: (e["status"], e["department"], e["start_date"], e["name"]),
    )
    numbers: Counter[tuple[str, str]] = Counter()
    for e in registered:
        numbers[e["status"], e["department"]] += 1
        e["id"] = registry_id(e["status"], e["department"], numbers[e["status"], e["department"]])
    pending = sorted(
        (e for e in entries if e["status"] == "pending"), key=lambda e: (e["start_date"], e["name"])
    )
    for n, e in enumerate(pending, 1):
        e["id"] = application_id(n)


def _document(
    seed: int,
    worded: list[tuple[Archetype, Slot, tuple[int, ...], dict[str, Any]]],
    roles: dict[str, str],
) -> dict[str, Any]:
    """The evaluation document, labels checked against the plan."""
    status = {e["id"]: e["status"] for *_, e in worded}
    labels: list[dict[str, Any]] = []
    by_archetype: dict[str, list[tuple[Slot, tuple[int, ...], dict[str, Any]]]] = {}
    for arch, slot, functions, entry in worded:
        by_archetype.setdefault(arch.key, []).append((slot, functions, entry))
    for members in by_archetype.values():
        for slot, functions, entry in members:
            if entry["status"] != "pending":
                continue
            relations: dict[str, str] = {}
            shared: dict[str, int] = {}
            for _, other_functions, other in members:
                if other is entry:
                    continue
                kind = relation(functions, other_functions)
                if kind in ("same", "overlapping"):
                    relations[other["id"]] = kind
                    shared[other["id"]] = len(set(functions) & set(other_functions))
            expected, target = expected_of(relations, status, shared)
            if expected != slot.expected:
                raise Conflict(f"{entry['id']}: planned {slot.expected}, labelled {expected}")
            labels.append(
                {
                    "application": entry["id"],
                    "relations": relations,
                    "expected": expected,
                    "target": target,
                }
            )
    registry = sorted((e for *_, e in worded if e["status"] != "pending"), key=lambda e: e["id"])
    applications = sorted(
        (e for *_, e in worded if e["status"] == "pending"), key=lambda e: e["id"]
    )
    labels.sort(key=lambda lab: lab["application"])
    counts = {
        "archetypes": len(roles),
        "roles": dict(sorted(Counter(roles.values()).items())),
        "registry": dict(sorted(Counter(e["status"] for e in registry).items())),
        "applications": len(applications),
        "expected": {r: sum(lab["expected"] == r for lab in labels) for r in RECOMMENDATIONS},
        "entries": len(registry) + len(applications),
    }
    return {
        "about": about(seed, counts),
        "seed": seed,
        "generator": GENERATOR,
        "counts": counts,
        "registry": registry,
        "applications": applications,
        "labels": labels,
        "provenance": {
            e["id"]: f"{arch.key} window {slot.window + 1}" for arch, slot, _, e in worded
        },
    }


def about(seed: int, counts: dict[str, Any]) -> str:
    """Return the description of how the set with ``seed`` and ``counts`` was built."""
    expected = counts["expected"]
    return (
        f"Synthetic evaluation set of the IT project duplication review, generated by "
        f"`{GENERATOR}` with seed {seed} (same seed, same file, byte for byte). "
        f"{counts['entries']} entries: {counts['registry'].get('in_use', 0)} systems in use, "
        f"{counts['registry'].get('in_development', 0)} projects in development and "
        f"{counts['applications']} pending applications, drawn from {counts['archetypes']} "
        "archetypes of provincial and municipal government IT systems "
        "(data/archetypes/*.json: names, purpose, 12-16 functions each kept as "
        "verb|objects|manners|results|actors, data resources, users, budget range). "
        "Each archetype's functions are shuffled and covered by three circular windows of "
        "about 62 % of them, any two sharing 40-56 %. A registered entry is one window, maybe "
        "less one function; an application is one window, maybe less one function and plus "
        "one more. Every entry is reworded independently: verb synonyms from "
        "data/archetypes/wording.json, object/manner/result/actor alternatives, eleven "
        "sentence patterns (支持…, 提供…功能, 实现…的…, 对…进行…, …管理 ...), qualifiers "
        "(全省/全市 before data objects; 在线, 实时, 移动端 ... before verbs that take them), "
        "prepositional phrases moved to the front, result clauses sometimes left out, functions "
        "shuffled, names recombined (other name, 平台/系统/应用/服务平台, 智慧/数字/一体化/统一, "
        "province or city prefix), purposes with marked words replaced and an opening or "
        "closing sentence; sentences already used for the archetype are redrawn. Departments, "
        "cities, dates, budgets (integer fen) and user counts are drawn per entry. Roles per "
        "archetype: reuse/join hosts (all windows registered, most asked for again), merge "
        "hosts (two or three applications from different departments or cities on one window, "
        "or two on overlapping windows), overlapping-only builds (two windows registered, "
        "the third asked for), fresh builds (nothing registered) and registry-only "
        "distractors; near-miss archetype pairs (学籍管理 / 教师资格认定, 工程建设项目审批 / "
        "工程质量安全监管, 电子发票 / 财政电子票据 ...) put one side in the registry and ask "
        "for the other. Relations come from the function indices, not the text: r = shared "
        "functions per mille of the larger entry; same if r >= 750, overlapping if "
        "300 <= r <= 650 (neither covering more than 700 of the other), otherwise distinct; "
        "an archetype's draws are redrawn until every pair involving an application is same "
        "on one window and overlapping across two (no borderline pairs), and entries of "
        "different archetypes share nothing. Labels: same as a system in use -> "
        "reuse (target: that system); else same as a project in development -> join; else "
        "same or overlapping with another pending application -> merge (labelled both ways; "
        "target: the one sharing most functions); else build (target null), also when it only "
        f"overlaps registered entries. Expected: {expected['reuse']} reuse, {expected['join']} "
        f"join, {expected['merge']} merge, {expected['build']} build. provenance names the "
        "archetype and window of every entry, for error analysis only."
    )


def dumps_evaluation(doc: dict[str, Any]) -> str:
    """Return ``doc`` as the file's text: sorted keys, UTF-8 text, one value a line."""
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1) + "\n"


def load_evaluation() -> dict[str, Any]:
    """Return the shipped evaluation set (``data/evaluation.json``)."""
    doc: dict[str, Any] = read_json(DATA_FILE)
    return doc


def source_path() -> Path:
    """Return the path of ``data/evaluation.json`` in the source tree (where ``__main__``
    writes it)."""
    return Path(__file__).resolve().parent.parent / "data" / DATA_FILE
