"""The world state: a key's current value with a proof against a signed checkpoint, and its
history; ``/v1/kv`` is the same for the built-in kv contract's keys."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from govchain.api import views
from govchain.api.auth import PUBLIC, requires
from govchain.api.deps import NodeDep
from govchain.api.openapi import problem_responses
from govchain.api.schemas import StateHistoryPublic, StatePublic
from govchain.contracts.kv import state_key
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.state import MAX_KEY_SIZE, VersionedValue
from govchain.ledger.state_proof import StateProof
from govchain.node.node import Node

router = APIRouter(tags=["state"], dependencies=[requires(PUBLIC)])

_INTEGRITY = (
    "`integrity_error`: a stored record (named by `table`, `key` and `height`: a state value, "
    "a state bucket, a history version or the checkpoint) is not what the chain commits to; "
    "it is not served."
)
_ERRORS = problem_responses(
    {
        413: f"The key is over {MAX_KEY_SIZE} bytes.",
        # A relation of two parameters: JSON Schema checks each parameter alone.
        422: "With `encoding=hex`, the key is not hex; or a parameter is malformed.",
        500: _INTEGRITY,
    }
)
_KV_ERRORS = problem_responses(
    {413: f"The key is over {MAX_KEY_SIZE} bytes (with its `c/kv/` prefix).", 500: _INTEGRITY}
)

KeyEncoding = Annotated[
    Literal["utf8", "hex"],
    Query(
        description="How the key in the path is written: UTF-8 text, or hex (then the path "
        "must be an even number of hex digits; any bytes can be read so)."
    ),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Most versions to return.")]


# Registered before /v1/state/{key:path}, which would otherwise swallow "/history"; a key that
# itself ends in "/history" can be read with encoding=hex.
@router.get(
    "/v1/state/{key:path}/history",
    summary="Versions of a state key, newest first",
    response_model=StateHistoryPublic,
    responses=_ERRORS,
)
def state_history(
    key: str, node: NodeDep, encoding: KeyEncoding = "utf8", limit: Limit = 100
) -> dict[str, Any]:
    """Return who wrote each version of a key, in which transaction and block."""
    return views.state_history(node, views.parse_key(key, encoding), key, limit)


@router.get(
    "/v1/state/{key:path}",
    summary="A state key's value with its proof",
    response_model=StatePublic,
    responses=_ERRORS,
)
def get_state(key: str, node: NodeDep, encoding: KeyEncoding = "utf8") -> dict[str, Any]:
    """Return the current value of a key (or its absence), the state proof and the signed
    checkpoint whose ``state_root`` the proof leads to."""
    raw_key = views.parse_key(key, encoding)
    return _checked(node, raw_key, views.state(node, raw_key, key))


@router.get(
    "/v1/kv/{key:path}",
    summary="A key of the built-in kv contract, with its proof",
    response_model=StatePublic,
    responses=_KV_ERRORS,
)
def get_kv(key: str, node: NodeDep) -> dict[str, Any]:
    """Return ``c/kv/<key>`` like ``/v1/state`` does."""
    skey = state_key(key)
    return _checked(node, skey, views.state(node, skey, skey.decode()))


def _checked(node: Node, key: bytes, doc: dict[str, Any]) -> dict[str, Any]:
    """Return a state answer once its value, read from the store, is the one its proof and
    checkpoint commit to (``IntegrityError`` naming the stored record if not)."""
    if doc["checkpoint"] is None:
        return doc  # nothing committed yet: nothing stored to check
    value = doc["value"]
    current = None
    if doc["version"] is not None:
        raw = None
        if doc["exists"]:
            raw = (
                canonical_unchecked(value)
                if doc["value_encoding"] == "json"
                else bytes.fromhex(value)
            )
        current = VersionedValue(raw, doc["version"], doc["height"], 0, bytes.fromhex(doc["tx_id"]))
    node.ledger.state.check_answer(
        key,
        current,
        StateProof.from_json(doc["proof"]),
        bytes.fromhex(doc["checkpoint"]["checkpoint"]["state_root"]),
    )
    return doc
