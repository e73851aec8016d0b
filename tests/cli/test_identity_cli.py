"""``govchain init`` creates the department admins; ``user``, ``client``, ``member`` and
``access-log`` commands against a real ``govchain up`` process; an admin logs in over HTTP."""

from __future__ import annotations

import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from oidc_login import login, register_client
from test_cli import ENV, GOVCHAIN, govchain, start_node

REDIRECT = "http://127.0.0.1/portal/callback"
NEW_PASSWORD = "Officer-pass-2026"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("idcli") / "net"
    r = govchain("init", root, "--demo")
    assert r.returncode == 0, r.stderr
    assert "admin.password" in r.stdout
    return root


@pytest.fixture(scope="module")
def url(net: Path) -> Iterator[str]:
    proc, base = start_node(net, net.parent / "up.log")
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [str(GOVCHAIN), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**ENV, "COLUMNS": "200", **(env or {})},
    )
    return r


def test_init_creates_department_admins(net: Path) -> None:
    pw = net / "departments" / "tax" / "admin.password"
    assert stat.S_IMODE(pw.stat().st_mode) == 0o600
    assert stat.S_IMODE((net / "departments" / "tax" / "root.key").stat().st_mode) == 0o600
    r = run("user", "list", "-n", net)
    assert r.returncode == 0, r.stderr
    for dept in ("market", "tax", "hrss", "customs"):
        assert f"{dept}/admin" in r.stdout
    assert pw.read_text().strip() not in r.stdout


def test_user_commands(net: Path) -> None:
    r = run(
        "user",
        "add-staff",
        "tax/li",
        "--name",
        "李明",
        "--role",
        "officer",
        "-n",
        net,
        env={"GOVCHAIN_NEW_PASSWORD": NEW_PASSWORD},
    )
    assert r.returncode == 0, r.stderr
    assert "tax/li" in r.stdout and NEW_PASSWORD not in r.stdout
    r = run(
        "user",
        "add-citizen",
        "110105194912310021",
        "--name",
        "张三",
        "-n",
        net,
        env={"GOVCHAIN_NEW_PASSWORD": NEW_PASSWORD},
    )
    assert r.returncode == 1 and "check digit" in r.stderr
    assert run("user", "role", "tax/li", "auditor", "-n", net).returncode == 0
    assert run("user", "suspend", "tax/li", "-n", net).returncode == 0
    r = run("user", "list", "--dept", "tax", "-n", net)
    assert re.search(r"tax/li .* auditor .* suspended", r.stdout), r.stdout
    r = run("user", "totp", "tax/li", "-n", net)
    assert "otpauth://totp/" in r.stdout


def test_member_keys_through_the_node(net: Path, url: str) -> None:
    common = ("--actor", "tax/admin", "-n", net, "-u", url)
    r = run("member", "issue", "tax/svc", "--role", "service", "--case", "case-1", *common)
    assert r.returncode == 0, r.stderr
    assert "members.root_set" in r.stdout and "members.issued" in r.stdout
    r = run("tx", "put", "permit/1", "1", "--as", "tax/svc", "-n", net, "-u", url)
    assert r.returncode == 0, r.stderr
    assert run("member", "suspend", "tax/svc", *common).returncode == 0
    r = run("tx", "put", "permit/2", "1", "--as", "tax/svc", "-n", net, "-u", url)
    assert r.returncode == 1 and "unknown_signer" in r.stderr
    assert run("member", "resume", "tax/svc", *common).returncode == 0
    assert run("member", "revoke", "tax/svc", *common).returncode == 0
    r = run("member", "resume", "tax/svc", *common)
    assert r.returncode == 1 and "revocation is final" in r.stdout


def test_admin_logs_in_over_http(net: Path, url: str) -> None:
    register_client(net)
    password = (net / "departments" / "tax" / "admin.password").read_text().strip()
    tokens = login(url, "tax/admin", password)
    with httpx.Client(base_url=url) as ua:
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = ua.get("/v1/identity/me", headers=auth).json()
        assert (me["id"], me["role"]) == ("tax/admin", "admin")
        changed = ua.post(
            "/v1/identity/me/password",
            headers=auth,
            json={"current": password, "new": "Changed-pass-2026"},
        )
        assert changed.status_code == 200, changed.text
        # Logging out by GET carries the ID token in the query: the server's access log
        # must not keep it (nor the authorization code of the redirect above).
        ua.get("/oidc/logout", params={"id_token_hint": tokens["id_token"]})
    server_log = (net.parent / "up.log").read_text()
    assert "GET /oidc/logout?…" in server_log
    for secret in (tokens["id_token"], tokens["access_token"], password):
        assert secret not in server_log
    r = run("access-log", "verify", "-n", net)
    assert r.returncode == 0 and "access log verified" in r.stdout
    r = run("access-log", "show", "--user", "tax/admin", "-n", net)
    assert "login" in r.stdout and "password_changed" in r.stdout
    assert password not in r.stdout
