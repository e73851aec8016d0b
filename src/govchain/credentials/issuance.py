"""What a department issues, as unsigned VC 2.0 credentials, and how a draft is secured.

- every licence of the licence registry (the business licence 营业执照 and every permit):
  ``licence_draft`` maps the registry record onto the GB/T 36903 terms (``licence_terms``);
- citizens' certificates used by certification matters (``CERTIFICATES``): the same e-licence
  shape, issued by the department that holds the fact;
- e-bills: ``ebills.py``.

``secure`` adds the two status entries (revocation and suspension, at the credential's one
status index) and the Data Integrity proof, and returns the hash that is notarised on-chain:
the network suite's hash (SHA-256 on ``intl``, SM3 on ``gm``) of the JCS bytes of the secured
credential (``proofs.credential_digest``).

Status list credentials are named by DID URLs, ``<issuer DID>/status/<purpose>/<list>``:
they name the list without naming a host, so an offline verifier looks them up in its cache
and an online one asks any node (``GET /v1/credentials/status/<dept>/<purpose>/<list>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from govchain.credentials import multibase, statuslist
from govchain.credentials.dids import parse_did
from govchain.credentials.jcs import canonicalize
from govchain.credentials.ledger_status import LIST_SIZE, PURPOSES
from govchain.credentials.licence_terms import (
    CONTEXTS,
    LICENCE_TYPE,
    LicenceMetadata,
    licence_credential,
)
from govchain.credentials.proofs import (
    CRYPTOSUITES,
    PROOF_TYPE,
    CredentialSigner,
    network_suite,
)
from govchain.crypto import get_suite
from govchain.errors import Conflict, SchemaViolation

CHINA_TIME = timezone(timedelta(hours=8))
"""Dates printed on licences are dates in China (UTC+8)."""
DAY_MS = 86_400_000
"""Milliseconds in a day."""


@dataclass(frozen=True, slots=True)
class Draft:
    """A credential about to be issued."""

    kind: str
    """Credential kind recorded on-chain (a licence type, a certificate kind, ``e_bill``)."""
    holder: str
    """Holder reference recorded on-chain: a USCC, or a citizen's user id."""
    credential: dict[str, Any]
    """The unsigned credential (no ``credentialStatus``, no ``proof``)."""
    index: int | None = None
    """Status index, when already allocated (a licence's comes from the licence registry)."""
    bill: Mapping[str, Any] | None = None
    """For an e-bill: its on-chain particulars ``{number, seller, amount_fen}``."""


@dataclass(frozen=True, slots=True)
class Secured:
    """A signed credential and what is notarised about it."""

    draft: Draft
    """What was issued."""
    index: int
    """Its status index."""
    credential: dict[str, Any]
    """The secured credential (status entries and proof)."""
    digest: str
    """Hex hash notarised on-chain."""

    def entry(self) -> dict[str, Any]:
        """Return its entry of a ``credentials.issue`` call."""
        out: dict[str, Any] = {
            "hash": self.digest,
            "type": self.draft.kind,
            "holder": self.draft.holder,
            "index": self.index,
        }
        if self.draft.bill is not None:
            out["bill"] = dict(self.draft.bill)
        return out


@dataclass(frozen=True, slots=True)
class Certificate:
    """A kind of citizen certificate a department issues."""

    kind: str
    """Kind id (recorded on-chain)."""
    dept: str
    """Department that holds the fact and issues it."""
    name: str
    """证照名称."""
    type_code: str
    """证照类型代码 (our catalogue's code)."""
    validity_days: int
    """Days it stays valid (a certificate answers a question at a date; 0: no end)."""


CERTIFICATES: dict[str, Certificate] = {
    c.kind: c
    for c in (
        Certificate("social_insurance_record", "hrss", "社会保险参保缴费证明", "SI-PAY", 90),
        Certificate("tax_payment_record", "tax", "个人所得税纳税记录", "TAX-IIT", 90),
        Certificate("residence_record", "hrss", "居住及就业登记证明", "RES-EMP", 180),
    )
}
"""Citizen certificates used by certification matters (housing, points-based household
registration, school enrolment), by kind. A department issues these straight from the facts it
holds; a certificate that a case decides (a marriage certificate, a school place) is never one
of them: it exists only through its case, in the certificate registry, and its credential is
drafted from the registry record (``registry_certificate_draft``)."""


def iso_datetime(ms: int) -> str:
    """Return an XML Schema ``dateTime`` in UTC (second precision) for epoch milliseconds."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def china_date(ms: int) -> str:
    """Return the date in China of an instant (``YYYY-MM-DD``)."""
    return datetime.fromtimestamp(ms // 1000, CHINA_TIME).strftime("%Y-%m-%d")


def status_list_id(issuer_did: str, purpose: str, list_no: int) -> str:
    """Return the id of one of an issuer's status list credentials."""
    parse_did(issuer_did)
    return f"{issuer_did}/status/{purpose}/{list_no}"


def status_entries(issuer_did: str, index: int) -> list[dict[str, Any]]:
    """Return the revocation and suspension entries of status index ``index``."""
    list_no, position = divmod(index, LIST_SIZE)
    return [
        statuslist.status_entry(status_list_id(issuer_did, p, list_no), position, p)
        for p in PURPOSES
    ]


def licence_draft(
    licence: Mapping[str, Any], *, network: str, issuer_did: str, authority: str
) -> Draft:
    """Return the draft credential of a licence registry record (``authority``: the issuing
    department's name)."""
    if licence.get("status_index") is None:
        raise SchemaViolation(
            f"licence {licence.get('number')} predates status lists; it has no status index",
            field="number",
        )
    number = str(licence["number"])
    until_ms = int(licence["valid_until_ms"])
    metadata = LicenceMetadata(
        licence_identifier=f"{network}-{number}",
        licence_name=str(licence["name"]["zh"]),
        licence_number=number,
        licence_type_code=str(licence["type"]),
        holder=str(licence["holder_name"]),
        holder_identifier=str(licence["holder"]),
        holder_identifier_type="USCC",
        issuing_authority=authority,
        issuing_authority_code=issuer_did,
        issue_date=china_date(int(licence["valid_from_ms"])),
        valid_from=china_date(int(licence["valid_from_ms"])),
        valid_until=china_date(until_ms) if until_ms else None,
    )
    credential = licence_credential(
        credential_id=f"urn:govchain:{network}:licence:{number}",
        issuer=issuer_did,
        metadata=metadata,
        valid_from=iso_datetime(int(licence["valid_from_ms"])),
        valid_until=iso_datetime(until_ms) if until_ms else None,
    )
    return Draft(str(licence["type"]), str(licence["holder"]), credential, licence["status_index"])


def certificate_draft(
    kind: str,
    *,
    network: str,
    issuer_did: str,
    authority: str,
    holder: str,
    holder_name: str,
    holder_id_number: str,
    serial: str,
    facts: Mapping[str, Any],
    now_ms: int,
) -> Draft:
    """Return the draft of a citizen certificate of ``kind`` (``CERTIFICATES``) stating
    ``facts`` (the answer the department holds, e.g. months of social insurance paid)."""
    cert = CERTIFICATES.get(kind)
    if cert is None:
        raise SchemaViolation(
            f"kind must be one of {', '.join(sorted(CERTIFICATES))}", field="kind"
        )
    if parse_did(issuer_did)[1] != cert.dept:
        raise SchemaViolation(f"{cert.name} is issued by {cert.dept}", field="kind")
    # 0 days: a certificate without an end (no licenceValidUntil, no validUntil).
    until_ms = now_ms + cert.validity_days * DAY_MS if cert.validity_days else 0
    metadata = LicenceMetadata(
        licence_identifier=f"{network}-{cert.type_code}-{serial}",
        licence_name=cert.name,
        licence_number=f"{cert.type_code}-{serial}",
        licence_type_code=cert.type_code,
        holder=holder_name,
        holder_identifier=holder_id_number,
        holder_identifier_type="RIN",
        issuing_authority=authority,
        issuing_authority_code=issuer_did,
        issue_date=china_date(now_ms),
        valid_from=china_date(now_ms),
        valid_until=china_date(until_ms) if until_ms else None,
    )
    credential = licence_credential(
        credential_id=f"urn:govchain:{network}:certificate:{cert.type_code}-{serial}",
        issuer=issuer_did,
        metadata=metadata,
        valid_from=iso_datetime(now_ms),
        valid_until=iso_datetime(until_ms) if until_ms else None,
    )
    credential["credentialSubject"]["licenceData"] = dict(facts)
    return Draft(kind, holder, credential)


def registry_certificate_draft(
    record: Mapping[str, Any],
    *,
    type_code: str,
    data: Mapping[str, Any],
    network: str,
    issuer_did: str,
    authority: str,
    holder_name: str,
    holder_id_number: str,
) -> Draft:
    """Return the draft credential of an active certificate of the certificate registry
    (``registry.issue_certificate``: issued by a case's decision, with its status index).

    ``type_code`` is its e-licence type code, ``data`` what it rests on (``licenceData``: the
    case and each fact with its attestation), ``authority`` the issuing department's name;
    the holder's name and resident identity number come from the identity directory (the
    registry knows the holder by on-chain id only). Validity is the record's: from its issue
    to ``valid_until_ms``, and no end when that is 0 (a marriage certificate).
    """
    if record.get("status") != "active" or record.get("status_index") is None:
        raise Conflict(
            f"certificate {record.get('number')} is {record.get('status')}: only an active "
            "certificate with a status index gets a credential",
            certificate=record.get("number"),
        )
    if parse_did(issuer_did)[1] != record.get("issuer"):
        raise SchemaViolation(
            f"certificate {record.get('number')} is issued by {record.get('issuer')}",
            field="issuer",
        )
    number = str(record["number"])
    since, until = int(record["valid_from_ms"]), int(record["valid_until_ms"])
    metadata = LicenceMetadata(
        licence_identifier=f"{network}-{number}",
        licence_name=str(record["name"]["zh"]),
        licence_number=number,
        licence_type_code=type_code,
        holder=holder_name,
        holder_identifier=holder_id_number,
        holder_identifier_type="RIN",
        issuing_authority=authority,
        issuing_authority_code=issuer_did,
        issue_date=china_date(since),
        valid_from=china_date(since),
        valid_until=china_date(until) if until else None,
    )
    credential = licence_credential(
        credential_id=f"urn:govchain:{network}:certificate:{number}",
        issuer=issuer_did,
        metadata=metadata,
        valid_from=iso_datetime(since),
        valid_until=iso_datetime(until) if until else None,
    )
    credential["credentialSubject"]["licenceData"] = dict(data)
    return Draft(
        str(record["type"]), str(record["holder"]), credential, int(record["status_index"])
    )


def secure(
    draft: Draft,
    index: int,
    *,
    signer: CredentialSigner,
    verification_method: str,
    created_ms: int,
) -> Secured:
    """Add the status entries and the proof to a draft; return it with its notarised hash."""
    issuer = statuslist.issuer_of(draft.credential)
    unsigned = {**draft.credential, "credentialStatus": status_entries(issuer, index)}
    created = iso_datetime(created_ms)
    # The same proof as ``proofs.sign_credential`` (a test holds them equal), written out so
    # that the suite is looked up once and each canonical form is made once: the proof
    # configuration, the document signed, and the secured credential whose hash is notarised.
    suite = get_suite(network_suite(signer.suite))
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITES[signer.suite],
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
    }
    if "@context" in unsigned:
        proof["@context"] = unsigned["@context"]
    signature = signer.sign(suite.hash(canonicalize(proof)) + suite.hash(canonicalize(unsigned)))
    proof["proofValue"] = multibase.encode(signature)
    signed = {**unsigned, "proof": proof}
    return Secured(draft, index, signed, suite.hash(canonicalize(signed)).hex())


def status_list_draft(
    issuer_did: str, purpose: str, list_no: int, positions: list[int], now_ms: int
) -> dict[str, Any]:
    """Return the unsigned status list credential with the given bits set."""
    bits = statuslist.BitstringStatusList(LIST_SIZE)
    for p in positions:
        bits.set(p)
    return statuslist.status_list_credential(
        list_id=status_list_id(issuer_did, purpose, list_no),
        issuer=issuer_did,
        purpose=purpose,
        status_list=bits,
        valid_from=iso_datetime(now_ms),
    )


def is_licence(credential: Mapping[str, Any]) -> bool:
    """Return whether a credential is one of our e-licences (or certificates)."""
    types = credential.get("type")
    return (
        isinstance(types, list)
        and LICENCE_TYPE in types
        and credential.get("@context") == list(CONTEXTS)
    )
