"""Proofs of the transaction log (RFC 9162): consistency between sizes, inclusion of a leaf."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from govchain.api import views
from govchain.api.auth import PUBLIC, requires
from govchain.api.deps import NodeDep
from govchain.api.problems import PROBLEM_JSON
from govchain.api.schemas import ConsistencyProofPublic, InclusionProofPublic, ProblemPublic
from govchain.ledger.encoding import MAX_SAFE_INTEGER

router = APIRouter(prefix="/v1/log", tags=["log"], dependencies=[requires(PUBLIC)])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ProblemPublic,
        "content": {PROBLEM_JSON: {}},
        "description": "A size or index is beyond the log.",
    },
    422: {"model": ProblemPublic, "content": {PROBLEM_JSON: {}}, "description": "from > to."},
    500: {
        "model": ProblemPublic,
        "content": {PROBLEM_JSON: {}},
        "description": "`integrity_error`: a stored log tile (named by `table`, `key` and "
        "`height`) does not lead to the log's root; the proof is not served.",
    },
}


@router.get(
    "/consistency",
    summary="Consistency proof between two log sizes",
    response_model=ConsistencyProofPublic,
    responses=_ERRORS,
)
def consistency(
    node: NodeDep,
    size1: Annotated[
        int, Query(alias="from", ge=0, le=MAX_SAFE_INTEGER, description="Older log size.")
    ],
    size2: Annotated[
        int | None,
        Query(
            alias="to",
            ge=0,
            le=MAX_SAFE_INTEGER,
            description="Newer log size (default: current).",
        ),
    ] = None,
) -> dict[str, Any]:
    """Prove that the log of size ``from`` is a prefix of the log of size ``to``."""
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
    responses=_ERRORS,
)
def inclusion(
    node: NodeDep,
    index: Annotated[int, Query(ge=0, le=MAX_SAFE_INTEGER, description="Log index of the entry.")],
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
