"""Mount the portal on the node's application: pages at ``/``, its files at ``/static``.

The portal registers itself at the node's OpenID Connect provider as the public client
``portal`` (PKCE, redirect ``<issuer>/callback``) and otherwise uses what the API application
already holds: the identity service, the case desk, the node.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from govchain.errors import GovchainError, OAuthError
from govchain.node.ratingdesk import figure_book
from govchain.portal.funnel import Funnel
from govchain.portal.routes import apply, cases, funds, home, login, me, projects, ratings, staff
from govchain.portal.routes import credentials as creds
from govchain.portal.routes import decisions as dec
from govchain.portal.routes import policies as pol
from govchain.portal.routes import supervision as sv
from govchain.portal.security import RateLimit
from govchain.portal.sessions import SessionStore
from govchain.portal.web import (
    CLIENT_ID,
    Portal,
    environments,
    error_page,
    read_demo_logins,
)

PORTAL_PREFIXES = ("/v1/", "/oidc/", "/.well-known/", "/docs", "/openapi", "/problems", "/healthz")
"""Paths that are the API's, not the portal's (their errors stay problem documents)."""


def mount_portal(app: FastAPI, *, secure_cookies: bool = True) -> None:
    """Add the portal's pages to the node's application (``create_app``'s result)."""
    settings = app.state.settings
    redirect_uri = f"{settings.issuer_url}/callback"
    provider = app.state.identity.provider
    try:
        known = list(provider.client(CLIENT_ID).redirect_uris)
    except OAuthError:
        known = []
    if redirect_uri not in known:  # a public client (PKCE); another port adds its address
        provider.register_client(CLIENT_ID, "统一门户 / Unified portal", [*known, redirect_uri])
    app.state.portal = Portal(
        sessions=SessionStore(),
        logins=RateLimit(30, 60.0),
        redirect_uri=redirect_uri,
        templates=environments(),
        demo_logins=read_demo_logins(settings.network_dir),
        secure_cookies=secure_cookies,
    )
    static = resources.files("govchain.portal").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    for module in (login, home, staff, ratings, projects, funds, sv, dec, pol, apply, cases, me,
                   creds):  # fmt: skip
        app.include_router(module.router)
    me.install(app)  # the click log, its recording middleware, the recommender's model
    book = figure_book(app.state, app.state.casedesk)
    app.state.funnel = Funnel(app.state.clicklog, book.service_of)
    previous = app.exception_handlers.get(GovchainError)

    async def portal_errors(request: Request, exc: Exception) -> Response:
        # The API's routes answer problem documents; the portal's pages answer pages.
        if request.url.path.startswith(PORTAL_PREFIXES) or not isinstance(exc, GovchainError):
            if previous is None:
                raise exc
            result: Response = await previous(request, exc)  # type: ignore[misc]
            return result
        return error_page(request, exc)

    app.add_exception_handler(GovchainError, portal_errors)
