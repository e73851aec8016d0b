"""The order in which a request is refused, the same for every route of the API:

1. a URL whose path or query is not UTF-8 once percent-decoded, or whose path holds a control
   character: ``400 malformed_encoding`` (the server would otherwise replace the bad bytes, or
   its route patterns drop a final line feed, and serve another key than was asked; such keys
   are read with ``encoding=hex``);
2. the caller's access (``api.auth``): ``401`` without a valid token, ``403`` without the kind,
   role or department the route declares;
3. a JSON body sent as another media type: ``415 unsupported_media_type``;
4. the route's input checks: ``400``/``413``/``422``.

FastAPI decodes a JSON body before it solves any dependency, so a malformed body reaches the
error handlers before the route's access dependency has run; the handlers installed here run
that check first (``auth.declared_access``). Errors a route raises after its dependencies ran
need nothing: its access was checked by then.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from govchain.api.auth import ACCESS_CHECKED, declared_access
from govchain.api.deps import declares_body, media_refusal
from govchain.api.problems import (
    concrete_paths,
    error_response,
    http_error,
    method_not_allowed,
    validation_error,
)
from govchain.errors import GovchainError, MalformedEncoding

API_PREFIXES = ("/v1/", "/oidc/", "/problems/", "/.well-known/")
"""Paths of the API (the portal's pages answer their own errors)."""


def _utf8(raw: bytes) -> bool:
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _controls(raw: bytes) -> bool:
    """Whether a percent-decoded path holds a control character (U+0000-U+001F, U+007F)."""
    return any(b < 0x20 or b == 0x7F for b in unquote_to_bytes(raw))


def malformed(raw_path: bytes, query: bytes) -> MalformedEncoding | None:
    """Why a URL may not be served as it is (``None``: it may)."""
    for part, raw in (("path", raw_path), ("query", query)):
        if not _utf8(raw):
            return MalformedEncoding(
                f"the URL's {part} is not UTF-8 once percent-decoded", part=part
            )
    if _controls(raw_path):
        return MalformedEncoding(
            "the URL's path holds a control character (read such a key with encoding=hex)",
            part="path",
        )
    return None


class Utf8Urls:
    """ASGI middleware: refuse an API request whose path or query string is not UTF-8 after
    percent-decoding (``%ff%fe``); servers decode such bytes to U+FFFD, a different key."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIXES):
            raw_path: bytes = scope.get("raw_path") or b""
            query: bytes = scope.get("query_string") or b""
            exc = malformed(raw_path, query)
            if exc is not None:
                # The path as sent: its decoded form holds U+FFFD instead of the bytes.
                instance = raw_path.decode("ascii", "replace") or scope["path"]
                await error_response(exc, instance)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ConcretePaths:
    """ASGI middleware: a path without parameters belongs to its own routes, as in OpenAPI
    path matching. ``GET /v1/transactions/batch`` is a 405 naming the batch endpoint's
    ``POST``, not a lookup of a transaction called ``batch`` by
    ``GET /v1/transactions/{tx_id}``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._table: dict[str, list[str]] = {}
        self._routes = -1

    def _methods(self, app: FastAPI) -> dict[str, list[str]]:
        # Rebuilt when routes are added (tests include routers into a running app).
        if len(app.routes) != self._routes:
            self._table = concrete_paths(app)
            self._routes = len(app.routes)
        return self._table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope.get("app")
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIXES) and app:
            root: str = scope.get("root_path", "")
            allowed = self._methods(app).get(scope["path"].removeprefix(root))
            if allowed and scope["method"] not in allowed:
                await method_not_allowed(scope["method"], scope["path"], allowed)(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)


async def refusal(request: Request) -> GovchainError | None:
    """Return why the caller may not call the route the request was routed to (``None`` if
    it may, if its access was checked already, or if the request reached no route)."""
    if request.scope.get(ACCESS_CHECKED):
        return None
    access = declared_access(request.scope)
    if access is None:
        return None
    try:
        await access(request)
    except GovchainError as exc:
        return exc
    return None


def _wrong_media(request: Request, exc: RequestValidationError) -> GovchainError | None:
    # FastAPI hands a body of another media type to the model as bytes, which always fails
    # with an error located in the body.
    if not declares_body(request) or not any(
        tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors()
    ):
        return None
    return media_refusal(request)


def install(app: FastAPI) -> None:
    """Install the URL checks and the access-first order on ``app``, in place of two of
    ``problems.install``'s handlers (which answer what remains)."""
    app.add_middleware(ConcretePaths)
    app.add_middleware(Utf8Urls)  # outermost: a malformed URL is refused before anything else

    async def input_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        refused = await refusal(request)
        if refused is not None:
            return error_response(refused, request.url.path)
        refused = _wrong_media(request, exc)
        if refused is not None:
            return error_response(refused, request.url.path)
        return await validation_error(request, exc)

    async def body_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        # 400 and 413 are what FastAPI answers when it cannot read a body (before any
        # dependency); 404 and 405 come from routing, where no access was declared yet.
        if exc.status_code in (400, 413):
            refused = await refusal(request)
            if refused is not None:
                return error_response(refused, request.url.path)
        return await http_error(request, exc)

    app.add_exception_handler(RequestValidationError, input_error)
    app.add_exception_handler(StarletteHTTPException, body_error)
