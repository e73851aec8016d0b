"""The identity endpoints: registration with checked numbers, 401 for bad tokens, 403 for the
wrong kind of user or department, lockout, access log, and who-did-it on the ledger."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from identity_helpers import (
    CITIZEN_ID,
    CLIENT,
    PASSWORD,
    REDIRECT,
    SEEN_SECRETS,
    bearer,
    ensure_client,
    pkce_pair,
    tokens_for,
)

from govchain.identity.service import Identity
from govchain.identity.tokens import TokenKey, TokenSigner, b64u, b64u_decode
from govchain.identity.users import MAX_FAILURES


@pytest.fixture
def identity(app: FastAPI) -> Identity:
    ident: Identity = app.state.identity
    users = ident.users
    users.create_citizen(CITIZEN_ID, "张三", PASSWORD)
    users.create_staff("tax/admin1", "税务管理员", "tax", "admin", PASSWORD)
    users.create_staff("tax/officer1", "税务专员", "tax", "officer", PASSWORD)
    users.create_staff("market/officer1", "市场专员", "market", "officer", PASSWORD)
    users.create_staff("market/admin1", "市场管理员", "market", "admin", PASSWORD)
    users.create_staff("hrss/auditor1", "审计员", "hrss", "auditor", PASSWORD)
    return ident


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    doc: dict[str, Any] = r.json()
    assert doc["code"] == code, doc
    return doc


def test_registration_checks_identity_numbers(client: Any, identity: Identity) -> None:
    r = client.post(
        "/v1/identity/register/citizen",
        json={"resident_id": "440524188001010014", "name": "李四", "password": PASSWORD},
    )
    assert r.status_code == 201 and r.json()["kind"] == "citizen"
    assert "password" not in r.text and "hash" not in r.text
    bad = client.post(
        "/v1/identity/register/citizen",
        json={"resident_id": "440524188001010015", "name": "李四", "password": PASSWORD},
    )
    doc = problem(bad, 422, "invalid_identity_number")
    assert doc["reason"] == "check_digit" and "GB 11643" in doc["detail"]
    bad = client.post(
        "/v1/identity/register/enterprise",
        json={
            "uscc": "91350100M000100Y44",
            "name": "某某餐饮有限公司",
            "legal_rep": "李四",
            "legal_rep_id": "440524188001010014",
            "password": PASSWORD,
        },
    )
    assert problem(bad, 422, "invalid_identity_number")["reason"] == "check_digit"
    ok = client.post(
        "/v1/identity/register/enterprise",
        json={
            "uscc": "91350100M000100Y43",
            "name": "某某餐饮有限公司",
            "legal_rep": "李四",
            "legal_rep_id": "440524188001010014",
            "password": PASSWORD,
        },
    )
    assert ok.status_code == 201 and ok.json()["legal_rep"] == "李四"
    weak = client.post(
        "/v1/identity/register/citizen",
        json={"resident_id": "11010519800101001X", "name": "王", "password": "short"},
    )
    assert weak.status_code == 422


def test_bad_tokens_are_401(client: Any, identity: Identity) -> None:
    good = tokens_for(identity, CITIZEN_ID)
    assert client.get("/v1/identity/me", headers=bearer(good)).json()["kind"] == "citizen"
    head, body, sig = good.access_token.split(".")
    claims = b64u_decode(body).replace(b"citizen", b"staff")
    other_issuer = TokenSigner(TokenKey.generate(), "http://elsewhere.example").sign(
        {"sub": "tax/admin1", "aud": "govchain-api", "typ": "access", "exp": 4_000_000_000}
    )
    same_key_other_issuer = TokenSigner(identity.provider.signer.key, "http://evil").sign(
        {"sub": "tax/admin1", "aud": "govchain-api", "typ": "access", "exp": 4_000_000_000}
    )
    expired = identity.provider.signer.sign(
        {"sub": "tax/admin1", "aud": "govchain-api", "typ": "access", "iat": 1, "exp": 2}
    )
    flipped = bytearray(b64u_decode(sig))
    flipped[5] ^= 0x80
    cases = {
        "missing": {},
        "not bearer": {"Authorization": f"Basic {good.access_token}"},
        "forged claims": {"Authorization": f"Bearer {head}.{b64u(claims)}.{sig}"},
        "wrongly signed": {"Authorization": f"Bearer {head}.{body}.{b64u(bytes(flipped))}"},
        "other issuer": {"Authorization": f"Bearer {other_issuer}"},
        "other issuer, same key": {"Authorization": f"Bearer {same_key_other_issuer}"},
        "expired": {"Authorization": f"Bearer {expired}"},
        "id token": {"Authorization": f"Bearer {good.id_token}"},
        "garbage": {"Authorization": "Bearer x.y.z"},
    }
    for what, headers in cases.items():
        r = client.get("/v1/identity/me", headers=headers)
        assert r.status_code == 401, what
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.headers["content-type"] == "application/problem+json"
        assert good.access_token not in r.text


def test_wrong_kind_of_user_is_403(client: Any, identity: Identity) -> None:
    citizen = bearer(tokens_for(identity, CITIZEN_ID))
    for method, url in (
        ("GET", "/v1/identity/access-log/verify"),
        ("GET", "/v1/identity/departments/tax/staff"),
        ("POST", "/v1/identity/me/totp"),
    ):
        problem(client.request(method, url, headers=citizen), 403, "forbidden")
    officer = bearer(tokens_for(identity, "tax/officer1"))
    problem(client.get("/v1/identity/access-log/verify", headers=officer), 403, "forbidden")
    r = client.post(
        "/v1/identity/departments/tax/staff",
        headers=officer,
        json={"name": "x", "display_name": "X", "role": "admin", "password": PASSWORD},
    )
    problem(r, 403, "forbidden")


def test_staff_of_one_department_cannot_act_for_another(client: Any, identity: Identity) -> None:
    market_officer = bearer(tokens_for(identity, "market/officer1"))
    r = client.post(
        "/v1/departments/tax/calls",
        headers=market_officer,
        json={"contract": "kv", "method": "put", "args": {"key": "k", "value": 1}},
    )
    doc = problem(r, 403, "forbidden")
    assert "market" in doc["detail"] and "tax" in doc["detail"]
    market_admin = bearer(tokens_for(identity, "market/admin1"))
    r = client.post(
        "/v1/identity/departments/tax/members",
        headers=market_admin,
        json={"name": "svc", "role": "service"},
    )
    problem(r, 403, "forbidden")
    r = client.post(
        "/v1/identity/departments/tax/staff",
        headers=market_admin,
        json={"name": "x", "display_name": "X", "role": "officer", "password": PASSWORD},
    )
    problem(r, 403, "forbidden")
    assert identity.users.find_login("tax/x") is None


def test_actor_department_and_case_travel_into_the_transaction(
    client: Any, identity: Identity
) -> None:
    officer = bearer(tokens_for(identity, "tax/officer1"))
    r = client.post(
        "/v1/departments/tax/calls",
        headers=officer,
        json={
            "contract": "kv",
            "method": "put",
            "args": {"key": "tax-clearance/91350100M000100Y43", "value": {"arrears_fen": 0}},
            "case": "case-2026-0042",
            "purpose": "enterprise deregistration: tax clearance",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["receipt"]["status"] == "ok"
    tx = client.get(f"/v1/transactions/{r.json()['tx_id']}").json()["tx"]["body"]
    assert tx["actor"] == "tax/officer1"  # person and (prefix) department
    assert tx["signer"] == "tax/admin"
    assert tx["case"] == "case-2026-0042"
    assert tx["purpose"] == "enterprise deregistration: tax clearance"
    # The members contract is not reachable this way (officers cannot issue keys).
    r = client.post(
        "/v1/departments/tax/calls",
        headers=officer,
        json={"contract": "members", "method": "revoke", "args": {"member": "tax/x"}},
    )
    problem(r, 403, "forbidden")


def test_admin_manages_staff_and_member_keys(client: Any, identity: Identity) -> None:
    admin = bearer(tokens_for(identity, "tax/admin1"))
    r = client.post(
        "/v1/identity/departments/tax/staff",
        headers=admin,
        json={"name": "li", "display_name": "李", "role": "officer", "password": PASSWORD},
    )
    assert r.status_code == 201 and r.json()["id"] == "tax/li"
    r = client.request(
        "PUT", "/v1/identity/departments/tax/staff/li/role", headers=admin, json={"role": "auditor"}
    )
    assert r.json()["role"] == "auditor"
    li = bearer(tokens_for(identity, "tax/li"))
    assert client.get("/v1/identity/me", headers=li).status_code == 200
    r = client.post("/v1/identity/departments/tax/staff/li/revoke", headers=admin)
    assert r.json()["status"] == "revoked"
    # A revoked account's tokens stop working at once, not at their expiry.
    problem(client.get("/v1/identity/me", headers=li), 401, "invalid_token")
    r = client.post("/v1/identity/departments/tax/staff/admin1/revoke", headers=admin)
    problem(r, 403, "forbidden")

    r = client.post(
        "/v1/identity/departments/tax/members",
        headers=admin,
        json={"name": "svc", "role": "service", "case": "case-7", "purpose": "new app key"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["receipt"]["result"] == {
        "member": "tax/svc",
        "role": "service",
        "status": "active",
    }
    tx = client.get(f"/v1/transactions/{r.json()['tx_id']}").json()["tx"]["body"]
    assert (tx["actor"], tx["case"], tx["contract"]) == ("tax/admin1", "case-7", "members")
    r = client.post(
        "/v1/identity/departments/tax/members/svc/revoke", headers=admin, json={"case": "case-8"}
    )
    assert r.json()["receipt"]["result"]["status"] == "revoked"
    r = client.post("/v1/identity/departments/tax/members/svc/resume", headers=admin, json={})
    doc = problem(r, 409, "call_failed")
    assert doc["receipt_code"] == "conflict"
    state = client.get("/v1/state/sys/member/tax/svc").json()
    assert state["value"]["status"] == "revoked"


def test_brute_force_login_is_locked_out(client: Any, identity: Identity) -> None:
    ensure_client(identity)
    _, challenge = pkce_pair()
    form = {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login": "tax/officer1",
    }
    wrong = "Wrong-password-1"
    SEEN_SECRETS.add(wrong)
    for i in range(MAX_FAILURES - 1):
        r = client.post("/oidc/authorize", data={**form, "password": wrong})
        assert r.status_code == 401, i
        assert wrong not in r.text
    r = client.post("/oidc/authorize", data={**form, "password": wrong})
    assert r.status_code == 429
    assert "locked" in r.text
    r = client.post("/oidc/authorize", data={**form, "password": PASSWORD})
    assert r.status_code == 429  # even the right password, until the lock expires
    events = [e.event for e in identity.log.history("tax/officer1")]
    assert events[:2] == ["locked", "locked"] and events.count("login_failed") == MAX_FAILURES - 1


def test_access_log_history_and_audit(client: Any, identity: Identity) -> None:
    citizen = bearer(tokens_for(identity, CITIZEN_ID))
    r = client.post(
        "/v1/identity/me/events",
        headers=citizen,
        json={"event": "service_started", "service": "permits", "case": "case-9"},
    )
    assert r.status_code == 201
    hist = client.get("/v1/identity/me/history", headers=citizen).json()
    assert [e["event"] for e in hist] == ["service_started", "login"]
    auditor = bearer(tokens_for(identity, "hrss/auditor1"))
    v = client.get("/v1/identity/access-log/verify", headers=auditor).json()
    assert v["verified"] and v["size"] == len(identity.log.entries())
    me = client.get("/v1/identity/me", headers=citizen).json()
    theirs = client.get(f"/v1/identity/access-log?user={me['id']}", headers=auditor).json()
    assert theirs == hist


def test_logout_revokes_tokens(client: Any, identity: Identity) -> None:
    tokens = tokens_for(identity, CITIZEN_ID)
    assert client.get("/v1/identity/me", headers=bearer(tokens)).status_code == 200
    r = client.post("/oidc/logout", data={"id_token_hint": tokens.id_token})
    assert r.status_code == 200
    problem(client.get("/v1/identity/me", headers=bearer(tokens)), 401, "invalid_token")
    r = client.post(
        "/oidc/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "client_id": CLIENT,
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_member_keys_on_a_gm_network(tmp_path: Any, client_for: Any) -> None:
    from govchain.api.app import create_app
    from govchain.api.settings import ApiSettings
    from govchain.ledger.genesis import Params
    from govchain.node.embedded import open_embedded
    from govchain.node.network import init_network

    root = tmp_path / "gm"
    init_network(
        root,
        chain_id="gm-test",
        suite_name="gm",
        departments=[("tax", "税务局"), ("market", "市场监督管理局")],
        params=Params(state_buckets=256, block_max_ms=5),
    )
    node = open_embedded(root, in_memory=True)
    node.start()
    try:
        app = create_app(node, ApiSettings(network_dir=root, wait_timeout_s=20.0))
        ident: Identity = app.state.identity
        ident.users.create_staff("tax/admin1", "管理员", "tax", "admin", PASSWORD)
        client = client_for(app)
        admin = bearer(tokens_for(ident, "tax/admin1"))
        r = client.post(
            "/v1/identity/departments/tax/members",
            headers=admin,
            json={"name": "svc", "role": "service", "case": "case-gm"},
        )
        assert r.status_code == 201, r.text
        record = client.get("/v1/state/sys/member/tax/svc").json()["value"]
        credential = bytes.fromhex(record["credential"])
        assert credential.startswith(b"{") and b'"type":"member"' in credential  # signed record
        r = client.post("/v1/identity/departments/tax/members/svc/suspend", headers=admin, json={})
        assert r.json()["receipt"]["result"]["status"] == "suspended"
    finally:
        node.stop(drain=True)
