"""The synthetic residents and their departments' records; the matters' conditions evaluated
over records (known answers worked out by hand from the definitions)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.apps.certification.app import APP
from govchain.apps.certification.matters import (
    HOUSING_PURCHASE,
    MARRIAGE,
    SCHOOL_ENROLMENT,
    failing_checks,
    parse_resources,
)
from govchain.apps.certification.synthetic import (
    HOMETOWNS,
    department_records,
    residents,
)
from govchain.apps.certification.tests.nodes import home, marriage, pension, permit
from govchain.identity.idnumbers import validate_resident_id

DEFINITIONS = {d["code"]: d for d in APP.definitions()}
RESOURCES = parse_resources(APP.resources())
PEOPLE = residents(300)
RECORDS = department_records(PEOPLE)


def test_the_same_seed_gives_the_same_people_and_records() -> None:
    assert residents(300) == PEOPLE and department_records(PEOPLE) == RECORDS
    assert residents(300, 7) != PEOPLE


def test_identity_numbers_are_valid_distinct_and_say_birth_gender_and_origin() -> None:
    assert len({p.resident_id for p in PEOPLE}) == len(PEOPLE)
    migrant_regions = {code for _, code in HOMETOWNS}
    for p in PEOPLE:
        assert validate_resident_id(p.resident_id) == p.resident_id
        assert p.resident_id[6:14] == p.birth_date.strftime("%Y%m%d")
        assert int(p.resident_id[16]) % 2 == (1 if p.gender == "male" else 0)
        assert (p.resident_id[:6] in migrant_regions) == p.migrant
        assert p.resident_id[:4] == "3301" or p.migrant


def test_records_fit_their_resources_and_follow_plausible_shares() -> None:
    from govchain.sharing.model import check_record_data

    for r in RECORDS:
        check_record_data(RESOURCES[r.resource], r.data)
    kinds = Counter(r.resource for r in RECORDS)
    migrants = sum(p.migrant for p in PEOPLE)
    # Most migrants hold a permit (locals none); most people pay two insurances.
    assert 0.7 * migrants < kinds["public_security.residence_permits"] <= migrants
    assert kinds["hrss.personal_insurance"] > 1.6 * len(PEOPLE)
    assert len({r.record for r in RECORDS}) == len(RECORDS)


def test_every_matter_has_people_who_qualify_and_people_who_fail_each_condition() -> None:
    held: dict[str, list[tuple[str, Any]]] = {p.resident_id: [] for p in PEOPLE}
    for r in RECORDS:
        held[r.resident_id].append((r.resource, r.data))
    for code, defn in DEFINITIONS.items():
        outcomes = Counter(
            f.step for p in PEOPLE for f in failing_checks(defn, RESOURCES, held[p.resident_id])
        )
        checks = {s["id"] for s in defn["steps"] if s["kind"] == "check"}
        assert set(outcomes) == checks, code
        assert any(not failing_checks(defn, RESOURCES, held[p.resident_id]) for p in PEOPLE)


def steps(code: str, records: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [f.step for f in failing_checks(DEFINITIONS[code], RESOURCES, records)]


def test_known_answers() -> None:
    # School enrolment: a valid permit and 12 months of pension contributions, no less.
    assert steps(SCHOOL_ENROLMENT, [permit(), pension(12)]) == []
    assert steps(SCHOOL_ENROLMENT, [permit(), pension(11)]) == ["social_insurance"]
    assert steps(SCHOOL_ENROLMENT, [permit(), pension(40, "暂停缴费")]) == ["social_insurance"]
    assert steps(SCHOOL_ENROLMENT, [permit("过期"), pension(40)]) == ["residence_permit"]
    assert steps(SCHOOL_ENROLMENT, []) == ["residence_permit", "social_insurance"]
    # Housing: two homes in Hangzhou fail; a parking space or a home elsewhere do not count.
    assert steps(HOUSING_PURCHASE, [home(), home(), pension(24)]) == ["homes"]
    assert steps(HOUSING_PURCHASE, [home(), home("车位"), home(city="合肥市"), pension(24)]) == []
    # Marriage: a current marriage fails; a dissolved one does not.
    assert steps(MARRIAGE, [marriage(True)]) == ["marital_status"]
    assert steps(MARRIAGE, [marriage(False), marriage(False, "离婚")]) == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["住宅", "商业", "车位"]), st.sampled_from(["杭州市", "宁波市"])),
        max_size=5,
    )
)
def test_housing_fails_exactly_when_two_or_more_city_homes_are_held(
    homes: list[tuple[str, str]],
) -> None:
    records = [home(use, city) for use, city in homes]
    counted = sum(1 for use, city in homes if use == "住宅" and city == "杭州市")
    assert ("homes" in steps(HOUSING_PURCHASE, [*records, pension(30)])) == (counted >= 2)
