"""What every portal page shares: the template environment, the logged-in person, the
language, rendering with the security headers, and error pages.

The portal calls the same service functions as the API (``app.state.casedesk``, the node's
contract views, ``app.state.identity``); it never reaches the ledger by another path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from govchain.errors import (
    Conflict,
    Forbidden,
    GovchainError,
    InvalidInput,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from govchain.identity.oidc import Principal
from govchain.node.casedesk import CaseDesk
from govchain.node.node import Node
from govchain.portal import i18n
from govchain.portal.security import HEADERS, RateLimit, TooManyRequests
from govchain.portal.sessions import COOKIE, PortalSession, SessionStore

CLIENT_ID = "portal"
"""The portal's client id at the node's OpenID Connect provider."""


@dataclass
class Portal:
    """The portal's own state (``app.state.portal``)."""

    sessions: SessionStore
    """Logged-in browsers and logins in progress."""
    logins: RateLimit
    """Logins started per address."""
    redirect_uri: str
    """Where the provider sends the browser back (``…/callback``)."""
    templates: dict[str, jinja2.Environment]
    """The pages, one environment per language (its translations installed once, so that
    requests in different languages rendered at the same time never mix)."""
    demo_logins: list[dict[str, str]]
    """Demo accounts to try, listed on the login page of a demo network ([] otherwise)."""
    secure_cookies: bool
    """Whether cookies are ``Secure`` (always, except plain-HTTP test clients)."""


def read_demo_logins(network_dir: Path) -> list[dict[str, str]]:
    """The demo accounts written by ``govchain demo`` (``demo-logins.txt``), if any."""
    path = Path(network_dir) / "demo-logins.txt"
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] in ("citizen", "enterprise", "staff"):
            found.append({"kind": parts[0], "login": parts[1], "who": parts[2]})
    return found


def demo_logins(request: Request) -> list[dict[str, str]]:
    """The demo accounts to list on the login page (read again until found: ``govchain demo``
    writes the file after it mounted the portal, when it seeds the demo data)."""
    portal = portal_of(request)
    if not portal.demo_logins:
        portal.demo_logins = read_demo_logins(request.app.state.settings.network_dir)
    return portal.demo_logins


def environments() -> dict[str, jinja2.Environment]:
    """A template environment per language."""
    return {lang: environment(lang) for lang in i18n.LANGUAGES}


def environment(lang: str) -> jinja2.Environment:
    """The template environment of a language (autoescaped, its gettext installed)."""
    folder = resources.files("govchain.portal").joinpath("templates")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["t"] = lambda value, lang: i18n.text(lang, value)
    env.filters["yuan"] = lambda fen: f"{int(fen) // 100:,}.{int(fen) % 100:02d}"
    env.filters["cst"] = _cst
    env.filters["urlquote"] = lambda s: quote(str(s), safe="")
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def _cst(ms: int, with_time: bool = True) -> str:
    if not ms:
        return "—"
    fmt = "%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d"
    return time.strftime(fmt, time.gmtime(ms / 1000 + 8 * 3600))


def portal_of(request: Request) -> Portal:
    """The portal's state."""
    found: Portal = request.app.state.portal
    return found


def desk_of(request: Request) -> CaseDesk:
    """The node's case desk."""
    found: CaseDesk = request.app.state.casedesk
    return found


def node_of(request: Request) -> Node:
    """The node."""
    found: Node = request.app.state.node
    return found


def language(request: Request) -> str:
    """The page language of this request."""
    return i18n.choose(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))


def session_of(request: Request) -> PortalSession | None:
    """The logged-in session of this request, if any (its provider session still alive)."""
    portal = portal_of(request)
    session = portal.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        return None
    try:
        request.app.state.identity.provider.verify_access_token(session.access_token)
    except GovchainError:
        if not _refresh(request, session):
            portal.sessions.end(session.sid)
            return None
    return session


def _refresh(request: Request, session: PortalSession) -> bool:
    """Renew an expired access token with the refresh token (the provider rotates it)."""
    try:
        tokens = request.app.state.identity.provider.refresh(CLIENT_ID, None, session.refresh_token)
    except GovchainError:
        return False
    session.access_token = tokens.access_token
    session.refresh_token = tokens.refresh_token
    return True


def principal_of(session: PortalSession) -> Principal:
    """The session's person as the service functions see them."""
    return Principal(
        session.user, session.kind, session.dept, session.role, session.provider_sid, CLIENT_ID
    )


def require(request: Request, kind: str | None = None) -> PortalSession:
    """The logged-in session (``Unauthenticated`` sends the browser to log in)."""
    session = session_of(request)
    if session is None:
        raise Unauthenticated("log in first")
    if kind == "staff" and session.kind != "staff":
        raise Forbidden("this page is for department staff")
    if kind == "public" and session.kind == "staff":
        raise Forbidden("this page is for citizens and enterprises")
    return session


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page in the request's language, with the security headers."""
    portal = portal_of(request)
    lang = language(request)
    env = portal.templates[lang]
    session = context.pop("session", None) or session_of(request)
    page = env.get_template(template)
    html = page.render(
        request=request,
        lang=lang,
        languages=i18n.LANGUAGE_NAMES,
        session=session,
        csrf=session.csrf if session else "",
        path=request.url.path,
        full_path=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def redirect(url: str, status: int = 303) -> RedirectResponse:
    """A redirect with the security headers."""
    return RedirectResponse(url, status_code=status, headers=HEADERS)


def error_page(request: Request, exc: GovchainError) -> Response:
    """A refusal as a page in the person's language (a login when they are not logged in)."""
    if isinstance(exc, Unauthenticated):
        return redirect(f"/login?next={quote(_next_path(request), safe='')}")
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
    response = render(request, "error.html", status=status, error=exc)
    if status == 429:  # RFC 9110 §10.2.3: say when to come back
        response.headers["Retry-After"] = str(exc.fields.get("retry_after", 60))
    return response


_STATUS: tuple[tuple[type[GovchainError], int], ...] = (
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
    (TooManyRequests, 429),
    (Unavailable, 503),
)


def _next_path(request: Request) -> str:
    path = request.url.path
    if path == "/callback":  # a failed login answer: coming back to it would fail again
        return "/"
    return path + (f"?{request.url.query}" if request.url.query else "")


def safe_next(value: str | None) -> str:
    """A same-site path to go to after login (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    # Browsers drop tabs and newlines from URLs: "/\t/evil.example" would become "//evil…".
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "/"
    return value
