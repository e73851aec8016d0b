"""The OpenID Connect provider's endpoints: discovery, JWKS, authorize (login page), token,
userinfo and logout. Every app and the portal log in here (single sign-on).

The login session is a cookie (HttpOnly, SameSite=Lax) scoped to ``/oidc``; tokens are JWTs
signed with the platform key (``identity.tokens``). Token-endpoint errors carry RFC 6749's
``error`` member next to the problem document's fields, so OAuth client libraries read them.
"""

from __future__ import annotations

import base64
import html
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote, urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from govchain.api.auth import PUBLIC, USER, IdentityDep, requires
from govchain.api.identity_schemas import OAuthErrorPublic
from govchain.api.openapi import problem_responses
from govchain.api.responses import json_response
from govchain.errors import (
    AccountLocked,
    Forbidden,
    GovchainError,
    InvalidToken,
    OAuthError,
    SchemaViolation,
)
from govchain.identity.oidc import Principal
from govchain.identity.service import Identity

router = APIRouter(tags=["oidc"])

SESSION_COOKIE = "govchain_session"
"""Name of the provider's login-session cookie."""
_AUTH_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_PAGE_HEADERS = {
    **_NO_STORE,
    # The login page must not be framed by another site (clickjacking of the password form).
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
MAX_FORM_BYTES = 16 * 1024
"""Largest accepted form body."""

# What the endpoints read themselves (from the query or a form), documented for clients.
_FORM = "application/x-www-form-urlencoded"
_TEXT = {"type": "string"}
_AUTH_FIELDS: dict[str, dict[str, Any]] = {
    "response_type": {"type": "string", "enum": ["code"]},
    "client_id": {"type": "string", "description": "A registered client."},
    "redirect_uri": {"type": "string", "description": "One of the client's redirect URIs."},
    "scope": {"type": "string", "description": "Space-separated; `openid` among them."},
    "state": _TEXT,
    "nonce": _TEXT,
    "code_challenge": {"type": "string", "description": "PKCE S256 challenge."},
    "code_challenge_method": {"type": "string", "enum": ["S256"]},
}
_AUTH_REQUIRED = ("response_type", "client_id", "redirect_uri", "code_challenge")


def _form_body(fields: dict[str, dict[str, Any]], required: tuple[str, ...]) -> dict[str, Any]:
    schema = {"type": "object", "properties": fields, "required": list(required)}
    return {"requestBody": {"required": True, "content": {_FORM: {"schema": schema}}}}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": _TEXT}}}


_OAUTH_REFUSED = (
    "The authorization request is refused (`oauth_error`: an unknown client, a redirect URI "
    "it did not register, a missing or unsupported parameter)."
)
_FORM_REFUSED = "The form is over 16 KiB or not UTF-8."
_REDIRECT = {"description": "Back to the client's redirect URI (`Location`)."}


async def _form(request: Request) -> dict[str, str]:
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise SchemaViolation("the form is too large")
    try:
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        raise SchemaViolation("the form is not UTF-8") from None


def _login_page(
    client_name: str,
    params: dict[str, str],
    message: str,
    status: int,
    headers: dict[str, str] | None = None,
) -> Response:
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(params[k])}">'
        for k in _AUTH_PARAMS
        if k in params
    )
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>统一身份认证 · Unified login</title></head>
<body><main>
<h1>统一身份认证 <small>Unified login</small></h1>
<p>登录以使用 {html.escape(client_name)} · Log in to use {html.escape(client_name)}</p>
{note}
<form method="post" action="/oidc/authorize">{hidden}
<label>身份证号 / 统一社会信用代码 / 工作账号 · Login
<input name="login" autocomplete="username" required></label>
<label>密码 · Password
<input name="password" type="password" autocomplete="current-password" required></label>
<label>动态口令（如已开启）· One-time code (if enabled)
<input name="otp" inputmode="numeric" autocomplete="one-time-code"></label>
<button type="submit">登录 · Log in</button>
</form></main></body></html>"""
    return HTMLResponse(page, status, headers={**_PAGE_HEADERS, **(headers or {})})


def _check_same_origin(request: Request, issuer: str) -> None:
    """Refuse a login form posted from another site (login CSRF): browsers send ``Origin`` and
    ``Sec-Fetch-Site`` on every cross-site POST; programs that send neither are not browsers."""
    own = {issuer.rstrip("/"), str(request.base_url).rstrip("/")}
    origin = request.headers.get("origin")
    if (origin is not None and origin != "null" and origin.rstrip("/") not in own) or (
        request.headers.get("sec-fetch-site") == "cross-site"
    ):
        raise Forbidden("the login form may only be posted from this login page")


def _detail(request: Request, params: dict[str, str]) -> dict[str, str]:
    client = request.client
    return {"client": params.get("client_id", ""), "ip": client.host if client else ""}


@router.get(
    "/.well-known/openid-configuration",
    dependencies=[requires(PUBLIC)],
    summary="OpenID Provider metadata (discovery)",
)
def discovery(identity: IdentityDep) -> dict[str, Any]:
    """Return the provider's endpoints and capabilities."""
    return identity.provider.discovery()


@router.get("/oidc/jwks", dependencies=[requires(PUBLIC)], summary="The token-signing keys")
def jwks(identity: IdentityDep) -> dict[str, Any]:
    """Return the JWK Set relying parties verify tokens with."""
    return identity.provider.jwks()


@router.get(
    "/oidc/authorize",
    dependencies=[requires(PUBLIC)],
    response_class=HTMLResponse,
    summary="Authorization endpoint: the login page, or straight back with a code",
    responses={
        302: {"description": "Logged in already: back to the client with a code (`Location`)."},
        **problem_responses({400: _OAUTH_REFUSED}),
    },
    openapi_extra={
        "parameters": [
            {"name": k, "in": "query", "required": k in _AUTH_REQUIRED, "schema": v}
            for k, v in _AUTH_FIELDS.items()
        ]
    },
)
def authorize(request: Request, identity: IdentityDep) -> Response:
    """With a valid login session, redirect back with a code at once (single sign-on)."""
    params = dict(request.query_params)
    client = identity.provider.check_authorization_request(params)
    session = identity.provider.session_user(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        sid, user = session
        url = identity.provider.authorize(params, sid, user)
        return RedirectResponse(url, 302, headers=_NO_STORE)
    return _login_page(client.name, params, "", 200)


@router.post(
    "/oidc/authorize",
    dependencies=[requires(PUBLIC)],
    response_class=HTMLResponse,
    summary="Log in (form post) and go back to the client with a code",
    responses={
        302: _REDIRECT,
        401: _html("The login failed: the login page again, with the reason."),
        429: _html("Too many failed logins: the login page, with `Retry-After`."),
        **problem_responses(
            {
                400: _OAUTH_REFUSED,
                403: "The form was posted from another site.",
                422: _FORM_REFUSED,
            }
        ),
    },
    openapi_extra=_form_body(
        {**_AUTH_FIELDS, "login": _TEXT, "password": _TEXT, "otp": _TEXT},
        (*_AUTH_REQUIRED, "login", "password"),
    ),
)
async def authorize_login(request: Request, identity: IdentityDep) -> Response:
    """Check the login; on success set the session cookie and redirect with a code."""
    _check_same_origin(request, identity.provider.issuer)
    form = await _form(request)
    params = {k: form[k] for k in _AUTH_PARAMS if k in form}
    client = identity.provider.check_authorization_request(params)
    try:
        user = await run_in_threadpool(
            identity.login,
            form.get("login", ""),
            form.get("password", ""),
            form.get("otp", ""),
            _detail(request, params),
        )
    except AccountLocked as exc:
        # Like every 429 of the API: when to try again (RFC 6585 section 4).
        retry = {"Retry-After": str(max(1, int(exc.fields.get("retry_after_s", 60))))}
        return _login_page(client.name, params, exc.message, 429, retry)
    except GovchainError as exc:
        return _login_page(client.name, params, exc.message, 401)
    cookie = identity.provider.start_session(user)
    url = identity.provider.authorize(params, cookie.partition(".")[0], user)
    response = RedirectResponse(url, 302, headers=_NO_STORE)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        path="/oidc",
        secure=request.url.scheme == "https",
    )
    return response


def _client_auth(request: Request, form: dict[str, str]) -> tuple[str, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise OAuthError(
                "malformed Basic client authentication", error="invalid_client"
            ) from None
        cid, _, secret = decoded.partition(":")
        return unquote(cid), unquote(secret)
    return form.get("client_id", ""), form.get("client_secret") or None


def _oauth_error(exc: GovchainError) -> Response:
    error = exc.fields.get("error", "invalid_request")
    status = 401 if error == "invalid_client" else 400
    body = {"error": error, "error_description": exc.message}
    return json_response(body, status, headers=_NO_STORE)


@router.post(
    "/oidc/token",
    dependencies=[requires(PUBLIC)],
    summary="Token endpoint: authorization_code (PKCE) and refresh_token grants",
    responses={
        400: {"model": OAuthErrorPublic, "description": "The grant is refused (RFC 6749 5.2)."},
        401: {
            "model": OAuthErrorPublic,
            "description": "The client failed to authenticate (`invalid_client`).",
        },
        **problem_responses({422: _FORM_REFUSED}),
    },
    openapi_extra=_form_body(
        {
            "grant_type": {"type": "string", "enum": ["authorization_code", "refresh_token"]},
            "code": _TEXT,
            "redirect_uri": _TEXT,
            "code_verifier": _TEXT,
            "refresh_token": _TEXT,
            "client_id": _TEXT,
            "client_secret": _TEXT,
        },
        ("grant_type",),
    ),
)
async def token(request: Request, identity: IdentityDep) -> Response:
    """Exchange a code (with its PKCE verifier) or a refresh token for tokens."""
    form = await _form(request)
    try:
        client_id, secret = _client_auth(request, form)
        grant = form.get("grant_type", "")
        provider = identity.provider
        if grant == "authorization_code":
            tokens = await run_in_threadpool(
                provider.exchange_code,
                client_id,
                secret,
                form.get("code", ""),
                form.get("redirect_uri", ""),
                form.get("code_verifier", ""),
            )
        elif grant == "refresh_token":
            tokens = await run_in_threadpool(
                provider.refresh, client_id, secret, form.get("refresh_token", "")
            )
            claims = provider.verify_id_token(tokens.id_token)
            identity.log.append(claims["sub"], "token_refreshed", {"client": client_id})
        else:
            raise OAuthError(f"unsupported grant_type {grant!r}", error="unsupported_grant_type")
    except OAuthError as exc:
        return _oauth_error(exc)
    return json_response(tokens.to_json(), 200, headers=_NO_STORE)


Me = Annotated[Principal, requires(USER)]


@router.get("/oidc/userinfo", summary="Claims about the logged-in user")
def userinfo(principal: Me, identity: IdentityDep) -> dict[str, Any]:
    """Return the user's claims for the access token's bearer."""
    return identity.provider.userinfo(principal)


def _logout(request: Request, identity: Identity, params: dict[str, str]) -> Response:
    provider = identity.provider
    sid = ""
    client_id = ""
    hint = params.get("id_token_hint")
    if hint:
        try:
            claims = provider.verify_id_token(hint)
        except InvalidToken:
            claims = {}
        sid = claims.get("sid", "")
        client_id = str(claims.get("aud", ""))
    session = provider.session_user(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        sid = sid or session[0]
    user = provider.end_session(sid) if sid else None
    if user is not None:
        identity.log.append(user, "logout", {"client": client_id})
    target = params.get("post_logout_redirect_uri", "")
    response: Response
    if target and client_id and target in provider.client(client_id).redirect_uris:
        if "state" in params:
            target += ("&" if "?" in target else "?") + urlencode({"state": params["state"]})
        response = RedirectResponse(target, 302)
    else:
        response = HTMLResponse(
            "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>已退出 · Logged out"
            "</title><p>您已退出登录。· You are logged out.</p></html>"
        )
    response.delete_cookie(SESSION_COOKIE, path="/oidc")
    return response


@router.get(
    "/oidc/logout",
    dependencies=[requires(PUBLIC)],
    response_class=HTMLResponse,
    summary="End the login session (RP-initiated logout)",
    responses={
        302: _REDIRECT,
        **problem_responses({400: "The ID token names a client that is not registered."}),
    },
)
def logout(request: Request, identity: IdentityDep) -> Response:
    """Revoke the session: its refresh and access tokens stop working at once."""
    return _logout(request, identity, dict(request.query_params))


@router.post(
    "/oidc/logout",
    dependencies=[requires(PUBLIC)],
    response_class=HTMLResponse,
    summary="End the login session (form post)",
    responses={
        302: _REDIRECT,
        **problem_responses(
            {400: "The ID token names a client that is not registered.", 422: _FORM_REFUSED}
        ),
    },
)
async def logout_post(request: Request, identity: IdentityDep) -> Response:
    """Same as ``GET /oidc/logout`` with form parameters."""
    return _logout(request, identity, await _form(request))
