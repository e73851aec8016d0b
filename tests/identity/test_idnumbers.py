"""Check digits of resident identity numbers (GB 11643) and credit codes (GB 32100)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govchain.errors import InvalidIdentityNumber
from govchain.identity.idnumbers import (
    USCC_ALPHABET,
    resident_check_char,
    uscc_check_char,
    validate_resident_id,
    validate_uscc,
)

# Known answers: the worked examples of GB 11643-1999 (appendix) and of GB 32100-2015.
RESIDENT_VECTORS = ["11010519491231002X", "440524188001010014"]
USCC_VECTORS = ["91350100M000100Y43"]


@pytest.mark.parametrize("number", RESIDENT_VECTORS)
def test_resident_known_answers(number: str) -> None:
    assert validate_resident_id(number) == number
    assert validate_resident_id(number.lower()) == number


@pytest.mark.parametrize("code", USCC_VECTORS)
def test_uscc_known_answers(code: str) -> None:
    assert validate_uscc(code) == code


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("11010519491231002", "length"),
        ("110105194912310021", "check_digit"),
        ("1101051949123100AX", "characters"),
        ("910105194912310028", "region"),
        ("110105194902300020", "birth_date"),
    ],
)
def test_resident_reasons(number: str, reason: str) -> None:
    with pytest.raises(InvalidIdentityNumber) as info:
        validate_resident_id(number)
    assert info.value.fields["reason"] == reason


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y4", "length"),
        ("91350100M000100Y44", "check_digit"),
        ("91350100M000100YI3", "characters"),
        ("9135A100M000100Y43", "region"),
    ],
)
def test_uscc_reasons(code: str, reason: str) -> None:
    with pytest.raises(InvalidIdentityNumber) as info:
        validate_uscc(code)
    assert info.value.fields["reason"] == reason


_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31))


@given(
    region=st.integers(100000, 899999).filter(lambda r: r >= 110000),
    born=_dates,
    seq=st.integers(0, 999),
    pos=st.integers(0, 17),
    delta=st.integers(1, 9),
)
def test_resident_generate_verify_tamper(
    region: int, born: dt.date, seq: int, pos: int, delta: int
) -> None:
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    number = first17 + resident_check_char(first17)
    assert validate_resident_id(number) == number
    # Any single changed digit breaks the check (MOD 11-2 detects all single substitutions).
    chars = list(number)
    if chars[pos] == "X":
        chars[pos] = "0"
    else:
        chars[pos] = str((int(chars[pos]) + delta) % 10)
    with pytest.raises(InvalidIdentityNumber):
        validate_resident_id("".join(chars))


@given(
    body=st.text(alphabet=USCC_ALPHABET, min_size=2, max_size=2),
    region=st.integers(100000, 999999),
    rest=st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9),
    pos=st.integers(0, 17),
    delta=st.integers(1, 30),
)
def test_uscc_generate_verify_tamper(
    body: str, region: int, rest: str, pos: int, delta: int
) -> None:
    first17 = f"{body}{region}{rest}"
    code = first17 + uscc_check_char(first17)
    assert validate_uscc(code) == code
    chars = list(code)
    chars[pos] = USCC_ALPHABET[(USCC_ALPHABET.index(chars[pos]) + delta) % 31]
    with pytest.raises(InvalidIdentityNumber):
        validate_uscc("".join(chars))
