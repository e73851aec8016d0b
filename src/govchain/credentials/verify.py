"""Offline verification of a credential (VC with a Data Integrity proof, or an SD-JWT VC).

``verify_credential`` runs these checks in order and stops at the first failure (later checks
are reported as not run):

================  ==========================================================================
``format``        the credential's shape: VC 2.0 members / a compact SD-JWT VC
``context``       ``@context`` starts with the VC 2.0 context and uses only shipped contexts
``issuer``        the issuer's ``did:govchain`` DID resolves and names the signing key
``key``           the key was valid when the credential was issued (``dids.check_key_valid``),
                  and the ledger evidence, if given, is for this credential
``proof``         the Data Integrity proof (or the SD-JWT signature and disclosures)
``validity``      ``now`` is within ``validFrom`` .. ``validUntil`` (``nbf`` .. ``exp``)
``status_issuer`` each status list is present, its own proof and key check out, and its issuer
                  is the credential's issuer
``status``        no revocation bit and no suspension bit is set
================  ==========================================================================

``status_issuer`` runs before ``status`` on purpose: a list's bits are read only once the list
is known to be the issuer's own (the issue lists the two the other way round; the names are the
same). Nothing here does I/O: DIDs resolve from a key history, lists come from a cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from govchain.credentials import (
    CHECKS,
    QR_CHECK,
    CredentialCheckFailed,
    dids,
    proofs,
    qr,
    sdjwt,
    statuslist,
)
from govchain.credentials.contexts import VC_V2, shipped_urls
from govchain.credentials.dids import DidResolver, HistoryResolver
from govchain.credentials.statuslist import (
    CachedStatusList,
    CheckedStatusList,
    StatusLists,
    VerifiedStatusLists,
)
from govchain.crypto import get_suite
from govchain.errors import GovchainError

__all__ = [
    "ORDER",
    "CachedStatusList",
    "CheckResult",
    "CheckedStatusList",
    "DidResolver",
    "HistoryResolver",
    "StatusLists",
    "VerificationReport",
    "VerifiedStatusLists",
    "sdjwt_digest",
    "verify_credential",
    "verify_qr_payload",
]

ORDER = CHECKS
"""The order in which ``verify_credential`` runs its checks."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one named check."""

    name: str
    """Check name (one of ``ORDER``, or ``qr_hash``)."""
    passed: bool | None
    """``True`` passed, ``False`` failed, ``None`` not run (an earlier check failed)."""
    reason: str
    """Why it passed or failed."""


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """Every check of one verification, in order."""

    checks: tuple[CheckResult, ...]
    """The checks, in the order they ran."""
    claims: dict[str, Any] | None = None
    """The verified credential (a VC), or the disclosed SD-JWT claims; ``None`` on failure."""

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> CheckResult | None:
        """The failed check, if any."""
        return next((c for c in self.checks if c.passed is False), None)

    def raise_for_failure(self) -> None:
        """Raise ``CredentialCheckFailed`` for the failed check, if any."""
        bad = self.failed
        if bad is not None:
            raise CredentialCheckFailed(bad.name, bad.reason)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON report (``ok``, ``failed``, and each check)."""
        bad = self.failed
        return {
            "ok": self.ok,
            "failed": None if bad is None else bad.name,
            "checks": [
                {"name": c.name, "passed": c.passed, "reason": c.reason} for c in self.checks
            ],
        }


def _check_vc_format(vc: dict[str, Any]) -> str:
    types = vc.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise CredentialCheckFailed("format", "type must be a list with VerifiableCredential")
    statuslist.issuer_of(vc)
    subject = vc.get("credentialSubject")
    if not isinstance(subject, dict | list) or not subject:
        raise CredentialCheckFailed("format", "credentialSubject must be an object or a list")
    for name in ("validFrom", "validUntil"):
        if name in vc:
            proofs.parse_datetime(vc[name], name)
    if not isinstance(vc.get("proof"), dict):
        raise CredentialCheckFailed("format", "the credential has no proof")
    return "VC 2.0 credential with a proof"


def _check_context(vc: dict[str, Any]) -> str:
    ctx = vc.get("@context")
    if not isinstance(ctx, list) or not ctx or ctx[0] != VC_V2:
        raise CredentialCheckFailed("context", f"@context must be a list starting with {VC_V2}")
    unknown = [c for c in ctx if c not in shipped_urls()]
    if unknown:
        raise CredentialCheckFailed("context", f"contexts not known offline: {unknown}")
    return "VC 2.0 context first; every context is shipped"


def _check_validity(not_before: datetime | None, not_after: datetime | None, now: datetime) -> str:
    if not_before is not None and now < not_before:
        raise CredentialCheckFailed("validity", f"not valid before {not_before.isoformat()}")
    if not_after is not None and now > not_after:
        raise CredentialCheckFailed("validity", f"expired at {not_after.isoformat()}")
    return "within its validity period"


def _run(steps: list[tuple[str, Callable[[], str]]], claims: Any) -> VerificationReport:
    results: list[CheckResult] = []
    failed = False
    for name, step in steps:
        if failed:
            results.append(CheckResult(name, None, "not run"))
            continue
        try:
            results.append(CheckResult(name, True, step()))
        except CredentialCheckFailed as exc:
            # The step's name is the check; a helper's own label stays in the reason.
            reason = exc.reason if exc.check == name else f"{exc.check}: {exc.reason}"
            results.append(CheckResult(name, False, reason))
            failed = True
        except GovchainError as exc:
            results.append(CheckResult(name, False, exc.message))
            failed = True
    return VerificationReport(tuple(results), None if failed else claims())


def verify_credential(
    doc_or_sdjwt: dict[str, Any] | str,
    *,
    resolver: DidResolver,
    status_lists: StatusLists | VerifiedStatusLists,
    evidence: dids.IssuanceEvidence | None = None,
    now: datetime,
    aud: str | None = None,
    nonce: str | None = None,
) -> VerificationReport:
    """Verify a VC (dict) or an SD-JWT VC (str) offline; see the module docstring.

    ``now`` must be timezone-aware (the verifier's clock). ``aud`` / ``nonce`` are checked
    against an SD-JWT's Key Binding JWT when one is presented.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if isinstance(doc_or_sdjwt, str):
        return _verify_sd_jwt(doc_or_sdjwt, resolver, status_lists, evidence, now, aud, nonce)
    vc = doc_or_sdjwt
    state: dict[str, Any] = {}

    def fmt() -> str:
        if not isinstance(vc, dict):
            raise CredentialCheckFailed("format", "a credential is a JSON object")
        return _check_vc_format(vc)

    def issuer() -> str:
        state["issuer"] = statuslist.issuer_of(vc)
        method_id = vc["proof"].get("verificationMethod")
        state["vm"] = dids.issuer_method(resolver, state["issuer"], method_id)
        return f"{state['vm'].id} resolves"

    def key() -> str:
        vm: dids.VerificationMethod = state["vm"]
        digest = evidence.credential_hash if evidence is not None else b""
        if digest and digest != proofs.credential_digest(vc, vm.suite):
            raise CredentialCheckFailed("key", "the ledger evidence is for another credential")
        dids.check_key_valid(vm, evidence)
        return "key valid at issuance"

    def proof() -> str:
        vm: dids.VerificationMethod = state["vm"]
        proofs.verify_proof(vc, vm.public_key, vm.suite)
        return f"{vc['proof'].get('cryptosuite')} proof verifies"

    def validity() -> str:
        start = proofs.parse_datetime(vc["validFrom"], "validFrom") if "validFrom" in vc else None
        end = proofs.parse_datetime(vc["validUntil"], "validUntil") if "validUntil" in vc else None
        return _check_validity(start, end, now)

    steps = [
        ("format", fmt),
        ("context", lambda: _check_context(vc)),
        ("issuer", issuer),
        ("key", key),
        ("proof", proof),
        ("validity", validity),
        *_status_steps(vc, state, resolver, status_lists, now),
    ]
    return _run(steps, lambda: vc)


def _status_steps(
    claims: dict[str, Any],
    state: dict[str, Any],
    resolver: DidResolver,
    status_lists: StatusLists | VerifiedStatusLists,
    now: datetime,
) -> list[tuple[str, Callable[[], str]]]:
    def lists() -> str:
        entries = statuslist.parse_entries(claims)
        state["entries"] = entries
        state["lists"] = {
            e.list_credential: statuslist.usable_list(
                e.list_credential, status_lists, state["issuer"], resolver, now
            )
            for e in entries
        }
        return f"{len(state['lists'])} status list(s) of the issuer" if entries else "no status"

    def bits() -> str:
        for entry in state["entries"]:
            if state["lists"][entry.list_credential].parsed.bit(entry):
                word = "revoked" if entry.purpose == "revocation" else "suspended"
                raise CredentialCheckFailed("status", f"the credential is {word}")
        return "not revoked, not suspended" if state["entries"] else "no status entry"

    return [("status_issuer", lists), ("status", bits)]


def _verify_sd_jwt(
    token: str,
    resolver: DidResolver,
    status_lists: StatusLists | VerifiedStatusLists,
    evidence: dids.IssuanceEvidence | None,
    now: datetime,
    aud: str | None,
    nonce: str | None,
) -> VerificationReport:
    state: dict[str, Any] = {}

    def fmt() -> str:
        parsed = sdjwt.parse(token)
        header = sdjwt.issuer_jwt_header(token)
        if header.get("typ") != sdjwt.SD_JWT_TYPE:
            raise CredentialCheckFailed("format", f"typ must be {sdjwt.SD_JWT_TYPE}")
        state["parsed"], state["header"] = parsed, header
        return f"SD-JWT VC with {len(parsed.disclosures)} disclosure(s)"

    def issuer() -> str:
        kid = state["header"].get("kid")
        did, _ = dids.parse_method_id(kid)
        state["issuer"] = did
        state["vm"] = resolver.resolve(did).method(kid)
        return f"{kid} resolves"

    def key() -> str:
        vm: dids.VerificationMethod = state["vm"]
        if evidence is not None and evidence.credential_hash:
            digest = sdjwt_digest(token, vm.suite)
            if evidence.credential_hash != digest:
                raise CredentialCheckFailed("key", "the ledger evidence is for another credential")
        dids.check_key_valid(vm, evidence)
        return "key valid at issuance"

    def proof() -> str:
        vm: dids.VerificationMethod = state["vm"]
        verified = sdjwt.verify_sd_jwt(token, vm.public_key, vm.suite, aud=aud, nonce=nonce)
        if verified.claims.get("iss") != state["issuer"]:
            raise CredentialCheckFailed("proof", "iss is not the DID of the signing key")
        state["claims"] = verified.claims
        return "issuer signature and disclosures verify" + (
            " (key bound)" if verified.key_bound else ""
        )

    def validity() -> str:
        claims = state["claims"]
        start = _epoch(claims.get("nbf"), "nbf")
        end = _epoch(claims.get("exp"), "exp")
        return _check_validity(start, end, now)

    steps = [
        ("format", fmt),
        ("context", lambda: "SD-JWT VC: no JSON-LD context"),
        ("issuer", issuer),
        ("key", key),
        ("proof", proof),
        ("validity", validity),
    ]
    claims_holder: dict[str, Any] = {}
    status = _status_steps(claims_holder, state, resolver, status_lists, now)

    def with_claims(step: Callable[[], str]) -> Callable[[], str]:
        def run() -> str:
            claims_holder.clear()
            claims_holder.update(state["claims"])
            return step()

        return run

    steps += [(name, with_claims(step)) for name, step in status]
    return _run(steps, lambda: state["claims"])


def _epoch(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    if type(value) is not int:
        raise CredentialCheckFailed("format", f"{what} must be an integer NumericDate")
    return datetime.fromtimestamp(value, UTC)


def sdjwt_digest(token: str, suite: str) -> bytes:
    """Return the digest notarised for an SD-JWT: the suite hash of its issuer-signed JWT."""
    return get_suite(proofs.network_suite(suite)).hash(
        sdjwt.parse(token).issuer_jwt.encode("ascii")
    )


def verify_qr_payload(
    payload: str,
    *,
    fetch: Callable[[qr.Reference], dict[str, Any] | str] | None = None,
    resolver: DidResolver,
    status_lists: StatusLists | VerifiedStatusLists,
    evidence: dids.IssuanceEvidence | None = None,
    now: datetime,
) -> VerificationReport:
    """Verify the credential a QR payload carries (or refers to, fetched with ``fetch``).

    The report starts with the ``qr_hash`` check (the payload's own digest, and for a reference
    the fetched credential's SHA-256).
    """
    try:
        content = qr.decode_payload(payload)
        credential: dict[str, Any] | str
        if content.reference is not None:
            if fetch is None:
                raise CredentialCheckFailed("format", "a reference QR needs the credential")
            credential = fetch(content.reference)
            qr.check_reference(content.reference, credential)
        elif content.sd_jwt is not None:
            credential = content.sd_jwt
        else:
            assert content.credential is not None
            credential = content.credential
    except CredentialCheckFailed as exc:
        failed = CheckResult(exc.check, False, exc.reason)
        rest = tuple(CheckResult(n, None, "not run") for n in ORDER)
        return VerificationReport((failed, *rest))
    report = verify_credential(
        credential, resolver=resolver, status_lists=status_lists, evidence=evidence, now=now
    )
    head = CheckResult(QR_CHECK, True, "QR payload matches its digest")
    return VerificationReport((head, *report.checks), report.claims)
