"""The follower keeps the index in step with the node; lag on /v1/health and /metrics; the
analytics routes with their access rules."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from analytics_helpers import AsgiClient, Committer
from fastapi import FastAPI

from govchain.analytics.follow import follower_for, index_for
from govchain.analytics.index import AnalyticsIndex
from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.errors import OAuthError
from govchain.identity.service import Identity
from govchain.identity.tokens import b64u
from govchain.node.network import NetworkDir
from govchain.node.node import Node

PASSWORD = "Test-password-2026"
CLIENT, REDIRECT = "analytics-test", "https://app.test/callback"


def _bearer(identity: Identity, dept: str, role: str) -> dict[str, str]:
    """Make a staff user and run the OIDC code flow for an access token."""
    login = f"{dept}/{role}-1"
    identity.users.create_staff(login, f"{dept} {role}", dept, role, PASSWORD)
    try:
        identity.provider.client(CLIENT)
    except OAuthError:
        identity.provider.register_client(CLIENT, "测试", [REDIRECT])
    user = identity.login(login, PASSWORD, "", {"client": CLIENT})
    cookie = identity.provider.start_session(user)
    verifier = secrets.token_urlsafe(48)
    challenge = b64u(hashlib.sha256(verifier.encode()).digest())
    url = identity.provider.authorize(
        {
            "response_type": "code",
            "client_id": CLIENT,
            "redirect_uri": REDIRECT,
            "scope": "openid profile",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        cookie.partition(".")[0],
        user,
    )
    code = parse_qs(urlsplit(url).query)["code"][0]
    tokens = identity.provider.exchange_code(CLIENT, None, code, REDIRECT, verifier)
    return {"Authorization": f"Bearer {tokens.access_token}"}


@pytest.fixture
def app(network: NetworkDir, node: Node) -> FastAPI:
    return create_app(node, ApiSettings(network_dir=network.root, wait_timeout_s=20.0))


@pytest.fixture
def client(app: FastAPI) -> Iterator[AsgiClient]:
    c = AsgiClient(app)
    try:
        yield c
    finally:
        c.close()


def _puts(committer: Committer, blocks: int) -> None:
    for b in range(blocks):
        committer.block([("tax/admin", f"f{b}-{i}", i) for i in range(3)])


def test_follower_indexes_commits_and_equals_a_rebuild(committer: Committer, node: Node) -> None:
    _puts(committer, 2)  # before the follower starts: read from the store
    follower = follower_for(node)
    assert follower_for(node) is follower
    _puts(committer, 5)  # after: handed over by the listener
    assert follower.wait_caught_up(20)
    assert follower.lag() == 0 and follower.index.height == node.ledger.height
    assert follower.index.verify(node.ledger).ok
    rebuilt = AnalyticsIndex(None, follower.index.extractors)
    rebuilt.rebuild(node.ledger)
    sql = "SELECT * FROM txs ORDER BY height, position"
    assert follower.index.query(sql) == rebuilt.query(sql)


def test_health_reports_the_lag_and_metrics_expose_it(
    app: FastAPI, client: AsgiClient, committer: Committer, node: Node
) -> None:
    _puts(committer, 3)
    r = client.get("/v1/health")
    assert r.status_code == 200
    assert 0 <= r.json()["analytics_lag"] <= 3
    assert app.state.analytics.wait_caught_up(20)
    assert client.get("/v1/health").json()["analytics_lag"] == 0
    metrics = client.get("/metrics").text
    assert "govchain_analytics_lag_blocks 0" in metrics
    assert index_for(app.state) is app.state.analytics.index


def test_analytics_routes_and_their_access(
    app: FastAPI, client: AsgiClient, committer: Committer
) -> None:
    _puts(committer, 2)
    index_for(app.state)
    assert app.state.analytics.wait_caught_up(20)
    market = _bearer(app.state.identity, "market", "officer")
    auditor = _bearer(app.state.identity, "tax", "auditor")
    assert client.get("/v1/analytics/status").status_code == 401
    status = client.get("/v1/analytics/status", headers=market).json()
    assert status["lag"] == 0 and status["tables"]["txs"] == 6
    assert client.post("/v1/analytics/verify", headers=market).status_code == 403
    assert client.post("/v1/analytics/verify", headers=auditor).json()["ok"] is True
    report = client.get("/v1/analytics/decisions/market", headers=market)
    assert report.status_code == 200 and report.json()["services"] == []
    assert client.get("/v1/analytics/decisions/tax", headers=market).status_code == 403
    csv = client.get("/v1/analytics/decisions/market?format=csv", headers=market)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith(b"\xef\xbb\xbfservice,opened")
    xlsx = client.get("/v1/analytics/decisions?format=xlsx", headers=auditor)
    assert xlsx.content[:2] == b"PK"
    bad = client.get("/v1/analytics/decisions?from_ms=10&to_ms=5", headers=auditor)
    assert bad.status_code == 422
