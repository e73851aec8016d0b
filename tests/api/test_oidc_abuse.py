"""The OpenID Connect provider under misuse, over HTTP: a replayed authorization code, a
refresh token presented by another client, client registration (who may, which redirect URIs)
and how its errors are titled."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

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

from conftest import ApiClient
from govchain.identity.service import Identity
from govchain.identity.users import IDENTITY_ADMIN

OTHER = "other-app"
"""A second public client of the same provider."""
OTHER_REDIRECT = "https://other.test/callback"
"""Its redirect URI."""


@pytest.fixture
def identity(app: FastAPI) -> Identity:
    ident: Identity = app.state.identity
    users = ident.users
    users.create_citizen(CITIZEN_ID, "张三", PASSWORD)
    users.create_staff("tax/officer1", "税务专员", "tax", "officer", PASSWORD)
    users.create_staff("tax/admin1", "税务管理员", "tax", "admin", PASSWORD)
    users.create_staff("market/admin1", "市场管理员", "market", "admin", PASSWORD)
    users.create_staff("tax/idadmin", "统一身份认证管理员", "tax", IDENTITY_ADMIN, PASSWORD)
    ensure_client(ident)
    ident.provider.register_client(OTHER, "另一个应用", [OTHER_REDIRECT])
    return ident


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    doc: dict[str, Any] = r.json()
    assert doc["code"] == code, doc
    return doc


def _authorize_params(client_id: str, redirect: str, challenge: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "scope": "openid profile",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


def _code_from(location: str) -> str:
    code = parse_qs(urlsplit(location).query)["code"][0]
    SEEN_SECRETS.add(code)
    return code


def log_in(client: ApiClient, login: str) -> tuple[str, str]:
    """Log in on the provider's page for ``CLIENT``; return ``(code, PKCE verifier)``."""
    verifier, challenge = pkce_pair()
    form = {**_authorize_params(CLIENT, REDIRECT, challenge), "login": login, "password": PASSWORD}
    r = client.post("/oidc/authorize", data=form)
    assert r.status_code == 302, r.text
    return _code_from(r.headers["location"]), verifier


def single_sign_on(client: ApiClient) -> tuple[str, str]:
    """With the browser's session, get a code for ``OTHER``; return ``(code, verifier)``."""
    verifier, challenge = pkce_pair()
    r = client.get("/oidc/authorize", params=_authorize_params(OTHER, OTHER_REDIRECT, challenge))
    assert r.status_code == 302, r.text
    return _code_from(r.headers["location"]), verifier


def redeem(
    client: ApiClient,
    code: str,
    verifier: str,
    client_id: str = CLIENT,
    redirect: str = REDIRECT,
) -> Any:
    r = client.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": verifier,
            "client_id": client_id,
        },
    )
    if r.status_code == 200:
        doc = r.json()
        SEEN_SECRETS.update({doc["access_token"], doc["refresh_token"], doc["id_token"]})
    return r


def refresh(client: ApiClient, token: str, client_id: str = CLIENT) -> Any:
    r = client.post(
        "/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id},
    )
    if r.status_code == 200:
        doc = r.json()
        SEEN_SECRETS.update({doc["access_token"], doc["refresh_token"], doc["id_token"]})
    return r


def me(client: ApiClient, access_token: str) -> int:
    r = client.get("/v1/identity/me", headers={"Authorization": f"Bearer {access_token}"})
    return int(r.status_code)


# --- a code used twice ------------------------------------------------------------------------


@pytest.mark.parametrize("replayed_by", ["the same client", "another client", "a wrong verifier"])
def test_a_replayed_code_revokes_the_tokens_issued_for_it(
    client: ApiClient, identity: Identity, replayed_by: str
) -> None:
    code, verifier = log_in(client, "tax/officer1")
    first = redeem(client, code, verifier)
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert me(client, tokens["access_token"]) == 200
    # The user's other application, logged in through the same session (single sign-on).
    other_code, other_verifier = single_sign_on(client)
    other = redeem(client, other_code, other_verifier, OTHER, OTHER_REDIRECT).json()

    if replayed_by == "another client":
        again = redeem(client, code, verifier, OTHER, OTHER_REDIRECT)
    elif replayed_by == "a wrong verifier":
        again = redeem(client, code, pkce_pair()[0])
    else:
        again = redeem(client, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert "already used" in again.json()["error_description"]

    # RFC 6749 section 4.1.2: the tokens issued for the code are revoked, at once.
    assert me(client, tokens["access_token"]) == 401
    r = refresh(client, tokens["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # Nothing else is: the other application's tokens, from another code, keep working.
    assert me(client, other["access_token"]) == 200
    fresh = refresh(client, other["refresh_token"], OTHER)
    assert fresh.status_code == 200, fresh.text
    assert me(client, fresh.json()["access_token"]) == 200


def test_tokens_refreshed_from_a_replayed_code_are_revoked_too(
    client: ApiClient, identity: Identity
) -> None:
    code, verifier = log_in(client, "tax/officer1")
    tokens = redeem(client, code, verifier).json()
    fresh = refresh(client, tokens["refresh_token"]).json()
    assert me(client, fresh["access_token"]) == 200
    assert redeem(client, code, verifier).status_code == 400
    assert me(client, fresh["access_token"]) == 401
    assert refresh(client, fresh["refresh_token"]).status_code == 400


# --- a refresh token shown to the wrong client ---------------------------------------------------


def test_a_refresh_token_presented_by_another_client_is_not_used_up(
    client: ApiClient, identity: Identity
) -> None:
    code, verifier = log_in(client, "tax/officer1")
    tokens = redeem(client, code, verifier).json()
    for _ in range(2):  # neither used up nor taken for a copy: the second answer is the same
        r = refresh(client, tokens["refresh_token"], OTHER)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        assert "another client" in r.json()["error_description"]
    # Issue 17: the rightful client then found its token used up and the user logged out.
    assert me(client, tokens["access_token"]) == 200
    r = refresh(client, tokens["refresh_token"])
    assert r.status_code == 200, r.text
    assert me(client, r.json()["access_token"]) == 200
    # A rotated token presented by another client does not end the session either.
    assert refresh(client, tokens["refresh_token"], OTHER).status_code == 400
    assert me(client, r.json()["access_token"]) == 200
    # Presented again by its own client, it still does (it was copied: RFC 9700 4.14.2).
    reuse = refresh(client, tokens["refresh_token"])
    assert "already used" in reuse.json()["error_description"]
    assert me(client, r.json()["access_token"]) == 401


# --- the lockout answer ---------------------------------------------------------------------


def test_the_lockout_page_says_when_to_try_again(client: ApiClient, identity: Identity) -> None:
    _, challenge = pkce_pair()
    form = {**_authorize_params(CLIENT, REDIRECT, challenge), "login": "tax/officer1"}
    answers = [
        client.post("/oidc/authorize", data={**form, "password": f"Wrong-password-{i}"})
        for i in range(6)
    ]
    assert [r.status_code for r in answers] == [401, 401, 401, 401, 429, 429]
    for r in answers[4:]:
        assert 0 < int(r.headers["retry-after"]) <= 15 * 60
        assert "locked" in r.text


# --- registering clients --------------------------------------------------------------------


def _register(client: ApiClient, headers: dict[str, str], client_id: str, uri: str) -> Any:
    body = {"client_id": client_id, "name": "应用", "redirect_uris": [uri]}
    return client.post("/v1/identity/clients", json=body, headers=headers)


def test_only_an_identity_administrator_registers_clients(
    client: ApiClient, identity: Identity
) -> None:
    uri = "https://permits.example.gov.cn/callback"
    problem(_register(client, {}, "permits", uri), 401, "unauthenticated")
    for login in (CITIZEN_ID, "tax/officer1", "tax/admin1", "market/admin1"):
        caller = bearer(tokens_for(identity, login))
        problem(_register(client, caller, "permits", uri), 403, "forbidden")
    idadmin = bearer(tokens_for(identity, "tax/idadmin"))
    r = _register(client, idadmin, "permits", uri)
    assert r.status_code == 201, r.text
    assert r.json()["redirect_uris"] == [uri]
    # A department administrator cannot make anyone an identity administrator.
    admin = bearer(tokens_for(identity, "tax/admin1"))
    r = client.post(
        "/v1/identity/departments/tax/staff",
        headers=admin,
        json={"name": "x", "display_name": "X", "role": IDENTITY_ADMIN, "password": PASSWORD},
    )
    problem(r, 422, "schema_violation")
    r = client.request(
        "PUT",
        "/v1/identity/departments/tax/staff/officer1/role",
        headers=admin,
        json={"role": IDENTITY_ADMIN},
    )
    problem(r, 422, "schema_violation")
    assert identity.users.get("tax/officer1").role == "officer"


@pytest.mark.parametrize(
    "uri",
    [
        "https://permits.example.gov.cn/callback",
        "https://permits.example.gov.cn:8443/cb?x=1",
        "http://127.0.0.1/callback",
        "http://127.0.0.1:8800/callback",
        "http://[::1]:8800/callback",
        "http://localhost:8800/callback",
    ],
)
def test_https_and_loopback_redirect_uris_are_registered(
    client: ApiClient, identity: Identity, uri: str
) -> None:
    idadmin = bearer(tokens_for(identity, "tax/idadmin"))
    assert _register(client, idadmin, "app-ok", uri).status_code == 201


@pytest.mark.parametrize(
    "uri",
    [
        "http://permits.example.gov.cn/callback",  # plain http across a network
        "http://192.168.10.5:8800/callback",
        "http://127.0.0.1.example.com/callback",
        "http://localhost.example.com/callback",
        "https://permits.example.gov.cn/callback#frag",
        "https://user:pw@permits.example.gov.cn/callback",
        "javascript:alert(1)",
        "ftp://permits.example.gov.cn/callback",
        "//permits.example.gov.cn/callback",
        "https:///callback",
        "http://127.0.0.1:99999/callback",
    ],
)
def test_other_redirect_uris_are_refused(client: ApiClient, identity: Identity, uri: str) -> None:
    idadmin = bearer(tokens_for(identity, "tax/idadmin"))
    doc = problem(_register(client, idadmin, "app-bad", uri), 422, "schema_violation")
    assert doc["field"] == "redirect_uris"
    r = client.get("/oidc/authorize", params={"client_id": "app-bad", "redirect_uri": uri})
    assert r.status_code == 400 and r.json()["error"] == "invalid_client"


# --- titles ---------------------------------------------------------------------------------


def test_oauth_errors_are_titled_oauth_error(client: ApiClient, identity: Identity) -> None:
    r = client.get("/oidc/authorize", params={"client_id": "nope", "redirect_uri": REDIRECT})
    doc = problem(r, 400, "oauth_error")
    assert doc["title"] == "OAuth error" and doc["error"] == "invalid_client"
    assert client.get("/problems/oauth_error").json()["title"] == "OAuth error"
