"""The applicant revokes a consent (``revoke_consent``), example by example: the holding
department may no longer answer for the material, an answer it gave no longer counts, and a
required material needs the applicant's own file with the revocation."""

from __future__ import annotations

import json

import pytest
from test_engine import CAL, FIRM, HELD, OTHER_CITIZEN, Run, cst, ev, h, node, staff, submission

from govchain.errors import SchemaViolation
from govchain.procedures.cases import case_from_json, case_to_json
from govchain.procedures.engine import IllegalTransition, WrongActor, apply, open_case


def with_both_consents(at: int) -> Run:
    """A case of ``HELD`` whose applicant consented to both held materials (``premises``,
    required, held by housing; ``fire_record``, optional, held by fire)."""
    run = Run(HELD, at)
    args = {**submission(HELD), "consents": ["premises", "fire_record"]}
    run.case = open_case(
        "20260302-00001-7", HELD, ev("submit", FIRM, at, **args), "enterprise",
        "91330106MA2H3K4X0B", CAL,
    )  # fmt: skip
    return run


def test_an_optional_consent_is_revoked_and_the_holder_can_no_longer_answer() -> None:
    t = cst("2026-03-02")
    run = with_both_consents(t)
    run.do("revoke_consent", FIRM, t + 1, material="fire_record")
    assert run.case.consents == ("premises",)
    assert run.case.status == "submitted"  # nothing else changes
    assert (run.events()[-1], run.case.history[-1]["step"]) == ("consent_revoked", "fire_record")
    # The holder's answer is refused from now on, and so is a second revocation.
    err = run.refuse(
        WrongActor, "attach", node("fire"), t + 2, material="fire_record",
        attestation=h("a"), answer=True,
    )  # fmt: skip
    assert "did not consent" in err.message
    again = run.refuse(IllegalTransition, "revoke_consent", FIRM, t + 3, material="fire_record")
    assert again.fields["state"] == "not_consented"
    assert case_from_json(json.loads(json.dumps(case_to_json(run.case)))) == run.case


def test_an_answer_given_no_longer_counts_once_its_consent_is_revoked() -> None:
    t = cst("2026-03-02")
    run = with_both_consents(t)
    run.do("attach", node("fire"), t, material="fire_record", attestation=h("ok"), answer=True)
    assert run.case.materials["fire_record"] == h("ok")
    run.do("revoke_consent", FIRM, t + 1, material="fire_record")
    assert "fire_record" not in run.case.materials
    assert "fire_record" not in run.case.fetched
    assert run.events()[-2:] == ["material_attached", "consent_revoked"]


def test_a_required_material_needs_the_applicants_own_file() -> None:
    t = cst("2026-03-02")
    run = with_both_consents(t)
    run.do("attach", node("housing"), t, material="premises", attestation=h("deed"), answer=True)
    err = run.refuse(SchemaViolation, "revoke_consent", FIRM, t + 1, material="premises")
    assert err.fields["field"] == "replacement" and "withdraw" in err.message
    bad = run.refuse(
        SchemaViolation, "revoke_consent", FIRM, t + 1, material="premises", replacement="x"
    )
    assert bad.fields["field"] == "replacement"
    run.do("revoke_consent", FIRM, t + 2, material="premises", replacement=h("my deed"))
    assert run.case.materials["premises"] == h("my deed")
    assert run.case.consents == ("fire_record",) and "premises" not in run.case.fetched
    # Housing's answer is refused now; the case goes on with the applicant's file.
    run.refuse(
        WrongActor, "attach", node("housing"), t + 3, material="premises",
        attestation=h("deed2"), answer=True,
    )  # fmt: skip
    run.do("accept", staff("health"), t + 4)
    assert run.case.status == "accepted"


def test_only_the_applicant_before_the_decision_and_only_a_held_material() -> None:
    t = cst("2026-03-02")
    run = with_both_consents(t)
    for actor in (OTHER_CITIZEN, staff("health", "admin"), node("fire")):
        run.refuse(WrongActor, "revoke_consent", actor, t, material="fire_record")
    for material in ("application", "nope", None):
        err = run.refuse(SchemaViolation, "revoke_consent", FIRM, t, material=material)
        assert err.fields["field"] == "material"
    # While a supplement is asked for, a consent can still be revoked.
    run.do("request_supplement", staff("health"), t, items=["x"], reason="x")
    run.do("revoke_consent", FIRM, t + 1, material="fire_record")
    assert run.case.status == "supplement_requested"
    run.do("reject", staff("health", "approver"), t + 2, reason="x")
    err = run.refuse(
        IllegalTransition, "revoke_consent", FIRM, t + 3, material="premises",
        replacement=h("f"),
    )  # fmt: skip
    assert (err.fields["state"], err.fields["event"]) == ("decided", "revoke_consent")


def test_a_withdrawn_case_keeps_its_consents_as_they_were() -> None:
    t = cst("2026-03-02")
    run = with_both_consents(t)
    run.do("withdraw", FIRM, t)
    with pytest.raises(IllegalTransition):
        apply(run.case, ev("revoke_consent", FIRM, t + 1, material="fire_record"), HELD, CAL)
    assert run.case.consents == ("fire_record", "premises")
