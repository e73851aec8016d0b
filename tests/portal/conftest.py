"""Fixtures of the portal tests.

- ``site`` (in process, fast): a network in ``tmp_path``, an in-memory embedded node with every
  service deployed and the demo data seeded as ``govchain demo`` seeds it (20 enterprises
  instead of 1,000), the API application with the portal mounted exactly as ``govchain up``
  mounts it (``Secure`` cookies: the clients talk to ``https://testserver``). ``site.client()``
  makes a browser-like client (cookies kept, redirects not followed) that can log in through
  the provider's login form.
- ``demo`` (a real server, for the browser tests): ``govchain demo`` in a subprocess on a free
  loopback port, stopped with SIGTERM by its pid at the end of the module.

The pages of the application flow (``routes/apply.py``, ``routes/cases.py``) and of the staff
workbench (``routes/staff.py``) are written alongside these tests; ``PAGES`` names what each
test needs, and ``need`` fails a test, naming the missing page and the module that serves it,
instead of letting it pass or skip without a word.
"""

from __future__ import annotations

import functools
import html
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.apps.enterprise.demo import DEMO_PASSWORD, seed_demo
from govchain.cli.apps import deploy_in_process
from govchain.identity import totp
from govchain.identity.demo_totp import current_code, demo_key
from govchain.ledger.genesis import Params
from govchain.node.embedded import open_embedded
from govchain.node.network import (
    DEMO_DEPARTMENTS,
    DEMO_SERVICE_DEPARTMENTS,
    NetworkDir,
    init_network,
)
from govchain.node.node import Node
from govchain.node.ratingdesk import rating_of
from govchain.portal.app import mount_portal, read_demo_logins
from govchain.portal.sessions import COOKIE
from govchain.procedures.ratings import RATEABLE

ORIGIN = "https://testserver"
"""Where the in-process clients believe the portal is (HTTPS, so ``Secure`` cookies flow)."""
DEMO_ENTERPRISES = 20
"""Enterprises the in-process seed imports (the fewest the demo's cases need)."""
GOVCHAIN = Path(sys.executable).with_name("govchain")
"""The command line of this virtualenv."""
CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium (``make test`` installs the ``chromium`` package)."""
PAGES = {
    "apply": ("/services/{code}/apply", "routes/apply.py (the application flow)"),
    "cases": ("/cases", "routes/cases.py (my cases)"),
    "case": ("/cases/{number}", "routes/cases.py (a case)"),
    "staff": ("/staff", "routes/staff.py (the staff workbench)"),
    "activity": ("/me/activity", "routes/me.py (what I did, recommendations)"),
}
"""Pages written by the other portal modules: route path and the module serving it."""


PROBE = {"code": "330100-ZX-0001", "number": "20260101-00001-0"}
"""Values put into ``PAGES``' paths to ask whether they are served."""


def served(response: httpx.Response) -> bool:
    """Whether a page is served at all: the API answers a path nobody serves with a 404
    problem document (a served page answers HTML, or sends the browser to log in)."""
    return response.status_code != 404 or "text/html" in response.headers.get("content-type", "")


def has_page(pages: set[str], page: str) -> bool:
    """Whether one of ``PAGES`` is among those served."""
    return page in pages


def need(pages: set[str], *wanted: str) -> None:
    """Fail the test, naming them, when any of these ``PAGES`` is not served."""
    missing = [f"{PAGES[p][0]} from {PAGES[p][1]}" for p in wanted if p not in pages]
    if missing:
        pytest.fail("this test waits for pages not served yet: " + "; ".join(missing))


def logins_of(network_dir: Path) -> dict[str, str]:
    """The demo logins by role: ``citizen``, ``enterprise`` and ``<dept>/<role>`` for staff."""
    out: dict[str, str] = {}
    for entry in read_demo_logins(network_dir):
        key = entry["login"] if entry["kind"] == "staff" else entry["kind"]
        out.setdefault(key, entry["login"])
    return out


def hidden_inputs(page: str) -> dict[str, str]:
    """The hidden inputs of a page's forms (name → value)."""
    found = {}
    for tag in re.findall(r"<input\b[^>]*>", page):
        if 'type="hidden"' in tag:
            name = re.search(r'name="([^"]*)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            if name:
                found[name.group(1)] = html.unescape(value.group(1) if value else "")
    return found


def csrf_of(page: str) -> str:
    """The CSRF token of a page's forms."""
    token = hidden_inputs(page).get("csrf", "")
    assert token, "the page has no CSRF token"
    return token


class Client:
    """A browser-like client of the in-process application: keeps cookies, does not follow
    redirects (tests look at each hop), sends no ``Origin`` unless told."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1") -> None:
        self.app = app
        self._portal_cm: AbstractContextManager[Any] = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=app, raise_app_exceptions=False, client=(host, 50000)
            ),
            base_url=ORIGIN,
        )
        self.seen: list[httpx.Response] = []
        """Every response this client got, in order."""

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request (relative to the portal, or an absolute ``https://testserver`` URL)."""
        if url.startswith(ORIGIN):
            url = url[len(ORIGIN) :]
        call = functools.partial(self.http.request, method, url, **kwargs)
        response: httpx.Response = self._portal.call(call)
        self.seen.append(response)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET, no redirect followed."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST, no redirect followed."""
        return self.request("POST", url, **kwargs)

    def follow(self, response: httpx.Response, limit: int = 10) -> httpx.Response:
        """Follow the redirects of a response (GET each ``Location``)."""
        while response.is_redirect and limit:
            response = self.get(response.headers["location"])
            limit -= 1
        return response

    def login(
        self, login: str, password: str = DEMO_PASSWORD, next_path: str = "/"
    ) -> httpx.Response:
        """Log in through the portal and the provider's login form, as a browser does; return
        the portal's answer to the provider's redirect (``303`` with the session cookie)."""
        start = self.get("/login/start", params={"next": next_path})
        assert start.status_code == 302, start.text
        form_page = self.get(start.headers["location"])
        assert form_page.status_code == 200, form_page.text
        fields = {**hidden_inputs(form_page.text), "login": login, "password": password}
        otp = self.otp(login)
        if otp:
            fields["otp"] = otp
        posted = self.post("/oidc/authorize", data=fields, headers={"Origin": ORIGIN})
        assert posted.status_code == 302, posted.text
        back = self.get(posted.headers["location"])
        assert back.status_code == 303, back.text
        return back

    def otp(self, login: str) -> str:
        """The one-time code a staff account with its demo key logs in with now ('' for
        every other account). A code is accepted once: when this time step's and the next
        one's codes are used, wait for the next step."""
        users = self.app.state.identity.users
        chain_id = self.app.state.node.genesis.chain_id
        user = users.find_login(login)
        if user is None or user.totp_key != demo_key(chain_id, login).hex():
            return ""  # no code, or one only its authenticator knows: the provider decides
        while True:
            found = current_code(users, chain_id, login)
            if found is not None:
                return found[0]
            time.sleep(totp.STEP_S - time.time() % totp.STEP_S + 0.05)

    def session(self) -> Any:
        """The portal's server-side session of this client (``PortalSession``) or ``None``."""
        return self.app.state.portal.sessions.get(self.http.cookies.get(COOKIE))

    def close(self) -> None:
        """Close the client and its event loop thread."""
        self._portal.call(self.http.aclose)
        self._portal_cm.__exit__(None, None, None)


@dataclass
class Site:
    """An in-process node with the portal and the demo data."""

    app: FastAPI
    """The API application with the portal mounted."""
    node: Node
    """The embedded node."""
    root: Path
    """The network directory."""
    logins: dict[str, str]
    """Demo logins (``logins_of``)."""
    clients: list[Client] = field(default_factory=list)
    """Clients made, closed at the end."""

    @functools.cached_property
    def paths(self) -> set[str]:
        """Which of ``PAGES`` the application serves."""
        c = self.client()
        return {p for p, (path, _) in PAGES.items() if served(c.get(path.format(**PROBE)))}

    def client(self, host: str = "127.0.0.1") -> Client:
        """A new client (no cookies) from this address."""
        self.clients.append(Client(self.app, host))
        return self.clients[-1]

    def user_id(self, login: str) -> str:
        """The user id of a login."""
        user = self.app.state.identity.users.find_login(login)
        assert user is not None, login
        return str(user.id)

    def cases_of(self, login: str) -> list[dict[str, Any]]:
        """The cases a login applied for (ledger view ``cases.cases_of``)."""
        found: list[dict[str, Any]] = self.node.query(
            "cases", "cases_of", {"applicant": self.user_id(login)}
        )
        return found

    def someone_elses_case(self, login: str) -> str:
        """The number of a case in a department queue that ``login`` did not apply for."""
        mine = {c["number"] for c in self.cases_of(login)}
        for dept in (d.id for d in self.node.genesis.departments):
            for entry in self.node.query("cases", "queue", {"dept": dept, "limit": 100}):
                if entry["case"] not in mine:
                    return str(entry["case"])
        raise AssertionError("the demo data has no case of another applicant")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A seeded in-process node with the portal (see the module docstring)."""
    root = tmp_path_factory.mktemp("portal") / "net"
    init_network(
        root,
        chain_id="portal-test",
        suite_name="intl",
        departments=[*DEMO_DEPARTMENTS, *DEMO_SERVICE_DEPARTMENTS],
        # Few state buckets keep start-up fast; small blocks cut quickly.
        params=Params(state_buckets=256, block_max_ms=5),
    )
    node = open_embedded(root, in_memory=True)
    node.start()
    try:
        deploy_in_process(node, root)
        app = create_app(
            node,
            ApiSettings(
                network_dir=root,
                wait_timeout_s=20.0,
                issuer=ORIGIN,
                identity_dir=NetworkDir(root).identity_dir,
            ),
        )
        seed_demo(node, app.state, root, count=DEMO_ENTERPRISES)
        mount_portal(app)  # as `govchain up` does: Secure cookies
        made = Site(app, node, root, logins_of(root))
        yield made
        for c in made.clients:
            c.close()
    finally:
        node.stop(drain=True)


# --- a real `govchain demo` for the browser tests -------------------------------------------


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Demo:
    """A running ``govchain demo``."""

    url: str
    """Its address (``http://127.0.0.1:<port>``)."""
    root: Path
    """Its network directory."""
    proc: subprocess.Popen[bytes]
    """The process."""
    log: Path
    """Its output."""
    logins: dict[str, str]
    """Demo logins (``logins_of``)."""

    @functools.cached_property
    def paths(self) -> set[str]:
        """Which of ``PAGES`` it serves."""
        return {
            p
            for p, (path, _) in PAGES.items()
            if served(httpx.get(self.url + path.format(**PROBE), timeout=30))
        }

    def stop(self) -> int:
        """Stop it with SIGTERM (it commits what is queued and exits 0)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_demo(directory: Path, log: Path, timeout_s: float = 420.0) -> Demo:
    """Start ``govchain demo --dir directory`` on a free port; return once ``/v1/health``
    answers (the demo data is seeded before the server listens)."""
    port = free_port()
    env = {
        **os.environ,
        "COLUMNS": "200",
        "NO_COLOR": "1",
        # The demo's data, smaller: the pages are the same, the seeding much shorter.
        "GOVCHAIN_DEMO_ENTERPRISES": "120",
        "GOVCHAIN_DEMO_SUPERVISION": "300",
        "GOVCHAIN_DEMO_RESIDENTS": "60",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(GOVCHAIN), "demo", "--dir", str(directory), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    demo = Demo(url, directory, proc, log, {})
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"govchain demo exited:\n{log.read_text()}")
        try:
            if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            demo.stop()
            raise AssertionError(
                f"govchain demo did not answer in {timeout_s} s:\n{log.read_text()}"
            )
        time.sleep(0.2)
    demo.logins = logins_of(directory)
    return demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A real ``govchain demo`` on a free port, for the module."""
    folder = tmp_path_factory.mktemp("demo")
    running = start_demo(folder / "demo", folder / "demo.log")
    try:
        yield running
    finally:
        assert running.stop() == 0, running.log.read_text()


def path_of(url: str) -> str:
    """The path and query of a URL."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- the pages every test visits ---------------------------------------------------------

GUIDE_CODE = "330100-ZX-0001"
"""A service whose guide the tests open (企业简易注销登记)."""
FILING = "330100-BA-0003"
"""A service the tests apply for (报关单位备案: one page of each kind, who to check)."""


def pages_to_visit(site: Site) -> dict[str, list[str]]:
    """The portal's pages by who looks at them (``anonymous``, ``citizen``, ``staff``); the
    pages of the other portal modules are included when they are served."""
    paths = site.paths
    citizen = site.logins["citizen"]
    out = {
        "anonymous": [
            "/",
            "/services",
            "/services?q=注销",
            "/services?q=食品&category=permit",
            "/services?event=close_business",
            f"/services/{GUIDE_CODE}",
            "/login?next=%2Fcases",
            "/services/no-such-service",
        ],
        "citizen": ["/", f"/services/{GUIDE_CODE}"],
        "staff": ["/", "/services"],
    }
    if has_page(paths, "cases"):
        out["citizen"].append("/cases")
    if has_page(paths, "case"):
        numbers = [c["number"] for c in site.cases_of(citizen)[:3]]
        out["citizen"] += [f"/cases/{n}" for n in numbers]
        out["citizen"].append(f"/cases/{numbers[0]}/confirmation")
    if has_page(paths, "apply"):
        out["citizen"] += [f"/services/{FILING}/apply", f"/services/{FILING}/apply/who"]
    if has_page(paths, "activity"):
        out["citizen"].append("/me/activity")
    if has_page(paths, "staff"):
        queue = site.node.query("cases", "queue", {"dept": "market", "limit": 1})
        out["staff"] += ["/staff", "/staff?overdue=true", f"/staff/cases/{queue[0]['case']}"]
        out["citizen"].append("/staff")  # refused: a 403 page
    # The account pages, a case the citizen may rate (its page has the rating form), and the
    # staff's service figures and follow-ups of bad ratings.
    out["citizen"] += ["/notices", "/me/data", "/enterprises/agents"]
    out["citizen"] += [f"/cases/{n}" for n in rateable_cases(site, citizen)[:1]]
    out["staff"] += ["/notices", "/staff/figures", "/staff/follow-ups"]
    # Decision support and supervision: the dashboards with charts (partials/chart.html).
    out["staff"] += ["/staff/decisions", "/staff/decisions/market", "/staff/supervision"]
    return out


def rateable_cases(site: Site, login: str) -> list[str]:
    """The numbers of the cases ``login`` applied for that have ended for them and are not
    rated yet (their pages show the rating form)."""
    return [
        c["number"]
        for c in site.cases_of(login)
        if c["status"] in RATEABLE and rating_of(site.app.state.casedesk, c["number"]) is None
    ]
