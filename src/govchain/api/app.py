"""The FastAPI application of a node."""

from __future__ import annotations

from fastapi import FastAPI

from govchain.api import docs, guards, problems, telemetry
from govchain.api.auth import PUBLIC, SIGNED, USER, requires, staff
from govchain.api.commits import CommitWatch
from govchain.api.routes import (
    analytics,
    apps,
    blocks,
    casework,
    contracts,
    credentials,
    enterprises,
    health,
    log,
    members,
    metrics,
    oidc,
    ratings,
    services,
    sharing,
    state,
    transactions,
)
from govchain.api.routes import identity as identity_routes
from govchain.api.settings import ApiSettings
from govchain.identity.service import (
    Identity,
    identity_store_path,
    load_or_create_token_key,
)
from govchain.identity.tokens import TokenKey
from govchain.node.casedesk import open_casedesk
from govchain.node.casework import start_casework
from govchain.node.node import Node
from govchain.node.registry_feed import start_registry_feed
from govchain.node.sharing import open_sharing
from govchain.sdk import discover_apps
from govchain.storage.factory import open_store

API_VERSION = "1"
"""Version of the HTTP interface (the ``/v1`` prefix)."""


def open_identity(node: Node, settings: ApiSettings) -> Identity:
    """Open the node's identity service from ``settings.identity_dir`` (in memory without it);
    its store is closed with the node."""
    if settings.identity_dir is None:
        store = open_store(None)
        key = TokenKey.generate()
    else:
        store = open_store(str(identity_store_path(settings.identity_dir)))
        key = load_or_create_token_key(settings.identity_dir)
    node.on_close.append(store.close)
    identity = Identity(store, key, settings.issuer_url)
    identity.provider.purge_expired()  # codes, tokens and sessions that ended before this start
    return identity


def create_app(node: Node, settings: ApiSettings, identity: Identity | None = None) -> FastAPI:
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
    app.state.identity = identity or open_identity(node, settings)
    app.state.sharing = open_sharing(node, settings.network_dir)
    app.state.casework = start_casework(node, app.state.sharing, settings.network_dir)
    app.state.registry_feed = start_registry_feed(node, app.state.sharing)
    app.state.casedesk = open_casedesk(node, settings.network_dir)
    app.state.credential_feed = credentials.start_feed(app)
    problems.install(app)
    guards.install(app)  # after problems: access first, then the media type, then the rest
    docs.install(app)
    # First: routes are matched in order, and data-sharing reads are the busiest route.
    for sharing_router in sharing.ROUTERS:
        app.include_router(sharing_router)
    for module in (
        transactions, blocks, state, log, health, identity_routes, members, oidc,
        services, casework, ratings, enterprises, credentials,
    ):  # fmt: skip
        app.include_router(module.router)
    app.include_router(contracts.router)
    app.include_router(apps.router)
    app.include_router(analytics.router)
    app.include_router(metrics.router)
    mount_apps(app)
    telemetry.install(app)  # last: its middleware times everything the others do
    return app


APP_ACCESS = {
    "public": PUBLIC,
    "signed": SIGNED,
    "user": USER,
    "staff": staff("admin", "officer", "auditor"),
}
"""The access levels a service's routes may be grouped by (``routes.ROUTERS``)."""


def mount_apps(app: FastAPI) -> None:
    """Mount each service's routers under ``/v1/apps/<name>``, each with its access level.

    A service's ``routes`` module declares ``ROUTERS = {access: APIRouter}`` with access one of
    ``APP_ACCESS``; a service whose routes declare no access is refused at start.
    """
    for service in discover_apps():
        routes = service.module("routes")
        if routes is None:
            continue
        routers = getattr(routes, "ROUTERS", None)
        if not isinstance(routers, dict) or not routers:
            raise ValueError(
                f"apps/{service.name}/routes.py must declare ROUTERS = {{access: APIRouter}} "
                f"with access one of {sorted(APP_ACCESS)}"
            )
        for access, router in routers.items():
            if access not in APP_ACCESS:
                raise ValueError(
                    f"apps/{service.name}/routes.py: unknown access {access!r} "
                    f"(one of {sorted(APP_ACCESS)})"
                )
            app.include_router(
                router,
                prefix=f"/v1/apps/{service.name}",
                dependencies=[requires(APP_ACCESS[access])],
            )
