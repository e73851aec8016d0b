"""The FastAPI application of a node."""

from __future__ import annotations

from fastapi import FastAPI

from govchain.api import docs, problems
from govchain.api.commits import CommitWatch
from govchain.api.routes import blocks, health, log, sharing, state, transactions
from govchain.api.settings import ApiSettings
from govchain.node.node import Node
from govchain.node.sharing import open_sharing

API_VERSION = "1"
"""Version of the HTTP interface (the ``/v1`` prefix)."""


def create_app(node: Node, settings: ApiSettings) -> FastAPI:
    """Return the API application serving ``node`` (which the caller starts and stops)."""
    app = FastAPI(
        title="govchain node API",
        version=API_VERSION,
        summary=f"Chain {node.genesis.chain_id!r} ({node.genesis.suite} suite)",
        description=(
            "Submit signed transactions, read blocks, state with proofs, signed checkpoints "
            "and transaction-log proofs. Every error is `application/problem+json` "
            "(RFC 9457) with a stable `code`."
        ),
        docs_url=None,  # served by api/docs.py from local files: no CDN on a closed network
        redoc_url=None,
    )
    app.state.node = node
    app.state.settings = settings
    app.state.commit_watch = CommitWatch(node)
    app.state.sharing = open_sharing(node, settings.network_dir)
    problems.install(app)
    docs.install(app)
    for module in (transactions, blocks, state, log, health):
        app.include_router(module.router)
    app.include_router(sharing.router)
    return app
