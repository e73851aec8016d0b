"""The registry and decision contract on the SDK's in-memory network: entries checked field by
field (the same checks as ``records.validate_entry``), atomic batches, keeper-only changes with
a chained history, review decisions and the listing view."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.apps.projects.app import APP
from govchain.apps.projects.contract import ID_CHARS, MAX_BATCH
from govchain.apps.projects.records import problems_of, validate_entry
from govchain.apps.projects.tests.samples import (
    BOOKING_APPLICATION,
    FOOD_SAMPLING,
    HOSPITAL_BOOKING,
    SCHOOL_ENROLMENT,
    evidence_for,
    variant,
)
from govchain.errors import SchemaViolation
from govchain.ledger.receipts import Receipt
from govchain.sdk import Failed
from govchain.sdk.testing import ContractHarness

ENTRY_PREFIX = b"c/projects/e/"


@pytest.fixture
def h() -> ContractHarness:
    return ContractHarness.for_app(APP)


@pytest.fixture(scope="module")
def shared() -> ContractHarness:
    """One network for the tests whose calls are refused or touch entries of their own."""
    h = ContractHarness.for_app(APP)
    seeded(h)
    ok(register(h, variant(BOOKING_APPLICATION, id="APP-2027-0002"), "customs/admin"))
    return h


def ok(r: Receipt) -> Any:
    assert r.status == "ok", r.error
    return r.result


def refused(r: Receipt, code: str) -> str:
    assert r.status == "failed", r.result
    assert r.error is not None and r.error["code"] == f"projects.{code}", r.error
    return str(r.error["message"])


def register(h: ContractHarness, entry: dict[str, Any], member: str = "tax/admin") -> Receipt:
    return h.call("register", {"entry": entry}, member=member, actor=f"{member}#li")


def registry(h: ContractHarness) -> list[dict[str, Any]]:
    return h.view("entries", {"limit": 1000})["entries"]  # type: ignore[no-any-return]


def seeded(h: ContractHarness) -> None:
    """The sample systems registered by their own departments' admins (tax stands in for
    health and education, which the harness network does not have), the application by hrss."""
    ok(register(h, HOSPITAL_BOOKING, "tax/admin"))
    ok(register(h, SCHOOL_ENROLMENT, "tax/admin"))
    ok(register(h, FOOD_SAMPLING, "market/admin"))
    ok(register(h, BOOKING_APPLICATION, "hrss/admin"))


# --- entries ------------------------------------------------------------------------------------


def test_register_records_the_entry_its_keeper_and_who_when_where(h: ContractHarness) -> None:
    r = register(h, HOSPITAL_BOOKING, "tax/officer")
    assert ok(r) == {"ids": ["SYS-HEALTH-0001"], "count": 1, "height": h.ledger.height}
    assert r.events == (
        {"type": "projects.registered", "data": {"ids": ["SYS-HEALTH-0001"], "count": 1}},
    )
    record = h.view("entry", {"entry_id": "SYS-HEALTH-0001"})
    assert {k: record[k] for k in HOSPITAL_BOOKING} == HOSPITAL_BOOKING
    assert record["keeper"] == "tax"  # the signer's department, not the entry's department
    assert record["by"] == "tax/officer" and record["actor"] == "tax/officer#li"
    assert record["version"] == 1 and record["previous_tx"] == ""
    assert record["height"] == h.ledger.height and record["time_ms"] == h.time_ms
    assert record["change"] == "registered" and len(record["tx_id"]) == 64
    assert h.view("entry", {"entry_id": "SYS-NONE-0001"}) is None


BAD_ENTRIES = [
    ({"id": "sys-health-1"}, "id"),
    ({"id": "S1"}, "id"),
    ({"id": "SYS_HEALTH"}, "id"),
    ({"status": "retired"}, "status"),
    ({"status": "reviewed"}, "status"),
    ({"department": "Health"}, "department"),
    ({"department_name": "卫"}, "department_name"),
    ({"name": " 预约挂号"}, "name"),
    ({"purpose": ""}, "purpose"),
    ({"functions": []}, "functions"),
    ({"functions": ["挂号", "挂号"]}, "functions"),
    ({"functions": "挂号"}, "functions"),
    ({"uses": ["a"] * 51}, "uses"),
    ({"produces": [""]}, "produces"),
    ({"users": []}, "users"),
    ({"user_count": -1}, "user_count"),
    ({"user_count": True}, "user_count"),
    ({"budget_fen": 10**14 + 1}, "budget_fen"),
    ({"budget_fen": "100"}, "budget_fen"),
    ({"platform": "x" * 61}, "platform"),
    ({"start_date": "2021-02-29"}, "start_date"),
    ({"start_date": "2021/06/01"}, "start_date"),
    ({"end_date": "2021-05-31"}, "end_date"),
    ({"end_date": "2021-13-01"}, "end_date"),
    ({"colour": "blue"}, "colour"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_ENTRIES)
def test_a_bad_entry_is_refused_naming_its_field(
    shared: ContractHarness, changes: dict[str, Any], field: str
) -> None:
    entry = variant(HOSPITAL_BOOKING, id="SYS-BAD-0001") | changes
    message = refused(register(shared, entry), "bad_entry")
    assert message.startswith(f"entry.{field}: "), message
    # The service checks the same rules before signing, and names the same field.
    with pytest.raises(SchemaViolation) as err:
        validate_entry(entry)
    assert err.value.fields["field"] == field
    assert shared.view("entry", {"entry_id": entry["id"]}) is None


def test_a_missing_field_is_refused_and_every_problem_is_listed_off_chain(
    h: ContractHarness,
) -> None:
    entry = variant(HOSPITAL_BOOKING, name="", users=[])
    del entry["platform"]
    message = refused(register(h, entry), "bad_entry")
    assert message == "entry.name: must be 2 to 100 characters long (and 2 more problem(s))"
    assert [(p.field, p.reason) for p in problems_of(entry)] == [
        ("name", "must be 2 to 100 characters long"),
        ("users", "must have 1 to 20 items"),
        ("platform", "is required"),
    ]


def test_texts_must_be_nfc_which_the_service_checks_before_signing() -> None:
    decomposed = "Cafe\u0301 系统"  # e + combining acute: NFD
    with pytest.raises(SchemaViolation) as err:
        validate_entry(variant(HOSPITAL_BOOKING, name=decomposed))
    assert err.value.fields["problems"] == [
        {"field": "name", "reason": "must be in Unicode normal form NFC"}
    ]


_MUTATIONS = st.sampled_from(
    [
        ("user_count", st.integers(-5, 10**9 + 5)),
        ("budget_fen", st.integers(-5, 10**14 + 5)),
        ("id", st.text(alphabet=ID_CHARS + "a_ ", max_size=42)),
        ("department", st.text(alphabet="abz09_A-", max_size=34)),
        ("name", st.text(alphabet="预约挂 x", max_size=102)),
        ("start_date", st.dates().map(str) | st.text(alphabet="0123456789-", max_size=11)),
        ("functions", st.lists(st.text(alphabet="挂号 ", max_size=4), max_size=62)),
    ]
)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_contract_accepts_exactly_what_the_service_accepts(
    shared: ContractHarness, data: st.DataObject
) -> None:
    field, values = data.draw(_MUTATIONS)
    entry = variant(
        HOSPITAL_BOOKING, id=data.draw(st.from_regex(r"SYS-Q-[0-9]{6}", fullmatch=True))
    )
    entry[field] = data.draw(values)
    r = register(shared, entry)
    if r.status != "ok" and r.error is not None and r.error["code"] == "projects.exists":
        return  # drawn twice
    assert (r.status == "ok") == (not problems_of(entry)), (entry, r.error)


# --- batches ------------------------------------------------------------------------------------


def test_register_many_is_all_or_nothing_naming_the_index_and_field(h: ContractHarness) -> None:
    good = [variant(HOSPITAL_BOOKING, id=f"SYS-HEALTH-{i:04d}") for i in range(1, 4)]
    bad = [*good, variant(FOOD_SAMPLING, budget_fen=-1)]
    message = refused(h.call("register_many", {"entries": bad}), "bad_entry")
    assert message == "entries[3].budget_fen: must be from 0 to 100000000000000"
    assert registry(h) == []

    ok(register(h, FOOD_SAMPLING))
    clash = [*good, FOOD_SAMPLING]
    message = refused(h.call("register_many", {"entries": clash}), "exists")
    assert message == "entries[3].id: SYS-MARKET-0001 is already registered"
    twice = [good[0], good[1], good[0]]
    message = refused(h.call("register_many", {"entries": twice}), "exists")
    assert message.startswith("entries[2].id: SYS-HEALTH-0001")
    assert [e["id"] for e in registry(h)] == ["SYS-MARKET-0001"]

    r = h.call("register_many", {"entries": good})
    assert ok(r)["ids"] == ["SYS-HEALTH-0001", "SYS-HEALTH-0002", "SYS-HEALTH-0003"]
    assert r.events[0] == {"type": "projects.registered", "data": {"ids": ok(r)["ids"], "count": 3}}
    assert len(registry(h)) == 4


def test_register_many_takes_1_to_500_entries(h: ContractHarness) -> None:
    refused(h.call("register_many", {"entries": []}), "bad_batch")
    many = [variant(FOOD_SAMPLING, id=f"SYS-M-{i:04d}") for i in range(MAX_BATCH + 1)]
    refused(h.call("register_many", {"entries": many}), "bad_batch")
    assert ok(h.call("register_many", {"entries": many[:MAX_BATCH]}))["count"] == MAX_BATCH


# --- changes and history --------------------------------------------------------------------------


def test_only_the_keeper_updates_and_the_versions_form_a_chain(h: ContractHarness) -> None:
    first = register(h, SCHOOL_ENROLMENT, "tax/admin")
    ok(first)
    args = {"entry_id": "PRJ-EDU-0001", "changes": {"budget_fen": 400_000_000}}
    msg = refused(h.call("update", args, member="market/admin"), "not_keeper")
    assert msg == "only department tax changes PRJ-EDU-0001"
    ok(h.call("update", args, member="tax/officer"))
    went_live = {"status": "in_use", "end_date": "2027-05-01"}
    r = h.call("update", {"entry_id": "PRJ-EDU-0001", "changes": went_live}, member="tax/admin")
    assert ok(r)["version"] == 3
    record = h.view("entry", {"entry_id": "PRJ-EDU-0001"})
    assert record["status"] == "in_use" and record["budget_fen"] == 400_000_000
    assert record["keeper"] == "tax" and record["change"] == "updated"

    # The state keeps every version with the transaction that wrote it; each names the one
    # before, back to the registration.
    versions = h.ledger.state.history(ENTRY_PREFIX + b"PRJ-EDU-0001")
    chain = [orjson.loads(v.value) for v in reversed(versions) if v.value is not None]
    assert [v["version"] for v in chain] == [1, 2, 3]
    assert [v["tx_id"] for v in chain] == [v.tx_id.hex() for v in reversed(versions)]
    assert [v["previous_tx"] for v in chain] == ["", chain[0]["tx_id"], chain[1]["tx_id"]]
    assert chain[0]["status"] == "in_development" and chain[1]["budget_fen"] == 400_000_000

    # Listed under its new status only.
    assert [e["id"] for e in h.view("entries", {"status": "in_use"})["entries"]] == ["PRJ-EDU-0001"]
    assert h.view("entries", {"status": "in_development"})["entries"] == []


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"status": "pending"}, "bad_transition"),
        ({"status": "reviewed"}, "bad_transition"),
        ({"id": "PRJ-EDU-0002"}, "bad_changes"),
        ({}, "bad_changes"),
        ({"functions": []}, "bad_entry"),
        ({"colour": "blue"}, "bad_entry"),
    ],
)
def test_bad_updates_are_refused(
    shared: ContractHarness, changes: dict[str, Any], code: str
) -> None:
    args = {"entry_id": "PRJ-EDU-0001", "changes": changes}
    refused(shared.call("update", args, member="tax/admin"), code)
    assert shared.view("entry", {"entry_id": "PRJ-EDU-0001"})["version"] == 1


def test_retire_needs_the_keeper_and_a_reason_and_freezes_the_entry(h: ContractHarness) -> None:
    ok(register(h, FOOD_SAMPLING, "market/admin"))
    ok(register(h, BOOKING_APPLICATION, "hrss/admin"))
    reason = "并入省一体化市场监管平台"
    refused(
        h.call("retire", {"entry_id": "SYS-MARKET-0001", "reason": reason}, member="tax/admin"),
        "not_keeper",
    )
    refused(
        h.call("retire", {"entry_id": "SYS-MARKET-0001", "reason": "x"}, member="market/admin"),
        "bad_reason",
    )
    refused(
        h.call("retire", {"entry_id": "APP-2027-0001", "reason": reason}, member="hrss/admin"),
        "bad_transition",
    )
    r = h.call("retire", {"entry_id": "SYS-MARKET-0001", "reason": reason}, member="market/admin")
    assert ok(r)["version"] == 2
    assert r.events[0]["data"] == {"id": "SYS-MARKET-0001", "reason": reason}
    record = h.view("entry", {"entry_id": "SYS-MARKET-0001"})
    assert record["status"] == "retired" and record["reason"] == reason
    changes = {"entry_id": "SYS-MARKET-0001", "changes": {"name": "新名称"}}
    refused(h.call("update", changes, member="market/admin"), "frozen")
    refused(h.call("update", {**changes, "entry_id": "SYS-NONE-0001"}), "not_found")


# --- decisions ------------------------------------------------------------------------------------


def decide(
    h: ContractHarness,
    member: str = "market/admin",
    application: str = "APP-2027-0001",
    **args: Any,
) -> Receipt:
    body: dict[str, Any] = {
        "application": application,
        "recommendation": "reuse",
        "target": "SYS-HEALTH-0001",
        "reason": "在用系统已覆盖申请的全部功能，少量改造即可满足医保部门需求。",
        "evidence": evidence_for(application),
    }
    body.update(args)
    return h.call("decide", body, member=member, actor=f"{member}#wang")


def test_a_decision_is_recorded_with_its_evidence_and_the_application_is_reviewed(
    h: ContractHarness,
) -> None:
    seeded(h)
    r = decide(h)
    assert ok(r) == {
        "application": "APP-2027-0001",
        "recommendation": "reuse",
        "height": h.ledger.height,
    }
    assert r.events[0] == {
        "type": "projects.decided",
        "data": {
            "application": "APP-2027-0001",
            "recommendation": "reuse",
            "target": "SYS-HEALTH-0001",
            "dept": "market",
            "changed": False,
        },
    }
    decision = h.view("decision", {"application": "APP-2027-0001"})
    assert decision["evidence"] == evidence_for("APP-2027-0001")
    assert decision["dept"] == "market" and decision["by"] == "market/admin"
    assert decision["actor"] == "market/admin#wang" and decision["applicant"] == "medical_insurance"
    assert decision["changed"] is False and decision["reason"].startswith("在用系统")
    application = h.view("entry", {"entry_id": "APP-2027-0001"})
    assert application["status"] == "reviewed" and application["version"] == 2
    assert application["previous_tx"] != application["tx_id"] == decision["tx_id"]
    # Decided once: the application is no longer pending.
    assert (
        refused(decide(h), "not_pending") == "APP-2027-0001 is reviewed, not a pending application"
    )


def test_a_reviewer_may_change_the_recommendation_and_the_change_is_recorded(
    h: ContractHarness,
) -> None:
    seeded(h)
    ok(decide(h, recommendation="build", target=None, reason="医保结算功能现有系统无法改造"))
    decision = h.view("decision", {"application": "APP-2027-0001"})
    assert decision["changed"] is True
    assert decision["reviewed"] == {"recommendation": "reuse", "target": "SYS-HEALTH-0001"}
    assert decision["recommendation"] == "build" and decision["target"] is None


def test_the_applicant_department_does_not_review_itself(h: ContractHarness) -> None:
    seeded(h)
    own = {**BOOKING_APPLICATION, "id": "APP-2027-0002", "department": "hrss"}
    ok(register(h, own, "hrss/admin"))  # hrss files its own application
    msg = refused(decide(h, member="hrss/officer", application="APP-2027-0002"), "self_review")
    assert msg == "department hrss applied for APP-2027-0002: another one reviews it"
    assert h.view("decision", {"application": "APP-2027-0002"}) is None


def test_the_keeper_that_filed_for_another_department_may_review(h: ContractHarness) -> None:
    seeded(h)  # hrss filed the medical insurance bureau's application, as a data bureau does
    ok(decide(h, member="hrss/officer"))
    assert h.view("decision", {"application": "APP-2027-0001"})["dept"] == "hrss"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"recommendation": "copy"}, "bad_recommendation"),
        ({"recommendation": "reuse", "target": None}, "bad_target"),
        ({"recommendation": "reuse", "target": "PRJ-EDU-0001"}, "bad_target"),
        ({"recommendation": "join", "target": "SYS-HEALTH-0001"}, "bad_target"),
        ({"recommendation": "join", "target": "PRJ-EDU-0001"}, ""),
        ({"recommendation": "merge", "target": "APP-2027-0001"}, ""),
        ({"recommendation": "merge", "target": "SYS-HEALTH-0001"}, "bad_target"),
        ({"recommendation": "merge", "target": "APP-2027-0002"}, ""),
        ({"recommendation": "build", "target": "SYS-HEALTH-0001"}, "bad_target"),
        ({"recommendation": "build", "target": None}, ""),
        ({"target": "SYS-NONE-0001"}, "no_target"),
        ({"reason": "x"}, "bad_reason"),
        ({"reason": "理" * 1001}, "bad_reason"),
        ({"evidence": evidence_for("APP-2027-0002")}, "bad_evidence"),
        ({"recommendation": "merge", "target": "self"}, "bad_target"),
        ({"evidence": evidence_for("APP-2027-0001", confidence=1001)}, "bad_evidence"),
        ({"evidence": evidence_for("APP-2027-0001", recommendation="copy")}, "bad_evidence"),
        ({"evidence": {"application": "APP-2027-0001"}}, "bad_evidence"),
        ({"evidence": evidence_for("APP-2027-0001", candidates=[{}])}, "bad_evidence"),
        ({"evidence": evidence_for("APP-2027-0001", note=[1])}, "bad_evidence"),
        ({"evidence": evidence_for("APP-2027-0001", note="多数据源")}, ""),
    ],
)
def test_decision_rules(shared: ContractHarness, args: dict[str, Any], code: str) -> None:
    # Each case decides on an application of its own, so that the accepted ones do not
    # change what the others see.
    n = _CASES.setdefault("n", [0])
    n[0] += 1
    ident = f"APP-2027-9{n[0]:03d}"
    ok(register(shared, variant(BOOKING_APPLICATION, id=ident), "hrss/admin"))
    args = {"evidence": evidence_for(ident)} | args
    if args.get("target") == "self":
        args["target"] = ident
    if args["evidence"].get("application") == "APP-2027-0001":
        args["evidence"] = {**args["evidence"], "application": ident}
    r = decide(shared, application=ident, **args)
    if code:
        refused(r, code)
        assert shared.view("entry", {"entry_id": ident})["status"] == "pending"
    else:
        ok(r)
        assert shared.view("entry", {"entry_id": ident})["status"] == "reviewed"


_CASES: dict[str, list[int]] = {}


def test_evidence_is_bounded(h: ContractHarness) -> None:
    seeded(h)
    one = evidence_for("APP-2027-0001")["candidates"][0]
    eleven = evidence_for("APP-2027-0001", candidates=[one] * 11)
    msg = refused(decide(h, evidence=eleven), "bad_evidence")
    assert msg == "evidence candidates must be a list of at most 10"
    reasons = evidence_for("APP-2027-0001", reasons=["理由"] * 21)
    refused(decide(h, evidence=reasons), "bad_evidence")
    ok(decide(h, evidence=evidence_for("APP-2027-0001", candidates=[one] * 10)))


# --- the listing view -----------------------------------------------------------------------------

IDS = [
    "A-1",
    "A-10",
    "A-2",
    "AB0",
    "APP-2027-0001",
    "APP-2027-0002",
    "APP-2027-00021",
    "APP-2028-0001",
    "PRJ-EDU-0001",
    "PRJ-EDU-0001-A",
    "SYS-HEALTH-0001",
    "SYS-HEALTH-0009",
    "SYS-HEALTH-0010",
    "SYS-MARKET-0001",
    "Z99",
]


def test_entries_pages_in_id_order_after_any_id(h: ContractHarness) -> None:
    statuses = ("in_use", "in_development", "pending")
    entries = [
        variant(
            HOSPITAL_BOOKING,
            id=ident,
            status=statuses[i % 3],
            department=("health", "market")[i % 2],
        )
        for i, ident in enumerate(IDS)
    ]
    ok(h.call("register_many", {"entries": entries}))
    by = {e["id"]: e for e in entries}
    starts = ["", *IDS, "A", "APP-2027-0001A", "B", "SYS-HEALTH-00", "ZZZ", "-"]
    filters = (("", ""), ("pending", ""), ("", "market"), ("in_use", "health"))
    for (status, dept), after, limit in itertools.product(filters, starts, (1, 3, 20)):
        wanted = sorted(
            i
            for i in IDS
            if (not status or by[i]["status"] == status)
            and (not dept or by[i]["department"] == dept)
        )
        args = {"status": status, "department": dept, "after": after, "limit": limit}
        page = h.view("entries", args)
        expected = [i for i in wanted if i > after][:limit]
        assert [e["id"] for e in page["entries"]] == expected, args
        assert page["next"] == (expected[-1] if len(expected) == limit else None)


@pytest.mark.parametrize(
    "args",
    [{"limit": 0}, {"limit": 1001}, {"after": "a-1"}, {"department": "X"}, {"status": "old"}],
)
def test_entries_refuses_bad_filters(shared: ContractHarness, args: dict[str, Any]) -> None:
    with pytest.raises(Failed) as err:
        shared.view("entries", args)
    assert err.value.code in ("projects.bad_limit", "projects.bad_filter")
