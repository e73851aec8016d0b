"""GB/T 36903 metadata in credentialSubject: mapping, validation and round trip."""

from __future__ import annotations

import dataclasses

import pytest

from govchain.credentials.contexts import GOVCHAIN_V1, VC_V2
from govchain.credentials.licence_terms import (
    GBT_36903_TERMS,
    LicenceMetadata,
    licence_credential,
)
from govchain.errors import SchemaViolation

META = LicenceMetadata(
    licence_identifier="1.2.156.3005.2.11100000000013127D.0001",
    licence_name="食品经营许可证",
    licence_number="JY13501000000001",
    licence_type_code="11100000000013127D001",
    holder="福州某某餐饮有限公司",
    holder_identifier="91350100M000100Y43",
    holder_identifier_type="USCC",
    issuing_authority="福州市市场监督管理局",
    issuing_authority_code="11350100003632538R",
    issue_date="2026-12-01",
    valid_from="2026-12-01",
    valid_until="2031-11-30",
)


def test_every_gbt_36903_element_has_a_subject_member() -> None:
    subject = META.to_subject("did:example:holder")
    assert {name for _, name in GBT_36903_TERMS} <= set(subject)
    assert LicenceMetadata.from_subject(subject) == META


def test_credential_shape() -> None:
    doc = licence_credential(
        credential_id="urn:uuid:1",
        issuer="did:govchain:0123456789abcdef:market",
        metadata=META,
        valid_from="2026-12-01T00:00:00Z",
        valid_until="2031-11-30T23:59:59Z",
    )
    assert doc["@context"] == [VC_V2, GOVCHAIN_V1]
    assert doc["type"] == ["VerifiableCredential", "ElectronicLicenceCredential"]
    assert doc["name"] == "食品经营许可证"
    assert doc["validUntil"] == "2031-11-30T23:59:59Z"


@pytest.mark.parametrize(
    "change", [{"issue_date": "2026/12/01"}, {"holder": ""}, {"valid_until": "2031-11"}]
)
def test_bad_metadata_is_refused(change: dict[str, str]) -> None:
    with pytest.raises(SchemaViolation):
        dataclasses.replace(META, **change).to_subject()


def test_missing_member_is_named() -> None:
    subject = META.to_subject()
    del subject["licenceNumber"]
    with pytest.raises(SchemaViolation, match="licenceNumber"):
        LicenceMetadata.from_subject(subject)
