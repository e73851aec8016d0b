"""``GET /metrics``: the node's metrics in the Prometheus text format, for operators.

Public, like ``/v1/health``: the page holds heights, counts and latencies labelled by route
template, error code and kind — never a key, a subject, a URL or a person. The node listens on
127.0.0.1 unless told otherwise; one that listens on another interface should let only its
Prometheus reach ``/metrics`` (firewall or reverse proxy), see docs/operations.md.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from govchain.api.auth import PUBLIC, requires
from govchain.api.deps import NodeDep
from govchain.node.metrics import CONTENT_TYPE

router = APIRouter(tags=["operations"], dependencies=[requires(PUBLIC)])


@router.get(
    "/metrics",
    summary="The node's metrics (Prometheus text format 0.0.4)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "The exposition."}},
)
def metrics(node: NodeDep) -> Response:
    """Return every metric family of the node: committing, admission, catch-up, data
    sharing, indexes, HTTP requests and proofs, the process (docs/operations.md)."""
    return Response(node.metrics.registry.expose(), media_type=CONTENT_TYPE)
