"""The one place that maps govchain errors to HTTP: RFC 9457 ``application/problem+json``.

Every error response of the API is a problem document::

    {"type": "/problems/bad_signature", "title": "Bad signature", "status": 400,
     "detail": "signature does not verify under the key of 'tax/admin'",
     "code": "bad_signature", "tx_id": "..."}

``code`` is the error's stable machine-readable code; the error's typed fields follow it. The
``type`` URI resolves to a description of the code (``GET /problems/{code}``).

Status codes of the ``GovchainError`` tree (the most specific class wins):

=======================================================================  ======
MalformedEncoding (also a URL that is not UTF-8)                         400
SchemaViolation (BadArguments, request validation)                       422
TooLarge                                                                 413
UnsupportedMediaType (a JSON body not sent as ``application/json``)      415
BadSignature, UnknownSigner, ReplayedNonce, WrongChain, ProofError,
other InvalidInput                                                       400
NotFound (no such block, transaction, key, route)                        404
Forbidden                                                                403
AccountLocked (too many failed logins; ``Retry-After``)                  429
Unauthenticated, InvalidToken, BadCredentials (``WWW-Authenticate``)     401
Conflict, DuplicateTransaction                                           409
Unavailable                                                              503
BudgetExhausted (a contract view used up its steps)                      422
IntegrityError, any other GovchainError                                  500
anything else (a bug): generic detail, logged                            500
=======================================================================  ======
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from govchain.api.responses import json_response
from govchain.contracts.errors import BudgetExhausted
from govchain.errors import (
    AccountLocked,
    BadSignature,
    Conflict,
    Forbidden,
    GovchainError,
    IntegrityError,
    InvalidInput,
    MalformedEncoding,
    NotFound,
    ProofError,
    ReplayedNonce,
    SchemaViolation,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnknownSigner,
    WrongChain,
)

log = logging.getLogger("govchain.api")


class UnsupportedMediaType(InvalidInput):
    """A JSON body was sent without the ``application/json`` (or ``+json``) media type.

    Only HTTP has media types, so this leaf of the error tree lives here, with its status."""

    code = "unsupported_media_type"


PROBLEM_JSON = "application/problem+json"
"""Media type of every error response."""

PROBLEM_BASE = "/problems/"
"""Prefix of problem ``type`` URIs; ``GET /problems/{code}`` describes each code."""

STATUS_OF: dict[type[GovchainError], int] = {
    MalformedEncoding: 400,
    SchemaViolation: 422,
    TooLarge: 413,
    UnsupportedMediaType: 415,
    BadSignature: 400,
    UnknownSigner: 400,
    ReplayedNonce: 400,
    WrongChain: 400,
    ProofError: 400,
    InvalidInput: 400,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    Unavailable: 503,
    IntegrityError: 500,
    Unauthenticated: 401,
    AccountLocked: 429,
    BudgetExhausted: 422,
    GovchainError: 500,
}
"""HTTP status of each class of the error tree; subclasses inherit their parent's."""

_RESERVED = frozenset({"type", "title", "status", "detail", "instance", "code"})
_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

INTERNAL_ERROR = "internal_error"
"""Code of the problem returned for unexpected exceptions (bugs)."""


def status_of(exc_type: type[GovchainError]) -> int:
    """Return the HTTP status of an error class (its nearest mapped ancestor's)."""
    for cls in exc_type.__mro__:
        status = STATUS_OF.get(cls)
        if status is not None:
            return status
    return 500  # pragma: no cover - GovchainError itself is mapped


def title_of(exc_type: type[GovchainError]) -> str:
    """Return a short human title of an error class: ``BadSignature`` -> ``Bad signature``,
    ``OAuthError`` -> ``OAuth error`` (a word with capitals inside keeps its spelling)."""
    first, *rest = _WORD.split(exc_type.__name__)
    return " ".join([first, *(w if any(c.isupper() for c in w[1:]) else w.lower() for w in rest)])


def problem(
    status: int, code: str, title: str, detail: str, fields: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return a problem document; ``fields`` may not override the standard members."""
    doc: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if fields:
        for k, v in fields.items():
            if k not in _RESERVED:
                doc[k] = v
    return doc


def problem_of(exc: GovchainError) -> dict[str, Any]:
    """Return the problem document of a govchain error, typed fields included."""
    cls = type(exc)
    return problem(status_of(cls), exc.code, title_of(cls), exc.message, exc.fields)


def problem_response(
    doc: dict[str, Any], headers: Mapping[str, str] | None = None, instance: str | None = None
) -> Response:
    """Return a problem document as an ``application/problem+json`` response; ``instance`` is
    the request path the problem occurred at."""
    if instance is not None:
        doc = {**doc, "instance": instance}
    return json_response(doc, doc["status"], media_type=PROBLEM_JSON, headers=headers)


def error_response(exc: GovchainError, instance: str | None = None) -> Response:
    """Return the problem response of a govchain error."""
    doc = problem_of(exc)
    headers = {"Retry-After": "1"} if doc["status"] == 503 else None
    if doc["status"] == 401:
        headers = {"WWW-Authenticate": f'Bearer error="{exc.code}"'}
    elif doc["status"] == 429:
        headers = {"Retry-After": str(exc.fields.get("retry_after_s", 60))}
    return problem_response(doc, headers, instance)


def catalogue() -> dict[str, dict[str, Any]]:
    """Return every known error code with its title, status and description."""
    out: dict[str, dict[str, Any]] = {}
    todo: list[type[GovchainError]] = [GovchainError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        doc = (cls.__doc__ or "").strip().splitlines()
        out.setdefault(
            cls.code,
            {
                "type": PROBLEM_BASE + cls.code,
                "code": cls.code,
                "title": title_of(cls),
                "status": status_of(cls),
                "description": doc[0] if doc else "",
            },
        )
    out[INTERNAL_ERROR] = {
        "type": PROBLEM_BASE + INTERNAL_ERROR,
        "code": INTERNAL_ERROR,
        "title": "Internal error",
        "status": 500,
        "description": "An unexpected error; the node logged the details.",
    }
    return dict(sorted(out.items()))


# --- exception handlers ---------------------------------------------------------------------


async def _govchain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GovchainError)
    if status_of(type(exc)) >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    return error_response(exc, request.url.path)


async def validation_error(request: Request, exc: Exception) -> Response:
    """Answer a request FastAPI found invalid (``RequestValidationError``): 422, every error
    listed."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]
    detail = (
        "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        or "the request is not valid"
    )
    return problem_response(
        problem(422, SchemaViolation.code, title_of(SchemaViolation), detail, {"errors": errors}),
        instance=request.url.path,
    )


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    404: (NotFound.code, title_of(NotFound)),
    405: ("method_not_allowed", "Method not allowed"),
    413: (TooLarge.code, title_of(TooLarge)),
}


def _methods_by_path(app: Any) -> dict[str, tuple[Any, set[str]]]:
    """Map each route path template of ``app`` to its compiled pattern and its methods."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: Any = contexts(app.routes) if contexts is not None else app.routes
    out: dict[str, tuple[Any, set[str]]] = {}
    for route in routes:
        regex = getattr(route, "path_regex", None)
        methods = getattr(route, "methods", None)
        if regex is not None and methods:
            out.setdefault(route.path_format, (regex, set()))[1].update(methods)
    return out


def allowed_methods(app: Any, path: str) -> list[str]:
    """Return the methods served at ``path``, as the description lists them.

    Starlette's 405 names only the methods of the first route whose path matched, while one
    path may be served by several routes (``GET`` and ``POST /oidc/authorize``). Where paths
    overlap (``/v1/transactions/batch`` and ``/v1/transactions/{tx_id}``), the route with the
    fewest parameters is the one the path belongs to, as in OpenAPI path matching."""
    matching = {t: m for t, (regex, m) in _methods_by_path(app).items() if regex.match(path)}
    if not matching:
        return []
    fewest = min(t.count("{") for t in matching)
    return sorted(set().union(*(m for t, m in matching.items() if t.count("{") == fewest)))


def concrete_paths(app: Any) -> dict[str, list[str]]:
    """Map each path of ``app`` without parameters to the methods served there."""
    return {t: sorted(m) for t, (_, m) in _methods_by_path(app).items() if "{" not in t}


def method_not_allowed(method: str, path: str, allowed: list[str]) -> Response:
    """Return the 405 problem response of ``method`` at ``path``, ``Allow`` listing what is."""
    code, title = _HTTP_CODES[405]
    doc = problem(405, code, title, f"method {method} is not allowed on {path}")
    return problem_response(doc, {"Allow": ", ".join(allowed)}, path)


async def http_error(request: Request, exc: Exception) -> Response:
    """Answer an ``HTTPException`` of the framework (no such route, method not allowed, a body
    it could not read) as a problem document."""
    assert isinstance(exc, StarletteHTTPException)
    code, title = _HTTP_CODES.get(exc.status_code, (f"http_{exc.status_code}", "HTTP error"))
    if exc.status_code == 405:
        path: str = request.scope["path"]
        root: str = request.scope.get("root_path", "")
        route_path = path.removeprefix(root) if root and path != root else path
        allowed = allowed_methods(request.app, route_path)
        return method_not_allowed(request.method, request.url.path, allowed)
    if exc.status_code == 404:
        detail = f"no such resource: {request.method} {request.url.path}"
    else:
        detail = str(exc.detail)
    return problem_response(
        problem(exc.status_code, code, title, detail), exc.headers, request.url.path
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # The server also logs the traceback; the client only learns that it was our fault.
    log.error("%s %s raised %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return problem_response(
        problem(
            500,
            INTERNAL_ERROR,
            "Internal error",
            "the node could not handle this request; the error was logged",
        ),
        instance=request.url.path,
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""
    app.add_exception_handler(GovchainError, _govchain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, _unexpected_error)
