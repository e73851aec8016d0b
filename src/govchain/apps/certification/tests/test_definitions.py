"""The matters as data: each definition passes the publication checks, its conditions are
answerable by the resources the app ships, it asks for no paper, and the catalogue finds it."""

from __future__ import annotations

from typing import Any

import pytest

from govchain.apps.certification.app import APP
from govchain.apps.certification.certificates import certificate_kinds, certificate_of
from govchain.apps.certification.matters import (
    DEPARTMENTS,
    HOUSING_PURCHASE,
    MARRIAGE,
    MATTERS,
    POINTS_HOUSEHOLD,
    SCHOOL_ENROLMENT,
    parse_resources,
)
from govchain.errors import NotFound
from govchain.procedures.catalogue import Catalogue
from govchain.procedures.definitions import DefinitionRefused, parse_definition
from govchain.sdk import find_app
from govchain.sharing.predicates import parse_predicate

DEFINITIONS = {d["code"]: d for d in APP.definitions()}
RESOURCES = parse_resources(APP.resources())
NAMES = [d for d, _ in DEPARTMENTS]


def test_the_app_is_discovered_with_its_four_matters_and_four_resources() -> None:
    assert find_app("certification") == APP
    assert tuple(DEFINITIONS) == MATTERS
    assert sorted(RESOURCES) == [
        "civil_affairs.marriage_registrations",
        "housing.family_homes",
        "hrss.personal_insurance",
        "public_security.residence_permits",
    ]


@pytest.mark.parametrize("code", MATTERS)
def test_each_matter_passes_the_publication_checks(code: str) -> None:
    defn = parse_definition(DEFINITIONS[code], NAMES)
    assert defn.category == "certification" and defn.applicants == {"citizen"}
    assert defn.auto_accept and defn.fee_fen == 0
    # No paper: nothing required is uploaded.
    assert not [m.id for m in defn.materials if m.required and not m.held_by]
    checks = [s for s in defn.steps if s.kind == "check"]
    assert checks
    for step in checks:
        assert step.check is not None
        resource = RESOURCES[step.check.resource]
        assert resource.owner == step.dept  # the department that holds the fact answers it
        parse_predicate(dict(step.check.predicate), resource)
        assert step.check.advice["zh"] and step.check.advice["en"]
    # The form asks for the consent to those answers, and cannot be sent without it.
    assert DEFINITIONS[code]["form"]["properties"]["consent"]["const"] is True
    assert "consent" in DEFINITIONS[code]["form"]["required"]


def test_only_matters_decided_on_data_alone_are_decided_automatically() -> None:
    auto = {c for c in MATTERS if parse_definition(DEFINITIONS[c], NAMES).auto_decision}
    assert auto == {SCHOOL_ENROLMENT, HOUSING_PURCHASE}


def test_a_network_without_the_departments_refuses_them_naming_each() -> None:
    with pytest.raises(DefinitionRefused) as caught:
        parse_definition(DEFINITIONS[POINTS_HOUSEHOLD], ["market", "tax", "hrss"])
    places = {p["place"] for p in caught.value.fields["problems"]}
    assert {"owner", "steps[0].dept", "steps[2].dept"} <= places


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("随迁子女入学", SCHOOL_ENROLMENT),
        ("积分落户", POINTS_HOUSEHOLD),
        ("购房资格", HOUSING_PURCHASE),
        ("结婚登记", MARRIAGE),
        ("marriage registration", MARRIAGE),
        ("home purchase", HOUSING_PURCHASE),
    ],
)
def test_the_catalogue_finds_each_matter(query: str, code: str) -> None:
    hits = Catalogue(DEFINITIONS.values()).search(query)
    assert hits[0].code == code


def changed(code: str, **fields: Any) -> dict[str, Any]:
    return {**DEFINITIONS[code], **fields}


@pytest.mark.parametrize("code", MATTERS)
def test_each_matter_issues_the_certificate_it_stands_for(code: str) -> None:
    """The ``certificate.issue`` output of each definition is the certificate of
    ``data/certificates.json``: the same kind, name and validity."""
    (out,) = parse_definition(DEFINITIONS[code], NAMES).outputs
    kind = certificate_kinds()[code]
    assert (out.kind, out.certificate_type, dict(out.certificate_name), out.validity_days) == (
        "certificate.issue",
        kind.kind,
        dict(kind.name),
        kind.validity_days,
    )


def test_only_points_household_registration_is_granted_on_a_commitment() -> None:
    """No criminal record (无犯罪记录) is taken on the applicant's commitment and checked by the
    police within 20 working days; the other matters rest on the departments' answers alone."""
    days = {c: parse_definition(DEFINITIONS[c], NAMES).commitment_check_days for c in MATTERS}
    assert days == {SCHOOL_ENROLMENT: 0, POINTS_HOUSEHOLD: 20, HOUSING_PURCHASE: 0, MARRIAGE: 0}
    form = DEFINITIONS[POINTS_HOUSEHOLD]["form"]
    assert form["properties"]["no_criminal_record"]["const"] is True
    assert "no_criminal_record" in form["required"]
    assert any("国办发〔2020〕42号" in law for law in DEFINITIONS[POINTS_HOUSEHOLD]["legal_basis"])


def test_a_commitment_without_the_certificate_output_is_refused() -> None:
    with pytest.raises(DefinitionRefused) as caught:
        parse_definition(changed(POINTS_HOUSEHOLD, outputs=[]), NAMES)
    assert caught.value.fields["problems"] == [
        {
            "place": "commitment",
            "reason": "commitment-based approval needs a licence output or a certificate output",
        }
    ]
    with pytest.raises(DefinitionRefused) as caught:
        parse_definition(changed(HOUSING_PURCHASE, outputs=[{"kind": "certificate.issue"}]), NAMES)
    places = [p["place"] for p in caught.value.fields["problems"]]
    assert places == [
        "outputs[0].certificate_type",
        "outputs[0].validity_days",
        "outputs[0].certificate_name",
    ]


def test_every_matter_stands_for_one_certificate_of_its_owner() -> None:
    kinds = certificate_kinds()
    assert set(kinds) == set(MATTERS)
    assert len({k.kind for k in kinds.values()}) == len(MATTERS)
    assert kinds[MARRIAGE].validity_days == 0  # a marriage certificate has no end date
    assert all(k.name["zh"] and k.name["en"] and k.type_code for k in kinds.values())
    with pytest.raises(NotFound):
        certificate_of({"service": "330100-DJ-0001"}, {})
