"""Synthetic demo data: deterministic, valid identity numbers, names the registry accepts."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter, defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govchain.apps.enterprise.synthetic import (
    BORN_FROM,
    BORN_UNTIL,
    ESTABLISHED_FROM,
    ESTABLISHED_UNTIL,
    Citizen,
    SyntheticEnterprise,
    citizens,
    enterprises,
    log_uniform,
)
from govchain.errors import SchemaViolation
from govchain.identity.idnumbers import validate_resident_id, validate_uscc
from govchain.procedures.industries import validate_industry_code
from govchain.procedures.names import HANGZHOU_DIVISIONS, check_name, name_key
from govchain.procedures.uscc import issue_uscc

PEOPLE = citizens(400, seed=2026)
COMPANIES = enterprises(1000, seed=2026, citizens=PEOPLE)
YUAN = 100
"""Fen per yuan."""


def test_same_seed_same_data() -> None:
    assert citizens(400, seed=2026) == PEOPLE
    assert enterprises(1000, seed=2026, citizens=PEOPLE) == COMPANIES
    assert citizens(50, seed=1) != citizens(50, seed=2)
    assert enterprises(20, seed=1, citizens=PEOPLE) != enterprises(20, seed=2, citizens=PEOPLE)


def test_citizens_have_valid_consistent_identity_numbers() -> None:
    assert len({p.resident_id for p in PEOPLE}) == len(PEOPLE)
    for p in PEOPLE:
        number = validate_resident_id(p.resident_id)
        assert number[:4] == "3301"  # a Hangzhou region code
        assert number[6:14] == f"{p.birth_date:%Y%m%d}"
        assert BORN_FROM <= p.birth_date <= BORN_UNTIL
        assert p.gender == ("male" if int(number[16]) % 2 else "female")
        assert len(p.phone) == 11 and p.phone.isdigit() and p.phone[0] == "1"
        assert p.district in HANGZHOU_DIVISIONS and p.district in p.address
        assert 2 <= len(p.name) <= 3
    assert set(Counter(p.gender for p in PEOPLE)) == {"male", "female"}


def test_enterprise_names_pass_the_check_and_are_unique() -> None:
    keys = [e.name_key for e in COMPANIES]
    assert len(set(keys)) == len(keys) == len({e.name for e in COMPANIES})
    for e in COMPANIES:
        parts = check_name(e.name, HANGZHOU_DIVISIONS, set(keys) - {e.name_key})
        assert name_key(parts) == e.name_key
        assert parts.form == e.form


def test_enterprise_particulars_are_plausible() -> None:
    people = {p.resident_id: p for p in PEOPLE}
    for e in COMPANIES:
        assert validate_industry_code(e.industry) == e.industry
        assert HANGZHOU_DIVISIONS[e.district] == e.division_code
        assert e.district in e.address
        rep = people[e.legal_representative_id]
        assert rep.name == e.legal_representative
        assert ESTABLISHED_FROM <= e.established <= ESTABLISHED_UNTIL
        assert (e.established - rep.birth_date).days >= 18 * 365  # an adult when set up
        for amount in (e.registered_capital_fen, e.annual_revenue_fen, e.tax_paid_fen):
            assert type(amount) is int
        assert 100_000 * YUAN <= e.registered_capital_fen <= 50_000_000 * YUAN
        assert e.registered_capital_fen % (10_000 * YUAN) == 0
        assert 1 <= e.employees <= 300
        assert 0 < e.tax_paid_fen < e.annual_revenue_fen // 5
        items = e.business_scope.split("；")
        assert len(items) >= 3 and len(set(items)) == len(items)


def test_mix_of_industries_and_forms() -> None:
    sections = Counter(e.industry[:2] for e in COMPANIES)
    assert len(sections) >= 15
    assert Counter(e.form for e in COMPANIES)["有限公司"] > len(COMPANIES) // 2
    capital = sorted(e.registered_capital_fen for e in COMPANIES)
    # Log-uniform: the median is far below the mean.
    assert capital[len(capital) // 2] < sum(capital) // len(capital)


def test_serials_number_each_district_from_one_and_give_valid_codes() -> None:
    serials = defaultdict(list)
    for e in COMPANIES:
        serials[e.division_code].append(e.serial)
    for numbers in serials.values():
        assert numbers == list(range(1, len(numbers) + 1))
    codes = [issue_uscc(e.division_code, e.serial) for e in COMPANIES]
    assert len(set(codes)) == len(codes)
    assert all(validate_uscc(c) == c for c in codes)


def test_records_are_json() -> None:
    for record in [p.to_json() for p in PEOPLE[:50]] + [e.to_json() for e in COMPANIES[:50]]:
        assert all(type(v) in (str, int, bool) for v in record.values())
        assert json.loads(json.dumps(record, ensure_ascii=False)) == record
    assert dt.date.fromisoformat(str(COMPANIES[0].to_json()["established"]))
    assert set(COMPANIES[0].to_json()) == set(SyntheticEnterprise.__dataclass_fields__)
    assert set(PEOPLE[0].to_json()) == set(Citizen.__dataclass_fields__)


def test_enterprises_need_citizens() -> None:
    with pytest.raises(SchemaViolation):
        enterprises(1, seed=1, citizens=[])


@given(st.integers(1, 10**6), st.integers(0, 10**6), st.integers(0, 2**32))
def test_log_uniform_stays_in_range(lo: int, span: int, seed: int) -> None:
    x = log_uniform(random.Random(seed), lo, lo + span)
    assert lo <= x <= lo + span and type(x) is int


def test_log_uniform_spreads_over_orders_of_magnitude() -> None:
    rng = random.Random(7)
    draws = [log_uniform(rng, 10, 10_000) for _ in range(3000)]
    per_decade = Counter(len(str(x)) for x in draws)  # 2, 3, 4 digits (and 10,000 itself)
    for digits in (2, 3, 4):
        assert 800 <= per_decade[digits] <= 1200
    with pytest.raises(SchemaViolation):
        log_uniform(rng, 0, 5)
