"""Permits by industry and "one industry, one licence" (govchain.apps.enterprise.permits)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from govchain.apps.enterprise import permits
from govchain.errors import NotFound, SchemaViolation
from govchain.procedures.definitions import parse_definition
from govchain.procedures.industries import industry

DEPTS = {"market", "tax", "hrss", "customs", "health", "fire", "housing", "transport"}
DEFINITIONS = permits.load_permit_definitions()
CODES = [d["code"] for d in DEFINITIONS]
BY_CODE = {d["code"]: d for d in DEFINITIONS}

FOOD, PREPACK, DRUG, OTC = "330100-XK-0001", "330100-BA-0001", "330100-XK-0002", "330100-XK-0003"
DEV2, DEV3, FIRE, HYGIENE = "330100-BA-0002", "330100-XK-0004", "330100-XK-0005", "330100-XK-0006"
DRAIN, ROAD, DG, SPECIAL_EQUIPMENT = (
    "330100-XK-0007",
    "330100-XK-0008",
    "330100-XK-0009",
    "330100-XK-0010",
)
CUSTOMS = "330100-BA-0003"

# Pudong's reform of the convenience store: 5 permits, 53 materials and 313 form fields before,
# 10 materials and 98 fields after (Shanghai People's Congress standing committee, enforcement
# inspection of the Pudong "one industry, one licence" regulation, report of 2 July 2024).
PUDONG = {"materials_before": 53, "materials_after": 10, "fields_before": 313, "fields_after": 98}


# --- the definitions --------------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_every_definition_parses(code: str) -> None:
    d = parse_definition(BY_CODE[code], DEPTS)
    assert d.code == code and d.version == 1
    assert d.applicants == frozenset({"enterprise"})
    assert d.category in ("permit", "filing")
    assert d.fee_fen == 0
    assert [o.kind for o in d.outputs] == ["licence.issue"]
    Draft202012Validator.check_schema(BY_CODE[code]["form"])


def test_at_least_eight_permits_over_five_industries() -> None:
    parsed = [parse_definition(d, DEPTS) for d in DEFINITIONS]
    licences = {o.licence_type for d in parsed for o in d.outputs}
    assert len([d for d in parsed if d.category == "permit"]) >= 8
    assert len(licences) == len(parsed)  # one licence type per service
    divisions = {i[:2] for r in permits.load_rules() for i in r.industries}
    assert len(divisions) >= 5
    assert {r.permit for r in permits.load_rules()} >= set(CODES) - {SPECIAL_EQUIPMENT}


def test_known_statutory_terms() -> None:
    # Food Safety Law art. 35 and the 2023 measures: 5 years; Public Place Hygiene Regulations
    # rules: 4 years; Labour Contract Law art. 57 measures: 3 years; Work Safety Licence
    # Regulations art. 9: 3 years; Construction Law art. 8: decided within 7 days.
    term = {d["code"]: d["outputs"][0]["validity_years"] for d in DEFINITIONS}
    assert term[FOOD] == 5 and term[DRUG] == 5 and term[HYGIENE] == 4
    assert term["330100-XK-0011"] == 3 and term["330100-XK-0012"] == 3
    assert BY_CODE["330100-XK-0013"]["time_limit_days"] == 7
    assert BY_CODE["330100-XK-0012"]["time_limit_days"] == 45
    # Fire Protection Law art. 15 (2021): the inspection before opening is by commitment.
    assert parse_definition(BY_CODE[FIRE], DEPTS).commitment_check_days == 20
    assert parse_definition(BY_CODE[OTC], DEPTS).commitment_check_days > 0
    kinds = {s.kind for s in parse_definition(BY_CODE[FOOD], DEPTS).steps}
    assert "inspection" in kinds


@pytest.mark.parametrize("code", CODES)
def test_steps_fit_in_the_promised_time(code: str) -> None:
    d = parse_definition(BY_CODE[code], DEPTS)
    finish: dict[str, int] = {}
    for s in d.steps:  # every step waits only for steps declared before it
        finish[s.id] = s.days + max((finish[a] for a in s.after), default=0)
    assert max(finish.values()) <= d.time_limit_days


def test_held_materials_name_their_department() -> None:
    for d in DEFINITIONS:
        for m in d["materials"]:
            if "held_by" in m:
                assert m["held_by"]["resource"].startswith(m["held_by"]["dept"] + ".")
        ids = [m["id"] for m in d["materials"]]
        assert "application" in ids and "business_licence" in ids


def test_shared_fields_have_one_schema_everywhere() -> None:
    seen: dict[str, Any] = {}
    for d in DEFINITIONS:
        for name, schema in d["form"]["properties"].items():
            assert seen.setdefault(name, schema) == schema, (d["code"], name)
    merged = permits.merge_forms(CODES)  # the whole vocabulary merges without a conflict
    assert merged.fields_merged == len(seen)


# --- permits by industry and business scope ---------------------------------------------------


def _codes(industry_code: str, scope: str) -> list[str]:
    return [n.code for n in permits.permits_for(industry_code, scope)]


def test_restaurant_needs_food_business_and_fire_inspection() -> None:
    needs = permits.permits_for("6210", "许可项目：餐饮服务；食品销售。一般项目：餐饮管理")
    codes = [n.code for n in needs]
    assert FOOD in codes and FIRE in codes and DRAIN in codes
    assert PREPACK not in codes
    food = next(n for n in needs if n.code == FOOD)
    assert food.basis == "industry" and food.matched == "621"
    assert "第三十五条" in food.why["zh"]
    assert food.name["zh"] == "食品经营许可"


def test_pharmacy_needs_drug_retail_and_devices_only_by_scope() -> None:
    assert _codes("5251", "许可项目：药品零售") == [DRUG]
    with_devices = _codes(
        "5251", "许可项目：药品零售；第三类医疗器械经营。一般项目：第二类医疗器械销售"
    )
    assert with_devices == [DEV2, DRUG, DEV3]
    need = next(
        n for n in permits.permits_for("5251", "一般项目：第二类医疗器械销售") if n.code == DEV2
    )
    assert need.basis == "scope" and need.matched == "第二类医疗器械销售"


def test_prepackaged_food_is_a_filing_and_a_licence_supersedes_it() -> None:
    # Food Safety Law art. 35: selling only prepackaged food is filed, not licensed.
    assert _codes("5213", "一般项目：食品销售（仅销售预包装食品）；日用百货销售") == [PREPACK]
    assert _codes("5299", "一般项目：食品销售（仅销售预包装食品）") == [PREPACK]
    assert _codes("5213", "许可项目：食品销售。一般项目：食品销售（仅销售预包装食品）") == [FOOD]
    assert _codes("5299", "一般项目：日用百货销售") == []


def test_otc_only_shop_and_full_pharmacy() -> None:
    assert _codes("5213", "许可项目：药品零售（仅乙类非处方药）") == [PREPACK, OTC]
    assert OTC not in _codes("5251", "许可项目：药品零售；药品零售（乙类非处方药）")


def test_freight_hotel_salon_and_customs() -> None:
    assert _codes("5431", "许可项目：道路货物运输（不含危险货物）") == [ROAD]
    assert _codes("5435", "许可项目：道路危险货物运输") == [DG]
    assert _codes("6110", "许可项目：住宿服务") == [FIRE, HYGIENE, DRAIN]
    assert _codes("8040", "许可项目：理发服务；生活美容服务") == [HYGIENE]
    assert _codes("51", "一般项目：货物进出口；技术进出口") == [CUSTOMS]


def test_bad_industry_is_refused_with_the_field() -> None:
    with pytest.raises(SchemaViolation) as e:
        permits.permits_for("999", "餐饮服务")
    assert e.value.fields["field"] == "industry"
    with pytest.raises(SchemaViolation) as e:
        permits.permits_for("6210", None)  # type: ignore[arg-type]
    assert e.value.fields["field"] == "scope"


# --- navigation (一业一证) ----------------------------------------------------------------------


def test_questionnaires_cover_five_industries_with_three_to_six_questions() -> None:
    qs = permits.load_questionnaires()
    assert len(qs) >= 5
    for q in qs:
        assert 3 <= len(q.questions) <= 6
        assert all(industry(i).level == "class" for i in q.industries)


def test_navigate_convenience_store() -> None:
    answers = {"loose_or_fresh_food": False, "otc_drugs": True, "class2_devices": False,
               "hygiene_store": False}  # fmt: skip
    assert permits.navigate("convenience_store", answers) == [PREPACK, OTC]
    answers["loose_or_fresh_food"] = True
    answers["class2_devices"] = True
    assert permits.navigate("convenience_store", answers) == [DEV2, FOOD, OTC]


def test_navigate_pharmacy_choice_and_supersession() -> None:
    base = {"class2_devices": False, "class3_devices": True}
    assert permits.navigate("pharmacy", {**base, "food": "none"}) == [DRUG, DEV3]
    assert permits.navigate("pharmacy", {**base, "food": "prepackaged"}) == [PREPACK, DRUG, DEV3]
    assert permits.navigate("pharmacy", {**base, "food": "loose"}) == [FOOD, DRUG, DEV3]
    # A bathhouse that serves meals needs the licence; the prepackaged filing lapses with it.
    full = {"special_equipment": False, "catering": True, "shop": True}
    assert PREPACK not in permits.navigate("bathhouse", full)
    assert PREPACK in permits.navigate("bathhouse", {**full, "catering": False})


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        (
            {"sewer": True, "public_venue": True, "special_equipment": True, "karaoke": True},
            "karaoke",
        ),
        ({"sewer": True, "public_venue": True}, "special_equipment"),
        ({"sewer": "yes", "public_venue": True, "special_equipment": True}, "sewer"),
        ({"sewer": 1, "public_venue": True, "special_equipment": True}, "sewer"),
        ({"sewer": None, "public_venue": True, "special_equipment": True}, "sewer"),
    ],
)
def test_navigate_refuses_bad_answers_with_the_field(answers: dict[str, Any], field: str) -> None:
    with pytest.raises(SchemaViolation) as e:
        permits.navigate("restaurant", answers)
    assert e.value.fields["field"] == field


def test_navigate_refuses_a_bad_choice_and_an_unknown_industry() -> None:
    with pytest.raises(SchemaViolation) as e:
        permits.navigate("pharmacy", {"class2_devices": True, "class3_devices": True, "food": True})
    assert e.value.fields["field"] == "food"
    with pytest.raises(NotFound):
        permits.navigate("bakery", {})


# --- merging ----------------------------------------------------------------------------------


def _filled(schema: dict[str, Any]) -> dict[str, Any]:
    """A value for every property that the schema accepts (a minimal example of each type)."""
    out: dict[str, Any] = {}
    for name, s in schema["properties"].items():
        out[name] = _example(s)
    return out


def _example(s: dict[str, Any]) -> Any:
    if "const" in s:
        return s["const"]
    if "enum" in s:
        return s["enum"][0]
    kind = s["type"]
    if kind == "boolean":
        return True
    if kind == "integer":
        return max(s.get("minimum", 0), 1)
    if kind == "array":
        return [_example(s["items"])]
    if kind == "object":
        return {k: _example(v) for k, v in s["properties"].items()}
    fmt = s.get("format")
    if fmt == "date":
        return "2026-11-02"
    if fmt == "email":
        return "shop@example.cn"
    return {
        "^1[3-9][0-9]{9}$": "13800000000",
        "^[0-9]{6}$": "310000",
        "^0[0-9]{2,3}-?[0-9]{7,8}$": "0571-88888888",
        "^[0-9]{2,4}$": "6210",
        "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$": "91330106MA2H000000",
    }.get(s.get("pattern", ""), "杭州市西湖区文三路1号"[: s.get("maxLength", 40)])


@pytest.mark.parametrize("industry_id", [q.id for q in permits.load_questionnaires()])
def test_merged_form_is_valid_and_keeps_every_field_once(industry_id: str) -> None:
    codes = permits.navigate(industry_id, permits.full_answers(industry_id))
    merged = permits.merge_forms(codes)
    schema = dict(merged.schema)
    Draft202012Validator.check_schema(schema)
    names = list(schema["properties"])
    assert len(names) == len(set(names))
    for c in codes:
        form = BY_CODE[c]["form"]
        assert set(form["properties"]) <= set(names)
        assert set(form.get("required", [])) <= set(schema["required"])
    # A document the merged form accepts has everything each separate form requires, and its
    # part for each permit is a valid application for that permit on its own.
    doc = _filled(schema)
    Draft202012Validator(schema).validate(doc)
    for c in codes:
        form = BY_CODE[c]["form"]
        part = {k: v for k, v in doc.items() if k in form["properties"]}
        assert set(form.get("required", [])) <= set(part)
        Draft202012Validator(form).validate(part)
    # The merged form keeps each form's conditions: a leased premises needs the lease's end.
    leased = {**doc, "premises_ownership": "租赁"}
    del leased["premises_lease_end"]
    assert not Draft202012Validator(schema).is_valid(leased)


def test_merged_materials_are_listed_once_and_held_ones_are_not_uploaded() -> None:
    merged = permits.merge_forms([FOOD, FIRE, DRAIN, SPECIAL_EQUIPMENT])
    ids = [m.id for m in merged.materials]
    assert len(ids) == len(set(ids))
    licence = next(m for m in merged.materials if m.id == "business_licence")
    assert licence.held_by == "market" and licence.resource == "market.enterprise_register"
    assert licence.permits == (FOOD, FIRE, DRAIN, SPECIAL_EQUIPMENT)
    upload = [m.id for m in merged.materials if m.required and not m.held_by]
    assert merged.materials_after == len(upload)
    assert "business_licence" not in upload and "premises_drawings" in upload
    assert merged.materials_before == sum(len(BY_CODE[c]["materials"]) for c in merged.codes)


def test_merge_refuses_unknown_and_empty() -> None:
    with pytest.raises(NotFound):
        permits.merge_forms(["330100-XK-9999"])
    with pytest.raises(SchemaViolation) as e:
        permits.merge_forms([])
    assert e.value.fields["field"] == "codes"


def test_every_industry_beats_pudong() -> None:
    rows = permits.industry_report()
    assert len(rows) >= 5
    for r in rows:
        assert r["permits"] >= 3, r
        # after/before < Pudong's after/before, compared without division
        assert (
            r["fields_after"] * PUDONG["fields_before"]
            < PUDONG["fields_after"] * r["fields_before"]
        ), r
        assert (
            r["materials_after"] * PUDONG["materials_before"]
            < PUDONG["materials_after"] * r["materials_before"]
        ), r
        assert r["fields_permille"] < 313 and r["materials_permille"] < 189


def test_report_known_answer_for_the_restaurant() -> None:
    row = next(r for r in permits.industry_report() if r["industry"] == "restaurant")
    assert row["codes"] == [FOOD, FIRE, DRAIN, SPECIAL_EQUIPMENT]
    assert row["fields_before"] == sum(len(BY_CODE[c]["form"]["properties"]) for c in row["codes"])
    assert row["fields_after"] < row["fields_merged"] < row["fields_before"]


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(CODES), min_size=1))
def test_merging_never_adds_fields_nor_loses_the_largest_form(codes: set[str]) -> None:
    merged = permits.merge_forms(codes)
    sizes = [len(BY_CODE[c]["form"]["properties"]) for c in codes]
    assert max(sizes) <= merged.fields_merged <= sum(sizes) == merged.fields_before
    assert merged.fields_after <= merged.fields_merged
    assert merged.materials_after + merged.materials_held <= merged.materials_before
    assert merged.permits == len(codes)
