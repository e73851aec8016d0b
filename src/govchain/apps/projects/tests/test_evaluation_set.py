"""The evaluation set of the duplication review: valid entries, the planned mix, labels that
follow the spec's rules, rewording that really rewords, and a generator that gives the shipped
file byte for byte."""

from __future__ import annotations

import random
import re
from collections import Counter
from importlib import resources as package_files
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.apps.projects.evaluation import (
    SEED,
    build_evaluation,
    dumps_evaluation,
    expected_of,
    load_archetypes,
    load_departments,
    load_evaluation,
    relation,
    resource_names,
    synthetic_applications,
    synthetic_registry,
)
from govchain.apps.projects.evaluation.archetypes import load_wording, read_json
from govchain.apps.projects.evaluation.entries import windows
from govchain.apps.projects.evaluation.wording import (
    plain_sentence,
    render_function,
    render_name,
    verb_choices,
)
from govchain.apps.projects.records import validate_entry
from govchain.errors import SchemaViolation

DOC = load_evaluation()
ENTRIES = {e["id"]: e for e in DOC["registry"] + DOC["applications"]}
LABELS = {label["application"]: label for label in DOC["labels"]}
FEN_PER_WAN = 1_000_000
TARGET_STATUS = {"reuse": "in_use", "join": "in_development", "merge": "pending"}
# The departments the spec names as the least a province has (docs of issue 22).
SPEC_DEPARTMENTS = {
    "health", "medical_insurance", "education", "civil_affairs", "hrss", "transport", "market",
    "tax", "housing", "natural_resources", "ecology", "agriculture", "emergency",
    "public_security", "justice", "culture_tourism", "water", "finance", "development_reform",
    "data_bureau", "fire", "customs", "statistics", "commerce", "veterans", "sports",
    "forestry", "audit", "retirement",
}  # fmt: skip


def _walk(value: Any) -> list[Any]:
    """Every scalar inside ``value``."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in _walk(v)]
    if isinstance(value, list):
        return [x for v in value for x in _walk(v)]
    return [value]


def test_every_entry_is_valid_per_the_spec() -> None:
    for entry in DOC["registry"]:
        assert validate_entry(entry, ("in_use", "in_development")) == entry
        prefix = {"in_use": "SYS-", "in_development": "PRJ-"}[entry["status"]]
        assert re.fullmatch(prefix + r"[A-Z]+-\d{4}", entry["id"])
    for entry in DOC["applications"]:
        assert validate_entry(entry, ("pending",)) == entry
        assert re.fullmatch(r"APP-2027-\d{4}", entry["id"])
        assert "2026-06-01" <= entry["start_date"] <= "2026-11-30" < entry["end_date"]
    assert len(ENTRIES) == len(DOC["registry"]) + len(DOC["applications"])
    for entry in ENTRIES.values():
        assert 50 * FEN_PER_WAN <= entry["budget_fen"] <= 5000 * FEN_PER_WAN
        assert entry["end_date"] == "" or entry["end_date"] >= entry["start_date"]
        assert (entry["end_date"] == "") == (entry["status"] == "in_use")
    assert not any(isinstance(x, float) for x in _walk(DOC))


def test_counts_and_mix() -> None:
    applications = len(DOC["applications"])
    assert len(ENTRIES) >= 320 and applications >= 120
    expected = Counter(label["expected"] for label in DOC["labels"])
    # The planned mix: about 30 % reuse, 20 % join, 20 % merge, 30 % build.
    for rec, share in (("reuse", 30), ("join", 20), ("merge", 20), ("build", 30)):
        assert abs(expected[rec] * 100 // applications - share) <= 3, (rec, expected)
    counts = DOC["counts"]
    assert counts["expected"] == dict(expected)
    assert counts["entries"] == len(ENTRIES) and counts["applications"] == applications
    assert counts["registry"] == dict(Counter(e["status"] for e in DOC["registry"]))
    assert counts["archetypes"] >= 60
    assert len({e["department"] for e in ENTRIES.values()}) >= 25
    assert len({e["department_name"] for e in ENTRIES.values()}) >= 100
    assert DOC["seed"] == SEED and DOC["generator"] == "python -m govchain.apps.projects.evaluation"
    assert str(SEED) in DOC["about"] and "reuse" in DOC["about"]


def test_labels_follow_the_rules() -> None:
    assert sorted(LABELS) == sorted(e["id"] for e in DOC["applications"])
    for app, label in LABELS.items():
        relations = label["relations"]
        assert app not in relations and set(relations) <= set(ENTRIES)
        assert set(relations.values()) <= {"same", "overlapping"}
        status = {i: ENTRIES[i]["status"] for i in relations}
        kinds = {(status[i], relations[i]) for i in relations}
        # Priority reuse > join > merge > build, recomputed from the relations alone.
        if ("in_use", "same") in kinds:
            want = "reuse"
        elif ("in_development", "same") in kinds:
            want = "join"
        elif any(s == "pending" for s, _ in kinds):
            want = "merge"
        else:
            want = "build"
        assert label["expected"] == want, app
        target = label["target"]
        if want == "build":
            assert target is None
        else:
            assert ENTRIES[target]["status"] == TARGET_STATUS[want]
            assert relations[target] == "same" or want == "merge"
        for other, kind in relations.items():
            if ENTRIES[other]["status"] == "pending":
                # Relations between applications are labelled both ways, alike.
                assert LABELS[other]["relations"][app] == kind
        if want == "merge":
            assert LABELS[target]["expected"] == "merge"


def test_relations_stay_inside_an_archetype_and_a_window() -> None:
    provenance = DOC["provenance"]
    assert set(provenance) == set(ENTRIES)
    for app, label in LABELS.items():
        archetype, window = provenance[app].rsplit(" window ", 1)
        for other, kind in label["relations"].items():
            other_archetype, other_window = provenance[other].rsplit(" window ", 1)
            assert other_archetype == archetype
            assert (other_window == window) == (kind == "same")


def test_reworded_copies_are_different_text() -> None:
    for app, label in LABELS.items():
        mine = ENTRIES[app]
        for other, kind in label["relations"].items():
            if kind != "same":
                continue
            theirs = ENTRIES[other]
            assert mine["name"] != theirs["name"]
            assert not set(mine["functions"]) & set(theirs["functions"]), (app, other)


def test_near_miss_pairs_are_labelled_apart() -> None:
    by_key = {a.key: a for a in load_archetypes()}
    archetype_of = {i: p.rsplit(" window ", 1)[0] for i, p in DOC["provenance"].items()}
    pairs = {(a.key, a.near_miss) for a in by_key.values() if a.near_miss}
    assert len(pairs) >= 20 and all(b in by_key for _, b in pairs)
    tempting = 0
    for app, label in LABELS.items():
        mine = archetype_of[app]
        for entry_id, theirs in archetype_of.items():
            if (mine, theirs) in pairs or (theirs, mine) in pairs:
                assert entry_id not in label["relations"]
                tempting += ENTRIES[entry_id]["status"] == "in_use"
    # Applications whose near miss is a system in use: a keyword matcher's false reuse.
    assert tempting >= 10


def test_the_generator_gives_the_shipped_file() -> None:
    shipped = (
        package_files.files("govchain.apps.projects")
        .joinpath("data/evaluation.json")
        .read_text("utf-8")
    )
    assert dumps_evaluation(build_evaluation(SEED)) == shipped
    assert dumps_evaluation(build_evaluation(SEED + 1)) != shipped


def test_relation_bounds() -> None:
    # 8 of 8 shared -> same; 6 of 8 -> same (750); 4 of 8 -> overlapping; 2 of 8 -> distinct.
    a = tuple(range(8))
    assert relation(a, a) == "same"
    assert relation(a, (*range(6), 20, 21)) == "same"
    assert relation(a, (*range(4), 20, 21, 22, 23)) == "overlapping"
    assert relation(a, (0, 1, 20, 21, 22, 23, 24, 25)) == "borderline"
    assert relation(a, (0, 20, 21, 22, 23, 24, 25, 26)) == "distinct"
    # Covering all of a small entry is more than overlapping, whatever the larger one has.
    assert relation((0, 1, 2, 3), a) == "borderline"


def test_expected_of_prefers_reuse_then_join_then_merge() -> None:
    status = {"SYS-A-0001": "in_use", "PRJ-A-0001": "in_development", "APP-2027-0002": "pending"}
    shared = dict.fromkeys(status, 6)
    every = {"SYS-A-0001": "same", "PRJ-A-0001": "same", "APP-2027-0002": "same"}
    assert expected_of(every, status, shared) == ("reuse", "SYS-A-0001")
    only_overlap = {"SYS-A-0001": "overlapping", "PRJ-A-0001": "same"}
    assert expected_of(only_overlap, status, shared) == ("join", "PRJ-A-0001")
    pending = {"SYS-A-0001": "overlapping", "APP-2027-0002": "overlapping"}
    assert expected_of(pending, status, shared) == ("merge", "APP-2027-0002")
    assert expected_of({"SYS-A-0001": "overlapping"}, status, shared) == ("build", None)


@given(st.integers(12, 16))
def test_windows_overlap_by_40_to_56_percent(size: int) -> None:
    spans = windows(size)
    assert len(spans) == 3 and set().union(*spans) == set(range(size))
    for i in range(3):
        for j in range(i + 1, 3):
            shared = len(set(spans[i]) & set(spans[j]))
            assert 400 <= shared * 1000 // len(spans[i]) <= 560


@settings(max_examples=60)
@given(st.integers(0, 2**32 - 1))
def test_a_rewording_keeps_the_function(seed: int) -> None:
    rng = random.Random(seed)
    wording = load_wording()
    archetype = rng.choice(load_archetypes())
    function = rng.choice(archetype.functions)
    sentence = render_function(function, rng, wording, "全省")
    assert 2 <= len(sentence) <= 300 and sentence == sentence.strip()
    assert any(o in sentence for o in function.objects)
    assert any(v in sentence for v in verb_choices(function, wording))
    name = render_name(archetype, rng, wording, "宁波市")
    assert 2 <= len(name) <= 100


def test_archetypes_data() -> None:
    archetypes = load_archetypes()
    departments = {d["code"]: d for d in load_departments()["departments"]}
    assert set(departments) >= SPEC_DEPARTMENTS and 25 <= len(departments) <= 32
    assert len({a.key for a in archetypes}) == len(archetypes) >= 60
    names = resource_names()
    for a in archetypes:
        assert set(a.departments) <= set(departments), a.key
        assert set(a.uses) | set(a.produces) <= set(names), a.key
        assert 12 <= len(a.functions) <= 16 and len(a.names) >= 2
        assert 50 <= a.budget_wan[0] < a.budget_wan[1] <= 5000
        assert a.reach in load_wording().reach
        for f in a.functions:
            assert 2 <= len(plain_sentence(f)) <= 300
    # The plain sentence of a function, as the archetypes module documents it.
    raw = read_json("archetypes/social.json")["archetypes"][0]["functions"][0]
    parts = "调阅", "居民电子健康档案/电子健康档案/居民健康档案", "按授权跨机构"
    assert raw == "|".join((*parts, "调阅行为全程留痕/调阅记录全程可追溯", "医生/接诊医生"))
    first = next(a for a in archetypes if a.key == "health.regional_platform").functions[0]
    assert plain_sentence(first) == "支持医生按授权跨机构调阅居民电子健康档案，调阅行为全程留痕"


def test_synthetic_registry() -> None:
    registry = synthetic_registry(1000, 1)
    assert len({e["id"] for e in registry}) == 1000
    for entry in registry:
        validate_entry(entry, ("in_use", "in_development"))
    statuses = Counter(e["status"] for e in registry)
    assert 500 <= statuses["in_use"] <= 700
    assert statuses["in_use"] + statuses["in_development"] == 1000
    assert len({e["department"] for e in registry}) >= 25
    assert synthetic_registry(20, 1) == registry[:20]
    assert synthetic_registry(20, 2) != registry[:20]
    with pytest.raises(SchemaViolation):
        synthetic_registry(-1, 1)


def test_synthetic_applications_hold_duplicates() -> None:
    applications = synthetic_applications(300, 5)
    assert [e["id"] for e in applications] == [f"APP-2027-{i:04d}" for i in range(1, 301)]
    for entry in applications:
        validate_entry(entry, ("pending",))
    assert synthetic_applications(300, 5) == applications
    # Which archetype an application is of, by the data resources it names.
    ids = {v: k for k, v in resource_names().items()}
    kinds = []
    for entry in applications:
        used = {ids.get(r, r) for r in entry["uses"] + entry["produces"]}
        kinds.append(
            tuple(a.key for a in load_archetypes() if used <= set(a.uses) | set(a.produces))
        )
    repeated = Counter(k for k in kinds if len(k) == 1)
    # One in six rewords an earlier application; chance adds the rest of the repeats.
    assert sum(n for n in repeated.values() if n > 1) >= 300 // 6
