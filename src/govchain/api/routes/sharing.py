"""Data sharing: the catalogue, grants, signed data requests (publish, read, erase, attest),
attestations and access receipts. Control-plane changes (register a resource, request,
approve or revoke a grant) are ordinary signed transactions: ``POST /v1/transactions``."""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from govchain.api.auth import PUBLIC, SIGNED, USER, get_identity, requires
from govchain.api.deps import read_body
from govchain.api.openapi import problem_responses
from govchain.api.params import DEPT
from govchain.api.responses import json_response
from govchain.api.schemas import request_body
from govchain.api.sharing_schemas import (
    AccessReceiptsPublic,
    AttestationPublic,
    CataloguePublic,
    ErasurePublic,
    GrantListPublic,
    GrantPublic,
    KeyPublic,
    PublishedPublic,
    ReadAnswerPublic,
    RecordEntryPublic,
    ResourcePublic,
    signed_request_schema,
)
from govchain.errors import Forbidden, GovchainError, SchemaViolation
from govchain.ledger.encoding import decode, decode_unchecked
from govchain.sharing.model import RECORD_ID, RESOURCE_ID
from govchain.sharing.reading import ReadOutcome
from govchain.sharing.search import MAX_QUERY
from govchain.sharing.service import SharingService

router = APIRouter(prefix="/v1/sharing", tags=["data sharing"], dependencies=[requires(PUBLIC)])
"""Reads of what the ledger holds anyway: catalogue, record hashes, grants, keys, attestations."""
signed = APIRouter(prefix="/v1/sharing", tags=["data sharing"], dependencies=[requires(SIGNED)])
"""Data requests: each body is a request signed by a member of the requesting department."""
personal = APIRouter(prefix="/v1/sharing", tags=["data sharing"], dependencies=[requires(USER)])
"""A person's own access receipts (citizens and enterprises see only their own)."""
ROUTERS = (router, signed, personal)


async def get_sharing(request: Request) -> SharingService:
    """Return the node's data-sharing service (``app.state.sharing``, set by ``create_app``).
    ``async``: FastAPI runs a plain function dependency on a worker thread, a hand-off that
    cost more than this lookup on every request."""
    sharing: SharingService = request.app.state.sharing
    return sharing


SharingDep = Annotated[SharingService, Depends(get_sharing)]

_READ_ERRORS = problem_responses({404: "Unknown resource, grant, record or department."})
_REQUEST_ERRORS = problem_responses(
    {
        400: "Malformed JSON, bad signature, unknown signer, stale request.",
        403: (
            "Access denied; `code` (= `reason`) says why: not_shared, secret_resource, no_grant, "
            "grant_pending, grant_rejected, grant_revoked, grant_expired, wrong_department, "
            "wrong_purpose, fields_not_granted, not_owner."
        ),
        404: "Unknown resource, grant or record; record_erased.",
        409: "Replayed request, record exists.",
        413: "The request body is too large.",
        422: "The request does not match the schema.",
        500: "integrity_error: a stored ciphertext fails its check; nothing is returned.",
        503: "The node cannot commit the log transaction now.",
    }
)
ResourcePath = Annotated[
    str,
    Path(
        pattern="^" + RESOURCE_ID.pattern.removesuffix("\\Z") + "$",
        description="Resource id: a lower-case letter, then 1 to 63 of a-z, 0-9, `_`, `.`, `-`.",
    ),
]
RecordPath = Annotated[
    str,
    Path(
        pattern="^" + RECORD_ID.pattern.removesuffix("\\Z") + "$",
        description="Record id: 1 to 64 of A-Z, a-z, 0-9, `_`, `.`, `-` (not starting with "
        "`_`, `.` or `-`).",
    ),
]
MAX_REQUEST_BYTES = 256 * 1024
"""Largest signed request body."""
MAX_ATTESTATIONS = 1000
"""Most attestation requests in one call."""


class _Answers:
    """Hands read outcomes from the read workers to one event loop, as many as are ready per
    wake-up of the loop (a worker finishes a whole batch at once)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._ready: list[tuple[asyncio.Future[ReadOutcome], ReadOutcome]] = []
        self._lock = threading.Lock()

    def deliver(self, future: asyncio.Future[ReadOutcome], outcome: ReadOutcome) -> None:
        """Called on a read worker."""
        with self._lock:
            self._ready.append((future, outcome))
            if len(self._ready) > 1:  # a wake-up is already on its way
                return
        self.loop.call_soon_threadsafe(self._settle)

    def _settle(self) -> None:
        with self._lock:
            ready, self._ready = self._ready, []
        for future, outcome in ready:
            if not future.done():  # the client may have gone away
                future.set_result(outcome)


def _answers(request: Request) -> _Answers:
    loop = asyncio.get_running_loop()
    answers: _Answers | None = getattr(request.app.state, "sharing_answers", None)
    if answers is None or answers.loop is not loop:
        answers = request.app.state.sharing_answers = _Answers(loop)
    return answers


async def served_read(request: Request, sharing: SharingService, obj: Any) -> dict[str, Any]:
    """Queue a read with the node's read workers and await its answer on the event loop: no
    thread waits for the read's block (a thread per read cost more CPU than the read)."""
    answers = _answers(request)
    future: asyncio.Future[ReadOutcome] = answers.loop.create_future()
    sharing.submit_read(obj, lambda outcome: answers.deliver(future, outcome))
    outcome = await future
    if isinstance(outcome, GovchainError):
        raise outcome
    return outcome


async def _signed(request: Request, limit: int) -> Any:
    return decode(await read_body(request, limit))


RECEIPT_STAFF_ROLES = ("admin", "auditor")
"""Staff roles that may list any subject's access receipts (answering a citizen's query)."""


def authorize_subject(
    subject: Annotated[str, Path(min_length=1, max_length=128)], request: Request
) -> str:
    """Return the subject whose access receipts the caller may list: a citizen or enterprise
    only their own (their resident identity number or unified social credit code), department
    admins and auditors any subject."""
    if not 1 <= len(subject) <= 128:
        raise SchemaViolation("subject must be an id of 1 to 128 characters")
    principal = request.state.principal
    if principal.kind == "staff":
        if principal.role not in RECEIPT_STAFF_ROLES:
            raise Forbidden(
                "only department admins and auditors may list other people's access receipts"
            )
        return subject
    own = get_identity(request).users.get(principal.user).login
    if own.upper() != subject.upper():
        raise Forbidden("you may list only your own access receipts", subject=subject)
    return subject


SubjectDep = Annotated[str, Depends(authorize_subject)]


@router.get(
    "/catalogue", summary="List or search the data catalogue", response_model=CataloguePublic
)
def catalogue(
    sharing: SharingDep,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_QUERY,
            pattern=r"\S",
            description="Words in Chinese or English (not only spaces).",
        ),
    ] = None,
    owner: Annotated[str | None, Query(description="Only this department's resources.")] = None,
) -> dict[str, Any]:
    """Return resources, best match first when ``q`` is given."""
    hits = sharing.search(q) if q is not None else [(0, r) for r in sharing.resources()]
    return {
        "resources": [
            {**r.to_json(), "score": s} for s, r in hits if owner is None or r.owner == owner
        ]
    }


@router.get(
    "/catalogue/{resource}",
    summary="One catalogue resource",
    response_model=ResourcePublic,
    responses=_READ_ERRORS,
)
def resource(resource: ResourcePath, sharing: SharingDep) -> dict[str, Any]:
    """Return a resource's schema, owner, share level and classification."""
    return sharing.resource(resource).to_json()


@router.get(
    "/catalogue/{resource}/records/{record}",
    summary="A record's ledger entry: ciphertext hash, erasure proof",
    response_model=RecordEntryPublic,
    responses=_READ_ERRORS,
)
def record_entry(resource: ResourcePath, record: RecordPath, sharing: SharingDep) -> dict[str, Any]:
    """Return what the ledger holds about a record (never its data)."""
    return sharing.record_entry(resource, record)


@router.get("/grants", summary="Grants", response_model=GrantListPublic)
def grants(
    sharing: SharingDep,
    dept: Annotated[str | None, Query(description="Owner or grantee department.")] = None,
    resource: Annotated[str | None, Query(description="Resource id.")] = None,
) -> dict[str, Any]:
    """Return grants, filtered by department and/or resource."""
    return {"grants": [g.to_json() for g in sharing.grants(dept=dept, resource=resource)]}


@router.get(
    "/grants/{grant}", summary="One grant", response_model=GrantPublic, responses=_READ_ERRORS
)
def grant(grant: str, sharing: SharingDep) -> dict[str, Any]:
    """Return a grant (its expiry is ``expires_ms``; it is live while ``status`` is active)."""
    return sharing.grant(grant).to_json()


@router.get(
    "/keys/{dept}",
    summary="A department's published agreement key",
    response_model=KeyPublic,
    responses=_READ_ERRORS,
)
def agreement_key(dept: Annotated[str, Path(pattern=DEPT)], sharing: SharingDep) -> dict[str, Any]:
    """Return the key read answers for ``dept`` are wrapped to."""
    return {"dept": dept, "public": sharing.agreement_public(dept).hex()}


@signed.post(
    "/records",
    summary="Publish a record (signed publish request of the owner department)",
    response_model=PublishedPublic,
    responses=_REQUEST_ERRORS,
    openapi_extra=request_body(signed_request_schema("publish"), "A signed publish request."),
)
async def publish(request: Request, sharing: SharingDep) -> Any:
    """Encrypt and store the record on this (the owner's) node; commit its hash on-chain."""
    obj = await _signed(request, MAX_REQUEST_BYTES)
    return await run_in_threadpool(sharing.publish, obj)


@signed.post(
    "/reads",
    summary="Read records (signed read request of the reading department)",
    response_model=ReadAnswerPublic,
    responses=_REQUEST_ERRORS,
    openapi_extra=request_body(signed_request_schema("read"), "A signed read request."),
)
async def read(request: Request, sharing: SharingDep) -> Any:
    """Check the live grant, log the read on-chain (durable before answering), and return
    only the granted fields, sealed for the reading department's agreement key."""
    # Parsed without the canonical-value walk: the request's parser checks the body (the only
    # part that is kept and signed) and refuses anything else. This is the hot path, and a
    # ready response skips the response model's validation for the same reason.
    obj = decode_unchecked(await read_body(request, MAX_REQUEST_BYTES))
    return json_response(await served_read(request, sharing, obj))


@signed.post(
    "/erasures",
    summary="Erase a record by crypto-shredding (signed erase request of the owner)",
    response_model=ErasurePublic,
    responses=_REQUEST_ERRORS,
    openapi_extra=request_body(signed_request_schema("erase"), "A signed erase request."),
)
async def erase(request: Request, sharing: SharingDep) -> Any:
    """Commit the erasure (who, why) on-chain, then destroy the record's data key."""
    obj = await _signed(request, MAX_REQUEST_BYTES)
    return await run_in_threadpool(sharing.erase, obj)


@signed.post(
    "/attestations",
    summary="Ask the owner department for attestations (one signed request or an array)",
    response_model=list[AttestationPublic],
    responses=_REQUEST_ERRORS,
    openapi_extra=request_body(
        {
            "oneOf": [
                signed_request_schema("attest"),
                {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_ATTESTATIONS,
                    "items": signed_request_schema("attest"),
                },
            ]
        },
        f"A signed attest request, or an array of 1 to {MAX_ATTESTATIONS} of them.",
    ),
)
async def attest(request: Request, sharing: SharingDep) -> Any:
    """Evaluate each predicate over the subject's records on this node and commit the signed
    yes/no answers on-chain; each item is ``{id, answer, tx_id}`` or ``{error, tx_id}``."""
    obj = await _signed(request, MAX_REQUEST_BYTES * 16)
    items = obj if type(obj) is list else [obj]
    if not 1 <= len(items) <= MAX_ATTESTATIONS:
        raise SchemaViolation(f"send 1 to {MAX_ATTESTATIONS} attestation requests")
    return json_response(await run_in_threadpool(sharing.attest, items))


@router.get(
    "/attestations/{attestation}",
    summary="Verify an attestation",
    response_model=AttestationPublic,
    responses=_READ_ERRORS,
)
def attestation(
    attestation: str,
    sharing: SharingDep,
    subject: Annotated[
        str, Query(description="The subject it is about.", min_length=1, max_length=128)
    ],
) -> dict[str, Any]:
    """Return an attestation as recorded on-chain (issuer, predicate, answer, transaction);
    the transaction's receipt (``/v1/transactions/{tx_id}/receipt``) proves it offline."""
    return sharing.attestation(attestation, subject)


@personal.get(
    "/me/receipts",
    summary="My access receipts: who read my data, when and why, under every id I am filed by",
    responses=problem_responses({403: "Staff have no receipts of their own."}),
)
def my_receipts(request: Request, sharing: SharingDep) -> dict[str, Any]:
    """A citizen's or enterprise's records are filed under their login (resident identity
    number or credit code) by the departments that hold them, and under their pseudonymous id
    (``citizen/…``) when a case engine check asks about the applicant: this lists both, merged,
    oldest first."""
    principal = request.state.principal
    if principal.kind == "staff":
        raise Forbidden("staff have no access receipts of their own: ask for a subject's")
    login = get_identity(request).users.get(principal.user).login
    found = [sharing.access_receipts(s) for s in dict.fromkeys((login, principal.user))]
    reads = sorted(
        (r for f in found for r in f["reads"]), key=lambda r: (r["read_ms"], r["request_id"])
    )
    atts = sorted(
        (a for f in found for a in f["attestations"]), key=lambda a: (a["issued_ms"], a["id"])
    )
    return {"subject_refs": [f["subject_ref"] for f in found], "reads": reads, "attestations": atts}


@personal.get(
    "/subjects/{subject}/receipts",
    summary="Access receipts: who read a subject's data, when and why",
    response_model=AccessReceiptsPublic,
    responses=problem_responses(
        {
            403: "A citizen or enterprise asked for another subject's receipts, or staff "
            "other than admins and auditors asked."
        }
    ),
)
def access_receipts(subject: SubjectDep, sharing: SharingDep) -> dict[str, Any]:
    """Return every logged read of the subject's records and every attestation about them."""
    return sharing.access_receipts(subject)
