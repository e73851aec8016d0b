"""My activity (我的点击记录): what the click log holds about me, its download, the
personalisation switch; the middleware that records page views, searches and clicks; and the
"you may also need" block of the home page.

- ``ClickRecorder`` (pure ASGI, added by ``install``) records a ``GET`` of a portal page that
  answered ``200`` with HTML, for a logged-in person who did not opt out: a *search* is
  ``/services?q=…`` (its words kept), a *click* a page reached from another portal page (the
  ``Referer``'s path kept), anything else a *view*. Nothing of ``/v1/``, ``/oidc/``,
  ``/static/`` or the API's other paths.
- ``Journeys`` keeps the recommender's model up to date: everyone's cases in submission order
  (the cases contract's applicant index in the committed state) and the service guides viewed
  (from the click log's batches), rebuilt at most every ``REBUILD_S`` once something changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import orjson
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import Response

from govchain.errors import NotFound
from govchain.ledger.chain import CommittedBlock
from govchain.node.casedesk import CaseDesk
from govchain.node.network import NetworkDir
from govchain.node.node import Node
from govchain.portal.clicklog import (
    RETENTION_DAYS,
    ClickLog,
    KvAnchor,
    load_or_create_key,
)
from govchain.portal.messages import N_
from govchain.portal.recommend import (
    Attributes,
    EnterpriseFacts,
    Model,
    build_model,
    recommend,
)
from govchain.portal.routes import agents, mydata, notices
from govchain.portal.security import HEADERS, check_csrf
from govchain.portal.sessions import COOKIE, PortalSession
from govchain.portal.web import desk_of, node_of, redirect, render, require
from govchain.procedures.layout import CASES

router = APIRouter(include_in_schema=False)

NOT_PAGES = (
    "/v1/", "/oidc/", "/static/", "/.well-known/", "/docs", "/openapi", "/problems", "/healthz",
)  # fmt: skip
"""Paths that are not portal pages (the API's, the provider's, files)."""
PORTAL_DEPT = "market"
"""Department that runs the portal and signs the click log's anchors, when this node holds
its key (otherwise the first department whose key it holds)."""
SUGGESTIONS = 5
"""Suggestions on the home page."""
LATEST = 200
"""Events shown on the activity page."""
REBUILD_S = 60.0
"""The model is rebuilt at most this often (and only after a new case or a guide view)."""
VIEWS_KEPT = 50
"""Latest guide views kept per person for the model."""
KIND_NAMES = {"view": N_("Page view"), "search": N_("Search"), "click": N_("Click")}
"""What each kind of event is called on the page."""

_logger = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# --- recording --------------------------------------------------------------------------------


class ClickRecorder:
    """ASGI middleware: records portal page views, searches and clicks (module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; record it once it answered a page."""
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"].startswith(NOT_PAGES)
        ):
            await self.app(scope, receive, send)
            return
        seen = [0, False]  # status, whether the body is HTML

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen[0] = message["status"]
                for name, value in message.get("headers", ()):
                    if name == b"content-type":
                        seen[1] = value.startswith(b"text/html")
            await send(message)

        await self.app(scope, receive, watch)
        if seen[0] == 200 and seen[1]:
            observe(scope)


def observe(scope: Scope) -> bool:
    """Record the page request of ``scope`` for its logged-in person; ``False`` if nobody is
    logged in, they opted out, or the portal has no click log."""
    state = scope["app"].state
    log: ClickLog | None = getattr(state, "clicklog", None)
    portal = getattr(state, "portal", None)
    if log is None or portal is None:
        return False
    cookie, referer, host = "", "", ""
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookie = value.decode("latin-1")
        elif name == b"referer":
            referer = value.decode("latin-1")
        elif name == b"host":
            host = value.decode("latin-1")
    sid = next(
        (v for k, _, v in (p.strip().partition("=") for p in cookie.split(";")) if k == COOKIE), ""
    )
    session: PortalSession | None = portal.sessions.get(sid) if sid else None
    if session is None:
        return False
    path: str = scope["path"]
    kind, detail = "view", ""
    if path == "/services":
        words = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("q", [""])[0]
        if words.strip():
            kind, detail = "search", words.strip()
    if kind == "view" and referer:
        came = urlsplit(referer)
        if came.netloc == host and not came.path.startswith(NOT_PAGES):
            kind, detail = "click", came.path
    return log.record(session.user, kind, path, detail)


def portal_dept(node: Node, network_dir: Any) -> str:
    """The department whose key signs the anchors (``PORTAL_DEPT`` if this node holds it)."""
    net = NetworkDir(network_dir)
    depts = [PORTAL_DEPT, *(d.id for d in node.genesis.departments if d.id != PORTAL_DEPT)]
    for dept in depts:
        try:
            net.member_key(f"{dept}/admin")
        except NotFound:
            continue
        return dept
    raise NotFound("this node holds no department's key to anchor the click log with")


def install(app: FastAPI) -> ClickLog:
    """Open the click log in the node's store, start its writer (closed with the node), keep
    the recommender's model, add the recording middleware; serve the account pages
    (notices, agents, my data)."""
    node: Node = app.state.node
    desk: CaseDesk = app.state.casedesk
    network_dir = app.state.settings.network_dir
    try:
        anchor: KvAnchor | None = KvAnchor(node, desk, portal_dept(node, network_dir))
    except NotFound as exc:  # still logged and chained; verify_chain checks no anchors
        _logger.warning("click log: batches are not anchored: %s", exc.message)
        anchor = None
    log = ClickLog(
        node.ledger.store, node.suite.hash, load_or_create_key(network_dir), anchor=anchor
    )
    app.state.clicklog = log
    app.state.journeys = Journeys(node, desk, log)
    node.before_close.append(log.close)
    log.start()
    app.add_middleware(ClickRecorder)
    # The account pages: the notification centre (and the bell of every page), who acts for
    # an enterprise, and who read my data.
    notices.install(app)
    app.include_router(agents.router)
    app.include_router(mydata.router)
    return log


# --- the model ------------------------------------------------------------------------------


class Journeys:
    """Everyone's sequences of services, and the model built from them."""

    def __init__(self, node: Node, desk: CaseDesk, log: ClickLog) -> None:
        self.node = node
        self.desk = desk
        self._views: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._model: Model | None = None
        self._built = 0.0
        self._dirty = True
        node.listeners.append(self._on_block)
        log.listeners.append(self._on_clicks)

    def _on_block(self, block: CommittedBlock) -> None:
        """Committer thread: a new case or definition makes the model stale."""
        for receipt in block.result.receipts:
            for event in receipt.events:
                if event["type"] in ("cases.submitted", "services.published"):
                    self._dirty = True
                    return

    def _on_clicks(self, events: list[dict[str, Any]]) -> None:
        """Writer thread: remember the service guides each pseudonym viewed."""
        with self._lock:
            for e in events:
                parts = e["path"].split("/")
                if len(parts) == 3 and parts[1] == "services" and parts[2]:
                    seen = self._views.setdefault(e["who"], [])
                    if not seen or seen[-1] != parts[2]:
                        seen.append(parts[2])
                        del seen[:-VIEWS_KEPT]
                        self._dirty = True

    def viewed(self, who: str) -> tuple[str, ...]:
        """The guides a pseudonym viewed, oldest first."""
        with self._lock:
            return tuple(self._views.get(who, ()))

    def case_sequences(self) -> list[list[str]]:
        """Every applicant's services in submission order (the cases contract's applicant
        index ``by/<applicant>/<case number>``; case numbers sort by submission)."""
        prefix = CASES + b"by/"
        out: dict[str, list[str]] = {}
        for key, found in self.node.ledger.state.iter_range(prefix):
            applicant = key[len(prefix) :].decode().rpartition("/")[0]
            if found.value is not None:
                out.setdefault(applicant, []).append(orjson.loads(found.value)["service"])
        return list(out.values())

    def model(self) -> Model:
        """The model (rebuilt when stale and ``REBUILD_S`` has passed)."""
        if self._model is None or (self._dirty and time.monotonic() - self._built > REBUILD_S):
            self._dirty = False
            with self._lock:
                views = [list(v) for v in self._views.values()]
            self._model = build_model(
                self.desk.catalogue().list(), [*self.case_sequences(), *views]
            )
            self._built = time.monotonic()
        return self._model


def suggestions_for(
    request: Request, session: PortalSession, cases: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]] | None:
    """ "You may also need" for a citizen or enterprise (``None`` for staff and for people who
    switched personalisation off): ``{code, name, reason, method}`` each."""
    log: ClickLog | None = getattr(request.app.state, "clicklog", None)
    journeys: Journeys | None = getattr(request.app.state, "journeys", None)
    if session.kind == "staff" or log is None or journeys is None:
        return None
    if not log.personalised(session.user):
        return None
    node = node_of(request)
    if cases is None:
        cases = node.query("cases", "cases_of", {"applicant": session.user, "limit": 1000})
    firms = node.query("registry", "acting_for", {"agent": session.user})
    every = {c["number"]: c for c in cases}
    for firm in firms:
        about = node.query("cases", "cases_about", {"subject": firm["uscc"], "limit": 1000})
        every.update({c["number"]: c for c in about})
    history = [every[n]["service"] for n in sorted(every)]
    facts = tuple(
        EnterpriseFacts(f["name"], f.get("industry", ""), f.get("scope", ""), f.get("status", ""))
        for f in firms
    )
    attributes = Attributes(facts, journeys.viewed(log.pseudonym(session.user)))
    model = journeys.model()
    return [
        {
            "code": s.code,
            "name": model.services[s.code].name,
            "reason": s.reason,
            "method": s.method,
        }
        for s in recommend(history, attributes, model, SUGGESTIONS)
    ]


# --- pages ------------------------------------------------------------------------------------


def _log(request: Request) -> ClickLog:
    found: ClickLog | None = getattr(request.app.state, "clicklog", None)
    if found is None:
        raise NotFound("this portal keeps no click log")
    return found


@router.get("/me/activity")
def activity(request: Request) -> Response:
    """My click log (latest events), its download, and the personalisation switch."""
    session = require(request)
    log = _log(request)
    names = {d["code"]: d["name"] for d in desk_of(request).catalogue().list()}
    return render(
        request,
        "me_activity.html",
        session=session,
        events=log.latest(session.user, LATEST),
        personalised=log.personalised(session.user),
        pseudonym=log.pseudonym(session.user),
        retention_days=RETENTION_DAYS,
        kinds=KIND_NAMES,
        names=names,
        limit=LATEST,
    )


@router.get("/me/activity.json")
def activity_json(request: Request) -> Response:
    """All my click log events as a JSON file."""
    session = require(request)
    log = _log(request)
    body = {
        "pseudonym": log.pseudonym(session.user),
        "retention_days": RETENTION_DAYS,
        "personalised": log.personalised(session.user),
        "events": log.export(session.user),
    }
    return Response(
        orjson.dumps(body, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={**HEADERS, "Content-Disposition": 'attachment; filename="my-activity.json"'},
    )


@router.post("/me/personalisation")
def personalisation(
    request: Request,
    on: Annotated[str, Form(max_length=1)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Switch logging and personalised suggestions on (``on=1``) or off (``on=0``)."""
    session = require(request)
    check_csrf(request, session.csrf, csrf)
    _log(request).set_personalised(session.user, on == "1")
    return redirect("/me/activity")
