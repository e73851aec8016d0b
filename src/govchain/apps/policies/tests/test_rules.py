"""The rule language's checks and lint, known answers of the evaluator (gaps, benefits,
missing facts), the trace, the shipped policies and the demo's synthetic facts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from govchain.apps.policies.attributes import BY_NAME, CATALOGUE
from govchain.apps.policies.contract import ATTRIBUTES, assess, evaluate, gap_of
from govchain.apps.policies.demo import size_class, synthetic_facts
from govchain.apps.policies.follower import workable
from govchain.apps.policies.rules import check_policy, describe, explain, lint, shipped_policies
from govchain.errors import SchemaViolation

POLICIES = {p["id"]: p for p in shipped_policies()}
BASE = POLICIES["zj-rd-expense-support"]


def with_rule(eligibility: Any, benefit: Any = None) -> dict[str, Any]:
    p = copy.deepcopy(BASE)
    p["eligibility"] = eligibility
    if benefit is not None:
        p["benefit"] = benefit
    return p


def messages(policy: dict[str, Any]) -> list[str]:
    return [f"{f.path}: {f.message}" for f in lint(policy)]


def v(name: str) -> dict[str, str]:
    return {"var": name}


def test_the_shipped_policies_are_many_and_clean() -> None:
    assert len(POLICIES) >= 30
    assert {p["mode"] for p in POLICIES.values()} == {"application", "automatic"}
    assert {p["level"] for p in POLICIES.values()} == {"provincial", "municipal", "district"}
    for p in POLICIES.values():
        assert lint(p) == [], p["id"]


def test_the_catalogue_names_a_holder_and_a_label_for_every_attribute() -> None:
    assert [a.name for a in CATALOGUE] == [row[0] for row in ATTRIBUTES]
    assert {a.holder for a in CATALOGUE} == {"registry", "market", "tax", "hrss", "customs"}
    assert all(a.zh and a.en and a.source for a in CATALOGUE)
    assert BY_NAME["rd_share_bps"].maximum == 10_000 and BY_NAME["rd_share_bps"].unit == "bps"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({">=": [v("rd_budget"), 1]}, "eligibility.>=[0].var: unknown attribute 'rd_budget'"),
        ({">": [v("size_class"), 3]}, "eligibility.>: enum:size_class and int do not compare"),
        ({"==": [v("size_class"), "tiny"]}, "eligibility.==: 'tiny' is not a value of size_class"),
        ({"+": [v("employees"), 1]}, "eligibility: must be a condition"),
        ({">=": [v("employees"), 1.5]}, "eligibility.>=[1]: an operation is an object"),
        ({"and": [{"<": [v("employees"), 3, 4, 5]}]}, "eligibility.and[0].<: compares two"),
        ({"if": [v("high_tech"), 1]}, "eligibility.if: takes [condition, then, ..., else]"),
        ({"in": [v("employees"), ["a"]]}, "eligibility.in: int is not compared with list:str"),
        ({"xor": [True, False]}, "eligibility.xor: unknown operator 'xor'"),
    ],
)
def test_type_errors_are_refused_with_their_place(rule: Any, expected: str) -> None:
    found = messages(with_rule(rule))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_impossible_conditions_are_refused() -> None:
    both = {"and": [{">": [v("employees"), 10]}, {"<": [v("employees"), 5]}]}
    assert messages(with_rule(both)) == [
        "eligibility: impossible: no value of employees meets employees > 10 and employees < 5"
    ]
    beyond = {">": [v("rd_share_bps"), 10_000]}
    assert "impossible" in messages(with_rule(beyond))[0]
    enums = {"and": [{"==": [v("size_class"), "micro"]}, {"in": [v("size_class"), ["large"]]}]}
    assert "no value of size_class" in messages(with_rule(enums))[0]
    yes_no = {"and": [v("high_tech"), {"!": [v("high_tech")]}]}
    assert "no value of high_tech" in messages(with_rule(yes_no))[0]
    # Deep inside: the nested 'and' is found too.
    nested = {"or": [v("aeo_certified"), {"and": [{"<=": [20, v("employees"), 10]}]}]}
    assert messages(with_rule(nested))[0].startswith("eligibility.or[1]: impossible")
    # Meeting at one value is possible.
    edge = {"and": [{">=": [v("employees"), 10]}, {"<=": [v("employees"), 10]}]}
    assert messages(with_rule(edge)) == []


def test_overlapping_tiers_are_refused() -> None:
    tiers = copy.deepcopy(POLICIES["hz-tax-contribution-award"])
    assert lint(tiers) == []
    tiers["benefit"]["tiers"][1]["when"] = {">=": [v("tax_paid_fen"), 4_000_000_000]}
    found = messages(tiers)
    assert found[0].startswith("benefit.tiers[1]: overlaps tier 0") and len(found) == 2
    enum_tiers = copy.deepcopy(POLICIES["hz-small-business-rent-relief"])
    assert lint(enum_tiers) == []
    enum_tiers["benefit"]["tiers"][1]["when"] = {"in": [v("size_class"), ["micro", "small"]]}
    assert messages(enum_tiers)[0].startswith("benefit.tiers[1]: overlaps tier 0")
    vague = copy.deepcopy(enum_tiers)
    vague["benefit"]["tiers"][0]["when"] = {"or": [v("high_tech"), v("aeo_certified")]}
    assert "ranges and values" in messages(vague)[0]


def test_values_that_could_overflow_int64_are_refused() -> None:
    huge = {">=": [{"*": [v("revenue_fen"), v("export_fen")]}, 1]}
    assert "over 2^62" in messages(with_rule(huge))[0]
    fine = {">=": [{"bps": [v("revenue_fen"), 10_000]}, 1]}
    assert messages(with_rule(fine)) == []


def test_check_policy_raises_schema_violation_with_every_finding() -> None:
    bad = with_rule({"and": [{">": [v("employees"), 10]}, {"<": [v("employees"), 5]}]})
    with pytest.raises(SchemaViolation) as caught:
        check_policy(bad)
    assert caught.value.fields["field"] == "eligibility"
    assert caught.value.fields["findings"][0]["path"] == "eligibility"


def test_missing_facts_make_every_comparison_false() -> None:
    for op in ("==", "!=", "<", ">="):
        assert evaluate({op: [v("employees"), 3]}, {}) is False
    assert evaluate({"!": [{"==": [v("employees"), 3]}]}, {}) is True
    assert evaluate(v("high_tech"), {}) is False
    assert evaluate({"+": [v("employees"), 1]}, {}) is None


def test_gaps_say_by_how_much_the_attribute_must_change() -> None:
    facts = {"employees": 7, "rd_share_bps": 250, "years_in_business": 5}
    assert gap_of({">=": [v("employees"), 10]}, facts) == 3
    assert gap_of({">": [v("employees"), 10]}, facts) == 4
    assert gap_of({"<=": [v("years_in_business"), 3]}, facts) == -2
    assert gap_of({"<": [v("years_in_business"), 3]}, facts) == -3
    assert gap_of({"<=": [300, v("rd_share_bps"), 1000]}, facts) == 50
    assert gap_of({"<": [10, v("employees")]}, facts) == 4  # the attribute on the right
    assert gap_of({">=": [v("employees"), 5]}, facts) is None  # holds
    assert gap_of({">=": [v("graduates_hired"), 1]}, facts) is None  # not attested
    # An industry division is a code, not a quantity: no gap.
    assert gap_of({"==": [v("industry_division"), 61]}, {"industry_division": 52}) is None
    assert gap_of({"<=": [63, v("industry_division"), 65]}, {"industry_division": 52}) is None


def test_nearly_is_worth_a_notice_only_for_attested_facts() -> None:
    retail = POLICIES["hz-retail-digital-upgrade"]  # clause 0: the industry; 1: the revenue
    assert not workable(retail, 0)
    assert workable(retail, 1)


def test_benefits_are_capped_and_floored_in_fen() -> None:
    rd = POLICIES["zj-rd-expense-support"]
    facts = {"rd_expense_fen": 123_456_789, "rd_share_bps": 450, "tax_credit_rating": "A"}
    facts["tax_arrears"] = False
    assert assess(rd, facts)["benefit_fen"] == 12_345_678  # 10 %, floored to the fen
    facts["rd_expense_fen"] = 5_000_000_000
    assert assess(rd, facts)["benefit_fen"] == 100_000_000  # the cap: 1 million yuan
    tiers = POLICIES["hz-tax-contribution-award"]
    for paid, award in (
        (999_999_999, 0),
        (10**9, 50 * 10**6),
        (5 * 10**9, 10**8),
        (10**10, 3 * 10**8),
    ):
        assert assess(tiers, {"tax_paid_fen": paid, "tax_arrears": False})["benefit_fen"] == award


def test_the_trace_names_each_fact_and_its_source() -> None:
    rd = POLICIES["zj-rd-expense-support"]
    facts = {"rd_expense_fen": 20_000_000, "rd_share_bps": 280, "tax_credit_rating": "B"}
    facts["tax_arrears"] = False
    sources = {k: {"dept": "tax", "attestation": f"att-{k}"} for k in facts}
    result = explain(rd, facts, sources)
    assert result["status"] == "nearly" and result["gap"] == 20
    failing = [c for c in result["clauses"] if not c["result"]]
    assert len(failing) == 1 and failing[0]["clause"] == "rd_share_bps ≥ 300"
    assert failing[0]["checks"][0]["facts"] == [
        {
            "attribute": "rd_share_bps",
            "value": 280,
            "dept": "tax",
            "attestation": "att-rd_share_bps",
        }
    ]


def test_describe_reads_like_the_rule() -> None:
    assert describe({"<=": [3, v("employees"), 5]}) == "3 ≤ employees ≤ 5"
    assert describe({"bps": [v("revenue_fen"), 50]}) == "bps(revenue_fen, 50)"
    assert describe({"!": [v("tax_arrears")]}) == "not (tax_arrears)"
    assert describe(10_000_000) == "10_000_000"


def test_synthetic_facts_are_fixed_by_the_code_and_in_range() -> None:
    a = synthetic_facts("91330106MA2XXXXX1A", {"employees": 40, "industry": "6513"})
    assert a == synthetic_facts("91330106MA2XXXXX1A", {"employees": 40, "industry": "6513"})
    assert a["employees"] == 40
    for name, value in a.items():
        attr = BY_NAME[name]
        if attr.kind == "int":
            assert attr.minimum <= value <= attr.maximum
        elif attr.kind == "enum":
            assert value in attr.values
    assert a["rd_expense_fen"] == a["revenue_fen"] * a["rd_share_bps"] // 10_000


def test_size_classes_follow_the_thresholds() -> None:
    # Known answers from the 2011 classification for industry (工信部联企业〔2011〕300号).
    assert size_class(19, 10**10) == "micro"
    assert size_class(20, 300_000_000) == "small"
    assert size_class(300, 2_000_000_000) == "medium"
    assert size_class(1000, 40_000_000_000) == "large"
    assert size_class(1000, 39_999_999_999) == "medium"
