"""The full OpenID Connect flow driven by independent client libraries: Authlib's OAuth 2.0
client (authorization code + PKCE, token, refresh) and joserfc (ID token validation against the
provider's JWKS). The browser is a plain httpx client with a cookie jar."""

from __future__ import annotations

import asyncio
import re
import secrets
import warnings
from html import unescape
from urllib.parse import parse_qs, urlsplit

import authlib.deprecate
import httpx
import pytest
from fastapi import FastAPI
from identity_helpers import CLIENT, PASSWORD, REDIRECT, SEEN_SECRETS, ensure_client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from govchain.identity.service import Identity

with warnings.catch_warnings():
    # Authlib 1.9 announces a move from httpx to a fork; its client works with httpx as is.
    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.oauth2.rfc7636 import create_s256_code_challenge


def _hidden_fields(page: str) -> dict[str, str]:
    return {
        m[0]: unescape(m[1])
        for m in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


async def _flow(app: FastAPI, identity: Identity) -> None:
    issuer = identity.provider.issuer
    transport = httpx.ASGITransport(app=app)
    oauth = AsyncOAuth2Client(
        client_id=CLIENT,
        redirect_uri=REDIRECT,
        scope="openid profile",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
        transport=transport,
        base_url=issuer,
    )
    browser = httpx.AsyncClient(transport=transport, base_url=issuer)
    try:
        meta = (
            await oauth.request("GET", "/.well-known/openid-configuration", withhold_token=True)
        ).json()
        assert meta["issuer"] == issuer
        assert meta["code_challenge_methods_supported"] == ["S256"]
        keys = KeySet.import_key_set(
            (await oauth.request("GET", meta["jwks_uri"], withhold_token=True)).json()
        )

        # 1. The client sends the browser to the authorization endpoint (PKCE S256 + nonce).
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        url, _state = oauth.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        assert "code_challenge=" + create_s256_code_challenge(verifier) in url
        page = await browser.get(url)
        assert page.status_code == 200 and "统一身份认证" in page.text
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        # 2. The user logs in on the provider's page.
        form = {**_hidden_fields(page.text), "login": "tax/officer1", "password": PASSWORD}
        back = await browser.post("/oidc/authorize", data=form)
        assert back.status_code == 302, back.text
        location = back.headers["location"]
        assert location.startswith(REDIRECT)
        SEEN_SECRETS.add(parse_qs(urlsplit(location).query)["code"][0])

        # 3. The client redeems the code (Authlib checks the state, sends the verifier).
        token = await oauth.fetch_token(
            meta["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
        SEEN_SECRETS.update({token["access_token"], token["refresh_token"], token["id_token"]})
        assert token["token_type"] == "Bearer" and token["expires_in"] == 600

        # 4. The ID token verifies with the published keys; claims as OIDC Core requires.
        decoded = jwt.decode(token["id_token"], keys, algorithms=["Ed25519"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": CLIENT},
            sub={"essential": True, "value": "tax/officer1"},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
        ).validate(decoded.claims)
        assert decoded.claims["dept"] == "tax" and decoded.claims["role"] == "officer"
        # A token signed by anybody else does not verify against these keys.
        head, body, sig = token["id_token"].split(".")
        with pytest.raises(JoseError):
            jwt.decode(f"{head}.{body}.{sig[:-4]}AAAA", keys, algorithms=["Ed25519"])

        # 5. The access token works on the API (Authlib adds the bearer header).
        me = await oauth.get("/v1/identity/me")
        assert me.status_code == 200 and me.json()["id"] == "tax/officer1"
        info = await oauth.get(meta["userinfo_endpoint"])
        assert info.json()["sub"] == "tax/officer1"

        # 6. Single sign-on: a second application's request returns at once with a code.
        v2 = secrets.token_urlsafe(48)
        url2, _ = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=v2)
        sso = await browser.get(url2)
        assert sso.status_code == 302 and "code=" in sso.headers["location"]

        # 7. Refresh: new tokens; the old refresh token is rotated out.
        old_refresh = token["refresh_token"]
        fresh = await oauth.refresh_token(meta["token_endpoint"])
        SEEN_SECRETS.update({fresh["access_token"], fresh["refresh_token"], fresh["id_token"]})
        assert fresh["access_token"] != token["access_token"]
        assert fresh["refresh_token"] != old_refresh
        reuse = await browser.post(
            meta["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": old_refresh, "client_id": CLIENT},
        )
        assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
        # Reusing a rotated refresh token means it leaked: the whole session is ended.
        assert "already used" in reuse.json()["error_description"]
        assert (await oauth.get("/v1/identity/me")).status_code == 401

        # 8. A code is single-use, and PKCE is enforced.
        replay = await browser.post(
            meta["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": parse_qs(urlsplit(location).query)["code"][0],
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
                "client_id": CLIENT,
            },
        )
        assert replay.json()["error"] == "invalid_grant"
        code2 = parse_qs(urlsplit(sso.headers["location"]).query)["code"][0]
        wrong_verifier = await browser.post(
            meta["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code2,
                "redirect_uri": REDIRECT,
                "code_verifier": secrets.token_urlsafe(48),
                "client_id": CLIENT,
            },
        )
        assert wrong_verifier.json()["error"] == "invalid_grant"

        # 9. Logout ends the session: the access token and the refresh token stop working.
        # POST keeps the ID token out of URLs (and so out of access logs).
        bye = await browser.post(
            meta["end_session_endpoint"],
            data={
                "id_token_hint": fresh["id_token"],
                "post_logout_redirect_uri": REDIRECT,
                "state": "s1",
            },
        )
        assert bye.status_code == 302 and bye.headers["location"] == REDIRECT + "?state=s1"
        after = await oauth.get("/v1/identity/me")
        assert after.status_code == 401
        with pytest.raises(Exception, match="invalid_grant"):
            await oauth.refresh_token(meta["token_endpoint"])
        # The browser must log in again.
        again = await browser.get(url2)
        assert again.status_code == 200 and "<form" in again.text
    finally:
        await oauth.aclose()
        await browser.aclose()


def test_full_oidc_flow_with_independent_clients(app: FastAPI) -> None:
    identity: Identity = app.state.identity
    identity.users.create_staff("tax/officer1", "税务专员", "tax", "officer", PASSWORD)
    ensure_client(identity)
    asyncio.run(_flow(app, identity))
    events = [e.event for e in identity.log.history("tax/officer1")]
    assert events == ["logout", "token_refreshed", "login"]


def test_authorize_rejects_unknown_client_and_redirect(app: FastAPI) -> None:
    identity: Identity = app.state.identity
    ensure_client(identity)

    async def run() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=identity.provider.issuer
        ) as ua:
            r = await ua.get(
                "/oidc/authorize", params={"client_id": "nope", "redirect_uri": REDIRECT}
            )
            assert r.status_code == 400 and r.json()["error"] == "invalid_client"
            r = await ua.get(
                "/oidc/authorize",
                params={"client_id": CLIENT, "redirect_uri": "http://evil.example/cb"},
            )
            assert r.status_code == 400 and r.json()["error"] == "invalid_request"
            assert "evil" not in r.headers.get("location", "")
            # A login form posted from another site (login CSRF) is refused before any check.
            form = {"client_id": CLIENT, "redirect_uri": REDIRECT, "login": "x", "password": "y"}
            for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
                r = await ua.post("/oidc/authorize", data=form, headers=headers)
                assert r.status_code == 403 and r.json()["code"] == "forbidden"
            same = {"Origin": identity.provider.issuer, "Sec-Fetch-Site": "same-origin"}
            r = await ua.post("/oidc/authorize", data=form, headers=same)
            assert r.status_code == 401  # reached the password check

    asyncio.run(run())
