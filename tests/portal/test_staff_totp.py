"""Staff log in with a one-time code (TOTP, RFC 6238) at the provider; the demo network's
staff have deterministic keys and the portal's login page shows their current code."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from conftest import ORIGIN, Client, Site, hidden_inputs
from govchain.apps.enterprise.demo import DEMO_PASSWORD
from govchain.identity import totp
from govchain.identity.demo_totp import current_code, demo_key, seed_demo_totp
from govchain.identity.users import MAX_FAILURES


@pytest.fixture(scope="module")
def seeded(site: Site) -> Site:
    """The site with the demo staff's TOTP keys and the staff policy on."""
    users = site.app.state.identity.users
    seed_demo_totp(users, site.node.genesis.chain_id)
    return site


def provider_login(
    c: Client, login: str, otp: str, password: str = DEMO_PASSWORD
) -> httpx.Response:
    """Start a portal login and post the provider's form; return the provider's answer."""
    start = c.get("/login/start", params={"next": "/"})
    assert start.status_code == 302
    form = c.get(start.headers["location"])
    assert form.status_code == 200
    fields = {**hidden_inputs(form.text), "login": login, "password": password, "otp": otp}
    return c.post("/oidc/authorize", data=fields, headers={"Origin": ORIGIN})


def code_now(site: Site, login: str, offset_steps: int = 0) -> str:
    key = demo_key(site.node.genesis.chain_id, login)
    return totp.hotp(key, int(time.time()) // totp.STEP_S + offset_steps)


def test_the_demo_keys_are_deterministic_and_rfc_6238_codes() -> None:
    key = demo_key("govchain-demo", "market/officer")
    assert len(key) == 20 and key == demo_key("govchain-demo", "market/officer")
    assert key != demo_key("govchain-demo", "market/approver")
    assert key != demo_key("other-chain", "market/officer")
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits) — the code the keys feed.
    assert totp.totp(b"12345678901234567890", 59, digits=8) == "94287082"


def test_seeding_again_changes_nothing(seeded: Site) -> None:
    users = seeded.app.state.identity.users
    before = users.find_login("customs/officer")
    again = seed_demo_totp(users, seeded.node.genesis.chain_id, ["customs/officer"])
    assert [u.login for u in again] == ["customs/officer"]
    assert users.find_login("customs/officer") == before
    assert users.staff_totp_required()


def test_the_login_page_shows_the_demo_officers_current_code(seeded: Site) -> None:
    page = seeded.client().get("/login")
    assert page.status_code == 200 and 'id="demo-codes"' in page.text
    row = re.search(r"<code>market/officer</code>.*?<code class=\"otp\">(\d{6})</code>", page.text)
    assert row is not None
    assert row.group(1) in {code_now(seeded, "market/officer", k) for k in (0, 1)}
    # Citizens and enterprises have no code; a real network's accounts show none.
    users = seeded.app.state.identity.users
    assert current_code(users, "another-chain", "market/officer") is None
    assert current_code(users, seeded.node.genesis.chain_id, seeded.logins["citizen"]) is None


def test_a_staff_login_needs_the_right_code_once(seeded: Site) -> None:
    login = "tax/officer"
    c = seeded.client()
    for wrong in ("", "000000" if code_now(seeded, login) != "000000" else "111111", "12345"):
        refused = provider_login(c, login, wrong)
        assert refused.status_code == 401, wrong
        assert "set-cookie" not in refused.headers
    code = code_now(seeded, login)
    ok = provider_login(c, login, code)
    assert ok.status_code == 302, ok.text
    back = c.get(ok.headers["location"])
    assert back.status_code == 303 and c.session() is not None and c.session().kind == "staff"
    # The same code again (another browser, within its 30 s) is refused: a code works once.
    other = seeded.client()
    replayed = provider_login(other, login, code)
    assert replayed.status_code == 401
    # The login page now offers the next step's code, which the provider still accepts.
    offered = current_code(seeded.app.state.identity.users, seeded.node.genesis.chain_id, login)
    if offered is not None:
        assert offered[0] != code
        assert provider_login(other, login, offered[0]).status_code == 302


def test_wrong_codes_lock_the_account(seeded: Site) -> None:
    login = "customs/inspector"
    c = seeded.client()
    wrong = "999999" if code_now(seeded, login) != "999999" else "888888"
    statuses = [provider_login(c, login, wrong).status_code for _ in range(MAX_FAILURES)]
    assert statuses[:-1] == [401] * (MAX_FAILURES - 1) and statuses[-1] == 429
    locked = provider_login(c, login, code_now(seeded, login))
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    seeded.app.state.identity.users.unlock(login)


def test_staff_without_a_key_cannot_log_in_while_codes_are_required(seeded: Site) -> None:
    users = seeded.app.state.identity.users
    if users.find_login("market/clerk") is None:
        users.create_staff("market/clerk", "市场监管局窗口", "market", "officer", DEMO_PASSWORD)
    c = seeded.client()
    refused = provider_login(c, "market/clerk", "")
    assert refused.status_code == 401 and "one-time code" in refused.text
    users.require_staff_totp(False)
    try:
        assert provider_login(c, "market/clerk", "").status_code == 302
    finally:
        users.require_staff_totp(True)


def test_citizens_need_no_code(seeded: Site) -> None:
    c = seeded.client()
    assert provider_login(c, seeded.logins["citizen"], "").status_code == 302
