"""Node health, and descriptions of the error codes problem documents point to."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from govchain.analytics.follow import index_for
from govchain.api.auth import PUBLIC, requires
from govchain.api.deps import NodeDep
from govchain.api.openapi import problem_responses
from govchain.api.problems import catalogue
from govchain.api.responses import json_response
from govchain.api.schemas import HealthPublic, ProblemTypePublic
from govchain.errors import NotFound

router = APIRouter(tags=["health"], dependencies=[requires(PUBLIC)])


@router.get(
    "/v1/health",
    summary="Node health (503 when the node has failed)",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "The node stopped committing."}},
)
def health(request: Request, node: NodeDep) -> Response:
    """Return height, log size, state root, pending work, the committer's state and how many
    committed blocks the analytics index has yet to index (``analytics_lag``)."""
    doc = node.health()
    index_for(request.app.state)  # starts the follower of the app's node on first use
    doc["analytics_lag"] = request.app.state.analytics.lag()
    return json_response(doc, 503 if doc["status"] != "ok" else 200)


router.add_api_route(
    "/healthz", health, methods=["GET"], include_in_schema=False, response_model=HealthPublic
)


@router.get(
    "/problems/{code}",
    summary="What an error code means",
    response_model=ProblemTypePublic,
    responses=problem_responses({404: "No such error code."}),
)
def problem_type(code: str) -> dict[str, Any]:
    """Describe the problem type ``/problems/{code}`` that error responses name."""
    doc = catalogue().get(code)
    if doc is None:
        raise NotFound(f"no error code {code!r}", code_name=code)
    return doc
