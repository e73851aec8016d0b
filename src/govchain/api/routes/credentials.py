"""Credentials (电子证照, 电子票据): holders list, download and present theirs; anyone verifies;
staff issue, change status, and record reimbursements and red-letter reversals.

Holders: a citizen holds what was issued to their user id; an enterprise's credentials are held
by its USCC and reached by the enterprise's own account and every person acting for it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, FastAPI, Path, Query, Request
from pydantic import BaseModel, Field

from govchain.api.auth import PUBLIC, USER, requires, staff
from govchain.api.openapi import problem_responses
from govchain.api.params import UsccPath
from govchain.api.routes.casework import principal_of
from govchain.apps.certification import certificate_credentials
from govchain.credentials import CredentialCheckFailed, ebills
from govchain.credentials import ledger_status as ls
from govchain.credentials.dids import resolve
from govchain.credentials.ebills import parse_items
from govchain.credentials.feed import CertificateDrafter, CredentialFeed
from govchain.credentials.holder import (
    credential_file,
    read_credential_file,
    sd_jwt_form,
    verify_online,
)
from govchain.credentials.issuance import CERTIFICATES, Draft, certificate_draft
from govchain.credentials.keyhistory import history_to_json
from govchain.credentials.sdjwt import present
from govchain.credentials.service import CredentialService, Issued
from govchain.errors import Forbidden, GovchainError, NotFound
from govchain.identity.oidc import Principal
from govchain.identity.users import User
from govchain.procedures import layout

router = APIRouter(prefix="/v1/credentials", tags=["credentials"])

HASH = "^[0-9a-f]{64}$"
"""Shape of a credential hash."""
HashPath = Annotated[str, Path(pattern=HASH, description="The credential's notarised hash")]
DeptPath = Annotated[str, Path(pattern="^[a-z][a-z0-9_-]{0,31}$", description="A department id")]
_lock = threading.Lock()


def service_of(request: Request) -> CredentialService:
    """Return the node's credential service (made on first use, over the node's ledger, its
    content store and the department keys of its sharing service)."""
    return service_for(request.app)


def service_for(app: FastAPI) -> CredentialService:
    """Return the credential service of an API application's node (made on first use)."""
    with _lock:
        found: CredentialService | None = getattr(app.state, "credentials", None)
        if found is None:
            node = app.state.node
            found = CredentialService(
                ledger=node.ledger,
                signer=app.state.sharing.signer,
                content=node.content,
                clock_ms=node.clock_ms,
            )
            app.state.credentials = found
        return found


def citizen_of(app: FastAPI, holder: str) -> User | None:
    """Return the directory's citizen with on-chain id ``holder`` (``None``: not a citizen
    known to this node)."""
    try:
        user: User = app.state.identity.users.get(holder)
    except NotFound:
        return None
    return user if user.kind == "citizen" else None


def certificate_drafter(app: FastAPI) -> CertificateDrafter:
    """Return how this node drafts the credential of a certificate registry record: the holder's
    name and resident identity number from the identity directory, the case that decided it
    and the definition it ran under from the ledger (``None`` for a holder the directory does
    not know as a citizen)."""
    node = app.state.node
    svc = service_for(app)
    names = {d.id: d.name for d in svc.genesis.departments}

    def draft(record: Mapping[str, Any]) -> Draft | None:
        person = citizen_of(app, str(record["holder"]))
        if person is None:
            return None
        raw = node.ledger.state.get_value(layout.case_key(str(record["case"])))
        if raw is None:
            raise NotFound(f"no case {record['case']!r}", case=record["case"])
        case = orjson.loads(raw)
        definition = node.query(
            "services", "definition", {"code": case["service"], "version": case["version"]}
        )["definition"]
        dept = str(record["issuer"])
        return certificate_credentials.certificate_draft(
            record,
            case,
            definition,
            network=svc.network,
            issuer_did=svc.did(dept),
            authority=names.get(dept, dept),
            holder_name=person.name,
            holder_id_number=person.login,
        )

    return draft


def start_feed(app: FastAPI) -> CredentialFeed | None:
    """Start the credential feed of the application's node when the node issues for some
    department (every licence and certificate of those departments becomes a credential);
    it stops with the node."""
    svc = service_for(app)
    if not svc.served():
        return None
    node = app.state.node
    feed = CredentialFeed(node, svc, certificate_drafter(app))
    node.before_close.append(feed.close)
    return feed


def holders_of(request: Request, p: Principal) -> list[str]:
    """Return the holder references the caller may act for."""
    holders = [p.user]
    if p.kind == "enterprise":
        holders.append(request.app.state.identity.users.get(p.user).login)
    acting = request.app.state.node.query("registry", "acting_for", {"agent": p.user})
    holders.extend(str(e["uscc"]) for e in acting)
    return list(dict.fromkeys(holders))


def _summary(issued: Issued) -> dict[str, Any]:
    return {
        "hash": issued.hash,
        "index": issued.index,
        "kind": issued.kind,
        "holder": issued.holder,
        "tx_id": issued.tx_id,
        "height": issued.height,
        "credential": issued.credential,
    }


def _summary_of(svc: CredentialService, done: Issued | Mapping[str, Any]) -> dict[str, Any]:
    # A credential issued before (by the feed, or an earlier request) is answered in the same
    # shape as a new one, with its document.
    if isinstance(done, Issued):
        return _summary(done)
    try:
        credential: dict[str, Any] | str | None = svc.document(str(done["hash"]))
    except GovchainError:  # issued through another node: its record only
        credential = None
    return {
        "hash": done["hash"],
        "index": done["index"],
        "kind": done["type"],
        "holder": done["holder"],
        "tx_id": done["tx_id"],
        "height": done["height"],
        "credential": credential,
    }


def _may_hold(request: Request, svc: CredentialService, digest: str) -> dict[str, Any]:
    p = principal_of(request)
    record = svc.record(digest)
    if p.kind == "staff" and p.dept == record["issuer"]:
        return record
    if record["holder"] not in holders_of(request, p):
        raise Forbidden("only the holder (or its issuer's staff) may read this credential")
    return record


# --- anyone ----------------------------------------------------------------------------------


class VerifyRequest(BaseModel):
    """A credential to verify."""

    credential: dict[str, Any] | str = Field(
        description="A JSON-LD credential, an SD-JWT VC (compact), or a credential file"
    )


@router.post(
    "/verify",
    dependencies=[requires(PUBLIC)],
    summary="Verify a credential (anyone, no login)",
    responses=problem_responses({422: "The body is not a credential."}),
)
def verify_credential(request: Request, body: VerifyRequest) -> dict[str, Any]:
    """Run every check against the ledger's key history and the issuer's current status
    lists; ``ok`` says whether all passed and ``failed`` names the first that did not."""
    credential, _ = read_credential_file(body.credential)
    return verify_online(service_of(request), credential)


@router.get(
    "/status/{dept}/{purpose}/{list_no}",
    dependencies=[requires(PUBLIC)],
    summary="A department's latest signed status list, with the receipt of its anchor",
    responses=problem_responses({404: "Never published (and not issued by this node)."}),
)
def status_list(
    request: Request,
    dept: DeptPath,
    purpose: Literal["revocation", "suspension"],
    list_no: Annotated[int, Path(ge=0, le=ls.MAX_ALLOCATE)],
) -> dict[str, Any]:
    """The ``BitstringStatusListCredential``, its on-chain anchor and the anchor's receipt
    (verifiable offline with genesis): what a verifier caches."""
    return service_of(request).status_list(dept, purpose, list_no)


@router.get("/keys", dependencies=[requires(PUBLIC)], summary="The key history of issuers")
def key_history(request: Request) -> dict[str, Any]:
    """Every department member key with the heights it was added and revoked at (for a
    verifier that caches keys added after genesis)."""
    return history_to_json(service_of(request).key_history())


@router.get(
    "/dids/{dept}",
    dependencies=[requires(PUBLIC)],
    summary="A department's DID document",
    responses=problem_responses({404: "No such department."}),
)
def did_document(request: Request, dept: DeptPath) -> dict[str, Any]:
    """The ``did:govchain`` document of a department, resolved from the key history."""
    svc = service_of(request)
    try:
        return resolve(svc.did(dept), svc.key_history()).to_json()
    except CredentialCheckFailed:
        raise NotFound(f"department {dept!r} has no keys on this network", dept=dept) from None


# --- holders ---------------------------------------------------------------------------------


@router.get("/held", dependencies=[requires(USER)], summary="My credentials")
def list_held(request: Request) -> list[dict[str, Any]]:
    """The on-chain records of the credentials the caller holds (or its enterprises hold)."""
    return service_of(request).held(holders_of(request, principal_of(request)))


@router.get(
    "/{digest}",
    dependencies=[requires(USER)],
    summary="Download a credential with its issuance receipt",
    responses=problem_responses(
        {403: "Not the holder.", 404: "No such credential, or not issued by this node."}
    ),
)
def download(
    request: Request,
    digest: HashPath,
    form: Annotated[Literal["jsonld", "sd-jwt"], Query(alias="format")] = "jsonld",
) -> dict[str, Any]:
    """A credential file: the credential (JSON-LD VC, or its SD-JWT VC form) and the receipt
    of the transaction that notarised it."""
    svc = service_of(request)
    _may_hold(request, svc, digest)
    if form == "sd-jwt":
        token, alt = sd_jwt_form(svc, digest, actor=principal_of(request).user)
        return credential_file(token, svc.evidence(alt))
    return credential_file(svc.document(digest), svc.evidence(digest))


class PresentRequest(BaseModel):
    """What to show a verifier."""

    disclose: list[str] = Field(description="Claims of the credential subject to disclose")


@router.post(
    "/{digest}/present",
    dependencies=[requires(USER)],
    summary="Present a credential with only the chosen claims (SD-JWT)",
    responses=problem_responses({403: "Not the holder.", 422: "Unknown claim."}),
)
def present_credential(request: Request, digest: HashPath, body: PresentRequest) -> dict[str, Any]:
    """An SD-JWT VC presentation disclosing ``disclose`` only (the issuer's signature still
    covers every hidden claim by its digest)."""
    svc = service_of(request)
    _may_hold(request, svc, digest)
    token, _ = sd_jwt_form(svc, digest, actor=principal_of(request).user)
    return {"presentation": present(token, body.disclose), "disclosed": sorted(body.disclose)}


# --- staff -----------------------------------------------------------------------------------


def _staff_dept(request: Request) -> tuple[str, str]:
    p = principal_of(request)
    return p.dept, p.user


@router.post(
    "/licences/{uscc}",
    dependencies=[requires(staff("admin", "officer"))],
    summary="Issue the credentials of an enterprise's licences",
    responses=problem_responses({404: "No such enterprise."}),
)
def issue_licences(request: Request, uscc: UsccPath) -> list[dict[str, Any]]:
    """Issue a credential for each active licence that has none yet (of the departments this
    node serves); already issued ones are listed by their record."""
    svc = service_of(request)
    request.app.state.node.query("registry", "enterprise", {"uscc": uscc})
    served = set(svc.served())
    licences = [lic for lic in svc.licences_of(uscc) if lic["issuer"] in served]
    out = svc.issue_licences(licences, actor=principal_of(request).user)
    return [_summary_of(svc, i) for i in out]


@router.post(
    "/certificates/{resident_id}",
    dependencies=[requires(staff("admin", "officer"))],
    summary="Issue the credentials of a citizen's certificates",
    responses=problem_responses({404: "No citizen with this identity number here."}),
)
def issue_certificates(
    request: Request,
    resident_id: Annotated[
        str, Path(pattern="^[0-9]{17}[0-9Xx]$", description="The resident identity number")
    ],
) -> list[dict[str, Any]]:
    """Issue a credential for each active certificate of the citizen that cases decided
    (certificate registry) and that has none yet, of the departments this node serves; the
    name and identity number on it come from the identity directory. Already issued ones are
    listed as well."""
    svc = service_of(request)
    user = request.app.state.identity.users.find_login(resident_id.upper())
    if user is None or user.kind != "citizen":
        raise NotFound("no citizen with this resident identity number", field="resident_id")
    certificates = request.app.state.node.query("registry", "certificates_of", {"holder": user.id})
    drafter = certificate_drafter(request.app)
    served = set(svc.served())
    drafts = [
        d
        for cert in certificates
        if cert.get("status") == "active" and cert.get("issuer") in served
        for d in [drafter(cert)]
        if d is not None
    ]
    out = svc.issue_registered(drafts, actor=principal_of(request).user)
    return [_summary_of(svc, i) for i in out]


class CertificateCreate(BaseModel):
    """A citizen certificate to issue."""

    kind: Literal["social_insurance_record", "tax_payment_record", "residence_record"] = Field(
        description="The certificate (each is issued by one department)"
    )
    holder: str = Field(pattern="^citizen/[0-9a-f]{1,64}$", description="The citizen's user id")
    holder_name: str = Field(min_length=1, max_length=40)
    holder_id_number: str = Field(pattern="^[0-9]{17}[0-9X]$")
    serial: str = Field(pattern="^[0-9A-Za-z-]{1,32}$")
    facts: dict[str, Any] = Field(default_factory=dict, description="What the certificate states")


@router.post(
    "/certificates",
    dependencies=[requires(staff("admin", "officer"))],
    summary="Issue a citizen certificate",
    status_code=201,
    responses=problem_responses({403: "Not this department's certificate."}),
)
def issue_certificate(request: Request, body: CertificateCreate) -> dict[str, Any]:
    """Issue one of the department's citizen certificates (social insurance record, tax
    payment record, residence record)."""
    svc = service_of(request)
    dept, user = _staff_dept(request)
    if CERTIFICATES[body.kind].dept != dept:
        raise Forbidden(
            f"{CERTIFICATES[body.kind].name} is issued by {CERTIFICATES[body.kind].dept}"
        )
    names = {d.id: d.name for d in svc.genesis.departments}
    draft = certificate_draft(
        body.kind,
        network=svc.network,
        issuer_did=svc.did(dept),
        authority=names.get(dept, dept),
        holder=body.holder,
        holder_name=body.holder_name,
        holder_id_number=body.holder_id_number,
        serial=body.serial,
        facts=body.facts,
        now_ms=request.app.state.node.clock_ms(),
    )
    (issued,) = svc.issue(dept, [draft], actor=user)
    return _summary(issued)


class StatusChange(BaseModel):
    """A status change."""

    purpose: Literal["revocation", "suspension"]
    on: bool = True
    reason: str = Field(default="", max_length=ls.MAX_REASON)


@router.post(
    "/{digest}/status",
    dependencies=[requires(staff("admin", "officer"))],
    summary="Revoke, suspend or reinstate a credential",
    responses=problem_responses(
        {403: "Not the issuer's staff.", 409: "Already revoked (revocation is final)."}
    ),
)
def change_status(request: Request, digest: HashPath, body: StatusChange) -> dict[str, Any]:
    """Flip the credential's bit in its issuer's status list (on-chain at once; the signed
    list is republished when next asked for)."""
    svc = service_of(request)
    dept, user = _staff_dept(request)
    record = svc.record(digest)
    if record["issuer"] != dept:
        raise Forbidden(f"only staff of {record['issuer']} may change its credentials' status")
    return svc.set_status(
        dept, int(record["index"]), body.purpose, on=body.on, reason=body.reason, actor=user
    )


class BillLine(BaseModel):
    """One line of a bill."""

    name: str = Field(min_length=1, max_length=100)
    quantity: int = Field(default=1, ge=1, le=1_000_000)
    amount_fen: int = Field(ge=1, le=100_000_000_000, description="Line amount in fen")


class BillCreate(BaseModel):
    """An e-bill to issue."""

    bill_type: Literal["non_tax", "invoice"]
    payer: str = Field(min_length=1, max_length=80)
    payer_id: str = Field(min_length=1, max_length=80)
    holder: str = Field(min_length=1, max_length=80, description="Who receives the bill")
    payee: str = Field(min_length=1, max_length=80)
    payee_id: str = Field(
        min_length=1, max_length=80, description="The issuing department, or the selling USCC"
    )
    items: list[BillLine] = Field(min_length=1, max_length=100)
    platform: str = Field(default="tax", description="Department whose platform issues it")


@router.post(
    "/bills",
    dependencies=[requires(USER)],
    summary="Issue an e-bill",
    status_code=201,
    responses=problem_responses({403: "Not the department's staff or the enterprise's agent."}),
)
def issue_bill(request: Request, body: BillCreate) -> dict[str, Any]:
    """A department's staff issue its receipts (``non_tax``); a person acting for an
    enterprise issues its invoices (``invoice``) through the tax department's platform."""
    p = principal_of(request)
    if body.bill_type == "non_tax":
        if p.kind != "staff" or p.dept != body.payee_id:
            raise Forbidden("a department's receipts are issued by its staff")
        dept = p.dept
    else:
        if body.payee_id not in holders_of(request, p):
            raise Forbidden(f"{p.user} does not act for {body.payee_id}")
        dept = body.platform
    issued = ebills.issue_bill(
        service_of(request),
        dept,
        bill_type=body.bill_type,
        payer=body.payer,
        payer_id=body.payer_id,
        holder=body.holder,
        payee=body.payee,
        payee_id=body.payee_id,
        items=parse_items([i.model_dump() for i in body.items]),
        actor=p.user,
    )
    return _summary(issued)


@router.get(
    "/bills/{digest}",
    dependencies=[requires(USER)],
    summary="An e-bill's on-chain record",
    responses=problem_responses({404: "No such e-bill."}),
)
def show_bill(request: Request, digest: HashPath) -> dict[str, Any]:
    """Its amount, status, and who reimbursed or reversed it."""
    return ebills.bill_record(service_of(request), digest)


@router.post(
    "/bills/{digest}/reimburse",
    dependencies=[requires(staff("admin", "officer"))],
    summary="Record the reimbursement of an e-bill by the caller's department",
    responses=problem_responses(
        {409: "Already reimbursed (`already_reimbursed`) or reversed (`bill_reversed`)."}
    ),
)
def reimburse(request: Request, digest: HashPath) -> dict[str, Any]:
    """Recorded once, ever: a second reimbursement by any unit is refused."""
    dept, user = _staff_dept(request)
    return ebills.reimburse(service_of(request), dept, digest, dept, actor=user)


class Reversal(BaseModel):
    """Why a bill is reversed."""

    reason: str = Field(min_length=1, max_length=ls.MAX_REASON)


@router.post(
    "/bills/{digest}/reverse",
    dependencies=[requires(staff("admin", "officer"))],
    summary="Red-letter reversal (红冲) of an e-bill",
    responses=problem_responses({403: "Not the issuer's staff.", 409: "Reimbursed or reversed."}),
)
def reverse(
    request: Request, digest: HashPath, body: Annotated[Reversal, Body()]
) -> dict[str, Any]:
    """Issue the reversing bill and revoke the original, in one transaction."""
    dept, user = _staff_dept(request)
    svc = service_of(request)
    if ebills.bill_record(svc, digest)["issuer"] != dept:
        raise Forbidden("only the issuing department reverses its bills")
    result, red = ebills.reverse_bill(svc, digest, body.reason, actor=user)
    return {**result, "reversing": _summary(red)}
