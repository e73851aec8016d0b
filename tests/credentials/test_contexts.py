"""Shipped JSON-LD contexts: byte-faithful W3C context, our context, the offline loader."""

from __future__ import annotations

import base64
import hashlib

import pytest
from pyld import jsonld

from govchain.credentials import contexts
from govchain.credentials.licence_terms import E_BILL_TERMS, GBT_36903_TERMS
from govchain.errors import NotFound


def test_vc_v2_context_is_byte_for_byte_the_published_one() -> None:
    # The digests W3C VC Data Model 2.0 gives for https://www.w3.org/ns/credentials/v2
    # (section "Integrity of Related Resources", digestSRI and digestMultibase examples).
    data = contexts.context_bytes(contexts.VC_V2)
    sri = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
    assert sri == contexts.VC_V2_DIGEST_SRI
    multihash = b"\x12\x20" + hashlib.sha256(data).digest()
    assert "u" + base64.urlsafe_b64encode(multihash).decode().rstrip("=") == (
        "uEiBZlVztZpfWHgPyslVv6-UwirFoQoRvW1htfx963sknNA"
    )


def test_our_context_defines_every_documented_term() -> None:
    terms = contexts.context_document(contexts.GOVCHAIN_V1)["@context"]
    for _, name in GBT_36903_TERMS + E_BILL_TERMS:
        assert name in terms, name


def test_loader_serves_only_shipped_contexts() -> None:
    loaded = contexts.document_loader(contexts.VC_V2)
    assert loaded["documentUrl"] == contexts.VC_V2
    with pytest.raises(NotFound):
        contexts.document_loader("https://www.w3.org/ns/credentials/examples/v2")


def test_our_context_is_valid_json_ld_next_to_the_vc_context() -> None:
    doc = {
        "@context": [contexts.VC_V2, contexts.GOVCHAIN_V1],
        "type": ["VerifiableCredential", "ElectronicLicenceCredential"],
        "issuer": "did:govchain:0123456789abcdef:market",
        "credentialSubject": {"licenceNumber": "N-1", "totalAmountFen": 100},
    }
    expanded = jsonld.expand(doc, {"documentLoader": contexts.document_loader})
    subject = expanded[0]["https://www.w3.org/2018/credentials#credentialSubject"][0]
    assert subject["https://govchain.example/ns/credentials#licenceNumber"] == [{"@value": "N-1"}]


def test_e_bill_terms_expand_with_their_types() -> None:
    doc = {
        "@context": [contexts.VC_V2, contexts.GOVCHAIN_V1],
        "type": ["VerifiableCredential", "ElectronicBillCredential"],
        "issuer": "did:govchain:0123456789abcdef:finance",
        "credentialSubject": {
            "type": "ElectronicBill",
            "billCode": "35010126",
            "totalAmountFen": 12_345,
            "billItems": [
                {"type": "BillItem", "itemName": "挂号费", "quantity": 1, "amountFen": 345},
                {"type": "BillItem", "itemName": "检查费", "quantity": 2, "amountFen": 12_000},
            ],
            "reverses": "urn:uuid:6a1f0c1e-0000-4000-8000-00000000000b",
        },
    }
    expanded = jsonld.expand(doc, {"documentLoader": contexts.document_loader})
    gc = "https://govchain.example/ns/credentials#"
    subject = expanded[0]["https://www.w3.org/2018/credentials#credentialSubject"][0]
    assert subject["@type"] == [gc + "ElectronicBill"]
    assert subject[gc + "totalAmountFen"] == [
        {"@type": "http://www.w3.org/2001/XMLSchema#integer", "@value": 12345}
    ]
    items = subject[gc + "billItems"][0]["@list"]  # order of the items is kept
    assert [i[gc + "itemName"][0]["@value"] for i in items] == ["挂号费", "检查费"]
    assert subject[gc + "reverses"] == [{"@id": "urn:uuid:6a1f0c1e-0000-4000-8000-00000000000b"}]
