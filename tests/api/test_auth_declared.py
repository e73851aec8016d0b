"""Every endpoint declares who may call it (``api.auth.Access``); this walks all routes."""

from __future__ import annotations

from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount, Route

from govchain.api.auth import PUBLIC, SIGNED, Access

# Routes FastAPI itself adds (the OpenAPI document) and static assets of /docs: public by nature.
FRAMEWORK_ROUTES = {"/openapi.json", "/docs-static", "/docs/oauth2-redirect", "/redoc"}


def all_routes(app: FastAPI) -> list[BaseRoute]:
    """Every route as the application serves it. FastAPI 0.165 keeps included routers as lazy
    ``_IncludedRouter`` entries; its own iterator yields the effective routes (with the
    router's dependencies merged in)."""
    expand = getattr(fastapi.routing, "_iter_included_route_candidates", None)
    return list(expand(app.routes)) if expand is not None else list(app.routes)


def _declarations(dependant: Dependant) -> list[Access]:
    found = [d.call for d in dependant.dependencies if isinstance(d.call, Access)]
    for d in dependant.dependencies:
        found.extend(_declarations(d))
    return found


def test_every_route_declares_its_access(app: FastAPI) -> None:
    missing = []
    seen = 0
    for route in all_routes(app):
        if isinstance(route, APIRoute):
            seen += 1
            decls = _declarations(route.dependant)
            if len({d.name for d in decls}) != 1:
                missing.append(f"{sorted(route.methods)} {route.path}: {decls}")
        elif isinstance(route, Route | Mount):
            assert route.path in FRAMEWORK_ROUTES, f"undeclared non-API route {route.path}"
    assert seen > 30, "did not find the application's routes"
    assert not missing, "routes without exactly one access declaration:\n" + "\n".join(missing)


def test_protected_routes_refuse_anonymous_callers(app: FastAPI, client: Any) -> None:
    # The declaration is not decoration: every route that is neither public nor authorised by
    # signatures answers 401 without a token, before looking at its input.
    statuses = {}
    for route in all_routes(app):
        if not isinstance(route, APIRoute):
            continue
        (decl,) = set(_declarations(route.dependant))
        if decl in (PUBLIC, SIGNED):
            continue
        path = route.path
        for name in route.param_convertors:
            path = path.replace("{" + name + "}", "tax" if name == "dept" else "x")
        for method in route.methods:
            statuses[f"{method} {path}"] = client.request(method, path, json={}).status_code
    assert len(statuses) > 10
    assert all(s == 401 for s in statuses.values()), statuses
