"""Data Integrity proofs: ``eddsa-jcs-2022`` (W3C, ``intl``) and ``sm2-jcs-2026`` (ours, ``gm``).

``eddsa-jcs-2022`` follows W3C "Data Integrity EdDSA Cryptosuites v1.0" section 3.3 exactly:

1. ``proofConfig`` = the proof without ``proofValue`` (``type`` = ``DataIntegrityProof``,
   ``cryptosuite``, ``created``, ``verificationMethod``, ``proofPurpose``), plus the document's
   ``@context`` copied in as ``proof.@context`` when the document has one;
2. ``hashData`` = SHA-256(JCS(proofConfig)) || SHA-256(JCS(document without ``proof``))
   (64 bytes: proof-configuration hash first);
3. ``proofValue`` = ``"z"`` + base58btc(Ed25519 signature of ``hashData``).

``sm2-jcs-2026`` is built the same way with the ``gm`` suite: SM3 for both hashes and an SM2
signature (GB/T 32918.2, signer ID ``1234567812345678``, the 64-byte ``r || s`` form) of the
64-byte ``hashData``; it is documented as ours in docs/credentials.md.

Verification recomputes ``hashData`` from the document and compares the signature; every
refusal is ``CredentialCheckFailed("proof", reason)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from govchain.credentials import CredentialCheckFailed
from govchain.credentials import multibase as mb
from govchain.credentials.jcs import canonicalize
from govchain.crypto import KeyPair, get_suite
from govchain.errors import GovchainError, SchemaViolation

EDDSA_JCS_2022 = "eddsa-jcs-2022"
"""The W3C cryptosuite used on ``intl`` networks."""
SM2_JCS_2026 = "sm2-jcs-2026"
"""Our cryptosuite for ``gm`` networks (SM3 + SM2, built like ``eddsa-jcs-2022``)."""
CRYPTOSUITES = {"intl": EDDSA_JCS_2022, "gm": SM2_JCS_2026}
"""Cryptosuite of each network crypto suite."""
NETWORK_SUITES = {v: k for k, v in CRYPTOSUITES.items()}
"""Network crypto suite of each cryptosuite."""
PROOF_TYPE = "DataIntegrityProof"
"""The ``proof.type`` of every proof."""

_DATETIME = re.compile(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z")


class CredentialSigner(Protocol):
    """Something that signs proof hashes with one key of a crypto suite."""

    # Read-only properties, so frozen dataclasses and plain attributes both satisfy it.
    @property
    def suite(self) -> str:
        """Network crypto suite of the key: ``"intl"`` or ``"gm"``."""
        ...

    @property
    def public_key(self) -> bytes:
        """Raw public key (as the suite writes it)."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Return the raw signature of ``data``."""
        ...


@dataclass(frozen=True, slots=True)
class KeyPairSigner:
    """A ``CredentialSigner`` over a key pair of the project's crypto suites."""

    suite: str
    """Network crypto suite: ``"intl"`` or ``"gm"``."""
    keypair: KeyPair
    """The signing key pair."""

    @property
    def public_key(self) -> bytes:
        """Raw public key of the pair."""
        return self.keypair.public

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` with the private key."""
        return get_suite(self.suite).sign(self.keypair.private, data)


def signer_from_keypair(suite: str, keypair: KeyPair) -> KeyPairSigner:
    """Return a ``CredentialSigner`` for a key pair of network suite ``suite``."""
    get_suite(suite)  # refuses unknown names
    return KeyPairSigner(suite=suite, keypair=keypair)


def network_suite(suite: str) -> str:
    """Return ``"intl"``/``"gm"`` for a network suite or cryptosuite name."""
    if suite in CRYPTOSUITES:
        return suite
    if suite in NETWORK_SUITES:
        return NETWORK_SUITES[suite]
    raise SchemaViolation(f"unknown crypto suite or cryptosuite {suite!r}", field="suite")


def is_datetime(value: object) -> bool:
    """Return whether ``value`` is an XML Schema ``dateTime`` with a time zone."""
    return isinstance(value, str) and _DATETIME.match(value) is not None


def hash_data(proof_config: dict[str, Any], document: dict[str, Any], suite: str) -> bytes:
    """Return ``H(JCS(proof_config)) || H(JCS(document))`` with the suite's hash."""
    h = get_suite(network_suite(suite)).hash
    return h(canonicalize(proof_config)) + h(canonicalize(document))


def credential_digest(document: dict[str, Any], suite: str) -> bytes:
    """Return the suite hash of the JCS bytes of a secured credential (what is notarised)."""
    return get_suite(network_suite(suite)).hash(canonicalize(document))


def sign_credential(
    credential: dict[str, Any],
    signer: CredentialSigner,
    verification_method: str,
    created: str,
    suite: str,
) -> dict[str, Any]:
    """Return a copy of ``credential`` with a Data Integrity proof by ``signer``.

    ``suite`` is the network suite or its cryptosuite name and must be the signer's;
    ``created`` is an XML Schema ``dateTime`` (the caller's clock: block time for issuance).
    """
    network = network_suite(suite)
    if network != signer.suite:
        raise SchemaViolation(
            f"signer key is of suite {signer.suite!r}, not {network!r}", field="suite"
        )
    if "proof" in credential:
        raise SchemaViolation("credential already has a proof", field="proof")
    if not is_datetime(created):
        raise SchemaViolation("created must be an XML Schema dateTime", field="created")
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITES[network],
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
    }
    if "@context" in credential:
        proof["@context"] = credential["@context"]
    signature = signer.sign(hash_data(proof, credential, network))
    return {**credential, "proof": {**proof, "proofValue": mb.encode(signature)}}


def _fail(reason: str) -> CredentialCheckFailed:
    return CredentialCheckFailed("proof", reason)


def proof_of(document: dict[str, Any]) -> dict[str, Any]:
    """Return the single proof object of a secured document (``proof`` check on failure)."""
    proof = document.get("proof")
    if not isinstance(proof, dict):
        raise _fail("the document has no single proof object")
    return proof


def verify_proof(document: dict[str, Any], public_key: bytes, suite: str) -> None:
    """Verify the Data Integrity proof of ``document`` under ``public_key``.

    ``suite`` is the expected network suite or cryptosuite; a proof of another cryptosuite is
    refused. Raises ``CredentialCheckFailed(check="proof")`` naming what is wrong.
    """
    network = network_suite(suite)
    proof = dict(proof_of(document))
    if proof.get("type") != PROOF_TYPE:
        raise _fail(f"proof type must be {PROOF_TYPE}")
    if proof.get("cryptosuite") != CRYPTOSUITES[network]:
        raise _fail(f"cryptosuite {proof.get('cryptosuite')!r} is not {CRYPTOSUITES[network]!r}")
    if proof.get("proofPurpose") != "assertionMethod":
        raise _fail("proofPurpose must be assertionMethod")
    if "created" in proof and not is_datetime(proof["created"]):
        raise _fail("proof created is not an XML Schema dateTime")
    proof_value = proof.pop("proofValue", None)
    if not isinstance(proof_value, str) or not proof_value.startswith("z"):
        raise _fail("proofValue must be a base58btc multibase string")
    try:
        signature = mb.decode(proof_value)
    except GovchainError:
        raise _fail("proofValue is not valid base58btc") from None
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    if "@context" in proof:
        contexts = proof["@context"]
        doc_contexts = unsecured.get("@context")
        want = contexts if isinstance(contexts, list) else [contexts]
        have = doc_contexts if isinstance(doc_contexts, list) else [doc_contexts]
        if have[: len(want)] != want:
            raise _fail("the document's @context does not start with the proof's @context")
        unsecured["@context"] = contexts
    try:
        data = hash_data(proof, unsecured, network)
    except GovchainError as exc:
        raise _fail(f"document cannot be canonicalised: {exc.message}") from None
    if not get_suite(network).verify(public_key, data, signature):
        raise _fail("signature does not verify under the verification method's key")


def parse_datetime(value: Any, what: str) -> datetime:
    """Parse an XML Schema ``dateTime`` with a time zone; ``format`` check failure otherwise."""
    if not is_datetime(value):
        raise CredentialCheckFailed("format", f"{what} is not an XML Schema dateTime")
    return datetime.fromisoformat(str(value))
