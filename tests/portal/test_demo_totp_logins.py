"""Staff one-time codes switched on as ``govchain demo`` switches them on
(``cli.server.require_demo_totp``): the test client's staff logins send the code, the same
officer logs in again within one 30 s step with the next code, and ``govchain user demo-otp``
prints a code the provider accepts (for demo staff keys only)."""

from __future__ import annotations

import subprocess
import time

import pytest

from conftest import GOVCHAIN, Site
from govchain.cli.server import require_demo_totp
from govchain.identity import totp
from govchain.identity.demo_totp import demo_key


@pytest.fixture(scope="module")
def required(site: Site) -> Site:
    """The site with the demo's staff codes required."""
    lines = require_demo_totp(site.node, site.app.state)
    assert "staff one-time codes (TOTP) required" in lines[0]
    assert site.app.state.identity.users.staff_totp_required()
    return site


def codes_now(site: Site, login: str) -> set[str]:
    """The codes of this time step and the next one (both accepted once)."""
    key = demo_key(site.node.genesis.chain_id, login)
    step = int(time.time()) // totp.STEP_S
    return {totp.hotp(key, s) for s in (step, step + 1)}


def test_every_staff_account_gets_its_demo_key(required: Site) -> None:
    users = required.app.state.identity.users
    chain = required.node.genesis.chain_id
    staff = [u for u in users.list() if u.kind == "staff"]
    assert staff and all(u.totp_key == demo_key(chain, u.login).hex() for u in staff)
    assert all(not u.totp_key for u in users.list() if u.kind != "staff")
    # Running it again (the next start of the demo) changes nothing.
    before = users.find_login("market/officer")
    require_demo_totp(required.node, required.app.state)
    assert users.find_login("market/officer") == before


def test_the_same_officer_logs_in_twice_with_the_codes(required: Site) -> None:
    for _ in range(2):  # the second login within the step takes the next step's code
        c = required.client()
        back = c.login("market/approver")
        assert back.status_code == 303
        assert c.session() is not None and c.session().role == "approver"
    citizen = required.client()
    assert citizen.otp(required.logins["citizen"]) == ""
    assert citizen.login(required.logins["citizen"]).status_code == 303


def test_demo_otp_prints_a_code_the_provider_accepts(required: Site) -> None:
    run = subprocess.run(
        [str(GOVCHAIN), "user", "demo-otp", "tax/officer", "--network", str(required.root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() in codes_now(required, "tax/officer")
    refused = subprocess.run(
        [
            str(GOVCHAIN), "user", "demo-otp", required.logins["citizen"],
            "--network", str(required.root),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert refused.returncode == 1 and "no demo one-time code" in refused.stderr
