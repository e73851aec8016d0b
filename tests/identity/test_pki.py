"""Department PKI: X.509 (intl) and signed member records (gm), issue -> verify -> tamper."""

from __future__ import annotations

import pytest
from cryptography import x509

from govchain.crypto import get_suite
from govchain.errors import BadSignature, GovchainError, SchemaViolation
from govchain.identity import pki

NOW = 1_800_000_000_000


@pytest.mark.parametrize("suite_name", ["intl", "gm"])
def test_issue_verify_tamper(suite_name: str) -> None:
    suite = get_suite(suite_name)
    root_kp, other_root, member = (suite.generate_keypair() for _ in range(3))
    root = pki.make_root(suite_name, "tax", root_kp.private, NOW)
    assert pki.root_public_key(root) == (suite_name, "tax", root_kp.public)
    cred = pki.issue_member(
        suite_name, "tax", root_kp.private, "tax/svc", "service", member.public, NOW
    )
    got = pki.verify_member(root, cred, NOW + 1000)
    assert (got.member_id, got.dept, got.role, got.public_key) == (
        "tax/svc",
        "tax",
        "service",
        member.public,
    )
    # A credential signed by another department's root does not verify under this root.
    forged = pki.issue_member(
        suite_name, "tax", other_root.private, "tax/svc", "admin", member.public, NOW
    )
    with pytest.raises(BadSignature):
        pki.verify_member(root, forged, NOW)
    # Any flipped byte is caught (signature or structure).
    for i in range(0, len(cred), max(1, len(cred) // 40)):
        bad = bytearray(cred)
        bad[i] ^= 0x01
        with pytest.raises(GovchainError):
            got2 = pki.verify_member(root, bytes(bad), NOW)
            # A flip inside an ignored field would still have to certify the same thing.
            assert got2 == got
            raise SchemaViolation("unchanged")
    # Expired or not yet valid.
    with pytest.raises(SchemaViolation):
        pki.verify_member(root, cred, NOW + (pki.DEFAULT_VALID_DAYS + 1) * 86_400_000)
    with pytest.raises(SchemaViolation):
        pki.verify_member(root, cred, NOW - 86_400_000)


def test_intl_member_certificate_is_standard_x509() -> None:
    suite = get_suite("intl")
    root_kp, member = suite.generate_keypair(), suite.generate_keypair()
    root = x509.load_der_x509_certificate(pki.make_root("intl", "tax", root_kp.private, NOW))
    cert = x509.load_der_x509_certificate(
        pki.issue_member("intl", "tax", root_kp.private, "tax/zhang", "officer", member.public, NOW)
    )
    cert.verify_directly_issued_by(root)
    assert cert.subject.rfc4514_string() == "CN=tax/zhang,OU=officer,O=tax"
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_member_of_other_department_refused() -> None:
    suite = get_suite("intl")
    with pytest.raises(SchemaViolation):
        pki.issue_member(
            "intl", "tax", suite.generate_keypair().private, "market/x", "officer", b"\0" * 32, NOW
        )
