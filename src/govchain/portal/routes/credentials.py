"""My credentials (我的证照) and the public verification page.

- ``/me/credentials``: what the person holds — the licences of the enterprises they act for
  (as their account, legal representative or authorised agent), their own certificates, and
  their bills — each with its issuer, date and status (valid, suspended, revoked).
- ``/me/credentials/<hash>``: one credential: its claims, downloads (the JSON-LD credential
  file and the SD-JWT VC file, each with the receipt of its notarisation), its QR code as a
  PNG (``qr.png?size=screen|print``), and a form to present it with only the chosen claims
  (an SD-JWT presentation, as a file and as a QR code to hand over).
- ``/verify``: anyone, without logging in, uploads a credential file, an SD-JWT or a picture of
  a QR code and sees each check's result, the failed one named.

Every credential operation is the credential service's (``app.state.credentials``), the same
functions the API's ``/v1/credentials`` routes call. Forms carry a CSRF token: the session's,
or for the public verification page (no session) a token kept in a cookie of its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from govchain.credentials import CredentialCheckFailed, qr
from govchain.credentials import ledger_status as ls
from govchain.credentials.holder import (
    credential_file,
    disclosable,
    read_credential_file,
    sd_jwt_claims,
    sd_jwt_form,
    verify_online,
    verify_online_qr,
)
from govchain.credentials.sdjwt import present
from govchain.credentials.service import CredentialService
from govchain.errors import GovchainError, InvalidInput, NotFound
from govchain.portal.messages import N_
from govchain.portal.routes.cases import read_posted
from govchain.portal.security import HEADERS, check_csrf
from govchain.portal.sessions import PortalSession
from govchain.portal.web import node_of, render, require

router = APIRouter(include_in_schema=False)

HASH_LENGTH = 64
"""Hex digits of a credential's notarised hash."""
MAX_LISTED = 200
"""Credentials listed on one page."""
MAX_UPLOAD = 2 * 1024 * 1024
"""Largest file the verification page reads (a credential file, or a photo of a QR code)."""
VERIFY_COOKIE = "govchain_verify_csrf"
"""Cookie holding the verification form's CSRF token (the page needs no login)."""
PNG = b"\x89PNG\r\n\x1a\n"
PRESENTATION_QR_VERSION = 40
"""Largest QR code of a presentation. A presentation is made for one verifier and kept nowhere,
so it cannot be a reference: its issuer JWT carries the digests of every claim, hidden or not,
and needs a larger code than a credential's (version 40: 177 modules, still read by phones)."""

CLAIMS = {
    "licenceName": N_("Name"),
    "licenceNumber": N_("Number"),
    "licenceTypeCode": N_("Type code"),
    "licenceIdentifier": N_("Identifier"),
    "holder": N_("Holder"),
    "holderIdentifier": N_("Holder's identifier"),
    "holderIdentifierType": N_("Kind of holder's identifier"),
    "issuingAuthority": N_("Issuing authority"),
    "issuingAuthorityCode": N_("Issuing authority's code"),
    "issueDate": N_("Issue date"),
    "licenceValidFrom": N_("Valid from"),
    "licenceValidUntil": N_("Valid until"),
    "licenceData": N_("What it rests on"),
    "billCode": N_("Bill code"),
    "billNumber": N_("Bill number"),
    "checkCode": N_("Check code"),
    "billType": N_("Bill type"),
    "payer": N_("Payer"),
    "payerIdentifier": N_("Payer's identifier"),
    "payee": N_("Payee"),
    "payeeIdentifier": N_("Payee's identifier"),
    "totalAmountFen": N_("Total amount (fen)"),
    "currency": N_("Currency"),
    "billItems": N_("Items"),
    "reverses": N_("Reverses"),
}
"""Labels of the credential subject's members (GB/T 36903 e-licence terms, e-bill fields)."""
STATES = {
    "valid": N_("Valid"),
    "suspended": N_("Suspended"),
    "revoked": N_("Revoked"),
}
"""A credential's status as its issuer's status lists show it."""
CHECK_NAMES = {
    "qr_hash": N_("The QR code is intact"),
    "format": N_("It is a credential"),
    "context": N_("Its vocabulary is known"),
    "issuer": N_("Its issuer is a department of this network"),
    "key": N_("The issuer's key was valid when it was issued"),
    "proof": N_("The issuer's signature matches its content"),
    "validity": N_("It is within its validity period"),
    "status_issuer": N_("The issuer's status lists are available"),
    "status": N_("It is neither revoked nor suspended"),
}
"""What each verification check establishes, in plain words."""


def service_of(request: Request) -> CredentialService:
    """The node's credential service (made with the API application)."""
    found: CredentialService = request.app.state.credentials
    return found


def holders_of(request: Request, session: PortalSession) -> list[str]:
    """The holder references the person may act for: their own user id, an enterprise
    account's credit code, and every enterprise they represent or are an agent of."""
    holders = [session.user]
    if session.kind == "enterprise":
        holders.append(request.app.state.identity.users.get(session.user).login)
    acting = node_of(request).query("registry", "acting_for", {"agent": session.user})
    holders.extend(str(e["uscc"]) for e in acting)
    return list(dict.fromkeys(holders))


def state_of(svc: CredentialService, record: Mapping[str, Any]) -> str:
    """``revoked``, ``suspended`` or ``valid``: the bits of the credential's status index."""
    dept, index = str(record["issuer"]), int(record["index"])
    if ls.is_set(svc.read, dept, ls.REVOCATION, index):
        return "revoked"
    if ls.is_set(svc.read, dept, ls.SUSPENSION, index):
        return "suspended"
    return "valid"


def held_record(request: Request, session: PortalSession, digest: str) -> dict[str, Any]:
    """The on-chain record of a credential the person holds (``NotFound`` for another's, so
    that a page does not tell whether someone else holds it)."""
    if len(digest) != HASH_LENGTH or not all(c in "0123456789abcdef" for c in digest):
        raise NotFound("no such credential")
    svc = service_of(request)
    try:
        record = svc.record(digest)
    except NotFound:
        raise NotFound("no such credential") from None
    if record["holder"] not in holders_of(request, session):
        raise NotFound("no such credential")
    return record


def _entry(
    svc: CredentialService, record: Mapping[str, Any], depts: Mapping[str, str]
) -> dict[str, Any]:
    try:
        document = svc.document(str(record["hash"]))
    except GovchainError:  # issued through another node: listed by its record only
        document = {}
    subject = document.get("credentialSubject", {}) if isinstance(document, dict) else {}
    name = document.get("name", "") if isinstance(document, dict) else ""
    return {
        "hash": record["hash"],
        "name": name or record["type"],
        "number": subject.get("licenceNumber") or subject.get("billNumber") or "",
        "kind": record["type"],
        "group": "bill" if record["type"] == "e_bill" else "licence",
        "holder": record["holder"],
        "holder_name": subject.get("holder") or subject.get("payer") or "",
        "issuer": depts.get(str(record["issuer"]), str(record["issuer"])),
        "time_ms": record["time_ms"],
        "state": state_of(svc, record),
        "amount_fen": subject.get("totalAmountFen"),
    }


@router.get("/me/credentials", response_class=HTMLResponse)
def my_credentials(request: Request) -> Response:
    """Everything the person holds, licences and certificates first, then bills."""
    session = require(request)
    svc = service_of(request)
    depts = {d.id: d.name for d in node_of(request).genesis.departments}
    records = svc.held(holders_of(request, session))[:MAX_LISTED]
    entries = sorted(
        (_entry(svc, r, depts) for r in records), key=lambda e: (-e["time_ms"], e["hash"])
    )
    return render(
        request,
        "credentials.html",
        session=session,
        licences=[e for e in entries if e["group"] == "licence"],
        bills=[e for e in entries if e["group"] == "bill"],
        states=STATES,
        own=session.user,
    )


def _claims(subject: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, value in subject.items():
        if name in ("type", "id"):
            continue
        plain = isinstance(value, str | int)
        shown = value if plain else orjson.dumps(value).decode()
        out.append(
            {"name": name, "label": CLAIMS.get(name, name), "value": shown, "json": not plain}
        )
    return out


def _credential_page(
    request: Request, session: PortalSession, digest: str, **extra: Any
) -> Response:
    record = held_record(request, session, digest)
    svc = service_of(request)
    document = svc.document(digest)
    if not isinstance(document, dict):
        raise NotFound("no such credential")
    depts = {d.id: d.name for d in node_of(request).genesis.departments}
    claims = sd_jwt_claims(document, str(record["type"]), digest)
    return render(
        request,
        "credential.html",
        session=session,
        entry=_entry(svc, record, depts),
        record=record,
        document=document,
        claims=_claims(document.get("credentialSubject", {})),
        disclosable=[
            {"name": n, "label": CLAIMS.get(n, n)}
            for n in disclosable(claims)
            if n in document.get("credentialSubject", {})
        ],
        states=STATES,
        **extra,
    )


@router.get("/me/credentials/{digest}", response_class=HTMLResponse)
def credential_page(request: Request, digest: str) -> Response:
    """One credential: its claims, downloads, QR code and the presentation form."""
    session = require(request)
    return _credential_page(request, session, digest)


def _attachment(content: bytes, media: str, filename: str) -> Response:
    headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content, media_type=media, headers=headers)


@router.get("/me/credentials/{digest}/download")
def download(request: Request, digest: str, format: str = "jsonld") -> Response:
    """The credential file (JSON-LD VC or its SD-JWT VC form) with its issuance receipt."""
    session = require(request)
    held_record(request, session, digest)
    svc = service_of(request)
    if format == "sd-jwt":
        token, alt = sd_jwt_form(svc, digest, actor=session.user)
        file = credential_file(token, svc.evidence(alt))
        name = f"credential-{digest[:12]}-sd-jwt.json"
    elif format == "jsonld":
        file = credential_file(svc.document(digest), svc.evidence(digest))
        name = f"credential-{digest[:12]}.json"
    else:
        raise InvalidInput("format is jsonld or sd-jwt", field="format")
    return _attachment(orjson.dumps(file, option=orjson.OPT_INDENT_2), "application/json", name)


def _png(payload: str, size: str) -> Response:
    if size not in qr.SIZES:
        raise InvalidInput(f"size is one of {', '.join(sorted(qr.SIZES))}", field="size")
    return Response(qr.render_png(payload, size), media_type="image/png", headers=HEADERS)


@router.get("/me/credentials/{digest}/qr.png")
def credential_qr(request: Request, digest: str, size: str = "screen") -> Response:
    """The credential's QR code: the credential itself when it fits, else a reference to it
    with its hash (checked against the credential when it is fetched)."""
    session = require(request)
    held_record(request, session, digest)
    document = service_of(request).document(digest)
    credential_id = document["id"] if isinstance(document, dict) else digest
    url = str(request.base_url).rstrip("/") + "/v1/credentials/verify"
    return _png(qr.payload_for(document, credential_id=credential_id, url=url), size)


def _presentation(
    request: Request, session: PortalSession, digest: str, disclose: list[str]
) -> str:
    record = held_record(request, session, digest)
    svc = service_of(request)
    document = svc.document(digest)
    if not isinstance(document, dict):
        raise NotFound("no such credential")
    allowed = set(disclosable(sd_jwt_claims(document, str(record["type"]), digest)))
    unknown = sorted(set(disclose) - allowed)
    if unknown:
        raise InvalidInput(
            f"not a claim of this credential: {', '.join(unknown)}", field="disclose"
        )
    token, _ = sd_jwt_form(svc, digest, actor=session.user)
    return present(token, disclose)


@router.post("/me/credentials/{digest}/present", response_class=HTMLResponse)
async def present_credential(request: Request, digest: str) -> Response:
    """Make a presentation disclosing only the ticked claims (SD-JWT)."""
    session = require(request)
    posted = await read_posted(request, session)
    disclose = sorted(set(posted.fields.get("disclose", [])))
    if not disclose:
        return await run_in_threadpool(
            _credential_page,
            request,
            session,
            digest,
            errors=[{"field": "disclose", "message": N_("Choose at least one claim to show.")}],
        )
    token = await run_in_threadpool(_presentation, request, session, digest, disclose)
    query = urlencode([("disclose", d) for d in disclose])
    return render(
        request,
        "credential_presented.html",
        session=session,
        digest=digest,
        disclosed=[{"name": d, "label": CLAIMS.get(d, d)} for d in disclose],
        presentation=token,
        query=query,
        fits=qr.fits(qr.embedded_payload(token), PRESENTATION_QR_VERSION),
    )


def _disclosed(request: Request) -> list[str]:
    return sorted(set(request.query_params.getlist("disclose")))


@router.get("/me/credentials/{digest}/presentation.txt")
def presentation_file(request: Request, digest: str) -> Response:
    """The presentation of the chosen claims as a file (the SD-JWT text) to hand over."""
    session = require(request)
    token = _presentation(request, session, digest, _disclosed(request))
    return _attachment(token.encode("ascii"), "text/plain", f"presentation-{digest[:12]}.txt")


@router.get("/me/credentials/{digest}/presentation.png")
def presentation_qr(request: Request, digest: str, size: str = "screen") -> Response:
    """The presentation of the chosen claims as a QR code (embedded: nothing to fetch)."""
    session = require(request)
    token = _presentation(request, session, digest, _disclosed(request))
    payload = qr.embedded_payload(token)
    if not qr.fits(payload, PRESENTATION_QR_VERSION):
        raise InvalidInput("this presentation is too large for a QR code; hand over the file")
    return _png(payload, size)


# --- anyone ----------------------------------------------------------------------------------


def _verify_form(
    request: Request, report: Any = None, errors: Any = None, status: int = 200
) -> Response:
    token = request.cookies.get(VERIFY_COOKIE) or secrets.token_urlsafe(32)
    page = render(
        request,
        "verify.html",
        status=status,
        verify_csrf=token,
        report=report,
        errors=errors or [],
        check_names=CHECK_NAMES,
    )
    page.set_cookie(
        VERIFY_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.portal.secure_cookies,
        path="/verify",
    )
    return page


@router.get("/verify", response_class=HTMLResponse)
def verify_page(request: Request) -> Response:
    """The public verification page: upload a credential file or a picture of a QR code."""
    return _verify_form(request)


def verify_upload(svc: CredentialService, content: bytes) -> dict[str, Any]:
    """Verify an uploaded credential file, bare credential, SD-JWT or QR picture online."""
    if content.startswith(PNG) or content[:3] == b"\xff\xd8\xff":
        try:
            payload = qr.read_png(content)
        except CredentialCheckFailed as exc:
            raise InvalidInput(exc.reason, field="file") from None
        return verify_online_qr(svc, payload)
    text = content.decode("utf-8", "replace").strip()
    if text.startswith(("GC1E:", "GC1R:")):
        return verify_online_qr(svc, text)
    try:
        obj: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        if "~" not in text or "." not in text:  # not an SD-JWT (<JWT>~<disclosure>~...) either
            raise InvalidInput("not a credential file", field="file") from None
        obj = text
    try:
        credential, _ = read_credential_file(obj)
    except GovchainError:
        raise InvalidInput("not a credential file", field="file") from None
    return verify_online(svc, credential)


@router.post("/verify", response_class=HTMLResponse)
async def verify_posted(request: Request) -> Response:
    """Verify what was uploaded and show each check."""
    content = b""
    async with request.form(max_files=1, max_fields=10) as data:
        token = data.get("csrf")
        check_csrf(
            request,
            request.cookies.get(VERIFY_COOKIE) or "",
            token if isinstance(token, str) else None,
        )
        item = data.get("file")
        if item is not None and not isinstance(item, str):
            content = await item.read(MAX_UPLOAD + 1)
        pasted = data.get("text")
        if not content and isinstance(pasted, str):
            content = pasted.strip().encode("utf-8")
    if not content:
        errors = [{"field": "file", "message": N_("Choose a file or paste a credential.")}]
        return _verify_form(request, errors=errors, status=422)
    if len(content) > MAX_UPLOAD:
        errors = [{"field": "file", "message": N_("The file is too large.")}]
        return _verify_form(request, errors=errors, status=422)
    try:
        report = await run_in_threadpool(verify_upload, service_of(request), content)
    except InvalidInput:
        errors = [{"field": "file", "message": N_("This is not a credential file or a QR code.")}]
        return _verify_form(request, errors=errors, status=422)
    issuer = ""
    claims = report.get("notarised") or {}
    if claims:
        issuer = str(claims.get("issuer", ""))
    return _verify_form(request, report={**report, "issuer_dept": issuer})
