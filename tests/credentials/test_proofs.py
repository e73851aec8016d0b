"""Data Integrity proofs: the W3C eddsa-jcs-2022 test vector, our gm suite, tampering."""

from __future__ import annotations

import copy
from typing import Any

import gmssl_pyx
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.credentials import CredentialCheckFailed, proofs
from govchain.credentials import multibase as mb
from govchain.credentials.jcs import canonicalize
from govchain.crypto import get_suite
from govchain.crypto.gm import signature_to_der
from govchain.errors import SchemaViolation

# W3C "Data Integrity EdDSA Cryptosuites v1.0", repository w3c/vc-di-eddsa,
# TestVectors/eddsa-jcs-2022/signedJCS.json and sigHexJCS.txt (the spec's
# "Representation: eddsa-jcs-2022" example), signed with TestVectors/keyPair.json.
VECTOR_PRIVATE = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
VECTOR_PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
VECTOR_CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://www.w3.org/ns/credentials/examples/v2",
]
VECTOR_UNSIGNED: dict[str, Any] = {
    "@context": VECTOR_CONTEXT,
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
}
VECTOR_PROOF: dict[str, Any] = {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-jcs-2022",
    "created": "2023-02-24T23:36:38Z",
    "verificationMethod": "https://vc.example/issuers/5678#" + VECTOR_PUBLIC,
    "proofPurpose": "assertionMethod",
    "@context": VECTOR_CONTEXT,
    "proofValue": (
        "z63t83Y53KfzJ5ZosfKTnqfMcKB2dmTrfjSaQjeNNjAD5srBowQfmWqeRb8rRjmeEuCBEsddF9LsVogtuTsijJKh4"
    ),
}
VECTOR_SIGNATURE_HEX = (
    "fc91dec6565f35fbe185a77352e7fc512f95d1904da305cfef32ab8135469301"
    "f5a72d4e7a58368fc6ffc497b44633993bac054e3bc1436e3c846db8f1544503"
)
# canonDocJCS.txt: the JCS bytes of the unsigned document.
VECTOR_CANONICAL_DOCUMENT = (
    b'{"@context":["https://www.w3.org/ns/credentials/v2","https://www.w3.org/ns/credentials/'
    b'examples/v2"],"credentialSubject":{"alumniOf":"The School of Examples","id":"did:example:'
    b'abcdefgh"},"description":"A minimum viable example of an Alumni Credential.","id":"urn:uuid:'
    b'58172aac-d8ba-11ed-83dd-0b3aef56cc33","issuer":"https://vc.example/issuers/5678","name":'
    b'"Alumni Credential","type":["VerifiableCredential","AlumniCredential"],"validFrom":'
    b'"2023-01-01T00:00:00Z"}'
)


def _vector_signer() -> proofs.KeyPairSigner:
    seed = mb.decode(VECTOR_PRIVATE)[2:]
    return proofs.signer_from_keypair("intl", get_suite("intl").keypair_from_private(seed))


def test_eddsa_jcs_2022_reproduces_the_published_proof() -> None:
    assert canonicalize(VECTOR_UNSIGNED) == VECTOR_CANONICAL_DOCUMENT
    signed = proofs.sign_credential(
        VECTOR_UNSIGNED,
        _vector_signer(),
        VECTOR_PROOF["verificationMethod"],
        "2023-02-24T23:36:38Z",
        proofs.EDDSA_JCS_2022,
    )
    assert signed["proof"] == VECTOR_PROOF
    assert mb.decode(signed["proof"]["proofValue"]).hex() == VECTOR_SIGNATURE_HEX


def test_eddsa_jcs_2022_verifies_the_published_credential() -> None:
    _, public = mb.decode_multikey(VECTOR_PUBLIC)
    proofs.verify_proof({**VECTOR_UNSIGNED, "proof": VECTOR_PROOF}, public, "intl")


def _signed(suite: str, seed: int = 7) -> tuple[dict[str, Any], bytes]:
    kp = get_suite(suite).keypair_from_private(seed.to_bytes(32, "big"))
    doc = proofs.sign_credential(
        VECTOR_UNSIGNED,
        proofs.signer_from_keypair(suite, kp),
        "did:govchain:0123456789abcdef:market#key-1",
        "2026-12-01T08:00:00Z",
        suite,
    )
    return doc, kp.public


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_round_trip_and_tampering(suite: str) -> None:
    doc, public = _signed(suite)
    assert doc["proof"]["cryptosuite"] == proofs.CRYPTOSUITES[suite]
    proofs.verify_proof(doc, public, suite)

    changed = copy.deepcopy(doc)
    changed["credentialSubject"]["alumniOf"] = "Another School"
    changed_value = copy.deepcopy(doc)
    sig = bytearray(mb.decode(doc["proof"]["proofValue"]))
    sig[5] ^= 1
    changed_value["proof"]["proofValue"] = mb.encode(bytes(sig))
    changed_created = copy.deepcopy(doc)
    changed_created["proof"]["created"] = "2026-12-01T08:00:01Z"
    for bad in (changed, changed_value, changed_created):
        with pytest.raises(CredentialCheckFailed) as err:
            proofs.verify_proof(bad, public, suite)
        assert err.value.check == "proof"


def test_gm_hash_data_is_sm3_of_both_parts() -> None:
    doc, _ = _signed("gm")
    proof = {k: v for k, v in doc["proof"].items() if k != "proofValue"}
    unsecured = {k: v for k, v in doc.items() if k != "proof"}
    sm3 = get_suite("gm").hash
    assert proofs.hash_data(proof, unsecured, "gm") == sm3(canonicalize(proof)) + sm3(
        canonicalize(unsecured)
    )


def test_wrong_suite_or_key_is_refused() -> None:
    doc, _ = _signed("intl")
    other = get_suite("intl").keypair_from_private((8).to_bytes(32, "big")).public
    with pytest.raises(CredentialCheckFailed, match="signature"):
        proofs.verify_proof(doc, other, "intl")
    with pytest.raises(CredentialCheckFailed, match="cryptosuite"):
        proofs.verify_proof(doc, other, "gm")
    with pytest.raises(SchemaViolation):
        proofs.sign_credential(doc, _vector_signer(), "x", "2026-12-01T08:00:00Z", "intl")


def test_proof_context_must_prefix_the_document_context() -> None:
    doc, public = _signed("intl")
    doc["@context"] = list(reversed(doc["@context"]))
    with pytest.raises(CredentialCheckFailed, match="@context"):
        proofs.verify_proof(doc, public, "intl")


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20), max_size=5))
def test_any_claims_round_trip(claims: dict[str, str]) -> None:
    kp = get_suite("intl").keypair_from_private((9).to_bytes(32, "big"))
    doc = {**VECTOR_UNSIGNED, "credentialSubject": claims or {"x": ""}}
    signed = proofs.sign_credential(
        doc, proofs.signer_from_keypair("intl", kp), "vm", "2026-01-01T00:00:00Z", "intl"
    )
    proofs.verify_proof(signed, kp.public, "intl")


def test_sm2_jcs_2026_verifies_with_independent_libraries() -> None:
    """A third party checks our gm proof from the documented bytes with GmSSL and rfc8785."""
    doc, public = _signed("gm")
    proof = dict(doc["proof"])
    signature = mb.b58decode(proof.pop("proofValue")[1:])
    unsecured = {k: v for k, v in doc.items() if k != "proof"}
    hash_data = gmssl_pyx.sm3_hash(rfc8785.dumps(proof)) + gmssl_pyx.sm3_hash(
        rfc8785.dumps(unsecured)
    )
    der = signature_to_der(signature)
    assert gmssl_pyx.sm2_verify(public, hash_data, der, signer_id=b"1234567812345678")
    assert not gmssl_pyx.sm2_verify(public, hash_data[::-1], der, signer_id=b"1234567812345678")
