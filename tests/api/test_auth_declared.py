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


def all_routes(app: FastAPI) -> list[tuple[BaseRoute, str, list[Any]]]:
    """Every route as the application serves it, with its full path and the dependencies
    added where its router was included. FastAPI 0.165 keeps included routers as lazy
    ``_IncludedRouter`` entries; its own iterator yields each route with that context."""
    expand = getattr(fastapi.routing, "_iter_routes_with_context", None)
    if expand is None:
        return [(r, getattr(r, "path", ""), []) for r in app.routes]
    out = []
    for route, ctx in expand(app.routes):
        path = (ctx.path if ctx is not None else "") or getattr(route, "path", "")
        extra = [d.dependency for d in ctx.dependencies] if ctx is not None else []
        out.append((route, path, extra))
    return out


def _declarations(dependant: Dependant) -> list[Access]:
    found = [d.call for d in dependant.dependencies if isinstance(d.call, Access)]
    for d in dependant.dependencies:
        found.extend(_declarations(d))
    return found


def test_every_route_declares_its_access(app: FastAPI) -> None:
    missing = []
    seen = 0
    for route, path, extra in all_routes(app):
        if isinstance(route, APIRoute):
            seen += 1
            decls = _declarations(route.dependant) + [d for d in extra if isinstance(d, Access)]
            if len({d.name for d in decls}) != 1:
                missing.append(f"{sorted(route.methods)} {path}: {decls}")
        elif isinstance(route, Route | Mount):
            assert path in FRAMEWORK_ROUTES, f"undeclared non-API route {path}"
    assert seen > 30, "did not find the application's routes"
    assert not missing, "routes without exactly one access declaration:\n" + "\n".join(missing)


def test_protected_routes_refuse_anonymous_callers(app: FastAPI, client: Any) -> None:
    # The declaration is not decoration: every route that is neither public nor authorised by
    # signatures answers 401 without a token, before looking at its input.
    statuses = {}
    for route, full_path, extra in all_routes(app):
        if not isinstance(route, APIRoute):
            continue
        (decl,) = set(_declarations(route.dependant) + [d for d in extra if isinstance(d, Access)])
        if decl in (PUBLIC, SIGNED):
            continue
        path = full_path
        for name in route.param_convertors:
            path = path.replace("{" + name + "}", "tax" if name == "dept" else "x")
        for method in route.methods:
            statuses[f"{method} {path}"] = client.request(method, path, json={}).status_code
    assert len(statuses) > 10
    assert all(s == 401 for s in statuses.values()), statuses
