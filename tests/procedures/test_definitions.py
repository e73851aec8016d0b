"""Service definitions as data: the shipped ones parse, and every check of ``parse_definition``
refuses a bad definition with the place and the reason of each problem, all in one round.

The definitions mutated here start from a small food-business permit written for these tests
(食品安全法 art. 35: a food business needs a permit; 消防法 art. 15: the fire inspection of a
public-gathering place). Hypothesis properties: random acyclic step graphs always parse, and
one back edge that closes a cycle is always refused at the step that carries it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import govchain.apps.enterprise
from govchain.errors import InvalidInput
from govchain.procedures.definitions import (
    CASE_ROLES,
    MAX_DAYS,
    MAX_NOTICE_DAYS,
    MAX_STEPS,
    DefinitionRefused,
    ServiceDefinition,
    parse_definition,
)

DEPTS = frozenset({"market", "tax", "hrss", "customs", "health", "fire", "housing", "transport"})
SERVICES = Path(govchain.apps.enterprise.__file__).parent / "services"
SHIPPED = sorted(SERVICES.rglob("*.json"))


def _names(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def permit() -> dict[str, Any]:
    """A valid commitment-free permit: health reviews, then fire inspects the premises."""
    return {
        "code": "330100-XK-0099",
        "version": 1,
        "category": "permit",
        "name": _names("食品经营许可（测试）", "Food business permit (test)"),
        "summary": _names("申请食品经营许可证。", "Apply for a food business permit."),
        "owner": "health",
        "co_handlers": ["fire"],
        "legal_basis": [
            "《中华人民共和国食品安全法》第三十五条",
            "《中华人民共和国消防法》第十五条",
        ],
        "applicants": ["enterprise"],
        "keywords": ["食品经营", "food"],
        "life_events": ["start_business"],
        "materials": [
            {"id": "application", "name": _names("申请书", "Application"), "required": True},
            {
                "id": "premises",
                "name": _names("经营场所证明", "Right to use the premises"),
                "required": True,
                "held_by": {
                    "dept": "housing",
                    "resource": "housing.property",
                    "via": "attestation",
                },
            },
        ],
        "form": {
            "type": "object",
            "required": ["address"],
            "properties": {"address": {"type": "string", "minLength": 4}},
        },
        "steps": [
            {
                "id": "review",
                "name": _names("材料审查", "Review"),
                "kind": "review",
                "dept": "health",
                "role": "officer",
                "days": 5,
            },
            {
                "id": "site",
                "name": _names("现场检查", "Site inspection"),
                "kind": "inspection",
                "dept": "fire",
                "role": "inspector",
                "days": 10,
                "after": ["review"],
            },
        ],
        "decision": {"role": "approver"},
        "outputs": [
            {
                "kind": "licence.issue",
                "licence_type": "food_business",
                "licence_name": _names("食品经营许可证", "Food business permit"),
                "validity_years": 5,
            }
        ],
        "fee_fen": 0,
        "time_limit_days": 20,
        "supplement_days": 10,
    }


def refused(obj: Any) -> list[dict[str, str]]:
    """Parse ``obj``, which must be refused; return the problems."""
    with pytest.raises(DefinitionRefused) as info:
        parse_definition(obj, DEPTS)
    problems = info.value.fields["problems"]
    assert problems, "a refusal lists at least one problem"
    for p in problems:
        assert set(p) == {"place", "reason"}
        assert p["reason"].strip()
    return list(problems)


def assert_problem(problems: list[dict[str, str]], place: str, *fragments: str) -> None:
    """There is a problem at ``place`` whose reason contains every fragment."""
    at = [p["reason"] for p in problems if p["place"] == place]
    assert at, f"no problem at {place!r} in {problems}"
    assert any(all(f in r for f in fragments) for r in at), (place, fragments, at)


# --- the shipped definitions ------------------------------------------------------------------


def test_the_shipped_services_are_found() -> None:
    codes = {p.stem for p in SHIPPED}
    assert {"330100-DJ-0001", "330100-ZX-0001", "330100-ZX-0002"} <= codes


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_definition_parses(path: Path) -> None:
    obj = json.loads(path.read_text("utf-8"))
    defn = parse_definition(obj, DEPTS)
    assert isinstance(defn, ServiceDefinition)
    assert defn.code == path.stem  # the file is named by the service code
    assert defn.raw == obj
    assert [s.id for s in defn.steps] == [s["id"] for s in obj["steps"]]
    assert defn.departments[0] == obj["owner"]
    for s in defn.steps:
        assert s.dept in defn.departments
        assert s.role in CASE_ROLES
        assert 1 <= s.days <= (MAX_NOTICE_DAYS if s.kind == "notice" else MAX_DAYS)
        assert (s.check is not None) == (s.kind == "check")


def test_shipped_registration_reads_the_parallel_steps() -> None:
    obj = json.loads((SERVICES / "registration" / "330100-DJ-0001.json").read_text("utf-8"))
    defn = parse_definition(obj, DEPTS)
    assert defn.owner == "market" and defn.co_handlers == ("tax", "hrss")
    assert [(s.id, s.dept, s.after) for s in defn.steps] == [
        ("review", "market", ()),
        ("tax_setup", "tax", ("review",)),
        ("social_insurance", "hrss", ("review",)),
    ]
    assert not defn.auto_decision and not defn.auto_accept and defn.commitment_check_days == 0


def test_shipped_simplified_deregistration_is_automatic() -> None:
    obj = json.loads((SERVICES / "deregistration" / "330100-ZX-0001.json").read_text("utf-8"))
    defn = parse_definition(obj, DEPTS)
    assert defn.auto_accept and defn.auto_decision
    notice = defn.step("notice")
    assert notice is not None and notice.kind == "notice" and notice.objections
    assert notice.days == 20
    assert all(s.kind == "check" for s in defn.steps if s.id != "notice")
    assert defn.step("nope") is None


def test_the_test_permit_parses() -> None:
    defn = parse_definition(permit(), DEPTS)
    assert defn.departments == ("health", "fire")
    assert defn.steps[1].after == ("review",)
    assert defn.outputs[0].licence_type == "food_business"


# --- each check, refused with place and reason ---------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting ``a.b[1].c`` to ``value`` (``...`` deletes the key)."""

    def mutate(obj: dict[str, Any]) -> None:
        parts: list[str | int] = []
        for token in path.replace("]", "").replace("[", ".").split("."):
            parts.append(int(token) if token.isdigit() else token)
        target: Any = obj
        for part in parts[:-1]:
            target = target[part]
        if value is ...:
            del target[parts[-1]]
        else:
            target[parts[-1]] = copy.deepcopy(value)

    return mutate


CYCLE_STEPS = [
    {
        "id": "a",
        "name": _names("甲", "A"),
        "dept": "health",
        "role": "officer",
        "days": 1,
        "after": ["b"],
    },
    {
        "id": "b",
        "name": _names("乙", "B"),
        "dept": "health",
        "role": "officer",
        "days": 1,
        "after": ["a"],
    },
]

CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, tuple[str, ...]]] = [
    ("cycle", _set("steps", CYCLE_STEPS), "steps[0].after", ("cycle", "a", "b")),
    ("self wait", _set("steps[0].after", ["review"]), "steps[0].after", ("itself",)),
    ("unknown after", _set("steps[1].after", ["nope"]), "steps[1].after", ("unknown step",)),
    ("after not a list", _set("steps[1].after", "review"), "steps[1].after", ("list",)),
    (
        "unknown step dept",
        _set("steps[0].dept", "police"),
        "steps[0].dept",
        ("unknown department", "police"),
    ),
    ("unknown owner", _set("owner", "police"), "owner", ("unknown department",)),
    (
        "unknown co-handler",
        _set("co_handlers", ["fire", "police"]),
        "co_handlers[1]",
        ("unknown department",),
    ),
    ("owner also co-handler", _set("co_handlers", ["fire", "health"]), "co_handlers", ("owner",)),
    (
        "step dept not handling",
        _set("steps[1].dept", "tax"),
        "steps[1].dept",
        ("neither the owner nor a co-handler",),
    ),
    ("unknown role", _set("steps[0].role", "clerk"), "steps[0].role", ("unknown role", "clerk")),
    (
        "admin is not a step role",
        _set("steps[0].role", "admin"),
        "steps[0].role",
        ("unknown role",),
    ),
    ("missing role", _set("steps[0].role", ...), "steps[0].role", ("owner role",)),
    ("unknown decision role", _set("decision.role", "boss"), "decision.role", ("unknown role",)),
    ("step without owner", _set("steps[0].dept", ...), "steps[0].dept", ("owner department",)),
    ("step without time limit", _set("steps[1].days", ...), "steps[1].days", ("time limit",)),
    ("zero days", _set("steps[0].days", 0), "steps[0].days", ("integer from 1",)),
    ("too many days", _set("steps[0].days", MAX_DAYS + 1), "steps[0].days", ("integer",)),
    ("days as text", _set("steps[0].days", "5"), "steps[0].days", ("integer",)),
    ("days as float", _set("steps[0].days", 5.0), "steps[0].days", ("integer",)),
    (
        "long notice",
        _set(
            "steps[0]",
            {**CYCLE_STEPS[0], "after": [], "kind": "notice", "days": MAX_NOTICE_DAYS + 1},
        ),
        "steps[0].days",
        ("integer",),
    ),
    ("unknown kind", _set("steps[0].kind", "approval"), "steps[0].kind", ("must be one of",)),
    ("duplicate step ids", _set("steps[1].id", "review"), "steps[1].id", ("used twice",)),
    ("bad step id", _set("steps[0].id", "Review!"), "steps[0].id", ("identifier",)),
    ("unknown top field", _set("colour", "red"), "colour", ("unknown field",)),
    ("unknown step field", _set("steps[0].colour", "red"), "steps[0].colour", ("unknown field",)),
    (
        "form type objekt",
        _set("form", {"type": "objekt"}),
        "form.type",
        ("not a valid JSON Schema",),
    ),
    (
        "form negative minLength",
        _set("form", {"type": "object", "properties": {"a": {"minLength": -1}}}),
        "form.properties.a.minLength",
        ("not a valid JSON Schema",),
    ),
    (
        "form describes an array",
        _set("form", {"type": "array", "items": {"type": "string"}}),
        "form",
        ("describe an object",),
    ),
    ("form without properties", _set("form", {"type": "object"}), "form", ("describe an object",)),
    ("form not an object", _set("form", ["address"]), "form", ("JSON Schema object",)),
    ("form missing", _set("form", ...), "form", ("JSON Schema object",)),
    (
        "held material of another dept",
        _set("materials[1].held_by.resource", "tax.arrears"),
        "materials[1].held_by.resource",
        ("not housing's",),
    ),
    (
        "held material bad resource",
        _set("materials[1].held_by.resource", "property"),
        "materials[1].held_by.resource",
        ("catalogue resource",),
    ),
    (
        "held material unknown dept",
        _set("materials[1].held_by.dept", "police"),
        "materials[1].held_by.dept",
        ("unknown department",),
    ),
    (
        "held material bad via",
        _set("materials[1].held_by.via", "email"),
        "materials[1].held_by.via",
        ("grant", "attestation"),
    ),
    ("duplicate material", _set("materials[1].id", "application"), "materials[1].id", ("unique",)),
    (
        "material required not bool",
        _set("materials[0].required", "yes"),
        "materials[0].required",
        ("true or false",),
    ),
    (
        "commitment without licence",
        lambda o: o.update(
            commitment={"check_days": 20}, outputs=[{"kind": "enterprise.register"}]
        ),
        "commitment",
        ("licence output",),
    ),
    (
        "commitment days zero",
        _set("commitment", {"check_days": 0}),
        "commitment.check_days",
        ("integer",),
    ),
    ("commitment not an object", _set("commitment", 20), "commitment", ("check_days",)),
    (
        "automatic decision with review",
        _set("decision.auto", True),
        "decision.auto",
        ("automatic decision",),
    ),
    ("auto not bool", _set("decision.auto", "yes"), "decision.auto", ("true or false",)),
    ("auto_accept not bool", _set("auto_accept", 1), "auto_accept", ("true or false",)),
    ("fee float", _set("fee_fen", 1.5), "fee_fen", ("integer",)),
    ("fee integral float", _set("fee_fen", 100.0), "fee_fen", ("integer",)),
    ("fee negative", _set("fee_fen", -1), "fee_fen", ("integer from 0",)),
    ("fee bool", _set("fee_fen", True), "fee_fen", ("integer",)),
    ("fee as text", _set("fee_fen", "100"), "fee_fen", ("integer",)),
    ("fee missing", _set("fee_fen", ...), "fee_fen", ("missing",)),
    ("time limit missing", _set("time_limit_days", ...), "time_limit_days", ("missing",)),
    ("supplement days zero", _set("supplement_days", 0), "supplement_days", ("1 to 180",)),
    ("bad code", _set("code", "x"), "code", ("letters",)),
    ("version zero", _set("version", 0), "version", ("integer from 1",)),
    ("unknown category", _set("category", "fun"), "category", ("must be one of",)),
    ("name without en", _set("name", {"zh": "名"}), "name.en", ("non-empty string",)),
    ("name extra language", _set("name.fr", "nom"), "name.fr", ("unknown language",)),
    ("no legal basis", _set("legal_basis", []), "legal_basis", ("law or regulation",)),
    ("unknown applicant", _set("applicants", ["robot"]), "applicants", ("citizen",)),
    ("no steps", _set("steps", []), "steps", ("1 to",)),
    (
        "too many steps",
        _set(
            "steps", [{**CYCLE_STEPS[0], "id": f"s{i}", "after": []} for i in range(MAX_STEPS + 1)]
        ),
        "steps",
        ("1 to",),
    ),
    (
        "check step without check",
        _set("steps[0].kind", "check"),
        "steps[0].check",
        ("needs a check",),
    ),
    (
        "check on a review step",
        _set(
            "steps[0].check",
            {
                "resource": "health.permits",
                "predicate": {"count": ["eq", 0]},
                "statement": "s",
                "advice": _names("甲", "a"),
            },
        ),
        "steps[0].check",
        ("only a 'check' step",),
    ),
    (
        "objections on a review",
        _set("steps[0].objections", True),
        "steps[0].objections",
        ("only a 'notice' step",),
    ),
    (
        "unknown output kind",
        _set("outputs[0].kind", "money.pay"),
        "outputs[0].kind",
        ("must be one of",),
    ),
    (
        "licence validity too long",
        _set("outputs[0].validity_years", 31),
        "outputs[0].validity_years",
        ("integer",),
    ),
]


@pytest.mark.parametrize(
    ("mutate", "place", "fragments"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_each_check_is_refused_with_place_and_reason(
    mutate: Callable[[dict[str, Any]], None], place: str, fragments: tuple[str, ...]
) -> None:
    obj = permit()
    mutate(obj)
    assert_problem(refused(obj), place, *fragments)


def test_a_bad_check_names_each_bad_part() -> None:
    obj = permit()
    obj["steps"][0]["kind"] = "check"
    obj["steps"][0]["check"] = {"resource": "Health", "predicate": {"filter": []}, "advice": {}}
    problems = refused(obj)
    assert_problem(problems, "steps[0].check.resource", "catalogue resource")
    assert_problem(problems, "steps[0].check.predicate", "count")
    assert_problem(problems, "steps[0].check.statement", "non-empty string")
    assert_problem(problems, "steps[0].check.advice.zh", "non-empty string")


def test_every_problem_is_reported_at_once() -> None:
    obj = permit()
    obj["colour"] = "red"
    obj["fee_fen"] = 2.5
    obj["form"] = {"type": "objekt"}
    obj["decision"] = {"role": "approver", "auto": True}
    obj["materials"][1]["held_by"]["resource"] = "tax.arrears"
    obj["steps"] = [
        {"id": "a", "name": _names("甲", "A"), "dept": "police", "days": 1, "after": ["b"]},
        {"id": "b", "name": _names("乙", "B"), "dept": "health", "role": "clerk", "after": ["a"]},
        {"id": "c", "name": _names("丙", "C"), "dept": "fire", "role": "officer", "days": 1},
        {"id": "c", "name": _names("丁", "D"), "role": "officer", "days": 1},
    ]
    problems = refused(obj)
    places = [p["place"] for p in problems]
    for place in [
        "colour",
        "fee_fen",
        "form.type",
        "decision.auto",
        "materials[1].held_by.resource",
        "steps[0].dept",
        "steps[0].role",
        "steps[1].role",
        "steps[1].days",
        "steps[3].id",
        "steps[3].dept",
        "steps[0].after",
    ]:
        assert place in places, (place, problems)
    assert len(places) == len(set(map(json.dumps, problems))), "no problem is reported twice"


def test_the_refusal_is_invalid_input_and_names_the_first_problem() -> None:
    obj = permit()
    obj["fee_fen"] = -5
    obj["owner"] = "police"
    with pytest.raises(DefinitionRefused) as info:
        parse_definition(obj, DEPTS)
    err = info.value
    assert isinstance(err, InvalidInput)
    assert err.code == "definition_refused"
    first = err.fields["problems"][0]
    assert f"{first['place']}: {first['reason']}" in err.message
    assert f"(and {len(err.fields['problems']) - 1} more)" in err.message
    assert err.to_dict()["problems"] == err.fields["problems"]


def test_a_definition_is_a_json_object() -> None:
    obj: Any
    for obj in ([], "definition", None, 3):
        assert refused(obj) == [{"place": "", "reason": "a definition is a JSON object"}]


def test_departments_are_the_networks() -> None:
    # The same definition is refused in a network without the fire department.
    with pytest.raises(DefinitionRefused) as info:
        parse_definition(permit(), DEPTS - {"fire"})
    places = {p["place"] for p in info.value.fields["problems"]}
    assert {"co_handlers[0]", "steps[1].dept"} <= places


def test_forward_references_without_a_cycle_parse() -> None:
    obj = permit()
    obj["steps"].reverse()  # 'site' is declared first and waits for the later 'review'
    defn = parse_definition(obj, DEPTS)
    assert [s.id for s in defn.steps] == ["site", "review"]


# Bug report: the checks below are about fields nested in objects other than the top level and
# the steps; a typo there (``requird``) must not be silently ignored.
@pytest.mark.parametrize(
    ("path", "place"),
    [
        ("materials[0].requird", "materials[0].requird"),
        ("materials[1].held_by.deptt", "materials[1].held_by.deptt"),
        ("decision.rol", "decision.rol"),
        ("outputs[0].validity", "outputs[0].validity"),
        ("commitment", "commitment.days"),
    ],
)
def test_unknown_nested_fields_are_refused(path: str, place: str) -> None:
    obj = permit()
    if path == "commitment":
        obj["commitment"] = {"check_days": 20, "days": 20}
    else:
        _set(path, False)(obj)
    assert_problem(refused(obj), place, "unknown field")


def test_a_cycle_reason_names_only_the_steps_of_the_cycle() -> None:
    # 'd' waits for the cycle review → c → b → review but is not part of it.
    obj = permit()
    base = obj["steps"][0]
    obj["steps"] = [
        {**base, "id": "review", "after": ["c"]},
        {**base, "id": "b", "after": ["review"]},
        {**base, "id": "c", "after": ["b"]},
        {**base, "id": "d", "after": ["review"]},
    ]
    problems = [p for p in refused(obj) if "cycle" in p["reason"]]
    assert len(problems) == 1
    assert problems[0]["place"] == "steps[0].after"
    reason = problems[0]["reason"]
    for sid in ("review", "b", "c"):
        assert sid in reason.split(": ", 1)[1].replace("→", " ").split()
    assert "d" not in reason.split(": ", 1)[1].replace("→", " ").split()


# --- properties: acyclic graphs parse, one back edge is refused ---------------------------------

KINDS = ("review", "inspection", "notice")


@st.composite
def dags(draw: st.DrawFn, min_size: int = 1) -> list[dict[str, Any]]:
    """Steps whose ``after`` names only earlier steps (so the graph has no cycle)."""
    n = draw(st.integers(min_size, 12))
    steps: list[dict[str, Any]] = []
    for i in range(n):
        kind = draw(st.sampled_from(KINDS))
        hi = MAX_NOTICE_DAYS if kind == "notice" else MAX_DAYS
        after = draw(st.lists(st.integers(0, i - 1), unique=True, max_size=3)) if i else []
        steps.append(
            {
                "id": f"s{i}",
                "name": _names(f"步骤{i}", f"Step {i}"),
                "kind": kind,
                "dept": draw(st.sampled_from(["health", "fire"])),
                "role": draw(st.sampled_from(sorted(CASE_ROLES))),
                "days": draw(st.integers(1, hi)),
                "after": [f"s{a}" for a in after],
            }
        )
    return steps


def _waits_for(steps: list[dict[str, Any]], j: int) -> set[int]:
    """Indices of the steps ``steps[j]`` waits for, directly or not."""
    out: set[int] = set()
    todo = [j]
    while todo:
        for a in steps[todo.pop()]["after"]:
            k = int(a[1:])
            if k not in out:
                out.add(k)
                todo.append(k)
    return out


@settings(max_examples=100, deadline=None)
@given(steps=dags(), order=st.randoms(use_true_random=False))
def test_random_acyclic_steps_always_parse(steps: list[dict[str, Any]], order: Any) -> None:
    obj = permit()
    declared = list(steps)
    order.shuffle(declared)  # declaration order is free: forward references are fine
    obj["steps"] = declared
    defn = parse_definition(obj, DEPTS)
    assert [s.id for s in defn.steps] == [s["id"] for s in declared]
    for s, raw in zip(defn.steps, declared, strict=True):
        assert s.after == tuple(raw["after"])
        assert (s.days, s.dept, s.role, s.kind) == (
            raw["days"],
            raw["dept"],
            raw["role"],
            raw["kind"],
        )


@settings(max_examples=100, deadline=None)
@given(steps=dags(min_size=2), data=st.data())
def test_one_back_edge_closing_a_cycle_is_refused(steps: list[dict[str, Any]], data: Any) -> None:
    j = data.draw(st.integers(1, len(steps) - 1), label="j")
    ancestors = sorted(_waits_for(steps, j))
    if ancestors:
        i = data.draw(st.sampled_from(ancestors), label="i")
    else:  # give j something to wait for, still without a cycle
        i = data.draw(st.integers(0, j - 1), label="i")
        steps[j]["after"].append(f"s{i}")
    # The back edge: s_i now also waits for s_j, which (transitively) waits for s_i.
    steps[i]["after"].append(f"s{j}")
    obj = permit()
    obj["steps"] = steps
    problems = refused(obj)
    cycles = [p for p in problems if "cycle" in p["reason"]]
    assert [p for p in problems if p not in cycles] == []
    assert len(cycles) == 1
    # Every step before s_i is free of the cycle, so the first stuck step is s_i itself.
    assert cycles[0]["place"] == f"steps[{i}].after"
    named = cycles[0]["reason"].split(": ", 1)[1].replace("→", " ").split()
    assert f"s{i}" in named and f"s{j}" in named
