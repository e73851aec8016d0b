"""Certificates issued by cases become verifiable credentials as licences do: the credential
keeps the registry's status index (none is allocated), lists for the citizen who holds it,
verifies with the facts it rests on, and a broken commitment's revocation fails its status
check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from govchain.apps.certification.certificate_credentials import (
    certificate_draft,
    issue_certificate_credentials,
)
from govchain.apps.certification.matters import POINTS_HOUSEHOLD, SCHOOL_ENROLMENT
from govchain.apps.certification.tests.nodes import (
    World,
    pension,
    permit,
    resident_id,
    wait_for,
)
from govchain.apps.certification.tests.test_matters import (
    approved_points,
    citizen,
    run,
    school_form,
    staff,
)
from govchain.credentials import ledger_status as ls
from govchain.credentials.dids import parse_did
from govchain.credentials.holder import verify_offline
from govchain.credentials.service import CredentialService, Issued
from govchain.credentials.verify import VerificationReport
from govchain.errors import Conflict

HOLDER_ID = resident_id("341221", "19900315", 123)


@pytest.fixture(scope="module")
def service(world: World) -> Iterator[CredentialService]:
    yield CredentialService(
        ledger=world.node.ledger,
        signer=world.sharing.signer,
        content=world.node.content,
        clock_ms=world.node.clock_ms,
    )


def issue(world: World, svc: CredentialService, person: str) -> list[Issued | dict[str, Any]]:
    certs = world.node.query("registry", "certificates_of", {"holder": person})
    cases = {c["case"]: world.desk.case(c["case"]) for c in certs}
    defs = {
        n: world.desk.definition(c["service"], c["version"])["definition"] for n, c in cases.items()
    }
    return issue_certificate_credentials(
        svc, certs, cases, defs, holder_name="王强", holder_id_number=HOLDER_ID,
        actor="education/officer",
    )  # fmt: skip


def verify(world: World, svc: CredentialService, issued: Issued) -> VerificationReport:
    """Verify a credential offline: genesis, its issuance receipt and the issuer's status
    lists (each with the receipt of its anchor), as a verifier holding the files would."""
    _, dept = parse_did(issued.credential["issuer"])
    lists = [svc.status_list(dept, p, issued.index // ls.LIST_SIZE) for p in ls.PURPOSES]
    return verify_offline(
        issued.credential,
        genesis=svc.genesis,
        suite=world.node.suite,
        evidence=svc.evidence(issued.hash),
        status_files=lists,
        key_history=svc.key_history(),
        now=datetime.fromtimestamp(world.node.clock_ms() / 1000, UTC),
    )


def test_a_certificate_credential_verifies_and_lists_for_its_holder(
    world: World, service: CredentialService
) -> None:
    person = citizen(world, "cred-wang", [permit(), pension(26)])
    number = run(world, person, SCHOOL_ENROLMENT, school_form())["number"]
    wait_for(lambda: world.desk.case(number)["status"] == "issued")
    (cert,) = world.node.query("registry", "certificates_of", {"holder": person})
    allocated = ls.allocated(world.node.ledger.state.get_value, "education")
    (issued,) = issue(world, service, person)
    assert isinstance(issued, Issued)
    # The registry's index, not a new one.
    assert issued.index == cert["status_index"]
    assert ls.allocated(world.node.ledger.state.get_value, "education") == allocated
    subject = issued.credential["credentialSubject"]
    assert (subject["licenceNumber"], subject["licenceTypeCode"], subject["holderIdentifier"]) == (
        cert["number"],
        "EDU-SQZN",
        HOLDER_ID,
    )
    assert subject["licenceName"] == "随迁子女义务教育入学资格确认书"
    assert subject["licenceData"]["case"] == number
    assert [f["step"] for f in subject["licenceData"]["facts"]] == [
        "residence_permit",
        "social_insurance",
    ]
    assert all(len(f["attestation"]) > 0 for f in subject["licenceData"]["facts"])
    held = service.held([person])
    assert [(r["type"], r["index"], r["issuer"]) for r in held] == [
        ("school_place_eligibility", cert["status_index"], "education")
    ]
    assert verify(world, service, issued).ok
    assert service.record(issued.hash)["holder"] == person
    # Asked again, the credential already issued is listed, not issued twice.
    (again,) = issue(world, service, person)
    assert isinstance(again, dict) and again["hash"] == issued.hash


def test_a_broken_commitment_fails_the_credentials_status_check(
    world: World, service: CredentialService
) -> None:
    person = citizen(world, "cred-li", [permit(), pension(30)])
    number = approved_points(world, person)
    (issued,) = issue(world, service, person)
    assert isinstance(issued, Issued)
    assert issued.credential["credentialSubject"]["licenceData"]["commitment"] is True
    assert verify(world, service, issued).ok
    staff(world, "public_security", "inspector", number, "verify_commitment", result="fail",
          note="承诺不实")  # fmt: skip
    report = verify(world, service, issued)
    assert report.failed is not None and report.failed.name == "status", report
    # A revoked certificate gets no new credential.
    assert issue(world, service, person) == []
    (cert,) = world.node.query("registry", "certificates_of", {"holder": person})
    case = world.desk.case(number)
    defn = world.desk.definition(POINTS_HOUSEHOLD)["definition"]
    with pytest.raises(Conflict):
        certificate_draft(
            cert, case, defn, network="n", issuer_did=service.did("public_security"),
            authority="公安局", holder_name="李", holder_id_number=HOLDER_ID,
        )  # fmt: skip
