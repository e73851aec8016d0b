"""Measuring the HTTP layer: latency and answers by route, proof latency, request ids.

An ASGI middleware (outside every route, so it sees the whole answer) times each request and
labels it with the *template* of the route it was routed to (``/v1/state/{key:path}``, never the
key itself: one series per route, not per URL), or ``unmatched``. Requests to the routes that
serve proofs are also counted by proof kind. Each request gets an id — the client's
``X-Request-ID`` if it is well formed, else a new one — sent back in ``X-Request-ID`` and named
by every log line written while it is served (``api.logs``).
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any, Protocol

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govchain.analytics.follow import Follower
from govchain.api.logs import CURRENT_REQUEST, RequestContext
from govchain.node.casework import CaseWorker
from govchain.node.metrics import Counter, Histogram, MetricFamily, Registry, family
from govchain.node.node import Node
from govchain.node.registry_feed import RegistryFeed
from govchain.sharing.service import SharingService

PROOF_ROUTES = {
    "/v1/state/{key:path}": "state",
    "/v1/kv/{key:path}": "state",
    "/v1/log/inclusion": "inclusion",
    "/v1/log/consistency": "consistency",
    "/v1/transactions/{tx_id}/receipt": "receipt",
}
"""Route templates that serve a proof, and the kind of proof each serves."""
UNMATCHED = "unmatched"
"""Route label of a request no route matched (one series for every unknown URL)."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods labelled as themselves; any other is labelled ``other``."""
REQUEST_ID_HEADER = "x-request-id"
"""Header carrying the request id, both ways."""
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_ID_PREFIX = secrets.token_hex(4)
_ID_SEQUENCE = itertools.count(1)
_Series = tuple[Histogram, Counter, Histogram | None]


class HttpMetrics:
    """The HTTP families of a node's registry."""

    def __init__(self, registry: Registry) -> None:
        self._duration = registry.histogram(
            "govchain_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
        )
        self._responses = registry.counter(
            "govchain_http_responses_total",
            "HTTP answers, by method, route template and status code.",
            ["method", "route", "status"],
        )
        self._proofs = registry.histogram(
            "govchain_proof_duration_seconds",
            "Time to serve a proof over HTTP (read, checked against its commitment, encoded), "
            "by kind: state (a key's value against a checkpoint), inclusion and consistency "
            "(transaction log), receipt (an offline-verifiable receipt bundle).",
            ["kind"],
        )

        self._series: dict[tuple[str, str, int], _Series] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            # Routes, methods and statuses are few: the children are looked up once each.
            kind = PROOF_ROUTES.get(route)
            series = self._series[key] = (
                self._duration.labels(method, route),
                self._responses.labels(method, route, str(status)),
                self._proofs.labels(kind) if kind is not None and 200 <= status < 300 else None,
            )
        duration, responses, proof = series
        duration.observe(seconds)
        responses.inc()
        if proof is not None:
            proof.observe(seconds)


def request_id(scope: Scope) -> str:
    """Return the id of a request: its ``X-Request-ID`` if well formed (up to 64 letters,
    digits and ``.``, ``_``, ``:``, ``-``: nothing that could forge a log line), else a new one
    (16 hex digits: a random prefix per process, then a sequence number)."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = bytes(value).decode("latin-1")
            if _REQUEST_ID.fullmatch(text):
                return text
            break
    # Unique without a system call per request (os.urandom cost 2-3 µs here).
    return f"{_ID_PREFIX}{next(_ID_SEQUENCE) & 0xFFFFFFFF:08x}"


def route_template(scope: Scope) -> str:
    """Return the template of the route a request was routed to (``unmatched`` if none)."""
    path: object = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestTelemetry:
    """ASGI middleware: request ids, and each request's latency and status by route."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        method = scope["method"] if scope["method"] in METHODS else "other"
        token = CURRENT_REQUEST.set(RequestContext(rid, scope["method"], scope["path"]))
        status = 500  # unless the application starts an answer
        header = (REQUEST_ID_HEADER.encode(), rid.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.observe(
                method, route_template(scope), status, time.perf_counter() - started
            )
            CURRENT_REQUEST.reset(token)


class _Backlog(Protocol):
    def pending(self) -> int:
        """Items waiting to be written."""
        ...


def service_families(state: Any) -> Iterator[MetricFamily]:
    """The families of the node's workers that the application started (``app.state``): the
    case worker, the register feed and, with the portal mounted, the click log."""
    casework = getattr(state, "casework", None)
    if isinstance(casework, CaseWorker):
        stats = casework.stats
        yield family(
            "govchain_casework_checks_total",
            "counter",
            "Automatic checks of cases answered by this node's case worker, by answer.",
            [({"answer": "yes"}, stats.answered_yes), ({"answer": "no"}, stats.answered_no)],
        )
        yield family(
            "govchain_casework_notices_ended_total",
            "counter",
            "Notice periods of cases ended by this node's case worker.",
            [({}, stats.notices_ended)],
        )
        yield family(
            "govchain_casework_refusals_total",
            "counter",
            "Attestations or transactions of the case worker that were refused.",
            [({}, stats.refused)],
        )
    feed = getattr(state, "registry_feed", None)
    if isinstance(feed, RegistryFeed):
        yield family(
            "govchain_registry_feed_published_total",
            "counter",
            "Enterprise register records published into the registration authority's vault.",
            [({}, feed.published)],
        )
    follower = getattr(state, "analytics", None)
    if isinstance(follower, Follower):
        yield family(
            "govchain_analytics_lag_blocks",
            "gauge",
            "Committed blocks the analytics index has not indexed yet.",
            [({}, follower.lag())],
        )
    clicklog: _Backlog | None = getattr(state, "clicklog", None)
    if clicklog is not None:
        yield family(
            "govchain_clicklog_pending_events",
            "gauge",
            "Portal click-log events recorded and not yet written as a batch (and anchored).",
            [({}, clicklog.pending())],
        )


def install(app: FastAPI) -> None:
    """Measure ``app`` (call last in ``create_app``: the middleware then wraps the others):
    its requests, the sharing service's answers and the workers in ``app.state``."""
    node: Node = app.state.node
    registry = node.metrics.registry
    app.add_middleware(RequestTelemetry, metrics=HttpMetrics(registry))
    sharing: SharingService = app.state.sharing
    sharing.observer = node.metrics.sharing_outcomes
    state = app.state
    registry.add_collector("services", lambda: service_families(state))
