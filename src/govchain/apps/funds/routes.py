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

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from govchain.apps.funds.contract import EVIDENCE_KINDS
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


class DisbursementCreate(BaseModel):
    """A payment from a project's budget."""

    model_config = ConfigDict(extra="forbid")

    milestone: str = Field(min_length=1, max_length=16)
    """Milestone paid for."""
    payee: str = Field(min_length=18, max_length=18)
    """Payee's unified social credit code (one of the project's payees)."""
    amount_fen: int = Field(ge=1)
    """Amount in fen."""
    paid_on: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    """Payment date."""
    purpose: str = Field(min_length=2, max_length=200)
    """What it pays for."""


class AssignCreate(BaseModel):
    """Assigning a flag."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=3, max_length=128)
    """Staff id ``<dept>/<name>`` of a department owning a project of the flag."""
    note: str = Field(default="", max_length=1000)
    """What to look at."""


class ExplainCreate(BaseModel):
    """The assignee's explanation of a flag."""

    model_config = ConfigDict(extra="forbid")

    explanation: str = Field(min_length=2, max_length=1000)
    """The explanation."""
    evidence: list[str] = Field(default_factory=list, max_length=20)
    """Digests of notarised evidence it rests on."""


class CloseCreate(BaseModel):
    """Closing a flag."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["confirmed", "dismissed"]
    """Whether the anomaly is confirmed or dismissed."""
    reason: str = Field(min_length=2, max_length=1000)
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
def create_project(
    project: Annotated[dict[str, Any], Body(description="The project (see records.py)")],
    desk: Desk,
    who: Writer,
) -> dict[str, Any]:
    """Checked field by field first (422 with ``problems``); the caller's department owns it."""
    return _written(desk.create_project(who.dept, who.user, project))


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
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
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
    kind: Annotated[str, Query(description="One of " + ", ".join(EVIDENCE_KINDS))],
    title: Annotated[str, Query(min_length=2, max_length=200)],
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
    status: Annotated[str, Query(description="open, assigned, explained or closed")] = "",
    project: Annotated[str, Query(max_length=40)] = "",
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
    """By the department that raised it."""
    return _written(desk.assign(who.dept, who.user, flag_id, body.to, body.note))


@user.post("/flags/{flag_id}/explain", summary="Explain a flag (transaction)", responses=_WRITE)
def explain(flag_id: str, body: ExplainCreate, desk: Desk, who: Writer) -> dict[str, Any]:
    """By the person it is assigned to."""
    return _written(desk.explain(who.dept, who.user, flag_id, body.explanation, body.evidence))


@user.post("/flags/{flag_id}/close", summary="Close a flag (transaction)", responses=_WRITE)
def close(flag_id: str, body: CloseCreate, desk: Desk, who: Writer) -> dict[str, Any]:
    """By the department that raised it, once explained."""
    return _written(desk.close(who.dept, who.user, flag_id, body.outcome, body.reason))
