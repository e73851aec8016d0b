"""The four certification matters end to end on an embedded node.

Each citizen applies with the consent the form asks for and no paper; the node's case worker
answers every check step with an attestation of the department holding the fact; the decision
follows (automatically, or after the person-made step); a citizen who does not qualify is held
on the failing condition with its advice, cannot be approved, and is refused naming it; a
change to the department's data answers the check again; and the citizen's access receipts
list every attestation made about them, with the case, the department and the purpose.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pytest

from govchain.apps.certification.certificates import certificate_of
from govchain.apps.certification.matters import (
    HOUSING_PURCHASE,
    MARRIAGE,
    POINTS_HOUSEHOLD,
    SCHOOL_ENROLMENT,
)
from govchain.apps.certification.tests.nodes import (
    TIMEOUT_S,
    World,
    home,
    marriage,
    pension,
    permit,
    publish_about,
    resident_id,
    wait_for,
)
from govchain.credentials import ledger_status as ls
from govchain.errors import Conflict
from govchain.node.casedesk import FormInvalid
from govchain.procedures.engine import IllegalTransition

CHILD_ID = resident_id("341221", "20200315", 12)


def citizen(world: World, name: str, records: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """A citizen's on-chain id, with the departments' records about them published."""
    person = "citizen/" + hashlib.sha256(name.encode()).hexdigest()[:16]
    publish_about(world, person, records)
    return person


def apply(world: World, person: str, service: str, form: dict[str, Any]) -> str:
    """Submit an application as ``person`` (no materials); return the case number."""
    desk = world.desk
    tx = desk.submission(person, "test-session/" + person[8:], service, form, {}, [])
    return str(desk.commit_one(tx, TIMEOUT_S)["number"])


def settled(world: World, number: str) -> dict[str, Any]:
    """The case once the case worker answered every check step (yes or no)."""
    case = world.desk.case(number)
    defn = world.desk.definition(case["service"], case["version"])["definition"]
    checks = {s["id"] for s in defn["steps"] if s["kind"] == "check"}

    def answered() -> dict[str, Any] | None:
        now = world.desk.case(number)
        waiting = [s for s in now["steps"] if s["id"] in checks and s["status"] == "open"]
        return None if waiting else now

    found: dict[str, Any] = wait_for(answered)
    return found


def staff(world: World, dept: str, role: str, number: str, transition: str, **args: Any) -> Any:
    tx = world.desk.staff_step(dept, f"{dept}/{role}", role, number, transition, args)
    return world.desk.commit_one(tx, TIMEOUT_S)


def school_form(**changes: Any) -> dict[str, Any]:
    form = {
        "child_name": "王子涵", "child_id": CHILD_ID, "relation": "父亲", "grade": "小学一年级",
        "district": "西湖区", "contact_phone": "13800001234", "consent": True,
    }  # fmt: skip
    return {**form, **changes}


def points_form(**changes: Any) -> dict[str, Any]:
    form = {
        "education": "大专", "district": "余杭区", "contact_phone": "13700001111",
        "no_criminal_record": True, "consent": True,
    }  # fmt: skip
    return {**form, **changes}


def run(world: World, person: str, service: str, form: dict[str, Any]) -> dict[str, Any]:
    return settled(world, apply(world, person, service, form))


def test_school_enrolment_is_granted_on_the_departments_answers_alone(world: World) -> None:
    person = citizen(world, "wang", [permit(), pension(30), marriage(True)])
    case = run(world, person, SCHOOL_ENROLMENT, school_form())
    case = wait_for(lambda: (c := world.desk.case(case["number"]))["status"] == "issued" and c)
    assert case["outcome"] == "approved" and case["materials"] == {}
    steps = {s["id"]: s for s in case["steps"]}
    assert {k: (s["status"], s["result"]) for k, s in steps.items()} == {
        "residence_permit": ("done", "pass"),
        "social_insurance": ("done", "pass"),
    }
    answered = [(h["event"], h["dept"], h["step"]) for h in case["history"] if h["step"]]
    assert sorted(answered) == [
        ("check_yes", "hrss", "social_insurance"),
        ("check_yes", "public_security", "residence_permit"),
    ]
    # Decided by the engine itself once both facts were confirmed (不见面办结).
    last = case["history"][-1]
    assert (last["event"], last["dept"], last["actor"]) == ("approved", "education", "system")


def test_a_form_without_consent_is_refused_before_anything_is_signed(world: World) -> None:
    with pytest.raises(FormInvalid) as caught:
        world.desk.submission(
            "citizen/0000000000000001", "s", SCHOOL_ENROLMENT, school_form(consent=False), {}, []
        )
    assert [e["field"] for e in caught.value.fields["errors"]] == ["consent"]
    with pytest.raises(FormInvalid):
        world.desk.submission(
            "citizen/0000000000000001", "s", SCHOOL_ENROLMENT,
            school_form(child_id=CHILD_ID[:-1] + ("0" if CHILD_ID[-1] != "0" else "1")), {}, [],
        )  # fmt: skip


def test_too_few_months_hold_the_case_on_that_condition_until_the_data_changes(
    world: World,
) -> None:
    person = citizen(world, "zhao", [permit(), pension(8)])
    case = run(world, person, SCHOOL_ENROLMENT, school_form(relation="母亲"))
    steps = {s["id"]: s for s in case["steps"]}
    assert steps["residence_permit"]["result"] == "pass"
    held = steps["social_insurance"]
    assert held["status"] == "blocked" and "连续满12个月" in held["note"]
    assert case["status"] == "accepted"
    # The human resources bureau records the months later: the worker asks again by itself.
    publish_about(world, person, [pension(12)])
    done = wait_for(lambda: (c := world.desk.case(case["number"]))["status"] == "issued" and c)
    assert [h["event"] for h in done["history"] if h["step"] == "social_insurance"] == [
        "check_no",
        "check_yes",
    ]


def test_a_second_home_refuses_housing_purchase_naming_the_condition(world: World) -> None:
    person = citizen(world, "chen", [home(), home(), home("车位"), pension(60)])
    case = run(
        world, person, HOUSING_PURCHASE,
        {"household": "本市户籍", "district": "滨江区", "contact_phone": "13900002222",
         "consent": True},
    )  # fmt: skip
    steps = {s["id"]: s for s in case["steps"]}
    assert steps["social_insurance"]["result"] == "pass"
    assert steps["homes"]["status"] == "blocked"
    assert steps["homes"]["note"].startswith("您的家庭在本市已有2套及以上住房")
    with pytest.raises(IllegalTransition) as caught:
        staff(world, "housing", "approver", case["number"], "decide", outcome="approve")
    assert caught.value.fields["steps"] == ["homes"]
    reason = "不符合条件：未能确认“家庭在本市拥有的住房少于2套”"
    decided = staff(world, "housing", "approver", case["number"], "decide", outcome="reject",
                    reason=reason)  # fmt: skip
    assert (decided["status"], decided["outcome"], decided["reason"]) == (
        "decided",
        "rejected",
        reason,
    )


def test_a_parking_space_and_a_home_elsewhere_do_not_count(world: World) -> None:
    person = citizen(world, "liu", [home(), home("车位"), home(city="合肥市"), pension(24)])
    case = run(
        world, person, HOUSING_PURCHASE,
        {"household": "非本市户籍", "district": "萧山区", "contact_phone": "13900002223",
         "consent": True},
    )  # fmt: skip
    done = wait_for(lambda: (c := world.desk.case(case["number"]))["status"] == "issued" and c)
    assert done["outcome"] == "approved"


def test_points_household_registration_waits_for_the_points_review(world: World) -> None:
    person = citizen(world, "sun", [permit(), pension(36)])
    case = run(
        world, person, POINTS_HOUSEHOLD,
        points_form(education="本科", skill_level="高级工", district="余杭区"),
    )  # fmt: skip
    steps = {s["id"]: s["status"] for s in case["steps"]}
    assert steps == {"residence_permit": "done", "social_insurance": "done", "points": "open"}
    number = case["number"]
    staff(world, "public_security", "officer", number, "complete", step="points", result="pass",
          note="积分 132 分，达到当年落户分值")  # fmt: skip
    decided = staff(world, "public_security", "approver", number, "decide", outcome="approve")
    assert (decided["status"], decided["outcome"]) == ("issued", "approved")


def test_a_lapsed_residence_permit_blocks_points_household_registration(world: World) -> None:
    person = citizen(world, "zhou", [permit("过期"), pension(36)])
    case = run(
        world, person, POINTS_HOUSEHOLD,
        points_form(district="拱墅区"),
    )  # fmt: skip
    steps = {s["id"]: s for s in case["steps"]}
    assert steps["residence_permit"]["status"] == "blocked"
    assert "有效居住证" in steps["residence_permit"]["note"]
    assert steps["points"]["status"] == "waiting"


def marriage_form(partner: str) -> dict[str, Any]:
    return {
        "partner_name": "李娜", "partner_id": partner, "appointment_date": "2026-12-18",
        "registry": "杭州市西湖区婚姻登记处", "declaration": True, "consent": True,
    }  # fmt: skip


def test_marriage_registration_after_the_status_check_and_the_in_person_examination(
    world: World,
) -> None:
    divorced = [marriage(False), marriage(False, "离婚")]
    person = citizen(world, "wu", divorced)
    partner = resident_id("330106", "19960812", 24)
    case = run(world, person, MARRIAGE, marriage_form(partner))
    number = case["number"]
    assert {s["id"]: s["status"] for s in case["steps"]} == {
        "marital_status": "done",
        "in_person": "open",
    }
    staff(world, "civil_affairs", "officer", number, "complete", step="in_person", result="pass",
          note="双方到场，声明属实")  # fmt: skip
    decided = staff(world, "civil_affairs", "approver", number, "decide", outcome="approve")
    assert decided["outcome"] == "approved"


def test_a_married_person_cannot_register_another_marriage(world: World) -> None:
    person = citizen(world, "zheng", [marriage(True)])
    case = run(world, person, MARRIAGE, marriage_form(resident_id("330106", "19950101", 22)))
    steps = {s["id"]: s for s in case["steps"]}
    assert steps["marital_status"]["status"] == "blocked"
    assert "目前处于婚姻关系中" in steps["marital_status"]["note"]
    with pytest.raises(IllegalTransition):
        staff(world, "civil_affairs", "officer", case["number"], "complete", step="in_person",
              result="pass")  # fmt: skip


def test_the_citizens_access_receipts_list_every_answer_about_them(world: World) -> None:
    person = citizen(world, "he", [permit(), pension(40), home()])
    other = citizen(world, "xu", [permit(), pension(40)])
    mine = [
        run(world, person, SCHOOL_ENROLMENT, school_form())["number"],
        run(world, person, HOUSING_PURCHASE,
            {"household": "非本市户籍", "district": "西湖区", "contact_phone": "13800001234",
             "consent": True})["number"],
    ]  # fmt: skip
    theirs = run(world, other, SCHOOL_ENROLMENT, school_form())["number"]
    receipts = world.sharing.access_receipts(person)
    seen = sorted(
        (a["case"], a["issuer"], a["resource"], a["answer"]) for a in receipts["attestations"]
    )
    assert seen == sorted(
        [
            (mine[0], "public_security", "public_security.residence_permits", True),
            (mine[0], "hrss", "hrss.personal_insurance", True),
            (mine[1], "housing", "housing.family_homes", True),
            (mine[1], "hrss", "hrss.personal_insurance", True),
        ]
    )
    for a in receipts["attestations"]:
        assert a["statement"] and a["purpose"] and a["requester"].endswith("/sharing")
        assert a["subject_ref"] == receipts["subject_ref"]
    # Each answer is the one the case cites, and nobody else's case reads this person's data.
    cited = {s["attestation"] for n in mine for s in world.desk.case(n)["steps"]}
    assert {a["id"] for a in receipts["attestations"]} == cited
    assert theirs not in {a["case"] for a in receipts["attestations"]}


def test_an_approved_case_states_its_certificate_and_a_refused_one_none(world: World) -> None:
    person = citizen(world, "lin", [permit(), pension(18)])
    number = run(world, person, SCHOOL_ENROLMENT, school_form())["number"]
    case = wait_for(lambda: (c := world.desk.case(number))["status"] == "issued" and c)
    defn = world.desk.definition(SCHOOL_ENROLMENT)["definition"]
    cert = certificate_of(case, defn)
    assert (cert.kind.kind, cert.issuer, cert.holder, cert.case) == (
        "school_place_eligibility",
        "education",
        person,
        number,
    )
    assert cert.valid_until_ms - cert.issued_ms == 365 * 86_400_000
    assert cert.issued_ms == case["decided_ms"]
    assert [(f.step, f.dept, f.statement) for f in cert.facts] == [
        ("residence_permit", "public_security", "持有杭州市有效居住证"),
        ("social_insurance", "hrss", "在本市正常缴纳企业职工基本养老保险且连续缴费满12个月"),
    ]
    receipts = {a["id"]: a for a in world.sharing.access_receipts(person)["attestations"]}
    for fact in cert.facts:  # each fact is backed by the department's attestation
        att = receipts[fact.attestation]
        assert (att["issuer"], att["answer"], att["statement"]) == (fact.dept, True, fact.statement)
    refused = citizen(world, "gao", [permit("过期"), pension(18)])
    held = run(world, refused, SCHOOL_ENROLMENT, school_form())
    with pytest.raises(Conflict):
        certificate_of(held, defn)


def test_an_approved_case_puts_its_certificate_in_the_registry_for_the_citizen(
    world: World,
) -> None:
    person = citizen(world, "qian", [permit(), pension(20)])
    number = run(world, person, SCHOOL_ENROLMENT, school_form())["number"]
    case = wait_for(lambda: (c := world.desk.case(number))["status"] == "issued" and c)
    (out,) = case["outputs"]
    assert (out["kind"], out["type"]) == ("certificate.issue", "school_place_eligibility")
    cert = world.node.query("registry", "certificate", {"number": out["certificate"]})
    assert out["certificate"].startswith("SPE330100") and len(out["certificate"]) == 19
    # The registry's record states what the decided case stands for (``certificate_of``).
    stated = certificate_of(case, world.desk.definition(SCHOOL_ENROLMENT)["definition"])
    assert (cert["holder"], cert["issuer"], cert["case"], cert["type"]) == (
        stated.holder,
        stated.issuer,
        number,
        stated.kind.kind,
    )
    assert (cert["valid_from_ms"], cert["valid_until_ms"]) == (
        stated.issued_ms,
        stated.valid_until_ms,
    )
    assert cert["status"] == "active" and cert["commitment"] is False
    assert type(cert["status_index"]) is int
    held = world.node.query("registry", "certificates_of", {"holder": person})
    assert held == [cert]


def test_the_points_commitment_must_be_given_and_checked_before_the_case_closes(
    world: World,
) -> None:
    with pytest.raises(FormInvalid) as caught:
        world.desk.submission(
            "citizen/0000000000000002", "s", POINTS_HOUSEHOLD,
            points_form(no_criminal_record=False), {}, [],
        )  # fmt: skip
    assert [e["field"] for e in caught.value.fields["errors"]] == ["no_criminal_record"]
    person = citizen(world, "feng", [permit(), pension(30)])
    number = approved_points(world, person)
    case = world.desk.case(number)
    assert case["commitment_deadline_ms"] > case["decided_ms"]
    with pytest.raises(IllegalTransition):  # approved on a commitment: check it first
        staff(world, "public_security", "officer", number, "close")
    staff(world, "public_security", "inspector", number, "verify_commitment", result="pass")
    (cert,) = world.node.query("registry", "certificates_of", {"holder": person})
    assert (cert["type"], cert["status"], cert["commitment"]) == (
        "points_household_eligibility",
        "active",
        True,
    )
    assert not revoked_bit(world, cert)
    closed = staff(world, "public_security", "officer", number, "close")
    assert (closed["status"], closed["outcome"]) == ("closed", "approved")


def test_a_broken_points_commitment_revokes_the_certificate_and_its_credential_bit(
    world: World,
) -> None:
    person = citizen(world, "jiang", [permit(), pension(30)])
    number = approved_points(world, person)
    (cert,) = world.node.query("registry", "certificates_of", {"holder": person})
    assert cert["status"] == "active" and not revoked_bit(world, cert)
    note = "经向户籍地公安机关核查，申请人有犯罪记录，与承诺不符"
    broken = staff(world, "public_security", "inspector", number, "verify_commitment",
                   result="fail", note=note)  # fmt: skip
    assert (broken["status"], broken["outcome"], broken["reason"]) == ("closed", "revoked", note)
    after = world.node.query("registry", "certificate", {"number": cert["number"]})
    assert after["status"] == "revoked" and after["revoked"]["case"] == number
    assert after["revoked"]["reason"] == note
    assert revoked_bit(world, after)  # set by the same transaction that recorded the check


def approved_points(world: World, person: str) -> str:
    """A points-based household registration approved on the applicant's commitment."""
    number: str = run(world, person, POINTS_HOUSEHOLD, points_form())["number"]
    staff(world, "public_security", "officer", number, "complete", step="points", result="pass",
          note="积分 121 分，达到当年落户分值")  # fmt: skip
    decided = staff(world, "public_security", "approver", number, "decide", outcome="approve")
    assert (decided["status"], decided["outcome"]) == ("issued", "approved")
    return number


def revoked_bit(world: World, cert: dict[str, Any]) -> bool:
    """Whether the revocation bit of a certificate's credential status index is set."""
    read = world.node.ledger.state.get_value
    return ls.is_set(read, cert["issuer"], ls.REVOCATION, cert["status_index"])
