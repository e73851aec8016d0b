"""Service definitions (政务服务事项): the catalogue, checking a definition, and publication by
the departments concerned; the working-day calendar."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from govchain.api.auth import PUBLIC, USER, dept_staff, requires
from govchain.api.deps import NodeDep, SettingsDep
from govchain.api.openapi import COMMIT_ANSWERS, problem_responses
from govchain.api.params import USCC, DeptPath
from govchain.api.routes.casework import commit_one as commit_case_transaction
from govchain.api.routes.casework import desk_of, principal_of
from govchain.api.service_schemas import CalendarYear, DefinitionApproval, DefinitionCreate
from govchain.errors import Conflict, Forbidden, NotFound
from govchain.procedures.calendar import MAX_MS, add_working_days, parse_calendar
from govchain.procedures.catalogue import MAX_LIMIT, MAX_QUERY
from govchain.procedures.definitions import DefinitionRefused

router = APIRouter(tags=["services"])

Version = Annotated[int, Path(ge=1, le=1_000_000, description="Definition version.")]
"""A service definition's version in a path."""

ADMIN = dept_staff("admin")
"""Administrators of the department in the path."""

_UNKNOWN_SERVICE = "No published service with this code (or no such version)."


def _summary(defn: Any) -> dict[str, Any]:
    return {
        "code": defn["code"],
        "version": defn["version"],
        "category": defn["category"],
        "name": defn["name"],
        "owner": defn["owner"],
        "co_handlers": defn.get("co_handlers", []),
        "time_limit_days": defn["time_limit_days"],
        "fee_fen": defn["fee_fen"],
        "life_events": defn.get("life_events", []),
    }


@router.get("/v1/services", dependencies=[requires(PUBLIC)], summary="List or search services")
def list_services(
    request: Request,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_QUERY,
            pattern=r"\S",
            description="Search words (中文 or English; not only spaces)",
        ),
    ] = None,
    owner: Annotated[str | None, Query(max_length=64)] = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    dept: Annotated[str | None, Query(max_length=64, description="Owner or co-handler")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
) -> dict[str, Any]:
    """Without ``q``: every published service (filtered). With ``q``: ranked hits, each with
    the query words it matched."""
    catalogue = desk_of(request).catalogue()
    if q is None:
        found = catalogue.list(owner=owner, category=category, dept=dept)
        return {"services": [_summary(d) for d in found], "total": len(found)}
    hits = catalogue.search(q, limit=limit, owner=owner, category=category)
    return {
        "query": q,
        "hits": [
            {**_summary(catalogue.get(h.code)), "score": h.score, "matched": list(h.matched)}
            for h in hits
        ],
    }


@router.get(
    "/v1/services/{code}",
    dependencies=[requires(PUBLIC)],
    summary="A service's definition",
    responses=problem_responses({404: _UNKNOWN_SERVICE}),
)
def show_service(
    code: str,
    request: Request,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> dict[str, Any]:
    """The definition (current version, or ``version``) and who approved it, when."""
    return desk_of(request).definition(code, version)


@router.get(
    "/v1/services/{code}/prefill",
    dependencies=[requires(USER)],
    summary="The form fields the registers answer, for an enterprise",
    responses=problem_responses({404: f"{_UNKNOWN_SERVICE} Or no enterprise with this code."}),
)
def prefill(
    code: str,
    request: Request,
    subject: Annotated[
        str, Query(pattern=USCC, description="Unified social credit code of the enterprise.")
    ],
) -> dict[str, Any]:
    """Read-only fields of the service's form filled from the enterprise register (they are
    not the applicant's to change: a submission takes them from the register)."""
    return {"service": code, "subject": subject, "form": desk_of(request).prefill(code, subject)}


@router.post("/v1/services/check", dependencies=[requires(PUBLIC)], summary="Check a definition")
def check_service(body: DefinitionCreate, node: NodeDep) -> dict[str, Any]:
    """Check a definition as publication will (departments of this network): ``ok``, or every
    problem with its place and reason. Nothing is written."""
    found: dict[str, Any] = node.query("services", "check", {"definition": body.definition})
    return found


@router.post(
    "/v1/departments/{dept}/services",
    status_code=201,
    dependencies=[requires(ADMIN)],
    summary="Propose a version of a service definition (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            403: "The definition's owner is another department.",
            409: "The version is not the next one, or the transaction failed.",
            400: "The definition is refused (`definition_refused`: `problems` lists each place "
            "and reason).",
        }
    ),
)
async def propose_service(
    dept: DeptPath, body: DefinitionCreate, request: Request, node: NodeDep, settings: SettingsDep
) -> dict[str, Any]:
    """The owner department's admin proposes; every department concerned then approves its
    hash; the owner publishes."""
    if body.definition.get("owner") != dept:
        raise Forbidden(f"{dept} may propose only its own services", dept=dept)
    checked = node.query("services", "check", {"definition": body.definition})
    if not checked["ok"]:
        raise DefinitionRefused(checked["problems"])
    head = _head(node, checked["code"])
    current = 0 if head is None else head["version"]
    if checked["version"] != current + 1:
        raise Conflict(f"{checked['code']} is at version {current}: propose version {current + 1}")
    return await _submit(request, node, settings, dept, "propose", {"definition": body.definition})


def _head(node: NodeDep, code: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = node.query("services", "definition", {"code": code})["current"]
    except NotFound:
        return None
    return found


def _proposal(node: NodeDep, code: str, version: int) -> dict[str, Any]:
    found: dict[str, Any] = node.query("services", "proposal", {"code": code, "version": version})
    return found


@router.post(
    "/v1/departments/{dept}/services/{code}/versions/{version}/approve",
    dependencies=[requires(ADMIN)],
    summary="Approve a proposed definition by its hash (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            403: "The department is not one of the service's departments.",
            404: "No such proposal.",
            409: "The hash is not the proposal's, the department approved already, or the "
            "transaction failed.",
        }
    ),
)
async def approve_service(
    dept: DeptPath,
    code: str,
    version: Version,
    body: DefinitionApproval,
    request: Request,
    node: NodeDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Approve ``code`` version ``version`` for the department, naming the hash approved."""
    prop = _proposal(node, code, version)
    if dept not in prop["departments"]:
        raise Forbidden(f"{dept} is not a department of {code}", departments=prop["departments"])
    if body.hash != prop["hash"]:
        raise Conflict(
            f"hash mismatch: {code} version {version} is {prop['hash']}", expected=prop["hash"]
        )
    if dept in prop["approvals"]:
        raise Conflict(f"{dept} already approved {code} version {version}")
    args = {"code": code, "version": version, "hash": body.hash}
    return await _submit(request, node, settings, dept, "approve", args)


@router.post(
    "/v1/departments/{dept}/services/{code}/versions/{version}/publish",
    dependencies=[requires(ADMIN)],
    summary="Publish an approved definition (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            403: "Departments of the service have not approved this version yet.",
            404: "No such proposal.",
        }
    ),
)
async def publish_service(
    dept: DeptPath,
    code: str,
    version: Version,
    request: Request,
    node: NodeDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Make an approved version the current one."""
    prop = _proposal(node, code, version)
    missing = [d for d in prop["departments"] if d not in prop["approvals"]]
    if missing:
        raise Forbidden(
            f"{code} version {version} still needs the approval of {', '.join(missing)}",
            missing=missing,
        )
    return await _submit(
        request, node, settings, dept, "publish", {"code": code, "version": version}
    )


@router.post(
    "/v1/departments/{dept}/calendar",
    dependencies=[requires(ADMIN)],
    summary="Propose or approve one year of the working-day calendar (ledger transaction)",
    responses=problem_responses(COMMIT_ANSWERS),
)
async def calendar_year(
    dept: DeptPath, body: CalendarYear, request: Request, node: NodeDep, settings: SettingsDep
) -> dict[str, Any]:
    """The first department proposes a year's holidays and make-up working days; it is in
    force once a majority of departments approved the same proposal."""
    if body.approve:
        return await _submit(request, node, settings, dept, "approve_calendar", {"year": body.year})
    args = {
        "year": body.year,
        "holidays": body.holidays,
        "workdays": body.workdays,
        "source": body.source,
    }
    return await _submit(request, node, settings, dept, "propose_calendar", args)


async def _submit(
    request: Request,
    node: NodeDep,
    settings: SettingsDep,
    dept: str,
    method: str,
    args: dict[str, Any],
) -> dict[str, Any]:
    desk = desk_of(request)
    person = principal_of(request).user

    def run() -> dict[str, Any]:
        return commit_case_transaction(
            node, settings, desk.sign(dept, "services", method, args, person)
        )

    return await run_in_threadpool(run)


@router.get("/v1/calendar", dependencies=[requires(PUBLIC)], summary="The working-day calendar")
def show_calendar(node: NodeDep) -> dict[str, Any]:
    """Holidays and make-up working days in force (on-chain data)."""
    found: dict[str, Any] = node.query("services", "calendar", {})
    return found


@router.get(
    "/v1/calendar/deadline", dependencies=[requires(PUBLIC)], summary="A deadline in working days"
)
def deadline(
    node: NodeDep,
    days: Annotated[int, Query(ge=0, le=3650)],
    from_ms: Annotated[int | None, Query(ge=0, le=MAX_MS)] = None,
) -> dict[str, Any]:
    """The end of the ``days``-th working day after ``from_ms`` (default: the node's clock)."""
    cal = parse_calendar(node.query("services", "calendar", {}))
    start = node.clock_ms() if from_ms is None else from_ms
    return {"from_ms": start, "days": days, "deadline_ms": add_working_days(start, days, cal)}
