"""HTTP routes of notarisation, mounted under ``/v1/apps/notary``: a record's status, online
verification of a document, and the node's content store for notarised files."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from govchain.apps.notary.service import CONTRACT, HASH_NAMES, document_digest, status_of
from govchain.errors import NotFound, SchemaViolation, TooLarge
from govchain.node.content import MAX_FILE_BYTES, check_digest
from govchain.node.node import Node
from govchain.sdk.answers import problem_responses

public = APIRouter(tags=["notary"])
"""Routes anyone may call: a record's status, online verification, depositing a file."""
staff = APIRouter(tags=["notary"])
"""Routes for department staff: reading files back from the content store."""

ROUTERS = {"public": public, "staff": staff}
"""Who may call which routes (see ``docs/build-a-service.md``)."""

_BINARY = {"type": "string", "format": "binary"}
_FILE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The document's bytes (not empty).",
        "content": {"application/octet-stream": {"schema": {**_BINARY, "minLength": 1}}},
    }
}
DigestPath = Annotated[
    str, Path(pattern="^[0-9a-f]{64}$", description="64 lower-case hex characters.")
]
"""A document digest (or a batch root) in a path."""

_NOT_DEPLOYED = "The notary contract is not deployed on this network (`unknown_contract`)."
_TOO_LARGE = f"The document is over {MAX_FILE_BYTES} bytes."


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


NodeDep = Annotated[Node, Depends(_node)]


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_FILE_BYTES:
        raise TooLarge(f"document is {declared} bytes; the limit is {MAX_FILE_BYTES}")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_FILE_BYTES:
            raise TooLarge(f"document is over the limit of {MAX_FILE_BYTES} bytes")
    if not data:
        # Every network hashes the empty document to a fixed digest: an empty body is a
        # client's mistake (no file attached), not a document to look up or keep.
        raise SchemaViolation("the request body is empty: send the document's bytes", field="body")
    return bytes(data)


def _lookup(node: Node, digest: str) -> dict[str, Any] | None:
    record: dict[str, Any] | None = node.query(CONTRACT, "record", {"digest": digest})
    if record is None:
        record = node.query(CONTRACT, "batch", {"root": digest})
    return record


def _now_ms(node: Node) -> int:
    head = node.ledger.head
    return head.header.timestamp_ms if head else node.genesis.created_ms


def _answer(node: Node, digest: str, record: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "digest": digest,
        "hash": HASH_NAMES.get(node.genesis.suite, node.genesis.suite),
        "notarised": record is not None,
        "status": status_of(record, _now_ms(node)) if record is not None else None,
        "record": record,
        "stored": node.content.has(digest),
        "height": node.ledger.height,
    }


@public.get(
    "/records/{digest}",
    summary="A notarisation (document digest or batch root)",
    responses=problem_responses({404: f"Not notarised. {_NOT_DEPLOYED}"}),
)
def get_record(digest: DigestPath, node: NodeDep) -> dict[str, Any]:
    """Return the on-chain record and its status (valid, revoked, expired) as of the last block."""
    check_digest(digest)
    record = _lookup(node, digest)
    if record is None:
        raise NotFound(f"{digest} is not notarised")
    return _answer(node, digest, record)


@public.post(
    "/verify",
    summary="Verify a document (request body: the file's bytes)",
    openapi_extra=_FILE_BODY,
    responses=problem_responses(
        {404: _NOT_DEPLOYED, 413: _TOO_LARGE, 422: "The body is empty (no document)."}
    ),
)
async def verify(request: Request, node: NodeDep) -> dict[str, Any]:
    """Hash the uploaded document with the network's hash and look up its notarisation
    (``notarised: false`` if none: that is an answer, not an error)."""
    digest = document_digest(node.suite, await _body(request))
    return _answer(node, digest, _lookup(node, digest))


@public.put(
    "/documents/{digest}",
    summary="Keep a document in the node's content store",
    openapi_extra=_FILE_BODY,
    responses=problem_responses(
        {
            400: "The body does not hash to the digest (`root_mismatch`).",
            413: _TOO_LARGE,
            422: "The body is empty, or the digest is malformed.",
        }
    ),
)
async def put_document(digest: DigestPath, request: Request, node: NodeDep) -> dict[str, Any]:
    """Store the request body under ``digest`` (refused unless it hashes to ``digest``).

    Open to anyone who is about to notarise the file: the store is content-addressed (a body
    that does not hash to ``digest`` is refused) and each file is size-limited. Reading files
    back is for department staff only, since a digest on the ledger must not open the file."""
    check_digest(digest)
    data = await _body(request)
    node.content.put(data, expected=digest)
    return {"digest": digest, "size": len(data)}


@staff.get(
    "/documents/{digest}",
    summary="A document from the node's content store",
    response_class=Response,
    responses={
        200: {
            "description": "The document's bytes.",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        **problem_responses({404: "The content store holds no document with this digest."}),
    },
)
def get_document(digest: DigestPath, node: NodeDep) -> Response:
    """Return a stored document's bytes (re-hashed on read)."""
    return Response(node.content.get(digest), media_type="application/octet-stream")
