"""Blocks and checkpoints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from govchain.api import views
from govchain.api.auth import PUBLIC, requires
from govchain.api.deps import NodeDep
from govchain.api.openapi import problem_responses
from govchain.api.schemas import BlockPublic, SignedCheckpointPublic
from govchain.ledger.encoding import MAX_SAFE_INTEGER

router = APIRouter(tags=["blocks"], dependencies=[requires(PUBLIC)])

_NOT_FOUND = problem_responses(
    {
        404: "No such block (none is committed yet, or the height is beyond the head).",
        500: "`integrity_error`: the stored record (named by `table`, `key` and `height`) is "
        "not what the chain commits to (a header whose proposer signature does not verify, a "
        "log entry that is not the log's leaf, a checkpoint that is not its block's or carries "
        "a signature that does not verify); it is not served.",
    }
)

Entries = Annotated[bool, Query(description="Include the log entries (transaction + receipt).")]
Height = Annotated[
    int,
    PathParam(ge=1, le=MAX_SAFE_INTEGER, description="Block height (the first block is 1)."),
]


@router.get(
    "/v1/blocks/latest",
    summary="The latest block",
    response_model=BlockPublic,
    response_model_exclude_none=True,
    responses=_NOT_FOUND,
)
def latest_block(node: NodeDep, entries: Entries = False) -> dict[str, Any]:
    """Return the head block."""
    ledger = node.ledger
    return views.block(ledger, views.latest_height(ledger), entries=entries)


@router.get(
    "/v1/blocks/{height}",
    summary="A block by height",
    response_model=BlockPublic,
    response_model_exclude_none=True,
    responses=_NOT_FOUND,
)
def get_block(height: Height, node: NodeDep, entries: Entries = False) -> dict[str, Any]:
    """Return the block at ``height``."""
    return views.block(node.ledger, height, entries=entries)


@router.get(
    "/v1/checkpoints/latest",
    summary="The latest signed checkpoint",
    response_model=SignedCheckpointPublic,
    responses=_NOT_FOUND,
)
def latest_checkpoint(node: NodeDep) -> dict[str, Any]:
    """Return the checkpoint of the head block with its department signatures."""
    ledger = node.ledger
    return ledger.checkpoint(views.latest_height(ledger)).to_json()


@router.get(
    "/v1/checkpoints/{height}",
    summary="The signed checkpoint at a height",
    response_model=SignedCheckpointPublic,
    responses=_NOT_FOUND,
)
def get_checkpoint(height: Height, node: NodeDep) -> dict[str, Any]:
    """Return the checkpoint after block ``height`` with its department signatures."""
    return node.ledger.checkpoint(height).to_json()
