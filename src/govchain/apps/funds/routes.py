"""HTTP routes of fund supervision, mounted under ``/v1/apps/funds``: projects with their
disbursements, evidence and flags; registering projects, notarising evidence, disbursing;
scanning the analytics index for flags; and handling a flag (assign, explain, close).

Every route is for department staff (mounted as ``user``, each route checks the staff roles
it needs). Writes are signed by the node with the staff member's department key, the member
as actor; the contract decides who may do what (the owner department registers, the
supervising department that raised a flag assigns and closes it, its assignee explains it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from govchain.apps.funds.contract import (
    MAX_BUDGET,
    MAX_MILESTONES,
    MAX_PAYEES,
    MAX_QUANTITY,
    MAX_RELATED,
    MAX_TEXT,
)
from govchain.apps.funds.service import FundsDesk, desk_for
from govchain.errors import Forbidden, SchemaViolation, TooLarge
from govchain.identity.oidc import Principal
from govchain.node.content import MAX_FILE_BYTES
from govchain.sdk.answers import COMMIT_ANSWERS, problem_responses

user = APIRouter(tags=["funds"])
"""Every route: a login, and the staff role each route checks."""

ROUTERS = {"user": user}
"""Who may call which routes (see ``docs/build-a-service.md``)."""

READERS = ("admin", "officer", "inspector", "approver", "auditor")
"""Staff roles that read projects and flags."""
WRITERS = ("admin", "officer", "approver", "inspector")
"""Staff roles that register, disburse, notarise, scan and handle flags."""


def _staff(roles: tuple[str, ...]) -> Callable[[Request], Principal]:
    def check(request: Request) -> Principal:
        p: Principal | None = getattr(request.state, "principal", None)
        if p is None or p.kind != "staff" or p.role not in roles:
            raise Forbidden(f"this is for department staff ({', '.join(roles)})")
        return p

    return check


def _desk(request: Request) -> FundsDesk:
    return desk_for(request.app.state)


Reader = Annotated[Principal, Depends(_staff(READERS))]
Writer = Annotated[Principal, Depends(_staff(WRITERS))]
Desk = Annotated[FundsDesk, Depends(_desk)]

_NOT_STAFF = "The caller is not staff of a role this route is for."
_READ = problem_responses({403: _NOT_STAFF})
_READ_ONE = problem_responses({403: _NOT_STAFF, 404: "There is no such record."})
_WRITE = problem_responses(
    {
        **COMMIT_ANSWERS,
        403: f"{_NOT_STAFF} Or the contract does not let this department do it.",
        404: "The project, disbursement or flag does not exist.",
        409: "It exists already, or the flag is not in a state for this step.",
        422: "A field is refused, with its reason.",
    }
)


def _written(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "receipt": f"/v1/transactions/{doc['tx_id']}/receipt"}


# The shapes the contract's checks accept (``contract.py``), stated so that the description
# says them: a request of another shape is refused with 422 before it reaches the desk.
PROJECT_ID = "^[A-Z][A-Z0-9-]{1,39}$"
"""A project id: 2 to 40 characters A-Z, 0-9 and '-', starting with a letter."""
MILESTONE_ID = "^[A-Z][A-Z0-9-]{1,15}$"
"""A milestone id: as a project id, of at most 16 characters."""
PAYEE = "^[0-9A-HJ-NP-RTUW-Y]{18}$"
"""18 characters of the unified social credit code's alphabet (GB 32100)."""
CODE = "^[a-z][a-z0-9_]{1,31}$"
"""A category code."""
_NOT_SPACE = (
    "[^\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
)
# Spelled out rather than ``\S``: the contract strips what Python calls white space, which
# differs from ``\s`` of ECMAScript (a client's reading) and of the validator's engine.
TRIMMED = f"^{_NOT_SPACE}([\\s\\S]*{_NOT_SPACE})?$"
"""A text that neither starts nor ends with white space (``str.isspace``)."""
DIGEST = "^[0-9a-f]{64}$"
"""An evidence file's hash."""
_YEAR = "(19|[2-9][0-9])[0-9]{2}"
_LEAP_YEAR = "((19|[2-9][0-9])(0[48]|[2468][048]|[13579][26])|([2468][048]|[3579][26])00)"
DATE = (
    f"^({_YEAR}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    f"|02-(0[1-9]|1[0-9]|2[0-8]))|{_LEAP_YEAR}-02-29)$"
)
"""A calendar date ``YYYY-MM-DD`` from 1900 on (29 February in leap years only)."""


def _text(shortest: int, longest: int, about: str) -> Any:
    return Field(min_length=shortest, max_length=longest, pattern=TRIMMED, description=about)


class Payee(BaseModel):
    """Who a project may pay."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=PAYEE)
    """The payee's unified social credit code (unique in the project)."""
    name: str = _text(2, 100, "The payee's name")
    """The payee's name."""


class Milestone(BaseModel):
    """A stage of a project with its share of the budget."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=MILESTONE_ID)
    """Milestone id (unique in the project)."""
    name: str = _text(2, 100, "What is done by then")
    """What is done by then."""
    amount_fen: int = Field(ge=1, le=MAX_BUDGET)
    """Its share of the budget in fen."""
    due: str = Field(pattern=DATE)
    """Due date (not before the project's start)."""


class ProjectCreate(BaseModel):
    """A key project or public-welfare fund to supervise."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=PROJECT_ID)
    """Project id (unique)."""
    name: str = _text(2, 100, "The project's name")
    """Name."""
    fund: Literal["key_project", "public_welfare"]  # contract.FUNDS
    """Which kind of fund pays it."""
    category: str = Field(pattern=CODE)
    """Category code (peers are compared within one)."""
    unit: str = _text(1, 20, "Unit of the quantity delivered")
    """Unit of the quantity delivered."""
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    """Quantity delivered."""
    budget_fen: int = Field(ge=1, le=MAX_BUDGET)
    """Budget in fen: the milestones' amounts add up to it."""
    start_date: str = Field(pattern=DATE)
    """Start date."""
    payees: list[Payee] = Field(min_length=1, max_length=MAX_PAYEES)
    """Who may be paid."""
    milestones: list[Milestone] = Field(min_length=1, max_length=MAX_MILESTONES)
    """The stages, each with its amount."""
    related: list[Annotated[str, Field(pattern=PROJECT_ID)]] = Field(max_length=MAX_RELATED)
    """Registered projects it relates to (not itself)."""


class DisbursementCreate(BaseModel):
    """A payment from a project's budget."""

    model_config = ConfigDict(extra="forbid")

    milestone: str = Field(pattern=MILESTONE_ID)
    """Milestone paid for."""
    payee: str = Field(pattern=PAYEE)
    """Payee's unified social credit code (one of the project's payees)."""
    amount_fen: int = Field(ge=1, le=MAX_BUDGET)
    """Amount in fen (within what is left of the budget)."""
    paid_on: str = Field(pattern=DATE)
    """Payment date (not before the project's start)."""
    purpose: str = _text(2, 200, "What it pays for")
    """What it pays for."""


class AssignCreate(BaseModel):
    """Assigning a flag."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(pattern="^[a-z][a-z0-9_-]{0,31}/[^/]+$", max_length=128)
    """Staff id ``<dept>/<name>`` of a department owning a project of the flag."""
    note: str = Field(default="", max_length=MAX_TEXT)
    """What to look at."""


class ExplainCreate(BaseModel):
    """The assignee's explanation of a flag."""

    model_config = ConfigDict(extra="forbid")

    explanation: str = _text(2, MAX_TEXT, "The explanation")
    """The explanation."""
    evidence: list[Annotated[str, Field(pattern=DIGEST)]] = Field(
        default_factory=list, max_length=20
    )
    """Digests of notarised evidence it rests on."""


class CloseCreate(BaseModel):
    """Closing a flag."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["confirmed", "dismissed"]
    """Whether the anomaly is confirmed or dismissed."""
    reason: str = _text(2, MAX_TEXT, "Why")
    """Why."""


@user.get("/projects", summary="Projects, with their open flags", responses=_READ)
def list_projects(
    desk: Desk,
    who: Reader,
    department: Annotated[str, Query(max_length=32, description="Owner department")] = "",
) -> dict[str, Any]:
    """Every project in id order (of one owner department if given)."""
    projects = desk.projects(department)
    return {"projects": projects, "count": len(projects), "height": desk.node.ledger.height}


@user.get(
    "/projects/{project_id}",
    summary="A project with its disbursements, evidence and flags",
    responses=_READ_ONE,
)
def show_project(project_id: str, desk: Desk, who: Reader) -> dict[str, Any]:
    """The project record, its disbursements (oldest first), its notarised evidence and the
    flags naming it."""
    return {**desk.project_view(project_id), "height": desk.node.ledger.height}


@user.post(
    "/projects", status_code=201, summary="Register a project (transaction)", responses=_WRITE
)
def create_project(project: ProjectCreate, desk: Desk, who: Writer) -> dict[str, Any]:
    """Checked as a whole first (422 with ``problems``: the milestones add up to the budget,
    none is due before the start, ids do not repeat); the caller's department owns it."""
    return _written(desk.create_project(who.dept, who.user, project.model_dump()))


@user.post(
    "/projects/{project_id}/disbursements",
    status_code=201,
    summary="Record a disbursement (transaction)",
    responses=_WRITE,
)
def disburse(project_id: str, body: DisbursementCreate, desk: Desk, who: Writer) -> dict[str, Any]:
    """Refused over the budget, or to a payee the project does not name."""
    return _written(desk.disburse(who.dept, who.user, project_id, **body.model_dump()))


@user.post(
    "/projects/{project_id}/milestones/{milestone}/evidence",
    status_code=201,
    summary="Notarise an evidence file (request body: its bytes)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file's bytes (not empty).",
            "content": {
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary", "minLength": 1}
                }
            },
        }
    },
    responses=_WRITE,
)
async def add_evidence(
    project_id: str,
    milestone: str,
    request: Request,
    desk: Desk,
    who: Writer,
    kind: Annotated[
        Literal["photo", "acceptance", "invoice"],  # contract.EVIDENCE_KINDS
        Query(description="Its kind"),
    ],
    title: Annotated[str, Query(min_length=2, max_length=200, pattern=TRIMMED)],
) -> dict[str, Any]:
    """The file's hash goes on-chain; the file is kept in the node's content store."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_FILE_BYTES:
            raise TooLarge(f"the file is over the limit of {MAX_FILE_BYTES} bytes")
    if not data:
        raise SchemaViolation("the request body is empty: send the file's bytes", field="body")
    doc = await run_in_threadpool(
        desk.add_evidence, who.dept, who.user, project_id, milestone, bytes(data), kind, title
    )
    return _written(doc)


@user.get("/flags", summary="Anomaly flags", responses=_READ)
def list_flags(
    desk: Desk,
    who: Reader,
    status: Annotated[
        Literal["", "open", "assigned", "explained", "closed"],  # contract.FLAG_STATUSES
        Query(description="Flag status"),
    ] = "",
    project: Annotated[str, Query(pattern=f"^({PROJECT_ID[1:-1]})?$")] = "",
) -> dict[str, Any]:
    """Flags in id order, each with the inputs that raised it and its handling."""
    flags = desk.flags(status, project)
    return {"flags": flags, "count": len(flags), "height": desk.node.ledger.height}


@user.get("/flags/{flag_id}", summary="A flag, its inputs and its handling", responses=_READ_ONE)
def show_flag(flag_id: str, desk: Desk, who: Reader) -> dict[str, Any]:
    """The flag as recorded on-chain."""
    return desk.flag(flag_id)


@user.post(
    "/flags/scan",
    summary="Raise flags from the analytics index (transactions)",
    responses=problem_responses(
        {**COMMIT_ANSWERS, 403: _NOT_STAFF, 503: "The analytics index is behind the ledger."}
    ),
)
def scan(desk: Desk, who: Writer) -> dict[str, Any]:
    """Run the rules and the detector over the index; the caller's department raises every
    new finding as a flag."""
    report = desk.scan(who.dept, who.user)
    return report.to_json()


@user.post("/flags/{flag_id}/assign", summary="Assign a flag (transaction)", responses=_WRITE)
def assign(flag_id: str, body: AssignCreate, desk: Desk, who: Writer) -> dict[str, Any]:
    """By staff of the project's department, in the flag's case: the person claims the
    explanation (``to`` is themself), or an admin reassigns it."""
    return _written(desk.assign(who.dept, who.user, flag_id, body.to, body.note, role=who.role))


@user.post("/flags/{flag_id}/explain", summary="Explain a flag (transaction)", responses=_WRITE)
def explain(flag_id: str, body: ExplainCreate, desk: Desk, who: Writer) -> dict[str, Any]:
    """By the person it is assigned to (the case's ``explain`` step)."""
    return _written(
        desk.explain(who.dept, who.user, flag_id, body.explanation, body.evidence, role=who.role)
    )


@user.post("/flags/{flag_id}/close", summary="Close a flag (transaction)", responses=_WRITE)
def close(flag_id: str, body: CloseCreate, desk: Desk, who: Writer) -> dict[str, Any]:
    """By the department that raised it, once explained (the case's decision)."""
    return _written(
        desk.close(who.dept, who.user, flag_id, body.outcome, body.reason, role=who.role)
    )
