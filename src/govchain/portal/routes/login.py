"""One login: the portal is an ordinary OpenID Connect client of the node's own provider
(authorization code with PKCE ``S256``, ``state`` and ``nonce``); it keeps no password. Logout
ends the provider's login session too."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from govchain.errors import GovchainError, Unauthenticated
from govchain.identity.demo_totp import current_code
from govchain.identity.tokens import b64u
from govchain.portal import i18n
from govchain.portal.security import check_csrf
from govchain.portal.sessions import COOKIE, MAX_S, PortalSession
from govchain.portal.web import (
    CLIENT_ID,
    demo_logins,
    portal_of,
    redirect,
    render,
    safe_next,
    session_of,
)

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(request: Request, next: Annotated[str, Query(max_length=500)] = "/") -> Response:
    """Who may log in here; the demo network lists accounts to try, with the current one-time
    code of each demo officer whose account uses its demo key."""
    demo = demo_logins(request)
    users = request.app.state.identity.users
    chain = request.app.state.node.genesis.chain_id
    listed = []
    for entry in demo:
        found = current_code(users, chain, entry["login"]) if entry["kind"] == "staff" else None
        listed.append(
            {**entry, "code": found[0] if found else "", "seconds": found[1] if found else 0}
        )
    return render(
        request,
        "login.html",
        next_path=safe_next(next),
        demo=listed,
        staff_totp=users.staff_totp_required(),
    )


@router.get("/login/start")
def login_start(request: Request, next: Annotated[str, Query(max_length=500)] = "/") -> Response:
    """Send the browser to the provider's login page (rate-limited per address)."""
    portal = portal_of(request)
    portal.logins.hit(request.client.host if request.client else "?")
    state, pending = portal.sessions.start_login(safe_next(next))
    challenge = b64u(hashlib.sha256(pending.verifier.encode()).digest())
    query = urlencode(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": portal.redirect_uri,
            "scope": "openid profile",
            "state": state,
            "nonce": pending.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return redirect(f"/oidc/authorize?{query}", status=302)


@router.get("/callback")
def callback(
    request: Request,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=500)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The provider's answer: redeem the code (PKCE), check the ID token's nonce, start the
    portal session."""
    portal = portal_of(request)
    pending = portal.sessions.finish_login(state)
    if pending is None:
        raise Unauthenticated("this login is unknown or took too long: please log in again")
    if error or not code:
        raise Unauthenticated(f"the login did not complete ({error or 'no code'})")
    provider = request.app.state.identity.provider
    tokens = provider.exchange_code(CLIENT_ID, None, code, portal.redirect_uri, pending.verifier)
    claims = provider.verify_id_token(tokens.id_token, CLIENT_ID)
    if claims.get("nonce") != pending.nonce:
        raise Unauthenticated("the login answer does not belong to this browser")
    principal = provider.verify_access_token(tokens.access_token)
    session = PortalSession(
        sid=secrets.token_urlsafe(32),
        user=principal.user,
        kind=principal.kind,
        name=str(claims.get("name", principal.user)),
        dept=principal.dept,
        role=principal.role,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        provider_sid=principal.sid,
    )
    portal.sessions.add(session)
    response = redirect(pending.next_path)
    response.set_cookie(
        COOKIE,
        session.sid,
        max_age=MAX_S,
        httponly=True,
        secure=portal.secure_cookies,
        samesite="lax",
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """End the portal session and the provider's login session."""
    session = session_of(request)
    response = redirect("/")
    response.delete_cookie(COOKIE, path="/")
    if session is None:
        return response
    check_csrf(request, session.csrf, csrf)
    portal_of(request).sessions.end(session.sid)
    with contextlib.suppress(GovchainError):  # ended already
        request.app.state.identity.provider.end_session(session.provider_sid)
    return response


@router.get("/lang/{lang}")
def choose_language(
    lang: str, request: Request, next: Annotated[str, Query(max_length=500)] = "/"
) -> Response:
    """Switch the page language (remembered in a cookie for a year)."""
    response = redirect(safe_next(next))
    if lang in i18n.LANGUAGES:
        response.set_cookie(
            i18n.COOKIE,
            lang,
            max_age=365 * 86400,
            httponly=True,
            secure=portal_of(request).secure_cookies,
            samesite="lax",
            path="/",
        )
    return response
