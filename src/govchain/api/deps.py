"""Dependencies of the routes: the node and the settings, as ``Annotated`` aliases.

Both are read from ``app.state`` (set by ``create_app``); tests override them with
``app.dependency_overrides[get_settings] = ...``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from govchain.api.commits import CommitWatch
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


async def read_body(request: Request, limit: int) -> bytes:
    """Return the raw request body; ``TooLarge`` beyond ``limit`` bytes, checked on the
    declared ``Content-Length`` before reading anything and again while reading."""
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
    return b"".join(chunks)
