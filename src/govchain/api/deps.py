"""Dependencies of the routes: the node and the settings, as ``Annotated`` aliases.

Both are read from ``app.state`` (set by ``create_app``); tests override them with
``app.dependency_overrides[get_settings] = ...``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from govchain.api.commits import CommitWatch
from govchain.api.problems import UnsupportedMediaType
from govchain.api.settings import ApiSettings
from govchain.errors import TooLarge
from govchain.node.node import Node


def get_node(request: Request) -> Node:
    """Return the node the application serves."""
    node: Node = request.app.state.node
    return node


def get_settings(request: Request) -> ApiSettings:
    """Return the application's settings."""
    settings: ApiSettings = request.app.state.settings
    return settings


def get_commit_watch(request: Request) -> CommitWatch:
    """Return the watch that lets requests await commits without a worker thread."""
    watch: CommitWatch = request.app.state.commit_watch
    return watch


NodeDep = Annotated[Node, Depends(get_node)]
"""The served node."""
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
"""The API settings."""
CommitWatchDep = Annotated[CommitWatch, Depends(get_commit_watch)]
"""Awaits commits of submitted transactions."""


def is_json_media(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` value is JSON: ``application/json`` or ``application/*+json``
    (RFC 6839), parameters such as ``charset`` aside."""
    if content_type is None:
        return False
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def declares_body(request: Request) -> bool:
    """Whether a request says it carries a body (a non-zero ``Content-Length``, or chunks)."""
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("0", "")
    return "transfer-encoding" in request.headers


def media_refusal(request: Request) -> UnsupportedMediaType | None:
    """Return the refusal (415) of a request whose declared media type is not JSON, or ``None``.

    A JSON body must say so: ``text/plain`` (or no type at all) is what a page of another site
    may send without asking the browser first, and what a mistaken client sends; neither is
    taken as JSON."""
    content_type = request.headers.get("content-type")
    if is_json_media(content_type):
        return None
    return UnsupportedMediaType(
        f"the body must be sent as application/json, not {content_type or 'untyped'}",
        content_type=content_type or "",
    )


def require_json(request: Request) -> None:
    """Raise ``media_refusal``'s answer, if any."""
    refused = media_refusal(request)
    if refused is not None:
        raise refused


async def read_body(request: Request, limit: int, *, json: bool = True) -> bytes:
    """Return the raw request body; ``TooLarge`` beyond ``limit`` bytes, checked on the
    declared ``Content-Length`` before reading anything and again while reading.

    ``json`` (the default: every JSON endpoint reads its body here) first refuses a non-empty
    body that is not declared as JSON (``require_json``); ``json=False`` takes any media type
    (uploaded files)."""
    if json and declares_body(request):
        require_json(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(
            f"request body is {int(declared)} bytes; the limit is {limit}",
            size=int(declared),
            limit=limit,
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body is over the limit of {limit} bytes", limit=limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    if json and body and not declares_body(request):
        require_json(request)  # a body that came without saying so
    return body
