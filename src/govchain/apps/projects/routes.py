"""HTTP routes of duplication review, mounted under ``/v1/apps/projects``: the registry of
systems, projects and applications (list, search, history, registration, import), the review
of an application, merge candidates among pending applications, and review decisions.

The registry of government systems is internal: every route is for department staff. The
routes are mounted as ``user`` (a login) and each checks the staff role it needs, because the
reviewers (``approver``) and inspectors are not among the roles of the platform's ``staff``
level: reading for every staff role, registering and importing for officers and admins (the
entries are kept by their own department), deciding for approvers. Writes are signed by the
node with the staff member's department key, the member as actor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from govchain.apps.projects.contract import MAX_CANDIDATES, MAX_PAGE, STATUSES
from govchain.apps.projects.imports import CSV, JSON, XLSX, media_type_of
from govchain.apps.projects.service import MAX_UPLOAD_BYTES, ProjectDesk, desk_for
from govchain.errors import Forbidden, TooLarge
from govchain.identity.oidc import Principal
from govchain.sdk.answers import COMMIT_ANSWERS, problem_responses

user = APIRouter(tags=["projects"])
"""Every route: a login, and the staff role each route checks."""

ROUTERS = {"user": user}
"""Who may call which routes (see ``docs/build-a-service.md``)."""

READERS = ("admin", "officer", "inspector", "approver", "auditor")
"""Staff roles that read the registry, reviews and decisions."""
KEEPERS = ("admin", "officer")
"""Staff roles that register, import and change their department's entries."""
DECIDERS = ("approver",)
"""Staff roles that decide on applications."""


def _staff(roles: tuple[str, ...]) -> Callable[[Request], Principal]:
    def check(request: Request) -> Principal:
        p: Principal | None = getattr(request.state, "principal", None)
        if p is None or p.kind != "staff" or p.role not in roles:
            raise Forbidden(f"this is for department staff ({', '.join(roles)})")
        return p

    return check


def _desk(request: Request) -> ProjectDesk:
    return desk_for(request.app.state)


Reader = Annotated[Principal, Depends(_staff(READERS))]
Keeper = Annotated[Principal, Depends(_staff(KEEPERS))]
Decider = Annotated[Principal, Depends(_staff(DECIDERS))]
Desk = Annotated[ProjectDesk, Depends(_desk)]


def receipt_link(tx_id: str) -> str:
    """Where a transaction's offline-verifiable receipt is."""
    return f"/v1/transactions/{tx_id}/receipt"


_NOT_STAFF = "The caller is not staff of a role this route is for."
_NO_ENTRY = "There is no entry with this id."
_READ = problem_responses({403: _NOT_STAFF})
_READ_ONE = problem_responses({403: _NOT_STAFF, 404: _NO_ENTRY})
_CHANGE = problem_responses(
    {
        **COMMIT_ANSWERS,
        403: f"{_NOT_STAFF} Or the entry is kept by another department.",
        404: _NO_ENTRY,
        422: "A field is refused (each with its reason), or the body is malformed.",
    }
)


def _written(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "receipt": receipt_link(doc["tx_id"])}


class DecisionCreate(BaseModel):
    """A reviewer's decision on a pending application."""

    model_config = ConfigDict(extra="forbid")

    recommendation: Literal["reuse", "join", "merge", "build"]
    """What the province should do."""
    target: str | None = Field(default=None, max_length=40)
    """The entry to reuse, join or merge with (none for build)."""
    reason: str = Field(min_length=2, max_length=1000)
    """Why (in particular why, when it differs from the review's recommendation)."""


class RetireCreate(BaseModel):
    """Why a system or project is retired."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=2, max_length=1000)
    """Why it is retired."""


_FILE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}} for media in (CSV, XLSX)
        }
        | {JSON: {"schema": {"type": "array", "items": {"type": "object"}}}},
    }
}


@user.get(
    "/entries",
    summary="Registry entries: list, filter, search",
    responses=problem_responses(
        {403: _NOT_STAFF, 422: "The status or department filter is not one the registry has."}
    ),
)
def list_entries(
    desk: Desk,
    who: Reader,
    status: Annotated[str, Query(description="One of " + ", ".join(STATUSES))] = "",
    department: Annotated[str, Query(max_length=32, description="Department code")] = "",
    q: Annotated[str, Query(max_length=200, description="Words the entry's text holds")] = "",
    after: Annotated[str, Query(max_length=40, description="Start after this id")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> dict[str, Any]:
    """Entries in id order; ``next`` is the ``after`` of the next page."""
    return desk.entries(status=status, department=department, query=q, after=after, limit=limit)


@user.get(
    "/entries/{entry_id}", summary="An entry, its history and its decision", responses=_READ_ONE
)
def show_entry(entry_id: str, desk: Desk, who: Reader) -> dict[str, Any]:
    """The current version, every version (oldest first, each with the transaction that wrote
    it and its receipt link; ``previous_tx`` chains them) and, for a reviewed application, the
    decision."""
    entry = desk.entry(entry_id)
    history = [{**h, "receipt": receipt_link(h["tx_id"])} for h in desk.history(entry_id)]
    decision = desk.decision(entry_id) if entry["status"] == "reviewed" else None
    return {
        "entry": entry,
        "history": history,
        "decision": decision,
        "height": desk.node.ledger.height,
    }


@user.post(
    "/entries",
    status_code=201,
    summary="Register an entry (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            403: _NOT_STAFF,
            409: "An entry with this id is registered, or the transaction failed.",
            413: "The entry does not fit in a transaction.",
            422: "A field is refused (`problems` lists each with its reason).",
        }
    ),
)
def register_entry(
    entry: Annotated[dict[str, Any], Body(description="The entry (see records.py)")],
    desk: Desk,
    who: Keeper,
) -> dict[str, Any]:
    """Checked field by field first (422 listing each problem); the staff member's department
    keeps the entry."""
    return _written(desk.register(who.dept, who.user, entry))


@user.patch(
    "/entries/{entry_id}", summary="Change an entry (ledger transaction)", responses=_CHANGE
)
def update_entry(
    entry_id: str,
    changes: Annotated[dict[str, Any], Body(description="Fields to change")],
    desk: Desk,
    who: Keeper,
) -> dict[str, Any]:
    """Only its keeper department; the status may go from in_development to in_use, or to
    retired."""
    return _written(desk.update(who.dept, who.user, entry_id, changes))


@user.post("/entries/{entry_id}/retire", summary="Retire a system or project", responses=_CHANGE)
def retire_entry(entry_id: str, body: RetireCreate, desk: Desk, who: Keeper) -> dict[str, Any]:
    """Only its keeper department, with a reason."""
    return _written(desk.retire(who.dept, who.user, entry_id, body.reason))


@user.post(
    "/imports",
    status_code=201,
    summary="Import a CSV, XLSX or JSON file of entries (ledger transactions)",
    openapi_extra=_FILE_BODY,
    responses=problem_responses(
        {
            403: _NOT_STAFF,
            409: "Some of the import's transactions were refused in their blocks (`committed` "
            "and `refused` say which).",
            413: "The file is too large.",
            422: "The file is refused whole (`import_refused`, `problems` lists each "
            "`{line, field, reason}`), or its type is not CSV, XLSX or JSON.",
            503: COMMIT_ANSWERS[503],
        }
    ),
)
async def import_entries(
    request: Request,
    desk: Desk,
    who: Keeper,
    dry_run: Annotated[bool, Query(description="Only check the file")] = False,
    filename: Annotated[str, Query(max_length=200, description="Name, if no content type")] = "",
) -> dict[str, Any]:
    """The body is the file (``Content-Type`` text/csv, application/json or the XLSX type).
    A file with any problem is refused whole (422 ``import_refused``, ``problems`` listing
    each ``{line, field, reason}``) and nothing is imported."""
    media = media_type_of(request.headers.get("content-type", ""), filename)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise TooLarge(f"the file is {declared} bytes; the limit is {MAX_UPLOAD_BYTES}")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_UPLOAD_BYTES:
            raise TooLarge(f"the file is over the limit of {MAX_UPLOAD_BYTES} bytes")
    report = await run_in_threadpool(
        desk.import_file, who.dept, who.user, bytes(data), media, dry_run=dry_run
    )
    doc = report.to_json()
    for tx in doc["transactions"]:
        tx["receipt"] = receipt_link(tx["tx_id"])
    return doc


@user.get(
    "/applications/{application}/review", summary="Review an application", responses=_READ_ONE
)
def review_application(
    application: str,
    desk: Desk,
    who: Reader,
    k: Annotated[int, Query(ge=1, le=MAX_CANDIDATES)] = MAX_CANDIDATES,
) -> dict[str, Any]:
    """The entries most like it, ranked, with the functions that match, shared data resources,
    department relation and budget; the recommendation, its confidence and reasons."""
    return desk.review(application, k)


@user.get("/merge-candidates", summary="Pending applications to merge", responses=_READ)
def merge_candidates(
    desk: Desk,
    who: Reader,
    min_score: Annotated[int, Query(ge=0, le=1000, description="Per mille; 0: default")] = 0,
) -> dict[str, Any]:
    """Pairs of pending applications that ask for the same or overlapping things."""
    return desk.merge_candidates(min_score)


@user.post(
    "/applications/{application}/decision",
    status_code=201,
    summary="Decide on an application (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            403: f"{_NOT_STAFF} Or the approver is of the applicant's department.",
            404: "There is no such application, or no such target entry.",
            409: "The application is not pending, or the transaction failed.",
            422: "The recommendation, target or reason is refused.",
        }
    ),
)
def decide(application: str, body: DecisionCreate, desk: Desk, who: Decider) -> dict[str, Any]:
    """An approver of another department than the applicant's confirms or changes the
    recommendation with a reason; the node reviews the application itself and records that
    review as the decision's evidence."""
    doc = desk.decide(
        who.dept, who.user, application, body.recommendation, body.target, body.reason
    )
    return _written(doc)


@user.get(
    "/applications/{application}/decision",
    summary="The decision on an application",
    responses=problem_responses({403: _NOT_STAFF, 404: "No such application, or no decision yet."}),
)
def show_decision(application: str, desk: Desk, who: Reader) -> dict[str, Any]:
    """The decision, the review it rests on, who decided and when (404 before it)."""
    found = desk.decision(application)
    return {**found, "receipt": receipt_link(found["tx_id"])}
