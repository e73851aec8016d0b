"""Portal sessions and logins in progress, kept on the server (the browser holds only a random
id in an HttpOnly, Secure, SameSite=Lax cookie).

A session holds the tokens the provider issued and a CSRF token; it ends when the user logs
out, after ``IDLE_S`` without a request or ``MAX_S`` in all, or when the provider's session ends
(each request checks the access token, which the provider refuses once its session is over).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "govchain_portal"
"""Name of the session cookie."""
IDLE_S = 30 * 60
"""A session unused this long ends."""
MAX_S = 8 * 3600
"""No session lasts longer (the provider's login session lasts as long)."""
LOGIN_TTL_S = 10 * 60
"""A login started but not finished within this is forgotten."""
MAX_PENDING = 10_000
"""Logins in progress kept at most (the oldest are dropped)."""


@dataclass(slots=True)
class PortalSession:
    """A logged-in browser."""

    sid: str
    """Random id, the cookie's value."""
    user: str
    """User id (``citizen/…``, ``enterprise/…``, ``dept/name``)."""
    kind: str
    """``citizen``, ``enterprise`` or ``staff``."""
    name: str
    """Display name."""
    dept: str
    """Department of staff ('' otherwise)."""
    role: str
    """Role of staff ('' otherwise)."""
    access_token: str
    """Bearer token for the node's services."""
    refresh_token: str
    """To renew the access token."""
    provider_sid: str
    """The provider's login session (ended on logout)."""
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    """Token every form of this session carries."""
    created: float = field(default_factory=time.monotonic)
    """When it started."""
    seen: float = field(default_factory=time.monotonic)
    """When it was last used."""
    token_expires: float = 0.0
    """When the access token expires (monotonic)."""


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """A login sent to the provider and not yet back."""

    verifier: str
    """PKCE code verifier."""
    nonce: str
    """Expected in the ID token."""
    next_path: str
    """Where to go after login."""
    created: float
    """When it started."""


class SessionStore:
    """Sessions and pending logins (thread-safe, in memory: a restart logs everyone out)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sessions: dict[str, PortalSession] = {}
        self._pending: dict[str, PendingLogin] = {}
        self._lock = threading.Lock()

    def start_login(self, next_path: str) -> tuple[str, PendingLogin]:
        """Remember a new login; return its ``state`` and what the callback checks."""
        state = secrets.token_urlsafe(24)
        pending = PendingLogin(
            secrets.token_urlsafe(48), secrets.token_urlsafe(16), next_path, self._clock()
        )
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                oldest = min(self._pending, key=lambda s: self._pending[s].created)
                del self._pending[oldest]
            self._pending[state] = pending
        return state, pending

    def finish_login(self, state: str) -> PendingLogin | None:
        """Take a pending login back (once); ``None`` if unknown or expired."""
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None or self._clock() - pending.created > LOGIN_TTL_S:
            return None
        return pending

    def add(self, session: PortalSession) -> None:
        """Keep a new session."""
        session.created = session.seen = self._clock()
        with self._lock:
            self._sessions[session.sid] = session

    def get(self, sid: str | None) -> PortalSession | None:
        """The live session of a cookie value (``None`` if none, ended or expired)."""
        if not sid:
            return None
        now = self._clock()
        with self._lock:
            s = self._sessions.get(sid)
            if s is None:
                return None
            if now - s.seen > IDLE_S or now - s.created > MAX_S:
                del self._sessions[sid]
                return None
            s.seen = now
            return s

    def end(self, sid: str) -> PortalSession | None:
        """Forget a session (logout); return it if it existed."""
        with self._lock:
            return self._sessions.pop(sid, None)

    def __len__(self) -> int:
        return len(self._sessions)
