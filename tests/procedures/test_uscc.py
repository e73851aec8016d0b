"""Unified social credit codes: the organisation code check, issuing and parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govchain.errors import InvalidIdentityNumber, SchemaViolation
from govchain.identity.idnumbers import USCC_ALPHABET, uscc_check_char, validate_uscc
from govchain.procedures.names import HANGZHOU_DIVISIONS
from govchain.procedures.uscc import (
    ENTITY_CATEGORIES,
    MAX_SERIAL,
    REGISTRATION_AUTHORITIES,
    UsccParts,
    issue_uscc,
    organisation_code_check,
    parse_uscc,
)

# Known answers.
# - GB 11714-1997 (全国组织机构代码编制规则), worked example: body D2143569, check X.
# - GB 32100-2015 (法人和其他组织统一社会信用代码编码规则), worked example 91350100M000100Y43.
# - Codes on the business licences of two large companies, as published in the National
#   Enterprise Credit Information Publicity System (国家企业信用信息公示系统): 华为技术有限公司
#   (Shenzhen) and 阿里巴巴（中国）有限公司 (Hangzhou).
KNOWN = [
    ("91350100M000100Y43", UsccParts("9", "1", "350100", "M000100Y4", "3")),
    ("914403001922038216", UsccParts("9", "1", "440300", "192203821", "6")),
    ("91330100799655058B", UsccParts("9", "1", "330100", "799655058", "B")),
]


def test_organisation_code_known_answers() -> None:
    assert organisation_code_check("D2143569") == "X"  # 11 - 1: written X
    assert organisation_code_check("00000000") == "0"  # 11 - 0: written 0
    assert organisation_code_check("M000100Y") == "4"
    assert organisation_code_check("19220382") == "1"


@pytest.mark.parametrize("body", ["D214356", "D21435690", "d2143569", "D2143-69", "中2143569"])
def test_organisation_code_refuses_bad_bodies(body: str) -> None:
    with pytest.raises(SchemaViolation) as caught:
        organisation_code_check(body)
    assert caught.value.fields["field"] == "organisation_code"


@pytest.mark.parametrize(("code", "expected"), KNOWN)
def test_parse_known_codes(code: str, expected: UsccParts) -> None:
    assert parse_uscc(code) == expected
    assert parse_uscc(code.lower()) == expected
    assert organisation_code_check(expected.organisation_code[:8]) == expected.organisation_code[8]


def test_issue_follows_the_documented_numbering() -> None:
    code = issue_uscc("330106", 42)
    assert code[:8] == "91330106"  # market regulation, enterprise, 西湖区
    assert code[8:16] == "G0000042"
    assert code[16] == organisation_code_check("G0000042")
    assert code[17] == uscc_check_char(code[:17])
    assert issue_uscc("330106", 42) == code
    assert issue_uscc("330106", 42, entity="2")[:2] == "92"


@pytest.mark.parametrize(
    ("division", "serial", "entity", "field"),
    [
        ("330106", 0, "1", "serial"),
        ("330106", -1, "1", "serial"),
        ("330106", MAX_SERIAL + 1, "1", "serial"),
        ("330106", True, "1", "serial"),
        ("330106", "7", "1", "serial"),
        ("33010", 1, "1", "division_code"),
        ("3301066", 1, "1", "division_code"),
        ("abcdef", 1, "1", "division_code"),
        ("030100", 1, "1", "division_code"),
        (330106, 1, "1", "division_code"),
        ("330106", 1, "4", "entity"),
        ("330106", 1, "", "entity"),
    ],
)
def test_issue_refuses_bad_input(division: object, serial: object, entity: str, field: str) -> None:
    with pytest.raises(SchemaViolation) as caught:
        issue_uscc(division, serial, entity)  # type: ignore[arg-type]
    assert caught.value.fields["field"] == field


def _with_check(first17: str) -> str:
    return first17 + uscc_check_char(first17)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (_with_check("B1330100G0000001" + organisation_code_check("G0000001")), "authority"),
        (_with_check("95330100G0000001" + organisation_code_check("G0000001")), "entity"),
        (_with_check("91000100G0000001" + organisation_code_check("G0000001")), "region"),
        (_with_check("91330100G00000010"), "organisation_code"),
        ("91330100799655058C", "check_digit"),
        ("91330100799655058", "length"),
    ],
)
def test_parse_refuses(code: str, reason: str) -> None:
    with pytest.raises(InvalidIdentityNumber) as caught:
        parse_uscc(code)
    assert caught.value.fields["reason"] == reason


def test_category_tables() -> None:
    assert REGISTRATION_AUTHORITIES["9"].zh == "工商"
    assert {c: e.zh for c, e in ENTITY_CATEGORIES["9"].items()} == {
        "1": "企业",
        "2": "个体工商户",
        "3": "农民专业合作社",
    }
    assert set(ENTITY_CATEGORIES) == set(REGISTRATION_AUTHORITIES)


DIVISIONS = st.one_of(
    st.sampled_from(sorted(HANGZHOU_DIVISIONS.values())),
    st.from_regex(r"[1-8][0-9]{5}", fullmatch=True),
)
SERIALS = st.integers(min_value=1, max_value=MAX_SERIAL)
ENTITIES = st.sampled_from(["1", "2", "3"])


@given(DIVISIONS, SERIALS, ENTITIES)
def test_every_issued_code_validates_and_parses_back(
    division: str, serial: int, entity: str
) -> None:
    code = issue_uscc(division, serial, entity)
    assert validate_uscc(code) == code
    assert parse_uscc(code) == UsccParts(
        "9", entity, division, f"G{serial:07d}" + code[16], code[17]
    )


@given(DIVISIONS, SERIALS, SERIALS)
def test_distinct_serials_give_distinct_codes(division: str, a: int, b: int) -> None:
    assert (issue_uscc(division, a) == issue_uscc(division, b)) == (a == b)


@given(DIVISIONS, SERIALS, st.integers(0, 17), st.sampled_from(USCC_ALPHABET))
def test_a_single_changed_character_is_caught(
    division: str, serial: int, where: int, symbol: str
) -> None:
    code = issue_uscc(division, serial)
    if code[where] == symbol:
        return
    changed = code[:where] + symbol + code[where + 1 :]
    with pytest.raises(InvalidIdentityNumber):
        validate_uscc(changed)
