"""Service functions of notarisation: hashing documents, arguments of the calls, checking a
document against its receipt (offline) and the status of a record (online)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from govchain.apps.notary.batches import BatchProof
from govchain.crypto.suite import CryptoSuite
from govchain.errors import ProofError, RootMismatch, SchemaViolation
from govchain.ledger.bundles import VerifiedReceipt, verify_bundle
from govchain.ledger.genesis import Genesis
from govchain.ledger.transactions import parse_envelope

CONTRACT = "notary"
"""Name the notarisation contract is committed under."""
RECEIPT_SECTION = "notary"
"""Key of the notarisation section a document receipt file adds to the receipt bundle."""
HASH_NAMES = {"intl": "SHA-256", "gm": "SM3"}
"""Document hash of each crypto suite."""

VALID = "valid"
REVOKED = "revoked"
EXPIRED = "expired"


def document_digest(suite: CryptoSuite, data: bytes) -> str:
    """Return the digest (hex) a document is notarised under: the network suite's hash."""
    return suite.hash(data).hex()


def notarise_args(
    digest: str, *, title: str = "", expires_ms: int | None = None, stored: bool = False
) -> dict[str, Any]:
    """Return the arguments of a ``notarise`` call."""
    args: dict[str, Any] = {"digest": digest, "title": title, "stored": stored}
    if expires_ms is not None:
        args["expires_ms"] = expires_ms
    return args


def status_of(record: dict[str, Any], now_ms: int) -> str:
    """Return ``valid``, ``revoked`` or ``expired`` for an on-chain record at ``now_ms``."""
    if record.get("revoked"):
        return REVOKED
    expires = record.get("expires_ms")
    if expires is not None and now_ms >= expires:
        return EXPIRED
    return VALID


def document_receipt(
    bundle: dict[str, Any], digest: str, proof: BatchProof | None
) -> dict[str, Any]:
    """Return a document's receipt file: the transaction's receipt bundle plus the notarisation
    section (the document digest and, for a batch, its inclusion proof)."""
    section: dict[str, Any] = {"digest": digest}
    if proof is not None:
        section["batch"] = proof.to_json()
    return {**bundle, RECEIPT_SECTION: section}


@dataclass(frozen=True, slots=True)
class VerifiedDocument:
    """What a document receipt proves about a document."""

    digest: str
    """Digest of the document checked (hex)."""
    hash_name: str
    """Hash function (``SHA-256`` or ``SM3``)."""
    receipt: VerifiedReceipt
    """The verified transaction receipt (block, signer, checkpoint ...)."""
    title: str
    """Title given at notarisation."""
    expires_ms: int | None
    """Expiry given at notarisation, if any."""
    notarised_ms: int
    """Block time of the notarisation."""
    batch: BatchProof | None
    """The batch proof when the document was notarised in a batch."""

    @property
    def on_chain_key(self) -> str:
        """Digest or batch root the ledger record is stored under (for the online status)."""
        return self.batch.root if self.batch is not None else self.digest


def verify_document(
    bundle: Any, genesis: Genesis, suite: CryptoSuite, document: bytes
) -> VerifiedDocument:
    """Verify a document receipt offline against ``genesis`` and the document's bytes.

    Raises ``ProofError`` (or ``RootMismatch``) naming the defect: a receipt that does not
    verify, a transaction that is not a successful notarisation, or a document whose hash is not
    the notarised one. Revocation is on-chain state: check it online (``status_of``)."""
    verified = verify_bundle(bundle, genesis, suite)
    tx = parse_envelope(verified.entry.tx, suite.hash)
    if tx.contract != CONTRACT or tx.method not in ("notarise", "notarise_batch"):
        raise ProofError(f"the receipt is for {tx.contract}.{tx.method}, not a notarisation")
    if verified.status != "ok":
        raise ProofError(f"the notarisation transaction {verified.status}; nothing was notarised")
    digest = document_digest(suite, document)
    batch: BatchProof | None = None
    if tx.method == "notarise":
        notarised = tx.args["digest"]
        if notarised != digest:
            raise RootMismatch(
                "the document does not match the receipt: notarised digest",
                bytes.fromhex(notarised),
                bytes.fromhex(digest),
            )
    else:
        section = bundle.get(RECEIPT_SECTION) if type(bundle) is dict else None
        if type(section) is not dict or "batch" not in section:
            raise ProofError("a batch receipt needs the document's batch proof (notary.batch)")
        batch = BatchProof.from_json(section["batch"])
        expected = bytes.fromhex(tx.args["root"])
        if batch.root != tx.args["root"] or batch.size != tx.args["count"]:
            raise ProofError("the batch proof is for another batch than the transaction's")
        calculated = batch.root_for(suite.hash, digest)
        if calculated != expected:
            raise RootMismatch(
                "the document does not match the receipt: batch root", expected, calculated
            )
    result = verified.result if type(verified.result) is dict else {}
    return VerifiedDocument(
        digest=digest,
        hash_name=HASH_NAMES.get(genesis.suite, genesis.suite),
        receipt=verified,
        title=str(tx.args.get("title", "")),
        expires_ms=tx.args.get("expires_ms"),
        notarised_ms=int(result.get("time_ms", 0)) if "time_ms" in result else 0,
        batch=batch,
    )


def parse_expiry(text: str | None) -> int | None:
    """Parse an expiry given as milliseconds since the epoch or an ISO date (UTC)."""
    if text is None or text == "":
        return None
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise SchemaViolation(f"expiry {text!r} is neither milliseconds nor an ISO date") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)
