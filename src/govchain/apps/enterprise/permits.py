"""Permits by industry (许可办理) and "one industry, one licence" (一业一证).

Data shipped with the enterprise service (read with ``importlib.resources``):
``services/permits/*.json`` holds one service definition per permit or filing, whose forms share
one vocabulary (a field that means the same thing has the same name and schema everywhere, a
material that is the same document has the same id; fields filled in from a register are
``readOnly``); ``data/permit-rules.json`` says which permits an industry (GB/T 4754 prefixes)
or a business-scope item (经营范围) needs, and which permit supersedes another;
``data/industry-questionnaires.json`` navigates each modelled industry to exactly its permits.
``merge_forms`` joins several permits into one application: each field asked once, each document
once, nothing a department already holds. Everything here is pure and deterministic.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

from govchain.errors import IntegrityError, NotFound, SchemaViolation
from govchain.procedures.industries import validate_industry_code

PACKAGE = "govchain.apps.enterprise"
PERMITS_DIR = ("services", "permits")
"""Folder of the permit definitions in the package."""
RULES_FILE = ("data", "permit-rules.json")
QUESTIONNAIRES_FILE = ("data", "industry-questionnaires.json")
_COUNTS = (
    "permits", "fields_before", "fields_merged", "fields_after",
    "materials_before", "materials_held", "materials_after",
)  # fmt: skip
_SCOPE_SPLIT = re.compile(r"[；;，,、。：:\s]+")
"""Separators of business-scope items (the 许可项目：/一般项目： labels fall away)."""


@dataclass(frozen=True, slots=True)
class PermitRule:
    """When an enterprise needs a permit."""

    permit: str
    """Service code of the permit."""
    industries: tuple[str, ...]
    """GB/T 4754 code prefixes (division, group or class) that need it."""
    scope_any: tuple[str, ...]
    """Words of a business-scope item that need it."""
    scope_none: tuple[str, ...]
    """Words that keep a scope item from matching (``仅销售预包装食品`` is not 食品销售)."""
    why: Mapping[str, str]
    """Why, with the law (zh, en)."""


@dataclass(frozen=True, slots=True)
class PermitNeed:
    """A permit an enterprise needs, and why."""

    code: str
    """Service code."""
    name: Mapping[str, str]
    """The permit's name (zh, en)."""
    why: Mapping[str, str]
    """The rule's reason (zh, en)."""
    basis: str
    """``industry`` or ``scope``: what matched."""
    matched: str
    """The industry prefix or the scope item that matched."""


@dataclass(frozen=True, slots=True)
class Question:
    """A question of an industry questionnaire."""

    id: str
    """Identifier, the key of its answer."""
    text: Mapping[str, str]
    """The question (zh, en)."""
    options: tuple[tuple[bool | str, tuple[str, ...]], ...]
    """Each accepted answer with the permits it adds (booleans for yes/no questions)."""


@dataclass(frozen=True, slots=True)
class Questionnaire:
    """How an industry is navigated to its permits (一业一证)."""

    id: str
    """Identifier (``convenience_store``)."""
    name: Mapping[str, str]
    """Display name (zh, en)."""
    industries: tuple[str, ...]
    """GB/T 4754 classes it serves."""
    base: tuple[str, ...]
    """Permits every enterprise of the industry needs."""
    questions: tuple[Question, ...]
    """The questions, in order."""


@dataclass(frozen=True, slots=True)
class MergedMaterial:
    """A material of a merged application."""

    id: str
    """Identifier shared by the definitions that ask for it."""
    name: Mapping[str, str]
    """Its names in the definitions that ask for it, joined: one document covering each (zh, en)."""
    permits: tuple[str, ...]
    """Codes of the permits that ask for it."""
    required: bool
    """Required by at least one of them."""
    held_by: str
    """Department that holds it and provides it ('' if the applicant uploads it)."""
    resource: str
    """Catalogue resource it comes from ('' if uploaded)."""


@dataclass(frozen=True, slots=True)
class MergedForm:
    """One application for several permits, with what the merge saved."""

    codes: tuple[str, ...]
    """The permits, by code."""
    schema: Mapping[str, Any]
    """The merged form (JSON Schema draft 2020-12): each field once."""
    materials: tuple[MergedMaterial, ...]
    """The merged materials: each document once."""
    permits: int
    """Number of permits merged."""
    fields_before: int
    """Fields of the separate forms, added up."""
    fields_merged: int
    """Fields of the merged form."""
    fields_after: int
    """Fields the applicant fills in: the merged ones less those filled in from a register."""
    materials_before: int
    """Materials listed by the separate applications, added up."""
    materials_held: int
    """Distinct materials a department provides instead of the applicant."""
    materials_after: int
    """Distinct required materials the applicant uploads."""


def _read_json(parts: tuple[str, ...]) -> Any:
    return json.loads(resources.files(PACKAGE).joinpath(*parts).read_text("utf-8"))


@functools.cache
def _definitions() -> Mapping[str, Mapping[str, Any]]:
    folder = resources.files(PACKAGE).joinpath(*PERMITS_DIR)
    found = [json.loads(f.read_text("utf-8")) for f in folder.iterdir() if f.name.endswith(".json")]
    return {str(d["code"]): d for d in sorted(found, key=lambda d: str(d["code"]))}


def load_permit_definitions() -> list[dict[str, Any]]:
    """Return the permit service definitions shipped with the service, ordered by code."""
    return [copy.deepcopy(dict(d)) for d in _definitions().values()]


def _known(code: object, where: str) -> str:
    if code not in _definitions():
        raise IntegrityError(f"{where} names {code!r}, which is not a permit definition")
    return str(code)


@functools.cache
def _rules() -> tuple[tuple[PermitRule, ...], Mapping[str, tuple[str, ...]]]:
    raw = _read_json(RULES_FILE)
    rules = []
    for i, r in enumerate(raw["rules"]):
        for ind in r["industries"]:
            try:
                validate_industry_code(ind)
            except SchemaViolation:
                raise IntegrityError(f"permit rule {i} names unknown industry {ind!r}") from None
        permit = _known(r["permit"], f"permit rule {i}")
        scopes = (tuple(r["scope_any"]), tuple(r.get("scope_none", ())))
        rules.append(PermitRule(permit, tuple(r["industries"]), *scopes, dict(r["why"])))
    supersedes = {
        _known(k, "supersedes"): tuple(_known(c, f"supersedes[{k}]") for c in v)
        for k, v in raw.get("supersedes", {}).items()
    }
    return tuple(rules), supersedes


def load_rules() -> tuple[PermitRule, ...]:
    """Return the permit rules (checked: every permit and industry they name exists)."""
    return _rules()[0]


def _resolve(codes: Iterable[str]) -> list[str]:
    """Sorted, without duplicates, and without a permit another of them supersedes."""
    found = set(codes)
    dropped = {c for k in found for c in _rules()[1].get(k, ())}
    return sorted(found - dropped)


def permits_for(industry: str, scope: str) -> list[PermitNeed]:
    """Return the permits an enterprise of ``industry`` (GB/T 4754) with business ``scope``
    (经营范围) needs, ordered by code; the industry is checked (``SchemaViolation``)."""
    code = validate_industry_code(industry)
    if not isinstance(scope, str):
        raise SchemaViolation("the business scope must be text", field="scope")
    items = [x for x in _SCOPE_SPLIT.split(scope) if x]
    needs: dict[str, PermitNeed] = {}
    for rule in load_rules():
        if rule.permit in needs:
            continue
        name = _definitions()[rule.permit]["name"]
        prefix = next((p for p in rule.industries if code.startswith(p)), None)
        if prefix is not None:
            needs[rule.permit] = PermitNeed(rule.permit, name, rule.why, "industry", prefix)
            continue
        for item in items:
            hit = any(w in item for w in rule.scope_any)
            if hit and not any(w in item for w in rule.scope_none):
                needs[rule.permit] = PermitNeed(rule.permit, name, rule.why, "scope", item)
                break
    return [needs[c] for c in _resolve(needs)]


@functools.cache
def _questionnaires() -> Mapping[str, Questionnaire]:
    out: dict[str, Questionnaire] = {}
    for q in _read_json(QUESTIONNAIRES_FILE):
        where = f"questionnaire {q['id']}"
        questions = []
        for item in q["questions"]:
            options: list[tuple[bool | str, list[str]]] = (
                [(True, item["yes"]), (False, item.get("no", []))]
                if item["kind"] == "boolean"
                else [(o["value"], o["adds"]) for o in item["options"]]
            )
            checked = tuple((v, tuple(_known(c, where) for c in adds)) for v, adds in options)
            questions.append(Question(item["id"], dict(item["text"]), checked))
        out[q["id"]] = Questionnaire(
            id=q["id"],
            name=dict(q["name"]),
            industries=tuple(validate_industry_code(i) for i in q["industries"]),
            base=tuple(_known(c, where) for c in q["base"]),
            questions=tuple(questions),
        )
    return out


def load_questionnaires() -> tuple[Questionnaire, ...]:
    """Return the industry questionnaires, in file order."""
    return tuple(_questionnaires().values())


def _questionnaire(industry_id: str) -> Questionnaire:
    q = _questionnaires().get(industry_id)
    if q is None:
        raise NotFound(f"no questionnaire for industry {industry_id!r}", industry=industry_id)
    return q


def navigate(industry_id: str, answers: Mapping[str, Any]) -> list[str]:
    """Return the permit codes an enterprise of a modelled industry needs, from its answers to
    every question of the industry's questionnaire (``SchemaViolation`` naming the question
    for an unknown question, a missing answer or a value the question does not accept)."""
    q = _questionnaire(industry_id)
    if not isinstance(answers, Mapping):
        raise SchemaViolation("answers must map question ids to answers", field="answers")
    unknown = sorted(str(k) for k in answers if k not in {x.id for x in q.questions})
    if unknown:
        raise SchemaViolation(f"{industry_id} has no question {unknown[0]!r}", field=unknown[0])
    codes = list(q.base)
    for question in q.questions:
        if question.id not in answers:
            raise SchemaViolation(f"question {question.id!r} is not answered", field=question.id)
        value = answers[question.id]
        # bool is checked by type: 1 == True must not pass as "yes".
        adds = next((a for v, a in question.options if type(v) is type(value) and v == value), None)
        if adds is None:
            accepted = ", ".join(json.dumps(v, ensure_ascii=False) for v, _ in question.options)
            raise SchemaViolation(
                f"{question.id!r} accepts {accepted}, not {value!r}", field=question.id
            )
        codes.extend(adds)
    return _resolve(codes)


def _merge_schemas(defs: list[Mapping[str, Any]]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required: list[str] = []
    conditions: list[Any] = []
    dependent: dict[str, list[str]] = {}
    for d in defs:
        form = d["form"]
        for name, schema in form["properties"].items():
            if props.setdefault(name, schema) != schema:
                raise IntegrityError(f"field {name!r} of {d['code']} differs from the same field")
        required += [r for r in form.get("required", []) if r not in required]
        conditions += [x for x in form.get("allOf", []) if x not in conditions]
        for key, deps in form.get("dependentRequired", {}).items():
            dependent[key] = sorted({*dependent.get(key, []), *deps})
    merged: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "一业一证综合申请表",
        "description": "Combined application for " + ", ".join(d["code"] for d in defs),
        "type": "object",
        "required": required,
        "properties": props,
        "additionalProperties": False,
    }
    merged.update({"allOf": conditions} if conditions else {})
    merged.update({"dependentRequired": dependent} if dependent else {})
    return merged


def _merge_materials(defs: list[Mapping[str, Any]]) -> tuple[MergedMaterial, ...]:
    found: dict[str, MergedMaterial] = {}
    for d in defs:
        for m in d["materials"]:
            held = m.get("held_by") or {}
            new = MergedMaterial(
                m["id"], dict(m["name"]), (d["code"],), m.get("required", True),
                held.get("dept", ""), held.get("resource", ""),
            )  # fmt: skip
            old = found.setdefault(m["id"], new)
            if (old.held_by, old.resource) != (new.held_by, new.resource):
                raise IntegrityError(f"material {m['id']!r} of {d['code']} is held differently")
            if old is not new:
                name = {
                    k: v if new.name[k] in v.split(sep) else v + sep + new.name[k]
                    for k, v, sep in (("zh", old.name["zh"], "；"), ("en", old.name["en"], "; "))
                }
                found[m["id"]] = replace(
                    old,
                    name=name,
                    permits=(*old.permits, d["code"]),
                    required=old.required or new.required,
                )
    return tuple(found.values())


def merge_forms(codes: Iterable[str]) -> MergedForm:
    """Merge the forms and materials of the permits ``codes`` into one application.

    A field shared by several forms is asked once (``IntegrityError`` if two definitions give
    one name two schemas: the vocabulary would be broken); the merged form requires what any of
    them requires and keeps their conditions. A document is listed once; one a department holds
    is provided by it, not uploaded."""
    wanted = sorted(set(codes))
    if not wanted:
        raise SchemaViolation("name at least one permit to merge", field="codes")
    for c in wanted:
        if c not in _definitions():
            raise NotFound(f"no permit definition {c!r}", code=c)
    defs = [_definitions()[c] for c in wanted]
    schema = _merge_schemas(defs)
    materials = _merge_materials(defs)
    props = schema["properties"]
    return MergedForm(
        codes=tuple(wanted),
        schema=schema,
        materials=materials,
        permits=len(wanted),
        fields_before=sum(len(d["form"]["properties"]) for d in defs),
        fields_merged=len(props),
        fields_after=sum(1 for s in props.values() if s.get("readOnly") is not True),
        materials_before=sum(len(d["materials"]) for d in defs),
        materials_held=sum(1 for m in materials if m.held_by),
        materials_after=sum(1 for m in materials if m.required and not m.held_by),
    )


def full_answers(industry_id: str) -> dict[str, bool | str]:
    """Answers that give an industry all its permits: "yes" to every yes/no question and, for a
    choice, the option that adds the most permits (the first of equals)."""
    q = _questionnaire(industry_id)
    return {x.id: max(x.options, key=lambda o: (o[0] is True, len(o[1])))[0] for x in q.questions}


def industry_report() -> list[dict[str, Any]]:
    """For each modelled industry with all its permits: the counts before and after merging,
    and the after/before ratios in permille (rounded down)."""
    rows = []
    for q in load_questionnaires():
        merged = merge_forms(navigate(q.id, full_answers(q.id)))
        row = {k: getattr(merged, k) for k in _COUNTS}
        row["fields_permille"] = merged.fields_after * 1000 // merged.fields_before
        row["materials_permille"] = merged.materials_after * 1000 // merged.materials_before
        rows.append({"industry": q.id, "name": dict(q.name), "codes": list(merged.codes), **row})
    return rows
