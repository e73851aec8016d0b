"""Citizen certificates as case outputs (``certificate.issue``) and commitment-based approval
over them: the definition's output parsed or refused naming the field; on an in-memory network
an approved case puts the certificate into the registry, with a credential status index, listed
for its holder; a commitment kept leaves it active, a broken one revokes it and sets its status
bit in the transaction that records the failed check."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from govchain.credentials import ledger_status as ls
from govchain.errors import NotFound, SchemaViolation
from govchain.procedures.definitions import (
    DefinitionRefused,
    Output,
    parse_definition,
)
from govchain.procedures.registry import certificate_number
from govchain.sdk.testing import NetworkHarness

DEPTS = ("market", "tax", "hrss", "public_security")
CODE = "330100-RZ-9001"
APPLICANT = "citizen/0a1b2c3d4e5f6789"
DAY_MS = 86_400_000


def matter(**changes: Any) -> dict[str, Any]:
    """A citizen matter decided by the police after one review, issuing a certificate."""
    defn: dict[str, Any] = {
        "code": CODE,
        "version": 1,
        "category": "certification",
        "name": {"zh": "积分落户资格确认", "en": "Points-based household registration"},
        "summary": {"zh": "积分落户资格确认", "en": "Points-based household registration"},
        "owner": "public_security",
        "legal_basis": ["《居住证暂行条例》第十六条"],
        "applicants": ["citizen"],
        "materials": [],
        "form": {"type": "object", "properties": {"district": {"type": "string"}}},
        "steps": [
            {
                "id": "points",
                "name": {"zh": "积分核定", "en": "Points scored"},
                "kind": "review",
                "dept": "public_security",
                "role": "officer",
                "days": 10,
            }
        ],
        "decision": {"role": "approver"},
        "auto_accept": True,
        "outputs": [
            {
                "kind": "certificate.issue",
                "certificate_type": "points_household_eligibility",
                "certificate_name": {
                    "zh": "积分落户资格确认书",
                    "en": "Points-based household registration eligibility",
                },
                "validity_days": 365,
            }
        ],
        "fee_fen": 0,
        "time_limit_days": 20,
        "commitment": {"check_days": 20},
    }
    defn.update(changes)
    return defn


def problems(obj: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(DefinitionRefused) as caught:
        parse_definition(obj, DEPTS)
    found: list[dict[str, str]] = caught.value.fields["problems"]
    return found


# --- the definition -----------------------------------------------------------------------------


def test_a_certificate_output_is_read_with_its_type_name_and_validity() -> None:
    defn = parse_definition(matter(), DEPTS)
    assert defn.outputs == (
        Output(
            "certificate.issue",
            "",
            {},
            0,
            "points_household_eligibility",
            {"zh": "积分落户资格确认书", "en": "Points-based household registration eligibility"},
            365,
        ),
    )
    assert defn.commitment_check_days == 20
    no_end = copy.deepcopy(matter())
    no_end["outputs"][0]["validity_days"] = 0  # a marriage certificate has no end date
    assert parse_definition(no_end, DEPTS).outputs[0].validity_days == 0


def _output(**fields: Any) -> dict[str, Any]:
    out = copy.deepcopy(matter()["outputs"][0])
    out.update(fields)
    return matter(outputs=[{k: v for k, v in out.items() if v is not None}])


@pytest.mark.parametrize(
    ("defn", "place", "fragment"),
    [
        (_output(certificate_type="Points-Eligibility"), "outputs[0].certificate_type", "lower"),
        (_output(certificate_type=None), "outputs[0].certificate_type", "identifier"),
        (_output(validity_days=-1), "outputs[0].validity_days", "0 to 3650"),
        (_output(validity_days=3651), "outputs[0].validity_days", "0 to 3650"),
        (_output(validity_days="365"), "outputs[0].validity_days", "integer"),
        (_output(validity_days=None), "outputs[0].validity_days", "missing"),
        (_output(certificate_name={"zh": "确认书"}), "outputs[0].certificate_name.en", "non-empty"),
        (_output(certificate_name=None), "outputs[0].certificate_name", "'zh' and 'en'"),
        (_output(licence_type="x"), "outputs[0].licence_type", "unknown field"),
        (_output(kind="certificate.grant"), "outputs[0].kind", "certificate.issue"),
    ],
    ids=[
        "type not an identifier", "type missing", "negative validity", "validity too long",
        "validity not an integer", "validity missing", "name without en", "name missing",
        "licence field on a certificate", "unknown kind",
    ],
)  # fmt: skip
def test_a_bad_certificate_output_is_refused_naming_the_field(
    defn: dict[str, Any], place: str, fragment: str
) -> None:
    found = problems(defn)
    assert any(p["place"] == place and fragment in p["reason"] for p in found), found


def test_a_commitment_needs_something_issued_that_it_can_take_back() -> None:
    assert problems(matter(outputs=[])) == [
        {
            "place": "commitment",
            "reason": "commitment-based approval needs a licence output or a certificate output",
        }
    ]
    assert parse_definition(matter(), DEPTS).commitment_check_days == 20


def test_certificate_numbers_carry_the_type_area_year_and_serial() -> None:
    assert certificate_number("marriage_certificate", 2026, 1) == "MC3301002026000001"
    assert certificate_number("points_household_eligibility", 2027, 123) == "PHE3301002027000123"


# --- on a network -------------------------------------------------------------------------------


@pytest.fixture
def h() -> NetworkHarness:
    harness = NetworkHarness(DEPTS)
    assert harness.publish_definitions([matter()]) == [CODE]
    return harness


def approved(h: NetworkHarness) -> str:
    """Submit, score and approve one application; return the case number."""
    submit = {"service": CODE, "form_hash": "ab" * 32, "materials": {}, "session": "sid-1"}
    number: str = h.must(
        "cases", "submit", submit, member="public_security/admin", actor=APPLICANT
    )["number"]
    staff = {"member": "public_security/admin", "case": number}
    done = {"case": number, "role": "officer", "step": "points", "result": "pass"}
    h.must("cases", "complete", done, actor="public_security/li", **staff)
    decide = {"case": number, "role": "approver", "outcome": "approve"}
    h.must("cases", "decide", decide, actor="public_security/zhang", **staff)
    return number


def _bit(h: NetworkHarness, index: int) -> bool:
    read = h.ledger.state.get_value
    return ls.is_set(read, "public_security", ls.REVOCATION, index)


def test_an_approved_case_issues_the_certificate_to_its_applicant(h: NetworkHarness) -> None:
    number = approved(h)
    case = h.view("cases", "case", {"case": number})
    assert case["status"] == "issued" and case["commitment_deadline_ms"] > 0
    ((out,),) = [case["outputs"]]
    year = 2026  # the harness's clock starts on 2026-10-01
    assert out == {
        "kind": "certificate.issue",
        "certificate": f"PHE330100{year}000001",
        "type": "points_household_eligibility",
    }
    cert = h.view("registry", "certificate", {"number": out["certificate"]})
    assert (cert["holder"], cert["issuer"], cert["case"], cert["status"]) == (
        APPLICANT,
        "public_security",
        number,
        "active",
    )
    assert cert["name"]["zh"] == "积分落户资格确认书" and cert["commitment"] is True
    assert cert["valid_until_ms"] - cert["valid_from_ms"] == 365 * DAY_MS
    assert cert["valid_from_ms"] == case["decided_ms"]
    assert cert["status_index"] == 0 and not _bit(h, 0)
    status = h.view("credentials", "status", {"dept": "public_security", "purpose": "revocation"})
    assert status["allocated"] == 1 and status["set"] == []
    assert h.view("registry", "certificates_of", {"holder": APPLICANT}) == [cert]
    assert h.view("registry", "certificates_of", {"holder": "citizen/someone-else"}) == []
    # A second approval gets the next serial and the next status index.
    second = h.view("cases", "case", {"case": approved(h)})["outputs"][0]["certificate"]
    assert second == f"PHE330100{year}000002"
    assert [
        c["status_index"] for c in h.view("registry", "certificates_of", {"holder": APPLICANT})
    ] == [0, 1]


def test_a_kept_commitment_leaves_the_certificate_active(h: NetworkHarness) -> None:
    number = approved(h)
    check = {"case": number, "role": "inspector", "result": "pass"}
    h.must("cases", "verify_commitment", check, member="public_security/admin",
           actor="public_security/wu", case=number)  # fmt: skip
    case = h.view("cases", "case", {"case": number})
    assert case["commitment_deadline_ms"] == 0 and case["outcome"] == "approved"
    (cert,) = h.view("registry", "certificates_of", {"holder": APPLICANT})
    assert cert["status"] == "active" and not _bit(h, cert["status_index"])


def test_a_broken_commitment_revokes_the_certificate_and_sets_its_bit_in_one_tx(
    h: NetworkHarness,
) -> None:
    number = approved(h)
    note = "经核查，申请人有犯罪记录，承诺不实"
    check = {"case": number, "role": "inspector", "result": "fail", "note": note}
    receipt = h.call("cases", "verify_commitment", check, member="public_security/admin",
                     actor="public_security/wu", case=number)  # fmt: skip
    assert receipt.status == "ok"
    kinds = [e["type"] for e in receipt.events]
    assert "registry.certificate_revoked" in kinds and "credentials.status" in kinds
    case = h.view("cases", "case", {"case": number})
    assert (case["status"], case["outcome"], case["reason"]) == ("closed", "revoked", note)
    (cert,) = h.view("registry", "certificates_of", {"holder": APPLICANT})
    assert cert["status"] == "revoked"
    assert cert["revoked"] == {
        "reason": note,
        "case": number,
        "time_ms": cert["revoked"]["time_ms"],
    }
    assert _bit(h, cert["status_index"])
    status = h.view("credentials", "status", {"dept": "public_security", "purpose": "revocation"})
    assert status["set"] == [cert["status_index"]] and status["version"] == 1


def test_registry_views_refuse_bad_arguments_and_unknown_numbers(h: NetworkHarness) -> None:
    with pytest.raises(NotFound):
        h.view("registry", "certificate", {"number": "PHE3301002026999999"})
    with pytest.raises(SchemaViolation) as caught:
        h.view("registry", "certificate", {"number": 7})
    assert caught.value.fields["field"] == "number"
    with pytest.raises(SchemaViolation) as caught:
        h.view("registry", "certificates_of", {})
    assert caught.value.fields["field"] == "holder"
