"""The enterprise and licence registries, name checks, industries, and which permits an
enterprise needs (rules and the "one industry, one licence" questionnaires)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from govchain.api.auth import PUBLIC, USER, requires
from govchain.api.deps import NodeDep, SettingsDep
from govchain.api.openapi import COMMIT_ANSWERS, problem_responses
from govchain.api.params import UsccPath
from govchain.api.routes.casework import commit_one, desk_of, principal_of
from govchain.api.service_schemas import AgentCreate, NavigationCreate
from govchain.apps.enterprise import permits
from govchain.errors import Conflict, Forbidden, NotFound
from govchain.procedures.industries import search_industries
from govchain.procedures.names import HANGZHOU_DIVISIONS, check_name

router = APIRouter(tags=["enterprises"])

INDUSTRY = "^([A-Ta-t]|[A-Ta-t]?[0-9]{2,4})$"
"""Shape of a GB/T 4754 code: a section letter, or 2 to 4 digits (optionally after their
section's letter); a code of that shape that is not in the standard is a 422 too."""


@router.get("/v1/enterprises", dependencies=[requires(PUBLIC)], summary="The enterprise registry")
def list_enterprises(
    node: NodeDep,
    after: Annotated[str, Query(max_length=18)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Registered enterprises in code order (public particulars, 国家企业信用信息公示)."""
    found: list[dict[str, Any]] = node.query(
        "registry", "enterprises", {"after": after, "limit": limit}
    )
    return found


@router.get(
    "/v1/enterprises/{uscc}",
    dependencies=[requires(PUBLIC)],
    summary="An enterprise",
    responses=problem_responses({404: "No enterprise with this code in the registry."}),
)
def show_enterprise(uscc: UsccPath, node: NodeDep) -> dict[str, Any]:
    """Its particulars, status and history, and its licences."""
    found: dict[str, Any] = node.query("registry", "enterprise", {"uscc": uscc})
    return found


@router.get(
    "/v1/licences/{number}",
    dependencies=[requires(PUBLIC)],
    summary="A licence",
    responses=problem_responses({404: "No licence with this number."}),
)
def show_licence(number: str, node: NodeDep) -> dict[str, Any]:
    """A licence of the licence registry, with its status (``active``, ``revoked``)."""
    found: dict[str, Any] = node.query("registry", "licence", {"number": number})
    return found


@router.get(
    "/v1/names/check",
    dependencies=[requires(PUBLIC)],
    summary="Check an enterprise name",
    responses=problem_responses(
        {400: "The name is refused (`name_refused`, with `reason` and `word`)."}
    ),
)
def check_enterprise_name(
    node: NodeDep, name: Annotated[str, Query(min_length=1, max_length=60)]
) -> dict[str, Any]:
    """Structure and forbidden words (400 ``name_refused`` with the reason and word), then
    whether it is free in the registration area."""
    parts = check_name(name, HANGZHOU_DIVISIONS, ())
    found: dict[str, Any] = node.query("registry", "name", {"name": name})
    return {
        **found,
        "division": parts.division,
        "trade_name": parts.trade_name,
        "industry_words": parts.industry_words,
        "form": parts.form,
    }


@router.get(
    "/v1/industries", dependencies=[requires(PUBLIC)], summary="Search GB/T 4754 industries"
)
def industries(q: Annotated[str, Query(min_length=1, max_length=50)]) -> list[dict[str, Any]]:
    """Industries (sections to classes) whose Chinese or English name contains ``q``."""
    return [
        {"code": i.code, "level": i.level, "parent": i.parent, "zh": i.zh, "en": i.en}
        for i in search_industries(q)[:100]
    ]


@router.get(
    "/v1/permits/needed",
    dependencies=[requires(PUBLIC)],
    summary="Permits an enterprise needs",
    responses=problem_responses(
        {422: "The industry is not a GB/T 4754-2017 code, or a parameter is malformed."}
    ),
)
def permits_needed(
    industry: Annotated[
        str, Query(min_length=1, max_length=5, pattern=INDUSTRY, description="GB/T 4754 code")
    ],
    scope: Annotated[str, Query(max_length=1000)] = "",
) -> list[dict[str, Any]]:
    """From the industry code and the business scope, the permits it needs and why."""
    return [
        {
            "code": n.code,
            "name": dict(n.name),
            "why": dict(n.why),
            "basis": n.basis,
            "matched": n.matched,
        }
        for n in permits.permits_for(industry, scope)
    ]


@router.get(
    "/v1/permits/industries", dependencies=[requires(PUBLIC)], summary="One industry, one licence"
)
def permit_industries() -> list[dict[str, Any]]:
    """The modelled industries, their questionnaires, and the counts of permits, materials and
    form fields before and after their forms are merged."""
    questions = {
        q.id: [
            {
                "id": question.id,
                "text": dict(question.text),
                "answers": [
                    {"value": value, "adds": list(adds)} for value, adds in question.options
                ],
            }
            for question in q.questions
        ]
        for q in permits.load_questionnaires()
    }
    return [{**row, "questions": questions[row["industry"]]} for row in permits.industry_report()]


@router.post(
    "/v1/permits/navigate",
    dependencies=[requires(PUBLIC)],
    summary="Answer a questionnaire",
    responses=problem_responses(
        {
            404: "No questionnaire for this industry (`/v1/permits/industries` lists them).",
            422: (
                "The body is malformed, or the answers do not fit the questionnaire (a question "
                "unknown or unanswered, an answer not among its options)."
            ),
        }
    ),
)
def navigate(body: NavigationCreate) -> dict[str, Any]:
    """The permits an enterprise needs from its answers, and their forms merged into one (each
    field asked once)."""
    codes = permits.navigate(body.industry, body.answers)
    merged = permits.merge_forms(codes)
    return {
        "permits": codes,
        "schema": merged.schema,
        "materials": merged.materials,
        "counts": {
            "permits": merged.permits,
            "fields_before": merged.fields_before,
            "fields_after": merged.fields_after,
            "materials_before": merged.materials_before,
            "materials_after": merged.materials_after,
        },
    }


@router.post(
    "/v1/enterprises/{uscc}/agents",
    status_code=201,
    dependencies=[requires(USER)],
    summary="Authorise a person to act for the enterprise (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            403: "The caller does not act for the enterprise.",
            404: "No enterprise with this code.",
            409: "The person already acts for the enterprise, or the transaction failed.",
        }
    ),
)
async def add_agent(
    uscc: UsccPath, body: AgentCreate, request: Request, node: NodeDep, settings: SettingsDep
) -> dict[str, Any]:
    """Called by a person who already acts for the enterprise (e.g. its legal representative);
    revocable with DELETE."""
    return await _agents(request, node, settings, uscc, body.agent, "add_agent")


@router.delete(
    "/v1/enterprises/{uscc}/agents/{agent:path}",
    dependencies=[requires(USER)],
    summary="Revoke a person's authorisation (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            403: "The caller does not act for the enterprise.",
            404: "No enterprise with this code, or the person does not act for it.",
            409: "The last person acting for an enterprise cannot be removed, or the "
            "transaction failed.",
        }
    ),
)
async def remove_agent(
    uscc: UsccPath,
    agent: Annotated[str, Path(min_length=1, max_length=128)],
    request: Request,
    node: NodeDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """The last person acting for an enterprise cannot be removed."""
    return await _agents(request, node, settings, uscc, agent, "remove_agent")


async def _agents(
    request: Request, node: NodeDep, settings: SettingsDep, uscc: str, agent: str, method: str
) -> dict[str, Any]:
    desk = desk_of(request)
    user = principal_of(request).user
    ent = node.query("registry", "enterprise", {"uscc": uscc})
    if user not in ent["agents"]:
        raise Forbidden(f"only a person acting for {uscc} may change who acts for it", uscc=uscc)
    if method == "add_agent" and agent in ent["agents"]:
        raise Conflict(f"{agent} already acts for {uscc}")
    if method == "remove_agent" and agent not in ent["agents"]:
        raise NotFound(f"{agent} does not act for {uscc}")
    if method == "remove_agent" and len(ent["agents"]) == 1:
        raise Conflict("the last person acting for an enterprise cannot be removed")

    def run() -> dict[str, Any]:
        tx = desk.sign("market", "registry", method, {"uscc": uscc, "agent": agent}, user)
        return commit_one(node, settings, tx)

    return await run_in_threadpool(run)
