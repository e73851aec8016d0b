"""Node-to-node reads: committed blocks for a peer's catch-up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from govchain.api.deps import NodeDep
from govchain.errors import NotFound
from govchain.node.node import Node
from govchain.node.wire import stored_block

router = APIRouter(prefix="/v1/peer", tags=["peers"])

MAX_BLOCKS = 64
"""Most blocks one catch-up request returns."""


def _blocks(node: Node, first: int, limit: int) -> bytes:
    ledger = node.ledger
    out: list[bytes] = []
    for h in range(first, min(first + limit, ledger.height + 1)):
        try:
            out.append(stored_block(ledger, h))
        except NotFound:
            break
    return b'{"blocks":[%b]}' % b",".join(out)


@router.get("/blocks", summary="Committed blocks from a height, as peers exchange them")
async def peer_blocks(
    node: NodeDep,
    first: Annotated[int, Query(alias="from", ge=1, description="First height.")] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_BLOCKS, description="Most blocks.")] = 32,
) -> Response:
    """Return ``{"blocks": [{"header": signed header, "txs": [envelope, ...]}, ...]}``: the
    receiver re-verifies and re-executes everything, so this needs no trust in the sender."""
    body = await run_in_threadpool(_blocks, node, first, limit)
    return Response(body, 200, media_type="application/json")
