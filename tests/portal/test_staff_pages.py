"""The staff workbench (工作台) of the portal, driven like a browser (in-process ASGI, the login
through the node's own OpenID Connect provider): a registration handled by staff of three
departments; only the actions the case engine allows a person are offered, and forged posts
are refused with nothing written; batch actions; field errors; overdue warnings."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.cli.apps import publish_definitions
from govchain.ledger.genesis import Params
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node
from govchain.portal.app import mount_portal
from govchain.sdk import find_app

PASSWORD = "Test-password-2026"
CITIZEN_ID = "11010519491231002X"  # GB 11643 example number (valid check character)
REGISTRATION = "330100-DJ-0001"
MATERIALS = ("application", "articles", "shareholders", "appointments", "premises")
FORM = {
    "division": "330106",
    "legal_rep_name": "王伟",
    "legal_rep_id": CITIZEN_ID,
    "industry": "6210",
    "capital_fen": 100_000_000,
    "address": "杭州市西湖区文三路100号",
    "scope": "餐饮服务；食品销售",
    "contact_phone": "13800001234",
}
NAMES = ("杭州恒瑞餐饮管理有限公司", "杭州明远餐饮管理有限公司")
STAFF = (
    ("market/officer-1", "market", "officer"),
    ("market/approver-1", "market", "approver"),
    ("market/admin-1", "market", "admin"),
    ("tax/officer-1", "tax", "officer"),
    ("hrss/officer-1", "hrss", "officer"),
)
OVERDUE = '<strong class="status overdue">Overdue</strong>'
DAY_MS = 86_400_000
START_MS = 1_796_090_400_000  # 2026-12-01T02:00:00Z: Tuesday 10:00 in Beijing, a working day


class Clock:
    """The node's clock, moved on by the test."""

    def __init__(self) -> None:
        self.now = START_MS

    def __call__(self) -> int:
        self.now += 1  # strictly increasing block times
        return self.now


class Browser:
    """One browser of the portal (its cookies kept), calling the app in-process."""

    def __init__(self, app: FastAPI) -> None:
        self._portal_cm: AbstractContextManager[Any] = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver",
            cookies={"govchain_lang": "en"},
        )

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(functools.partial(self.http.get, url, **kwargs))

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(functools.partial(self.http.post, url, **kwargs))

    def login(self, login: str) -> None:
        r = self.get("/login/start?next=/staff")
        query = dict(httpx.URL(r.headers["location"]).params)
        r = self.post("/oidc/authorize", data={**query, "login": login, "password": PASSWORD})
        assert r.status_code == 302, r.text
        r = self.get(r.headers["location"].replace("http://testserver", ""))
        assert r.status_code == 303, r.text

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.get("/staff").text)
        assert found is not None
        return found.group(1)

    def act(self, number: str, transition: str, **form: Any) -> httpx.Response:
        """Post an action's form the way the case page does."""
        return self.post(f"/staff/cases/{number}/{transition}", data={"csrf": self.csrf(), **form})

    def close(self) -> None:
        self._portal.call(self.http.aclose)
        self._portal_cm.__exit__(None, None, None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def node(tmp_path: Path, clock: Clock) -> Iterator[Node]:
    root = tmp_path / "net"
    init_network(
        root,
        chain_id="staff-pages",
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=5),
    )
    n = open_embedded(root, in_memory=True, clock_ms=clock)
    n.start()
    try:
        service = find_app("enterprise")
        publish_definitions(n, root, service.definitions(), service.resources())
        yield n
    finally:
        n.close()


@pytest.fixture
def app(node: Node, tmp_path: Path) -> FastAPI:
    net = NetworkDir(tmp_path / "net")
    app = create_app(
        node, ApiSettings(network_dir=net.root, wait_timeout_s=20.0, issuer="http://testserver")
    )
    mount_portal(app, secure_cookies=False)
    users = app.state.identity.users
    for login, dept, role in STAFF:
        users.create_staff(login, "李四", dept, role, PASSWORD)
    return app


@pytest.fixture
def applicant(app: FastAPI) -> str:
    """The pseudonymous id of the citizen who applies."""
    user_id: str = app.state.identity.users.create_citizen(CITIZEN_ID, "王伟", PASSWORD).id
    return user_id


@pytest.fixture
def browser(app: FastAPI) -> Iterator[Callable[[str], Browser]]:
    """Open a browser logged in as someone."""
    opened: list[Browser] = []

    def open_as(login: str) -> Browser:
        b = Browser(app)
        opened.append(b)
        b.login(login)
        return b

    yield open_as
    for b in opened:
        b.close()


def submit(app: FastAPI, applicant: str, name: str = NAMES[0]) -> str:
    """Apply for a registration as the citizen (through the case desk, as the API does);
    return the case number."""
    desk = app.state.casedesk
    materials = {
        m: desk.upload("market", applicant, f"{m}.pdf", "application/pdf", f"{m}: {name}".encode())[
            "hash"
        ]
        for m in MATERIALS
    }
    tx = desk.submission(
        applicant, "session-1", REGISTRATION, {**FORM, "name": name}, materials, []
    )
    outcomes = desk.node.submit([tx.envelope()], raw=False, wait=True, timeout=20.0)
    assert not isinstance(outcomes[0], Exception), outcomes
    cases = desk.node.query("cases", "cases_of", {"applicant": applicant})
    number: str = next(c["number"] for c in cases if c["history"][0]["tx"] == tx.tx_id.hex())
    return number


def case_of(app: FastAPI, number: str) -> dict[str, Any]:
    found: dict[str, Any] = app.state.casedesk.case(number)
    return found


def offered(page: str, number: str, transition: str) -> bool:
    """Whether the page has the form of an action."""
    return f'action="/staff/cases/{number}/{transition}"' in page


def done(r: httpx.Response) -> str:
    """Follow a successful action to the case page; return that page."""
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert re.search(r"\?done=\w+&tx=[0-9a-f]{64}$", location), location
    return location


def test_a_registration_handled_through_the_workbench(
    app: FastAPI, applicant: str, browser: Callable[[str], Browser]
) -> None:
    number = submit(app, applicant)
    market = browser("market/officer-1")
    r = market.get("/staff")
    assert r.status_code == 200 and "Workbench" in r.text
    assert f'value="{number}"' in r.text and "Accept selected" in r.text

    page = market.get(f"/staff/cases/{number}").text
    assert offered(page, number, "accept") and offered(page, number, "reject")
    assert case_of(app, number)["applicant"] in page  # the pseudonymous id, nothing more
    assert CITIZEN_ID not in page
    page = market.get(done(market.act(number, "accept"))).text
    assert "Accept the case: done." in page and "Recorded in transaction" in page

    queue = market.get("/staff").text
    assert f'value="{number}:review"' in queue  # the review step, ready to claim
    page = market.get(done(market.act(number, "claim", step="review"))).text
    assert not offered(page, number, "claim") and offered(page, number, "complete")
    done(market.act(number, "complete", step="review", result="pass", note="材料齐全"))

    # The review opened the tax and social insurance steps, each for its own department.
    for login, step in (("tax/officer-1", "tax_setup"), ("hrss/officer-1", "social_insurance")):
        officer = browser(login)
        assert f'value="{number}:{step}"' in officer.get("/staff").text
        done(officer.act(number, "complete", step=step, result="pass"))

    # Deciding is the approver's: the officer is not offered it.
    assert not offered(market.get(f"/staff/cases/{number}").text, number, "decide")
    approver = browser("market/approver-1")
    queue = approver.get("/staff").text
    assert f'href="/staff/cases/{number}"' in queue and "Record the decision" in queue
    page = approver.get(done(approver.act(number, "decide", outcome="approve"))).text
    case = case_of(app, number)
    assert case["status"] == "issued"
    uscc = case["outputs"][0]["uscc"]
    assert f'href="/v1/enterprises/{uscc}"' in page and "Enterprise registered" in page
    events = [h["event"] for h in case["history"]]
    assert events == ["submitted", "accepted", "claimed", *["step_pass"] * 3, "approved"]
    for h in case["history"]:  # every timeline entry links to its verifiable receipt
        link = f"/v1/transactions/{h['tx']}/receipt"
        assert link in page
        assert approver.get(link).status_code == 200

    # Issued: the officer closes it from the decision queue; then nothing more is offered.
    queue = market.get("/staff").text
    assert f'href="/staff/cases/{number}"' in queue and "Close the case" in queue
    page = market.get(done(market.act(number, "close"))).text
    assert case_of(app, number)["status"] == "closed" and "What you can do" not in page

    # Chinese first: the same page in the default language.
    approver.http.cookies.delete("govchain_lang")
    zh = approver.get(f"/staff/cases/{number}").text
    assert "工作台" in zh and "办件" in zh


def test_staff_pages_are_for_staff(
    app: FastAPI, applicant: str, browser: Callable[[str], Browser]
) -> None:
    citizen = browser(CITIZEN_ID)
    r = citizen.get("/staff")
    assert r.status_code == 403 and "department staff" in r.text
    assert r.headers["content-type"].startswith("text/html")
    anonymous = Browser(app)
    try:
        r = anonymous.get("/staff")
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    finally:
        anonymous.close()


def test_another_department_is_offered_nothing_and_a_forged_post_is_refused(
    app: FastAPI, applicant: str, browser: Callable[[str], Browser]
) -> None:
    number = submit(app, applicant)
    before = case_of(app, number)
    tax = browser("tax/officer-1")
    assert f'value="{number}"' not in tax.get("/staff").text
    page = tax.get(f"/staff/cases/{number}")  # tax handles a step of it, so may read it
    assert page.status_code == 200
    assert not offered(page.text, number, "accept") and "What you can do" not in page.text
    r = tax.act(number, "accept")
    assert r.status_code == 403 and "market" in r.text
    assert (
        tax.act(number, "answer_check").status_code == 404
    )  # the department's node's, not staff's
    assert case_of(app, number) == before

    # The market's own approver is not an officer: no accepting either.
    approver = browser("market/approver-1")
    assert not offered(approver.get(f"/staff/cases/{number}").text, number, "accept")
    assert approver.act(number, "accept").status_code == 403
    assert case_of(app, number) == before


def test_a_forged_csrf_token_or_another_site_is_refused(
    app: FastAPI, applicant: str, browser: Callable[[str], Browser]
) -> None:
    number = submit(app, applicant)
    before = case_of(app, number)
    market = browser("market/officer-1")
    r = market.post(f"/staff/cases/{number}/accept", data={"csrf": "forged"})
    assert r.status_code == 403 and "security token" in r.text
    r = market.post(f"/staff/cases/{number}/accept", data={})
    assert r.status_code == 403
    r = market.post(
        f"/staff/cases/{number}/accept",
        data={"csrf": market.csrf()},
        headers={"origin": "https://evil.example"},
    )
    assert r.status_code == 403 and "another site" in r.text
    r = market.post("/staff/batch", data={"csrf": "forged", "action": "accept", "item": number})
    assert r.status_code == 403
    assert case_of(app, number) == before


def test_batch_accept_and_claim(
    app: FastAPI, applicant: str, browser: Callable[[str], Browser]
) -> None:
    first, second = (submit(app, applicant, name) for name in NAMES)
    market = browser("market/officer-1")
    queue = market.get("/staff").text
    assert f'value="{first}"' in queue and f'value="{second}"' in queue
    r = market.post(
        "/staff/batch",
        data={"csrf": market.csrf(), "action": "accept", "item": [first, second]},
    )
    assert r.status_code == 200 and r.text.count("Verify") == 2
    assert {case_of(app, n)["status"] for n in (first, second)} == {"accepted"}

    unknown = "20261201-99999-3"
    items = [f"{first}:review", f"{second}:review", f"{unknown}:review"]
    r = market.post("/staff/batch", data={"csrf": market.csrf(), "action": "claim", "item": items})
    assert r.status_code == 200
    assert '<dd id="succeeded">2</dd>' in r.text and '<dd id="refused">1</dd>' in r.text
    assert f"no case &#39;{unknown}&#39;" in r.text  # the refusal's own message
    for n in (first, second):
        assert case_of(app, n)["steps"][0]["assignee"] == "market/officer-1"
    mine = market.get("/staff?mine=true").text
    assert f'href="/staff/cases/{first}"' in mine and f'href="/staff/cases/{second}"' in mine
    # Claimed by me already: nothing left to claim.
    assert "Claim selected" not in mine

    r = market.post("/staff/batch", data={"csrf": market.csrf(), "action": "claim"})
    assert r.status_code == 200 and "Select at least one case" in r.text


def test_problems_are_shown_next_to_their_fields(
    app: FastAPI, applicant: str, browser: Callable[[str], Browser]
) -> None:
    number = submit(app, applicant)
    market = browser("market/officer-1")
    r = market.act(number, "reject", reason="  ")
    assert r.status_code == 422
    assert 'href="#reject-reason"' in r.text and 'id="reject-reason-error"' in r.text
    done(market.act(number, "accept"))
    done(market.act(number, "claim", step="review"))
    before = case_of(app, number)

    r = market.act(number, "complete", step="review", result="fail", note="")
    assert r.status_code == 422
    assert "There is a problem" in r.text and "Write a note saying why it fails" in r.text
    assert 'href="#complete-review-note"' in r.text and 'id="complete-review-note-error"' in r.text
    assert 'value="fail" checked' in r.text  # what the person chose is kept
    r = market.act(number, "complete", step="review")
    assert r.status_code == 422 and "Choose pass or fail" in r.text
    r = market.act(number, "request_supplement", items="", reason="缺少章程")
    assert r.status_code == 422 and 'id="request_supplement-items-error"' in r.text
    assert case_of(app, number) == before

    r = market.act(
        number, "request_supplement", items="公司章程（签字页）\n\n股东名册", reason="缺页"
    )
    done(r)
    case = case_of(app, number)
    assert case["status"] == "supplement_requested"
    assert case["supplement"]["items"] == ["公司章程（签字页）", "股东名册"]
    page = market.get(f"/staff/cases/{number}").text
    assert "股东名册" in page and not offered(page, number, "complete")


def test_materials_are_downloaded_by_the_department_that_keeps_them(
    app: FastAPI, applicant: str, browser: Callable[[str], Browser]
) -> None:
    number = submit(app, applicant)
    digest = case_of(app, number)["materials"]["articles"]
    market = browser("market/officer-1")
    link = f"/staff/cases/{number}/materials/{digest}"
    assert link in market.get(f"/staff/cases/{number}").text
    r = market.get(link)
    assert r.status_code == 200 and r.content == f"articles: {NAMES[0]}".encode()
    assert r.headers["content-disposition"] == "attachment; filename*=UTF-8''articles.pdf"
    tax = browser("tax/officer-1")
    assert link not in tax.get(f"/staff/cases/{number}").text
    assert tax.get(link).status_code == 403
    assert market.get(f"/staff/cases/{number}/materials/{'0' * 64}").status_code == 404


def test_overdue_steps_are_flagged(
    app: FastAPI, applicant: str, clock: Clock, browser: Callable[[str], Browser]
) -> None:
    number = submit(app, applicant)
    market = browser("market/officer-1")
    done(market.act(number, "accept"))
    # The review has one working day: due by the end of Wednesday 2 December.
    queue = market.get("/staff").text
    assert "Due within 1 working day" in queue and OVERDUE not in queue
    assert number not in market.get("/staff?overdue=true").text

    clock.now += 6 * DAY_MS  # Monday 7 December
    queue = market.get("/staff").text
    assert OVERDUE in queue and "Due within 1 working day" not in queue
    assert f'href="/staff/cases/{number}"' in market.get("/staff?overdue=true").text
    assert OVERDUE in market.get(f"/staff/cases/{number}").text


def test_an_admin_sees_every_role_and_reassigns(
    app: FastAPI, applicant: str, browser: Callable[[str], Browser]
) -> None:
    number = submit(app, applicant)
    market = browser("market/officer-1")
    done(market.act(number, "accept"))
    done(market.act(number, "claim", step="review"))
    assert not offered(market.get(f"/staff/cases/{number}").text, number, "reassign")

    admin = browser("market/admin-1")
    queue = admin.get("/staff").text
    assert 'name="role"' in queue and f'href="/staff/cases/{number}"' in queue
    assert f'href="/staff/cases/{number}"' not in admin.get("/staff?role=inspector").text
    r = admin.act(number, "reassign", step="review", to="tax/officer-1")
    assert r.status_code == 422 and 'id="reassign-review-to-error"' in r.text
    done(admin.act(number, "reassign", step="review", to="market/officer-2"))
    assert case_of(app, number)["steps"][0]["assignee"] == "market/officer-2"
    # The first officer no longer holds the step: completing it is refused, not offered.
    assert not offered(market.get(f"/staff/cases/{number}").text, number, "complete")
    r = market.act(number, "complete", step="review", result="pass")
    assert r.status_code == 403


def test_the_approver_rejects_with_a_reason(
    app: FastAPI, applicant: str, browser: Callable[[str], Browser]
) -> None:
    number = submit(app, applicant)
    market = browser("market/officer-1")
    done(market.act(number, "accept"))
    approver = browser("market/approver-1")
    page = approver.get(f"/staff/cases/{number}").text
    # Steps are still open: rejecting is possible, approving is not, so only "reject" is offered.
    assert offered(page, number, "decide") and 'name="outcome" value="reject"' in page
    assert 'value="approve"' not in page and not offered(page, number, "reject")
    r = approver.act(number, "decide", outcome="reject", reason="")
    assert r.status_code == 422 and 'id="decide-reason-error"' in r.text
    r = approver.act(number, "decide", outcome="approve")
    assert r.status_code == 409 and "steps not passed" in r.text
    assert case_of(app, number)["status"] == "accepted"
    done(approver.act(number, "decide", outcome="reject", reason="名称与已登记企业近似"))
    case = case_of(app, number)
    assert (case["status"], case["outcome"], case["reason"]) == (
        "decided",
        "rejected",
        "名称与已登记企业近似",
    )
    assert f'href="/staff/cases/{number}"' in market.get("/staff").text  # waiting to be closed
    done(market.act(number, "close"))
    assert case_of(app, number)["status"] == "closed"
