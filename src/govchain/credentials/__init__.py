"""Verifiable credentials: e-licences and e-bills as W3C Verifiable Credentials 2.0.

Pure functions only (no ledger writes): JSON canonicalisation (``jcs``), the shipped JSON-LD
contexts (``contexts``), multibase and Multikey (``multibase``), Data Integrity proofs
(``proofs``), the ``did:govchain`` method (``dids``), Bitstring Status Lists (``statuslist``),
SD-JWT VC (``sdjwt``), QR codes (``qr``) and the verifier that runs every check in order
(``verify``). See docs/credentials.md.

Every refusal is a ``CredentialCheckFailed`` naming the check that failed, one of ``CHECKS``.
"""

from __future__ import annotations

from typing import Any

from govchain.errors import ProofError

CHECKS = (
    "format",
    "context",
    "issuer",
    "key",
    "proof",
    "validity",
    "status_issuer",
    "status",
)
"""The checks ``verify.verify_credential`` runs, in this order."""

QR_CHECK = "qr_hash"
"""The check that refuses a QR payload whose bytes differ from the ones its digest covers."""


class CredentialCheckFailed(ProofError):
    """A credential (or a QR payload, a status list, a DID) fails one named check."""

    code = "credential_check_failed"

    def __init__(self, check: str, reason: str, **fields: Any) -> None:
        super().__init__(f"{check}: {reason}", check=check, reason=reason, **fields)
        self.check = check
        self.reason = reason


__all__ = ["CHECKS", "QR_CHECK", "CredentialCheckFailed"]
