"""Submitting transactions (one, or a batch) and reading them back with their receipts."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from govchain.api import views
from govchain.api.auth import SIGNED, requires
from govchain.api.deps import CommitWatchDep, NodeDep, SettingsDep, read_body
from govchain.api.openapi import problem_responses
from govchain.api.params import TxIdPath
from govchain.api.problems import problem_of
from govchain.api.responses import dump_json, json_response
from govchain.api.schemas import (
    BatchResultPublic,
    ReceiptBundlePublic,
    TransactionCommittedPublic,
    TransactionPendingPublic,
    TransactionStatusPublic,
    request_body,
    transaction_schema,
)
from govchain.api.settings import ApiSettings
from govchain.errors import GovchainError, MalformedEncoding, SchemaViolation, TooLarge
from govchain.node.node import Node

router = APIRouter(
    prefix="/v1/transactions", tags=["transactions"], dependencies=[requires(SIGNED)]
)

_ERRORS = problem_responses(
    {
        400: "Malformed JSON, bad signature, unknown signer, replayed nonce, wrong chain.",
        409: "The transaction is already pending or committed.",
        413: "The transaction or request is too large.",
        422: "The transaction does not match the schema.",
        503: "The node cannot take work, or the block was not durable in time.",
    }
)
_BATCH_ERRORS = problem_responses(
    {
        400: "The body is not JSON.",
        413: "The request is too large, or holds too many transactions.",
        422: "The body is not a JSON array.",
        503: "The node cannot take work, or the blocks were not durable in time.",
    }
)

_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": TransactionPendingPublic, "description": "Accepted, not yet committed."}
}

Wait = Annotated[
    bool,
    Query(description="Answer only once the transaction's block is durable (else 202 at once)."),
]


@router.post(
    "",
    summary="Submit one signed transaction",
    status_code=200,
    response_model=TransactionCommittedPublic,
    responses={**_ACCEPTED, **_ERRORS},
    openapi_extra=request_body(transaction_schema(), "One signed transaction envelope."),
)
async def submit_transaction(
    request: Request,
    node: NodeDep,
    settings: SettingsDep,
    commits: CommitWatchDep,
    wait: Wait = True,
) -> Response:
    """Admit one transaction; the node itself parses the raw bytes (size, canonical JSON, no
    floats, schema, signature, nonce)."""
    raw = await read_body(request, settings.max_batch_bytes)
    # Admission only; the wait for the durable block happens on the event loop, not in a
    # worker thread (see api.commits).
    outcomes = await run_in_threadpool(node.submit, [raw], raw=True, wait=False)
    tx = outcomes[0]
    if isinstance(tx, GovchainError):
        raise tx
    tx_hex = tx.tx_id.hex()
    if not wait:
        return json_response(
            {"tx_id": tx_hex, "status": "pending"},
            202,
            headers={"Location": f"/v1/transactions/{tx_hex}"},
        )
    await commits.wait(tx.tx_id, settings.wait_timeout_s)
    doc = await run_in_threadpool(views.committed_transaction, node.ledger, tx.tx_id, with_tx=False)
    return json_response(doc, 200, headers={"Location": f"/v1/transactions/{tx_hex}"})


def _parse_batch(raw: bytes, max_items: int) -> list[Any]:
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedEncoding(f"batch is not valid JSON: {exc}") from None
    if type(items) is not list:
        raise SchemaViolation("a batch must be a JSON array of transactions")
    if len(items) > max_items:
        raise TooLarge(
            f"batch holds {len(items)} transactions; the limit is {max_items}",
            size=len(items),
            limit=max_items,
        )
    return items


def _submit_batch(node: Node, settings: ApiSettings, raw: bytes, wait: bool) -> bytes:
    # One worker-thread call does parse, admission and the JSON answer, keeping the event loop
    # free, with no per-item model objects: this endpoint is the platform's throughput path.
    items = _parse_batch(raw, settings.max_batch_items)
    outcomes = node.submit(items, raw=False, wait=wait, timeout=settings.wait_timeout_s)
    status = "committed" if wait else "pending"
    return dump_json(views.batch_results(outcomes, status, problem_of))


@router.post(
    "/batch",
    summary="Submit a batch of signed transactions",
    response_model=BatchResultPublic,
    responses=_BATCH_ERRORS,
    openapi_extra=request_body(
        {
            "type": "array",
            # Any item is taken: each is judged on its own and one that is not a valid signed
            # transaction is rejected in its result (200), not the whole request.
            "items": {"description": "A signed transaction envelope (TransactionCreate)."},
        },
        "A JSON array of signed transaction envelopes, each as the body of "
        "`POST /v1/transactions`; an item that is not one is rejected in its result. The "
        "node's limits (by default 10,000 items and 64 MiB) are answered with 413.",
    ),
)
async def submit_batch(
    request: Request, node: NodeDep, settings: SettingsDep, wait: Wait = True
) -> Response:
    """Admit many transactions; each item is accepted or rejected on its own (a rejected item
    changes nothing), and results come back in input order."""
    raw = await read_body(request, settings.max_batch_bytes)
    body = await run_in_threadpool(_submit_batch, node, settings, raw, wait)
    return Response(body, 200, media_type="application/json")


@router.get(
    "/{tx_id}",
    summary="A transaction's status, location and receipt",
    response_model=TransactionStatusPublic,
    responses=problem_responses({404: "Unknown transaction."}),
)
def get_transaction(tx_id: TxIdPath, node: NodeDep) -> dict[str, Any]:
    """Return a committed transaction (location, envelope, receipt) or ``pending``."""
    return views.transaction_status(node, views.parse_tx_id(tx_id))


@router.get(
    "/{tx_id}/receipt",
    summary="The offline-verifiable receipt bundle of a committed transaction",
    response_model=ReceiptBundlePublic,
    responses=problem_responses({404: "Not committed (or unknown)."}),
)
def get_receipt(tx_id: TxIdPath, node: NodeDep) -> Response:
    """Return the receipt bundle as a JSON download; ``govchain verify-receipt`` checks it
    with nothing but the network's genesis file."""
    tid = views.parse_tx_id(tx_id)
    bundle = node.receipt_bundle(tid)
    return json_response(
        bundle,
        headers={"Content-Disposition": f'attachment; filename="receipt-{tid.hex()[:16]}.json"'},
    )
