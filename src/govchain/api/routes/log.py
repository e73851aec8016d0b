"""Proofs of the transaction log (RFC 9162): consistency between sizes, inclusion of a leaf."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from govchain.api import views
from govchain.api.auth import PUBLIC, requires
from govchain.api.deps import NodeDep
from govchain.api.openapi import problem_responses
from govchain.api.schemas import ConsistencyProofPublic, InclusionProofPublic
from govchain.ledger.encoding import MAX_SAFE_INTEGER

router = APIRouter(prefix="/v1/log", tags=["log"], dependencies=[requires(PUBLIC)])

_INTEGRITY = (
    "`integrity_error`: a stored log tile (named by `table`, `key` and `height`) does not "
    "lead to the log's root; the proof is not served."
)


@router.get(
    "/consistency",
    summary="Consistency proof between two log sizes",
    response_model=ConsistencyProofPublic,
    responses=problem_responses(
        {
            404: "`to` is beyond the log.",
            # A relation of two parameters: JSON Schema checks each parameter alone.
            422: "`from` is greater than `to` (`schema_violation`, `field: size1`), or a "
            "parameter is not an integer in range.",
            500: _INTEGRITY,
        }
    ),
)
def consistency(
    node: NodeDep,
    size1: Annotated[
        int,
        Query(
            alias="from",
            ge=0,
            le=MAX_SAFE_INTEGER,
            description="Older log size; `from ≤ to` (422 otherwise).",
        ),
    ],
    size2: Annotated[
        int | None,
        Query(
            alias="to",
            ge=0,
            le=MAX_SAFE_INTEGER,
            description="Newer log size, at least `from` (default: the current size).",
        ),
    ] = None,
) -> dict[str, Any]:
    """Prove that the log of size ``from`` is a prefix of the log of size ``to``
    (``from ≤ to``)."""
    doc = views.consistency(node, size1, size2)
    # Read from the stored tiles: checked against the log's committed root before it is served.
    node.ledger.log.check_consistency(
        doc["from"],
        doc["to"],
        _unhex(doc["proof"]),
        bytes.fromhex(doc["from_root"]),
        bytes.fromhex(doc["to_root"]),
    )
    return doc


@router.get(
    "/inclusion",
    summary="Inclusion proof of a log entry",
    response_model=InclusionProofPublic,
    responses=problem_responses(
        {404: "`size` is beyond the log, or `index` is not below it.", 500: _INTEGRITY}
    ),
)
def inclusion(
    node: NodeDep,
    index: Annotated[
        int,
        Query(ge=0, le=MAX_SAFE_INTEGER, description="Log index of the entry, below `size`."),
    ],
    size: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_SAFE_INTEGER,
            description="Log size to prove against (default: current).",
        ),
    ] = None,
) -> dict[str, Any]:
    """Prove that the entry at ``index`` is in the log of ``size`` entries."""
    doc = views.inclusion(node, index, size)
    log = node.ledger.log
    root = bytes.fromhex(doc["root"])
    log.check_root(doc["size"], root)
    log.check_inclusion(
        index, doc["size"], bytes.fromhex(doc["leaf_hash"]), _unhex(doc["proof"]), root
    )
    return doc


def _unhex(items: list[str]) -> list[bytes]:
    return [bytes.fromhex(x) for x in items]
