"""The account pages: the notification centre (and the bell of every page), who acts for an
enterprise, and my data — in process, on the seeded ``site``."""

from __future__ import annotations

import re

import pytest

from conftest import ORIGIN, Client, Site, csrf_of
from govchain.apps.enterprise.demo import DEMO_PASSWORD
from govchain.node.notifications import board_for

ZH_EN = {"zh": "您的办件已办结", "en": "Your case was decided"}
BODY = {"zh": "准予许可。", "en": "Approved."}
EVIL = "https://evil.example"
AGENT_ID = "11010519491231002X"
"""A second citizen the representative authorises (GB 11643-1999's own example number)."""


def with_check_digit(first17: str) -> str:
    """A resident identity number: 17 digits and the ISO 7064 MOD 11-2 check character
    (GB 11643-1999)."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    return first17 + "10X98765432"[total % 11]


def test_the_check_digit_helper_knows_the_standards_example() -> None:
    assert with_check_digit("11010519491231002") == AGENT_ID  # GB 11643-1999, its example


def logged_in(site: Site, who: str) -> Client:
    c = site.client()
    c.login(site.logins.get(who, who))
    return c


def bell(page: str) -> int:
    """The unread count the header's bell shows (0 when none is shown)."""
    found = re.search(r'id="bell".*?\((\d+)<span class="visually-hidden">', page, re.S)
    return int(found.group(1)) if found else 0


def demo_uscc(site: Site) -> str:
    return site.logins["enterprise"]


@pytest.fixture(scope="module")
def agent(site: Site) -> str:
    """A registered citizen who acts for nobody yet; returns the user id."""
    users = site.app.state.identity.users
    found = users.find_login(AGENT_ID)
    if found is None:
        found = users.create_citizen(AGENT_ID, "王小明", DEMO_PASSWORD)
    return str(found.id)


# --- notices ----------------------------------------------------------------------------------


def test_a_citizen_sees_their_own_and_their_enterprises_notices(site: Site) -> None:
    board = board_for(site.app.state)
    me = site.user_id(site.logins["citizen"])
    mine = board.post(me, "case.decided", ZH_EN, BODY, link="/cases")
    firm = board.post(
        f"uscc:{demo_uscc(site)}", "agent.authorised", {"zh": "企业消息", "en": "Firm news"}, BODY
    )
    theirs = board.post("dept:market", "case.overdue", {"zh": "部门消息", "en": "Dept"}, BODY)
    c = logged_in(site, "citizen")
    home = c.get("/")
    assert bell(home.text) >= 2
    page = c.get("/notices")
    assert page.status_code == 200
    assert f'id="notice-{mine.id}"' in page.text and f'id="notice-{firm.id}"' in page.text
    assert f'id="notice-{theirs.id}"' not in page.text
    assert "您的办件已办结" in page.text and 'href="/cases"' in page.text
    english = c.get("/notices", headers={"Accept-Language": "en"})
    assert "Your case was decided" in english.text or "您的办件已办结" in english.text

    before = board.unread_count(me)
    # A forged post marks nothing read.
    for headers, data in (
        ({}, {"id": mine.id}),
        ({"Origin": EVIL}, {"id": mine.id, "csrf": csrf_of(page.text)}),
    ):
        assert c.post("/notices/read", data=data, headers=headers).status_code == 403
    assert board.unread_count(me) == before
    # Another recipient's notice is not marked by this person.
    done = c.post(
        "/notices/read",
        data={"id": [mine.id, theirs.id], "csrf": csrf_of(page.text)},
        headers={"Origin": ORIGIN},
    )
    assert done.status_code == 303 and done.headers["location"] == "/notices"
    assert board.unread_count(me) == before - 1
    assert board.list("dept:market")[0].read is False
    unread = c.get("/notices?unread=1").text
    assert f'id="notice-{mine.id}"' not in unread and f'id="notice-{firm.id}"' in unread
    everything = c.post(
        "/notices/read", data={"all": "1", "csrf": csrf_of(page.text)}, headers={"Origin": ORIGIN}
    )
    assert everything.status_code == 303
    assert bell(c.get("/").text) == 0
    assert board.unread_count(f"uscc:{demo_uscc(site)}") == 0


def test_staff_see_their_departments_notices(site: Site) -> None:
    board = board_for(site.app.state)
    dept = board.post("dept:customs", "case.overdue", {"zh": "海关待办", "en": "Customs"}, BODY)
    other = board.post("dept:tax", "case.overdue", {"zh": "税务待办", "en": "Tax"}, BODY)
    c = logged_in(site, "customs/officer")
    page = c.get("/notices")
    assert page.status_code == 200
    assert f'id="notice-{dept.id}"' in page.text and f'id="notice-{other.id}"' not in page.text
    assert "发给本部门" in page.text
    assert bell(c.get("/services").text) >= 1


def test_the_notices_page_asks_to_log_in(site: Site) -> None:
    c = site.client()
    r = c.get("/notices")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert c.post("/notices/read", data={"all": "1"}).status_code == 303


# --- agents -----------------------------------------------------------------------------------


def test_the_representative_authorises_and_revokes_an_agent(site: Site, agent: str) -> None:
    uscc = demo_uscc(site)
    rep = logged_in(site, "citizen")
    page = rep.get("/enterprises/agents")
    assert page.status_code == 200
    assert f'action="/enterprises/{uscc}/agents"' in page.text  # the representative's form
    token = csrf_of(page.text)

    # The agent does not act for the enterprise yet.
    before = site.node.query("registry", "acting_for", {"agent": agent})
    assert uscc not in {e["uscc"] for e in before}

    added = rep.post(
        f"/enterprises/{uscc}/agents",
        data={"login": AGENT_ID.lower(), "csrf": token},
        headers={"Origin": ORIGIN},
    )
    assert added.status_code == 303, added.text
    tx = re.search(r"tx=([0-9a-f]{64})", added.headers["location"])
    assert tx is not None
    receipt = rep.get(f"/v1/transactions/{tx.group(1)}/receipt")
    assert receipt.status_code == 200
    after = rep.follow(added)
    assert "已授权该用户代表企业办事" in after.text and "王小明" in after.text
    ent = site.node.query("registry", "enterprise", {"uscc": uscc})
    assert agent in ent["agents"]

    # The agent acts for the enterprise in the portal: its notices, its page (no form).
    board = board_for(site.app.state)
    news = board.post(f"uscc:{uscc}", "case.decided", {"zh": "企业办结", "en": "Done"}, BODY)
    a = site.client()
    a.login(AGENT_ID)
    assert f'id="notice-{news.id}"' in a.get("/notices").text
    theirs = a.get("/enterprises/agents")
    assert uscc in theirs.text and f'action="/enterprises/{uscc}/agents"' not in theirs.text
    # An agent may not appoint agents (nor revoke), even with a valid token.
    refused = a.post(
        f"/enterprises/{uscc}/agents/remove",
        data={"agent": site.user_id(site.logins["citizen"]), "csrf": csrf_of(theirs.text)},
        headers={"Origin": ORIGIN},
    )
    assert refused.status_code == 403
    # The representative was told, and so was the agent.
    assert any(n.kind == "agent.authorised" for n in board.list(agent))

    # Revoked: at once, the agent no longer acts for the enterprise nor sees its notices.
    page = rep.get("/enterprises/agents")
    removed = rep.post(
        f"/enterprises/{uscc}/agents/remove",
        data={"agent": agent, "csrf": csrf_of(page.text)},
        headers={"Origin": ORIGIN},
    )
    assert removed.status_code == 303, removed.text
    assert agent not in site.node.query("registry", "enterprise", {"uscc": uscc})["agents"]
    assert f'id="notice-{news.id}"' not in a.get("/notices").text
    assert uscc not in a.get("/enterprises/agents").text


def test_bad_and_forged_authorisations_change_nothing(site: Site, agent: str) -> None:
    uscc = demo_uscc(site)
    rep = logged_in(site, "citizen")
    page = rep.get("/enterprises/agents")
    token = csrf_of(page.text)
    agents_before = site.node.query("registry", "enterprise", {"uscc": uscc})["agents"]
    for headers, data in (
        ({}, {"login": AGENT_ID}),
        ({}, {"login": AGENT_ID, "csrf": "x" * 43}),
        ({"Origin": EVIL}, {"login": AGENT_ID, "csrf": token}),
        ({"Sec-Fetch-Site": "cross-site"}, {"login": AGENT_ID, "csrf": token}),
    ):
        r = rep.post(f"/enterprises/{uscc}/agents", data=data, headers=headers)
        assert r.status_code == 403
    for bad, words in (
        ("110105194912310021", "请输入18位公民身份号码或统一社会信用代码"),  # wrong check digit
        ("abc", "请输入18位公民身份号码或统一社会信用代码"),
        (with_check_digit("11010519800101123"), "没有使用该号码注册的门户用户"),  # nobody
    ):
        r = rep.post(
            f"/enterprises/{uscc}/agents",
            data={"login": bad, "csrf": token},
            headers={"Origin": ORIGIN},
        )
        assert r.status_code == 422, (bad, r.status_code)
        assert 'class="error-summary"' in r.text and words in r.text
        assert f'href="#login-{uscc}"' in r.text and f'id="login-{uscc}-error"' in r.text
    assert site.node.query("registry", "enterprise", {"uscc": uscc})["agents"] == agents_before
    # Not the representative of another enterprise; staff have no such page.
    assert rep.post(
        "/enterprises/91330100MA27XL0W1Q/agents",
        data={"login": AGENT_ID, "csrf": token},
        headers={"Origin": ORIGIN},
    ).status_code in (403, 404)
    staff = logged_in(site, "market/officer")
    assert staff.get("/enterprises/agents").status_code == 403


# --- my data ----------------------------------------------------------------------------------


def test_my_data_lists_the_access_receipts_and_consents(site: Site) -> None:
    for who in ("citizen", "enterprise"):
        c = logged_in(site, who)
        page = c.get("/me/data")
        assert page.status_code == 200
        found = site.app.state.sharing.access_receipts(site.logins[who])
        for entry in [*found["reads"], *found["attestations"]]:
            assert f"/v1/transactions/{entry['tx_id']}/receipt" in page.text
        if not found["reads"]:
            assert "尚无部门读取您的记录" in page.text
        cases = site.cases_of(site.logins[who])
        for case in cases:
            if case["consents"]:
                assert f'href="/cases/{case["number"]}"' in page.text
    staff = logged_in(site, "market/officer")
    assert staff.get("/me/data").status_code == 403


def test_the_pages_speak_both_languages(site: Site) -> None:
    c = logged_in(site, "citizen")
    for path in ("/notices", "/enterprises/agents", "/me/data"):
        zh = c.get(path)
        en = c.get(path, headers={"Accept-Language": "en"})
        assert zh.status_code == en.status_code == 200
        assert '<html lang="zh-CN">' in zh.text and '<html lang="en">' in en.text
    assert "谁读取了我的数据" in c.get("/me/data").text
    assert "Who read my data" in c.get("/me/data", headers={"Accept-Language": "en"}).text


def test_the_pages_have_the_strict_csp_and_no_inline_code(site: Site) -> None:
    from test_security import check_page

    pages = {
        "citizen": ["/notices", "/notices?unread=1", "/enterprises/agents", "/me/data", "/"],
        "enterprise": ["/enterprises/agents", "/me/data", "/notices"],
        "market/officer": ["/notices", "/staff"],
    }
    problems = []
    for who, paths in pages.items():
        c = logged_in(site, who)
        for path in paths:
            r = c.get(path)
            assert r.status_code == 200, (who, path, r.status_code)
            problems += check_page(r)
    problems += check_page(site.client().get("/login"))
    assert not problems, problems
