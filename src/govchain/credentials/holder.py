"""What holders and verifiers do with credential files: the SD-JWT VC form of a credential,
selective disclosure, and checking a credential offline with its evidence.

Files (all JSON):

- a **credential file** ``{"format": "govchain-credential/1", "credential": <VC or SD-JWT>,
  "evidence": <receipt bundle of the issue transaction>}``: the receipt proves, with nothing
  but genesis, that the ledger notarised the credential's hash at a height;
- a **status list file** ``{"credential": <signed list>, "anchor": {...}, "receipt": <receipt
  bundle of publish_status_list>}``: the receipt proves the list's hash was anchored, so a
  cached list is known to be the issuer's published one and when it was published;
- optionally a **key history file** (``keyhistory.history_to_json``) for keys added after
  genesis.

The functions at the end run on a node, over its credential service: the SD-JWT VC form of an
issued credential (issued and notarised on first request) and online verification.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from govchain.credentials import CHECKS, QR_CHECK, CredentialCheckFailed, qr, sdjwt, statuslist
from govchain.credentials import contract as cc
from govchain.credentials import ledger_status as ls
from govchain.credentials.dids import (
    IssuanceEvidence,
    KeyHistory,
    history_from_genesis,
    parse_did,
)
from govchain.credentials.multibase import b64url_decode
from govchain.credentials.proofs import credential_digest
from govchain.credentials.sdjwt import issue_sd_jwt
from govchain.credentials.verify import (
    CachedStatusList,
    CheckResult,
    HistoryResolver,
    VerificationReport,
    sdjwt_digest,
    verify_credential,
)
from govchain.crypto.suite import CryptoSuite
from govchain.errors import Conflict, GovchainError, NotFound, ProofError, SchemaViolation
from govchain.ledger.bundles import verify_bundle
from govchain.ledger.genesis import Genesis
from govchain.ledger.transactions import parse_envelope

if TYPE_CHECKING:  # the service uses this module; it is only a type here
    from govchain.credentials.service import CredentialService

BATCH_FORMAT = "govchain-credentials/1"
"""Format of a content-store file holding one issued batch (the issuing node's copy)."""
CREDENTIAL_FILE = "govchain-credential/1"
"""Format of a credential file."""
SD_JWT_VCT = "urn:govchain:vct:"
"""Prefix of the ``vct`` of our SD-JWT VCs (followed by the credential kind)."""
ISSUING_METHODS = ("issue", "reverse")
"""Methods of the ``credentials`` contract that notarise credentials."""


class NotNotarised(CredentialCheckFailed):
    """A valid issuance receipt that does not list the credential's hash."""

    code = "not_notarised"


def sd_jwt_claims(credential: Mapping[str, Any], kind: str, digest: str) -> dict[str, Any]:
    """Return the SD-JWT VC claims of a secured JSON-LD credential: its subject's members
    (disclosable), plus ``iss``, ``vct``, ``jti`` (the credential id), ``vc_hash`` (the hash
    notarised for the JSON-LD form), validity as NumericDates and ``credentialStatus``."""
    subject = credential.get("credentialSubject")
    if not isinstance(subject, Mapping):
        raise SchemaViolation("the credential has no credentialSubject", field="credential")
    claims: dict[str, Any] = {k: v for k, v in subject.items() if k not in ("type", "id")}
    claims.update(
        {
            "iss": credential["issuer"],
            "vct": SD_JWT_VCT + kind,
            "jti": credential["id"],
            "vc_hash": digest,
            "iat": _seconds(str(credential["proof"]["created"])),
            "nbf": _seconds(str(credential["validFrom"])),
            "credentialStatus": credential.get("credentialStatus", []),
        }
    )
    if "validUntil" in credential:
        claims["exp"] = _seconds(str(credential["validUntil"]))
    return claims


def disclosable(claims: Mapping[str, Any]) -> list[str]:
    """Return the claims a holder may leave out (the credential subject's members)."""
    fixed = {"iss", "vct", "jti", "vc_hash", "iat", "nbf", "exp", "credentialStatus"}
    return sorted(k for k in claims if k not in fixed)


def _seconds(value: str) -> int:
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise SchemaViolation(f"{value!r} is not a dateTime") from None


def credential_hash(credential: dict[str, Any] | str, suite: str) -> str:
    """Return the notarised hash of a credential: of the JSON-LD form's JCS bytes, or of an
    SD-JWT's issuer-signed JWT (disclosures left out, so every presentation has the hash)."""
    if isinstance(credential, str):
        return sdjwt_digest(credential, suite).hex()
    return credential_digest(credential, suite).hex()


def issuance_evidence(
    bundle: Any, digest: str, genesis: Genesis, suite: CryptoSuite
) -> IssuanceEvidence:
    """Verify a receipt bundle as the notarisation of ``digest``; return the evidence.

    ``CredentialCheckFailed("key")`` names the defect: a receipt that does not verify, a
    transaction that is not a successful ``credentials`` issuance, or one that does not list
    the hash."""
    try:
        verified = verify_bundle(bundle, genesis, suite)
        tx = parse_envelope(verified.entry.tx, suite.hash)
    except GovchainError as exc:
        raise CredentialCheckFailed("key", f"issuance receipt: {exc.message}") from None
    if tx.contract != "credentials" or tx.method not in ISSUING_METHODS:
        raise CredentialCheckFailed("key", f"the receipt is of {tx.contract}.{tx.method}")
    if verified.status != "ok":
        raise CredentialCheckFailed("key", f"the issuing transaction {verified.status}")
    entries = tx.args.get("entries") if tx.method == "issue" else [tx.args.get("entry")]
    hashes = {e.get("hash") for e in entries or [] if isinstance(e, dict)}
    if digest not in hashes:
        raise NotNotarised("key", "the receipt does not notarise this credential")
    return IssuanceEvidence(verified.height, bytes.fromhex(digest), bundle)


def cached_list(file: Any, genesis: Genesis, suite: CryptoSuite) -> CachedStatusList:
    """Check a status list file against its anchor receipt; return the cached list.

    ``CredentialCheckFailed("status_issuer")`` if the receipt does not verify or anchors
    another hash."""
    if not isinstance(file, dict) or not isinstance(file.get("credential"), dict):
        raise CredentialCheckFailed("status_issuer", "a status list file holds a credential")
    credential: dict[str, Any] = file["credential"]
    try:
        verified = verify_bundle(file.get("receipt"), genesis, suite)
        tx = parse_envelope(verified.entry.tx, suite.hash)
    except GovchainError as exc:
        raise CredentialCheckFailed("status_issuer", f"anchor receipt: {exc.message}") from None
    if (tx.contract, tx.method, verified.status) != ("credentials", "publish_status_list", "ok"):
        raise CredentialCheckFailed("status_issuer", "the receipt is not a list's anchor")
    if tx.args.get("hash") != credential_digest(credential, suite.name).hex():
        raise CredentialCheckFailed("status_issuer", "the list is not the one anchored")
    digest = bytes.fromhex(str(tx.args["hash"]))
    return CachedStatusList(credential, IssuanceEvidence(verified.height, digest, file))


def list_url(credential: dict[str, Any] | Mapping[str, Any]) -> str:
    """Return the id of a status list credential."""
    return str(credential.get("id", ""))


def verify_offline(
    credential: dict[str, Any] | str,
    *,
    genesis: Genesis,
    suite: CryptoSuite,
    evidence: Any = None,
    status_files: Sequence[Any] = (),
    key_history: KeyHistory | None = None,
    now: datetime,
) -> VerificationReport:
    """Verify a credential with genesis, its evidence and cached status list files.

    A defect of the evidence or of a list file fails the check it belongs to (``key``,
    ``status_issuer``) with the reason, like any other check."""
    history = key_history or history_from_genesis(genesis)
    proved: IssuanceEvidence | None = None
    mismatch: CredentialCheckFailed | None = None
    lists: dict[str, Any] = {}
    try:
        if evidence is not None:
            try:
                proved = issuance_evidence(
                    evidence, credential_hash(credential, suite.name), genesis, suite
                )
            except NotNotarised as exc:
                # A changed credential no longer has its notarised hash: let the credential's
                # own checks name what changed (usually its proof) before blaming the receipt.
                mismatch = exc
        for f in status_files:
            cached = cached_list(f, genesis, suite)
            lists[list_url(cached.credential)] = cached
    except CredentialCheckFailed as exc:
        return _failed_report(exc)
    report = verify_credential(
        credential,
        resolver=HistoryResolver(history),
        status_lists=lists,
        evidence=proved,
        now=now,
    )
    if mismatch is not None and report.ok:
        return _failed_report(mismatch)
    return report


def _failed_report(exc: CredentialCheckFailed) -> VerificationReport:
    """A report of a verification refused before the credential's checks ran."""
    rest = (CheckResult(n, None, "not run") for n in CHECKS if n != exc.check)
    return VerificationReport((CheckResult(exc.check, False, exc.reason), *rest))


def credential_file(
    credential: dict[str, Any] | str, evidence: Mapping[str, Any]
) -> dict[str, Any]:
    """Return a credential file (the credential and its issuance receipt)."""
    return {"format": CREDENTIAL_FILE, "credential": credential, "evidence": dict(evidence)}


def read_credential_file(obj: Any) -> tuple[dict[str, Any] | str, Any]:
    """Return ``(credential, evidence or None)`` of a credential file, a bare VC, or an
    SD-JWT string."""
    if isinstance(obj, str):
        return obj.strip(), None
    if isinstance(obj, dict) and obj.get("format") == CREDENTIAL_FILE:
        cred = obj.get("credential")
        if not isinstance(cred, dict | str):
            raise ProofError("the credential file holds no credential")
        return cred, obj.get("evidence")
    if isinstance(obj, dict):
        return obj, None
    raise ProofError("not a credential, an SD-JWT or a credential file")


# --- online, through a node's credential service -------------------------------------------------


def sd_jwt_form(svc: CredentialService, digest: str, *, actor: str) -> tuple[str, str]:
    """Return the SD-JWT VC form of an issued credential and its notarised hash: issued
    (signed with every claim disclosable, notarised) on first request, stored after."""
    record = svc.record(digest)
    raw = svc.read(cc.alternate_key(digest))
    if raw is not None:
        alt = str(orjson.loads(raw))
        token = svc.document(alt)
        if isinstance(token, str):
            return token, alt
    credential = svc.document(digest)
    if not isinstance(credential, dict):
        raise Conflict(f"{digest} is already an SD-JWT; present the credential it is a form of")
    dept = str(record["issuer"])
    signer, vm = svc.issuer(dept)
    claims = sd_jwt_claims(credential, str(record["type"]), digest)
    token = issue_sd_jwt(claims, disclosable(claims), signer, kid=vm)
    alt = credential_hash(token, svc.suite.name)
    data = orjson.dumps({"format": BATCH_FORMAT, "credentials": [token]})
    entry = {
        "hash": alt, "type": str(record["type"]), "holder": str(record["holder"]),
        "index": int(record["index"]), "of": digest,
    }  # fmt: skip
    args = {"entries": [entry], "batch": svc.content.put(data)}
    svc.commit([svc.call(dept, "issue", args, actor=actor)])
    return token, alt


def status_lists_for(svc: CredentialService, credential: dict[str, Any] | str) -> dict[str, Any]:
    """Return the latest published status list of every entry of a credential (those this
    node can serve), by list id."""
    lists: dict[str, Any] = {}
    try:
        claims = (
            verified_claims_unchecked(credential) if isinstance(credential, str) else credential
        )
        entries = statuslist.parse_entries(dict(claims))
    except CredentialCheckFailed:
        return lists  # the verifier names what is wrong with it
    for entry in entries:
        parts = parse_list_id(entry.list_credential, svc.network)
        if parts is None or entry.list_credential in lists:
            continue
        try:
            lists[entry.list_credential] = svc.status_list(*parts)["credential"]
        except NotFound:
            continue
    return lists


def verify_online(svc: CredentialService, credential: dict[str, Any] | str) -> dict[str, Any]:
    """Verify a credential online: the ledger's key history, the issuer's current status
    lists, and the ledger's record of its issuance as evidence. Returns the report JSON
    with ``notarised`` (the on-chain record, or ``None``)."""
    record: dict[str, Any] | None = None
    evidence = None
    try:
        digest = credential_hash(credential, svc.suite.name)
        record = svc.record(digest)
        evidence = IssuanceEvidence(int(record["height"]), bytes.fromhex(digest))
    except (GovchainError, ValueError):
        record = None
    report = verify_credential(
        credential,
        resolver=HistoryResolver(svc.key_history()),
        status_lists=status_lists_for(svc, credential),
        evidence=evidence,
        now=datetime.fromtimestamp(svc.now_ms() / 1000, UTC),
    )
    return {**report.to_json(), "notarised": record}


def verify_online_qr(svc: CredentialService, payload: str) -> dict[str, Any]:
    """Verify the credential a QR payload carries, online (``verify_online``), with the
    ``qr_hash`` check in front. A reference payload is answered from this node's copy of the
    credential it names (its SHA-256 is the notarised hash on ``intl`` networks); the copy
    must match the reference."""
    try:
        content = qr.decode_payload(payload)
        credential: dict[str, Any] | str
        if content.reference is not None:
            try:
                credential = svc.document(content.reference.sha256)
            except (GovchainError, ValueError):
                raise CredentialCheckFailed(
                    "format", "the credential this QR code refers to is not held here"
                ) from None
            qr.check_reference(content.reference, credential)
        elif content.sd_jwt is not None:
            credential = content.sd_jwt
        else:
            assert content.credential is not None
            credential = content.credential
    except CredentialCheckFailed as exc:
        rest = [{"name": n, "passed": None, "reason": "not run"} for n in CHECKS]
        failed = {"name": exc.check, "passed": False, "reason": exc.reason}
        return {"ok": False, "failed": exc.check, "checks": [failed, *rest], "notarised": None}
    found = verify_online(svc, credential)
    head = {"name": QR_CHECK, "passed": True, "reason": "QR payload matches its digest"}
    return {**found, "checks": [head, *found["checks"]]}


def parse_list_id(list_id: str, network: str) -> tuple[str, str, int] | None:
    """Return ``(dept, purpose, list)`` of one of this network's status list ids, or ``None``."""
    did, _, path = list_id.partition("/status/")
    purpose, _, number = path.partition("/")
    try:
        net, dept = parse_did(did)
    except CredentialCheckFailed:
        return None
    if net != network or purpose not in ls.PURPOSES or not number.isdigit():
        return None
    return dept, purpose, int(number)


def verified_claims_unchecked(token: str) -> dict[str, Any]:
    """Return the payload of an SD-JWT's issuer JWT without checking it (to find its status
    lists before the verifier checks everything)."""
    jwt = sdjwt.parse(token).issuer_jwt
    try:
        payload = orjson.loads(b64url_decode(jwt.split(".")[1]))
    except (GovchainError, IndexError, orjson.JSONDecodeError):
        raise CredentialCheckFailed("format", "the SD-JWT payload is not JSON") from None
    if not isinstance(payload, dict):
        raise CredentialCheckFailed("format", "the SD-JWT payload is not an object")
    return payload
