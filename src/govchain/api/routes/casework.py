"""Cases (办件): applying, following and answering one's own cases; staff queues and actions.

Applicants' routes need a login (``USER``): the node checks the token, then signs the ledger
transaction for the applicant with the handling department's key, recording the applicant's
pseudonymous id and the login session. Staff routes are for staff of the department in the path
(``dept_staff``); their role goes into the transaction, and the case engine checks it owns the
step. A transition that may not happen now is refused before anything is signed: 409 naming the
case's state, 403 for the wrong department or role.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from govchain.api.auth import USER, dept_staff, requires
from govchain.api.commits import commit_transactions
from govchain.api.deps import NodeDep, SettingsDep, read_body
from govchain.api.openapi import COMMIT_ANSWERS, problem_responses
from govchain.api.params import DeptPath
from govchain.api.service_schemas import (
    CaseCreate,
    ObjectionCreate,
    StaffActionCreate,
    SupplementCreate,
    WithdrawalCreate,
)
from govchain.api.settings import ApiSettings
from govchain.errors import (
    CallFailed,
    Forbidden,
    NotFound,
)
from govchain.identity.oidc import Principal
from govchain.ledger.transactions import Transaction
from govchain.node.casedesk import RECEIPT_ERRORS, CaseDesk
from govchain.node.materials import MAX_MATERIAL_BYTES
from govchain.node.node import Node
from govchain.procedures.engine import TRANSITIONS

router = APIRouter(tags=["cases"])

STAFF = dept_staff("officer", "inspector", "approver", "admin")
"""Staff of the department in the path who handle cases."""
STAFF_TRANSITIONS = frozenset(TRANSITIONS) - {"resubmit", "withdraw", "object", "revoke_consent"}
"""Transitions staff make (the others are the applicant's or anyone's)."""

_NO_CASE = "No case with this number."
_APPLICANT_STEP = problem_responses(
    {
        **COMMIT_ANSWERS,
        403: "Only the applicant (or a person acting for the enterprise) may do this.",
        404: _NO_CASE,
        409: "The case is not in a state that allows this (`illegal_transition`, "
        "`case_expired`), or the transaction failed.",
        422: "The body does not fit the case (a form or material refused), or is malformed.",
    }
)


class ConsentRevocation(BaseModel):
    """An applicant takes back the consent to a department answering for a material."""

    model_config = ConfigDict(extra="forbid")
    material: str = Field(min_length=1, max_length=64, description="The material's id.")
    replacement: str | None = Field(
        default=None,
        pattern="^[0-9a-f]{64}$",
        description="Hash of the applicant's own file for it (uploaded first with "
        "`POST /v1/cases/materials`); required when the material is.",
    )


def desk_of(request: Request) -> CaseDesk:
    """Return the node's case desk."""
    desk: CaseDesk = request.app.state.casedesk
    return desk


def principal_of(request: Request) -> Principal:
    """Return the logged-in caller."""
    p: Principal = request.state.principal
    return p


def commit_one(node: Node, settings: ApiSettings, tx: Transaction) -> dict[str, Any]:
    """Commit one case transaction; a failed receipt is answered with its own error type (the
    state changed between the check and the block), naming the transaction."""
    try:
        doc = commit_transactions(node, [tx], settings.wait_timeout_s)
    except CallFailed as exc:
        kind = RECEIPT_ERRORS.get(str(exc.fields.get("receipt_code")), CallFailed)
        raise kind(exc.message, tx_id=exc.fields.get("tx_id")) from None
    doc["result"] = doc["receipt"]["result"]
    return doc


async def _run(request: Request, node: Node, settings: ApiSettings, build: Any) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        return commit_one(node, settings, build())

    return await run_in_threadpool(run)


def _may_read(desk: CaseDesk, case: dict[str, Any], p: Principal) -> None:
    if p.kind != "staff":
        if case["applicant"] == p.user:
            return
        if case["subject"]:
            ent = desk.node.query("registry", "enterprise", {"uscc": case["subject"]})
            if p.user in ent["agents"]:
                return
        raise Forbidden(f"case {case['number']} is not yours")
    defn = desk.definition(case["service"], case["version"])["definition"]
    depts = {defn["owner"], *defn.get("co_handlers", [])}
    if p.dept not in depts:
        raise Forbidden(f"staff of {p.dept} do not handle case {case['number']}")


# --- applicants ---------------------------------------------------------------------------------


@router.post(
    "/v1/cases/materials",
    status_code=201,
    dependencies=[requires(USER)],
    summary="Upload a material for an application (kept encrypted by the handling department)",
    responses=problem_responses(
        {404: "No published service with this code.", 413: "The file is over 10 MiB."}
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_material(
    request: Request,
    service: Annotated[str, Query(max_length=40, description="Service the material is for")],
    name: Annotated[str, Query(min_length=1, max_length=200, description="File name")],
) -> dict[str, Any]:
    """The request body is the file (any content type, at most 10 MiB). Returns the
    material's hash, which the application then cites."""
    desk = desk_of(request)
    data = await read_body(request, MAX_MATERIAL_BYTES, json=False)
    dept = desk.definition(service)["definition"]["owner"]
    user = principal_of(request).user
    media = request.headers.get("content-type", "application/octet-stream")
    return await run_in_threadpool(desk.upload, dept, user, name, media, data)


@router.post(
    "/v1/cases",
    status_code=201,
    dependencies=[requires(USER)],
    summary="Apply for a service (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            403: "Staff do not apply; or the applicant does not act for the enterprise.",
            404: "No published service with this code.",
            422: "The form does not satisfy the service's schema (`form_invalid`, `errors` "
            "lists each field), a cited material was never uploaded (`unknown_material`), or "
            "the body is malformed.",
        }
    ),
)
async def submit_case(
    body: CaseCreate, request: Request, node: NodeDep, settings: SettingsDep
) -> dict[str, Any]:
    """Checks the form against the service's schema (422 ``form_invalid`` listing each field)
    and that every cited material was uploaded by the applicant; then submits. Answers the
    case (with its number) and the transaction's receipt."""
    p = principal_of(request)
    if p.kind == "staff":
        raise Forbidden("staff do not apply; log in as the citizen or enterprise")
    desk = desk_of(request)
    return await _run(
        request,
        node,
        settings,
        lambda: desk.submission(
            p.user, p.sid, body.service, body.form, body.materials, body.consents,
            body.subject, body.particulars,
        ),
    )  # fmt: skip


@router.get("/v1/me/cases", dependencies=[requires(USER)], summary="My cases")
def my_cases(
    request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """The logged-in applicant's cases, newest last."""
    user = principal_of(request).user
    found: list[dict[str, Any]] = desk_of(request).node.query(
        "cases", "cases_of", {"applicant": user, "limit": limit}
    )
    return found


@router.get(
    "/v1/cases/{number}",
    dependencies=[requires(USER)],
    summary="A case and its timeline",
    responses=problem_responses(
        {
            403: "The caller is neither its applicant (or acting for its enterprise) nor staff "
            "of a department that handles it.",
            404: _NO_CASE,
        }
    ),
)
def show_case(number: str, request: Request) -> dict[str, Any]:
    """The applicant (or a person acting for the enterprise) and staff of the departments that
    handle it may read it. Each timeline entry names its transaction; its receipt is at
    ``/v1/transactions/{tx}/receipt`` (offline-verifiable)."""
    desk = desk_of(request)
    case = desk.case(number)
    _may_read(desk, case, principal_of(request))
    case["timeline"] = [
        {**h, "receipt": f"/v1/transactions/{h['tx']}/receipt"} for h in case["history"]
    ]
    defn = desk.definition(case["service"], case["version"])["definition"]
    declared = {d["id"]: d for d in defn["steps"]}
    for st in case["steps"]:
        d = declared[st["id"]]
        st.update(
            {
                "name": d["name"],
                "kind": d.get("kind", "review"),
                "dept": d["dept"],
                "role": d["role"],
            }
        )
    case["service_name"] = defn["name"]
    return case


@router.post(
    "/v1/cases/{number}/resubmit",
    dependencies=[requires(USER)],
    summary="Answer a supplement request (补正) (ledger transaction)",
    responses=_APPLICANT_STEP,
)
async def resubmit(
    number: str, body: SupplementCreate, request: Request, node: NodeDep, settings: SettingsDep
) -> dict[str, Any]:
    """A changed form and/or newly uploaded materials."""
    p = principal_of(request)
    args: dict[str, Any] = {"materials": body.materials}
    if body.form is not None:
        args["form"] = body.form
    desk = desk_of(request)
    return await _run(
        request,
        node,
        settings,
        lambda: desk.applicant_step(p.user, p.sid, number, "resubmit", args),
    )


@router.post(
    "/v1/cases/{number}/withdraw",
    dependencies=[requires(USER)],
    summary="Withdraw a case before its decision (ledger transaction)",
    responses=_APPLICANT_STEP,
)
async def withdraw(
    number: str, body: WithdrawalCreate, request: Request, node: NodeDep, settings: SettingsDep
) -> dict[str, Any]:
    """Only the applicant; only before the decision."""
    p = principal_of(request)
    desk = desk_of(request)
    args = {"reason": body.reason}
    return await _run(
        request,
        node,
        settings,
        lambda: desk.applicant_step(p.user, p.sid, number, "withdraw", args),
    )


@router.post(
    "/v1/cases/{number}/revoke-consent",
    dependencies=[requires(USER)],
    summary="Revoke a consent to a department answering for a material (ledger transaction)",
    responses=_APPLICANT_STEP,
)
async def revoke_consent(
    number: str, body: ConsentRevocation, request: Request, node: NodeDep, settings: SettingsDep
) -> dict[str, Any]:
    """Only the applicant; only before the decision. The holding department may no longer
    answer for the material (the contract refuses its answer) and an answer it gave no longer
    counts. A required material needs ``replacement``, the applicant's own file (422
    otherwise: send the file, or withdraw the application)."""
    p = principal_of(request)
    desk = desk_of(request)
    args: dict[str, Any] = {"material": body.material}
    if body.replacement is not None:
        args["replacement"] = body.replacement
    return await _run(
        request,
        node,
        settings,
        lambda: desk.applicant_step(p.user, p.sid, number, "revoke_consent", args),
    )


@router.post(
    "/v1/cases/{number}/objections",
    status_code=201,
    dependencies=[requires(USER)],
    summary="Object during a case's public notice (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            404: _NO_CASE,
            409: "The case has no public notice running (`illegal_transition`, "
            "`case_expired`), or the transaction failed.",
        }
    ),
)
async def object_to(
    number: str, body: ObjectionCreate, request: Request, node: NodeDep, settings: SettingsDep
) -> dict[str, Any]:
    """Anyone logged in (a creditor, an employee …) may object while the notice runs; after it
    ended the objection is refused (409 ``case_expired``)."""
    p = principal_of(request)
    desk = desk_of(request)

    def build() -> Transaction:
        from govchain.procedures.cases import Actor

        desk.preview(
            number,
            "object",
            Actor("public", p.user, "", "", ""),
            {"step": body.step, "text": body.text},
        )
        return desk.objection(p.user, number, body.step, body.text)

    return await _run(request, node, settings, build)


# --- staff ----------------------------------------------------------------------------------------


@router.get(
    "/v1/departments/{dept}/queue", dependencies=[requires(STAFF)], summary="A department's queue"
)
def queue(
    dept: DeptPath,
    request: Request,
    role: Annotated[str, Query(max_length=32)] = "",
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Open and blocked steps owned by the department (and ``role``), with deadlines and
    overdue flags; with ``overdue=true`` only those past their time limit. ``decisions``: cases
    waiting for the department to accept, decide or close them."""
    node = desk_of(request).node
    method = "overdue" if overdue else "queue"
    steps = node.query(
        "cases", method, {"dept": dept, "role": role, "limit": limit, "now_ms": node.clock_ms()}
    )
    decisions = node.query("cases", "decisions", {"dept": dept, "limit": limit})
    return {"dept": dept, "role": role, "steps": steps, "decisions": decisions}


@router.post(
    "/v1/departments/{dept}/cases/{number}/{transition}",
    dependencies=[requires(STAFF)],
    summary="A staff action on a case: accept, claim, complete, decide … (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            403: "The caller's department or role does not own this step (`wrong_actor`).",
            404: "No such case, or no staff action of this name.",
            409: "The case is not in a state that allows this (`illegal_transition`, "
            "`case_expired`), or the transaction failed.",
            422: "The body does not fit the action, or is malformed.",
        }
    ),
)
async def staff_action(
    dept: DeptPath,
    number: str,
    transition: Annotated[
        str,
        # Documented, not validated: an unknown action is answered 404 like an unknown case.
        Path(json_schema_extra={"enum": sorted(STAFF_TRANSITIONS)}),
    ],
    body: StaffActionCreate,
    request: Request,
    node: NodeDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """``transition`` is one of accept, reject, request_supplement, claim, reassign, complete,
    answer_check, resolve_objection, end_notice, decide, verify_commitment, close, expire."""
    if transition not in STAFF_TRANSITIONS:
        raise NotFound(
            f"no staff action {transition!r} (known: {', '.join(sorted(STAFF_TRANSITIONS))})"
        )
    p = principal_of(request)
    args = body.model_dump(exclude_none=True)
    desk = desk_of(request)
    return await _run(
        request,
        node,
        settings,
        lambda: desk.staff_step(dept, p.user, p.role, number, transition, args),
    )


@router.get(
    "/v1/departments/{dept}/cases/{number}/materials/{digest}",
    dependencies=[requires(STAFF)],
    summary="Read a material of a case (staff of the department that holds it)",
    response_class=Response,
    responses={
        200: {
            "description": "The file, with the media type it was uploaded with.",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problem_responses(
            {
                403: "The material is held by another department, or the caller's department "
                "does not handle the case.",
                404: "No such case, or the case cites no such material.",
            }
        ),
    },
)
def read_material(dept: DeptPath, number: str, digest: str, request: Request) -> Response:
    """The file, for staff of the department that holds it, if the case cites it."""
    desk = desk_of(request)
    case = desk.case(number)
    _may_read(desk, case, principal_of(request))
    if digest not in case["materials"].values() and digest != case["form_hash"]:
        raise NotFound(f"case {number} cites no material {digest}")
    meta, data = desk.materials.read(dept, digest, principal_of(request).dept)
    return Response(
        data,
        media_type=meta["media_type"],
        headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(meta['name'])}"},
    )
