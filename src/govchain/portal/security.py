"""What every portal page is protected by: security headers, CSRF tokens, a rate limit on
starting logins.

- Content Security Policy without inline scripts or styles: scripts and styles only from the
  portal's own ``/static``; no framing; forms post only to the portal itself.
- Every form carries the session's CSRF token, compared in constant time; a post whose
  ``Origin`` (or ``Sec-Fetch-Site``) says it came from another site is refused before that.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable

from starlette.requests import Request

from govchain.errors import Forbidden, GovchainError

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Headers of every page."""


class TooManyRequests(GovchainError):
    """Too many logins started from one address; ``retry_after`` seconds to wait."""

    code = "too_many_requests"


def check_csrf(request: Request, expected: str, given: str | None) -> None:
    """Refuse a cross-site post or a missing or wrong CSRF token."""
    origin = request.headers.get("origin")
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("this form was posted from another site")
    if origin is not None and origin != "null":
        own = f"{request.url.scheme}://{request.url.netloc}"
        if origin != own:
            raise Forbidden("this form was posted from another site")
    if not given or not hmac.compare_digest(expected, given):
        raise Forbidden("the form's security token is missing or out of date: reload the page")


class RateLimit:
    """At most ``count`` events per ``window_s`` per key (a sliding window)."""

    def __init__(
        self, count: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.count = count
        self.window_s = window_s
        self._clock = clock
        self._seen: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one event; ``TooManyRequests`` when over the limit."""
        now = self._clock()
        with self._lock:
            if len(self._seen) > 100_000:
                self._seen.clear()
            recent = [t for t in self._seen.get(key, []) if now - t < self.window_s]
            if len(recent) >= self.count:
                wait = int(self.window_s - (now - recent[0])) + 1
                raise TooManyRequests(
                    f"too many logins from this address: try again in {wait} s", retry_after=wait
                )
            recent.append(now)
            self._seen[key] = recent
