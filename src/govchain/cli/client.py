"""A small HTTP client of the node API (httpx): problems become ``ProblemError``."""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from govchain.cli.output import CliError, ProblemError

DEFAULT_URL = "http://127.0.0.1:8700"
"""Where ``govchain up`` serves by default."""


def path_segment(text: str) -> str:
    """Percent-encode a key for use in a URL path (slashes kept)."""
    return quote(text, safe="/")


class NodeClient:
    """Talks to one node's API."""

    def __init__(self, url: str, timeout: float = 60.0, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        # The bearer access token of a login session (``cli/session.py``), sent on every call.
        headers = {"authorization": f"Bearer {token}"} if token else None
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers)

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; raise ``ProblemError`` for an error answer, ``CliError`` if the node
        cannot be reached."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise CliError(f"cannot reach the node at {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise _problem(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON document."""
        return self.request("GET", path, params=params or None).json()

    def post(self, path: str, content: bytes, **params: Any) -> Any:
        """POST raw JSON bytes and return the JSON answer."""
        headers = {"content-type": "application/json"}
        return self.request("POST", path, content=content, headers=headers, params=params).json()


def _problem(response: httpx.Response) -> CliError:
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if isinstance(doc, dict) and "code" in doc:
        return ProblemError(response.status_code, str(doc["code"]), str(doc.get("detail", "")), doc)
    if isinstance(doc, dict) and doc.get("status") == "failed":  # health of a failed node
        err = doc.get("error") or {}
        return CliError(f"the node has failed: {err.get('message', 'unknown error')}")
    return CliError(f"the node answered HTTP {response.status_code}: {response.text[:200]}")
