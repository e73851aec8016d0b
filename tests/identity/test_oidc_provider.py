"""The OIDC provider's rules without HTTP: authorization errors, code and token lifetimes,
confidential clients, and purging what expired."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from argon2 import PasswordHasher

from govchain.errors import InvalidToken, OAuthError, SchemaViolation
from govchain.identity import oidc, passwords
from govchain.identity.service import Identity
from govchain.identity.tokens import TokenKey, b64u
from govchain.storage.memory import MemoryStore

REDIRECT = "https://app.example.gov.cn/cb"
PASSWORD = "Provider-pass-1"


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ident(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Identity:
    monkeypatch.setattr(
        passwords, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    i = Identity(MemoryStore(), TokenKey.generate(), "https://id.example.gov.cn", clock)
    i.users.create_staff("tax/a", "A", "tax", "officer", PASSWORD)
    i.provider.register_client("app", "App", [REDIRECT])
    return i


def params(**over: str) -> dict[str, str]:
    verifier = "v" * 50
    p = {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": "st",
        "code_challenge": b64u(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256",
    }
    p.update(over)
    return p


def code_of(ident: Identity, **over: str) -> tuple[str, str]:
    user = ident.users.get("tax/a")
    sid = ident.provider.start_session(user).partition(".")[0]
    url = ident.provider.authorize(params(**over), sid, user)
    q = parse_qs(urlsplit(url).query)
    assert q["state"] == ["st"]
    return q.get("code", [""])[0], q.get("error", [""])[0]


def test_authorization_errors_go_back_to_the_client(ident: Identity) -> None:
    assert code_of(ident, response_type="token")[1] == "unsupported_response_type"
    assert code_of(ident, scope="profile")[1] == "invalid_scope"
    assert code_of(ident, code_challenge_method="plain")[1] == "invalid_request"
    assert code_of(ident, code_challenge="short")[1] == "invalid_request"
    with pytest.raises(OAuthError):
        ident.provider.check_authorization_request(params(redirect_uri="https://evil/cb"))
    with pytest.raises(OAuthError):
        ident.provider.check_authorization_request(params(client_id="other"))


def test_code_lifetime_and_token_expiry(ident: Identity, clock: Clock) -> None:
    code, _ = code_of(ident)
    clock.t += oidc.CODE_TTL_S + 1
    with pytest.raises(OAuthError, match="expired"):
        ident.provider.exchange_code("app", None, code, REDIRECT, "v" * 50)
    code, _ = code_of(ident)
    tokens = ident.provider.exchange_code("app", None, code, REDIRECT, "v" * 50)
    assert ident.provider.verify_access_token(tokens.access_token).user == "tax/a"
    clock.t += oidc.ACCESS_TTL_S + 31  # past the leeway
    with pytest.raises(InvalidToken, match="expired"):
        ident.provider.verify_access_token(tokens.access_token)
    fresh = ident.provider.refresh("app", None, tokens.refresh_token)
    assert ident.provider.verify_access_token(fresh.access_token).dept == "tax"
    clock.t += oidc.SESSION_TTL_S
    with pytest.raises(OAuthError):
        ident.provider.refresh("app", None, fresh.refresh_token)


def test_confidential_client(ident: Identity) -> None:
    client, secret = ident.provider.register_client("srv", "Server", [REDIRECT], confidential=True)
    assert secret and secret not in str(client.to_json())
    user = ident.users.get("tax/a")
    sid = ident.provider.start_session(user).partition(".")[0]
    url = ident.provider.authorize(params(client_id="srv"), sid, user)
    code = parse_qs(urlsplit(url).query)["code"][0]
    with pytest.raises(OAuthError, match="client authentication"):
        ident.provider.exchange_code("srv", "wrong", code, REDIRECT, "v" * 50)
    url = ident.provider.authorize(params(client_id="srv"), sid, user)
    code = parse_qs(urlsplit(url).query)["code"][0]
    assert ident.provider.exchange_code("srv", secret, code, REDIRECT, "v" * 50).access_token
    with pytest.raises(SchemaViolation):
        ident.provider.register_client("bad", "Bad", ["javascript:alert(1)"])


def test_purge_expired_keeps_what_is_live(ident: Identity, clock: Clock) -> None:
    old_code, _ = code_of(ident)
    old = ident.provider.exchange_code("app", None, code_of(ident)[0], REDIRECT, "v" * 50)
    ident.provider.refresh("app", None, old.refresh_token)  # leaves a used-token record
    clock.t += oidc.SESSION_TTL_S + 1
    live_code, _ = code_of(ident)
    live = ident.provider.exchange_code("app", None, code_of(ident)[0], REDIRECT, "v" * 50)
    gone = ident.provider.purge_expired()
    assert gone >= 5  # old sessions, codes, refresh tokens and the used-token record
    assert ident.provider.purge_expired() == 0
    assert ident.provider.verify_access_token(live.access_token).user == "tax/a"
    assert ident.provider.exchange_code("app", None, live_code, REDIRECT, "v" * 50)
    with pytest.raises(OAuthError):
        ident.provider.exchange_code("app", None, old_code, REDIRECT, "v" * 50)


def _tokens(ident: Identity, sid: str, client_id: str = "app") -> tuple[str, oidc.TokenSet]:
    user = ident.users.get("tax/a")
    url = ident.provider.authorize(params(client_id=client_id), sid, user)
    code = parse_qs(urlsplit(url).query)["code"][0]
    return code, ident.provider.exchange_code(client_id, None, code, REDIRECT, "v" * 50)


def test_a_replayed_code_revokes_its_grant_only(ident: Identity, clock: Clock) -> None:
    # RFC 6749 section 4.1.2: a code used twice revokes the tokens issued for it.
    ident.provider.register_client("app2", "App 2", [REDIRECT])
    sid = ident.provider.start_session(ident.users.get("tax/a")).partition(".")[0]
    code, tokens = _tokens(ident, sid)
    fresh = ident.provider.refresh("app", None, tokens.refresh_token)
    _, other = _tokens(ident, sid, "app2")  # same session, another client
    with pytest.raises(OAuthError, match="already used"):
        ident.provider.exchange_code("app2", None, code, REDIRECT, "w" * 50)
    for token in (tokens.access_token, fresh.access_token):
        with pytest.raises(InvalidToken, match="revoked"):
            ident.provider.verify_access_token(token)
    with pytest.raises(OAuthError, match="revoked"):
        ident.provider.refresh("app", None, fresh.refresh_token)
    assert ident.provider.verify_access_token(other.access_token).client == "app2"
    assert ident.provider.refresh("app2", None, other.refresh_token).access_token
    # The used-code record lives as long as the session, then goes with it.
    clock.t += oidc.SESSION_TTL_S + 1
    assert ident.provider.purge_expired() >= 4
    with pytest.raises(OAuthError, match="invalid or expired"):
        ident.provider.exchange_code("app", None, code, REDIRECT, "v" * 50)


def test_a_refresh_token_of_another_client_is_refused_and_kept(ident: Identity) -> None:
    ident.provider.register_client("app2", "App 2", [REDIRECT])
    sid = ident.provider.start_session(ident.users.get("tax/a")).partition(".")[0]
    _, tokens = _tokens(ident, sid)
    for _ in range(2):
        with pytest.raises(OAuthError, match="another client"):
            ident.provider.refresh("app2", None, tokens.refresh_token)
    fresh = ident.provider.refresh("app", None, tokens.refresh_token)
    with pytest.raises(OAuthError, match="invalid or expired"):  # rotated; no session end
        ident.provider.refresh("app2", None, tokens.refresh_token)
    assert ident.provider.verify_access_token(fresh.access_token).user == "tax/a"
    with pytest.raises(OAuthError, match="already used"):  # its own client: a copy
        ident.provider.refresh("app", None, tokens.refresh_token)
    with pytest.raises(InvalidToken):
        ident.provider.verify_access_token(fresh.access_token)


@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        ("https://app.example.gov.cn/cb", True),
        ("http://127.0.0.1/cb", True),
        ("http://127.0.0.1:49152/cb", True),
        ("http://[::1]:8080/cb", True),
        ("http://localhost/cb", True),
        ("http://app.example.gov.cn/cb", False),
        ("http://127.0.0.2/cb", False),  # RFC 8252 names 127.0.0.1; we take no other
        ("http://localhost.evil.example/cb", False),
        ("https://app.example.gov.cn/cb#", False),
        ("https://a@app.example.gov.cn/cb", False),
        ("https://app.example.gov.cn/c b", False),
        ("com.example.app:/cb", False),
        ("https://app.example.gov.cn:0/cb", False),
    ],
)
def test_redirect_uris_are_https_or_loopback(ident: Identity, uri: str, ok: bool) -> None:
    if ok:
        client, _ = ident.provider.register_client("c", "C", [uri])
        assert client.redirect_uris == (uri,)
    else:
        with pytest.raises(SchemaViolation, match="https"):
            ident.provider.register_client("c", "C", [uri])


def test_the_providers_own_origin_is_accepted_over_http(clock: Clock) -> None:
    # The portal served beside the provider on a LAN address registers <issuer>/callback.
    i = Identity(MemoryStore(), TokenKey.generate(), "http://10.1.2.3:8700", clock)
    assert i.provider.register_client("portal", "P", ["http://10.1.2.3:8700/callback"])
    for uri in ("http://10.1.2.3:8701/callback", "http://10.1.2.4:8700/callback"):
        with pytest.raises(SchemaViolation, match="https"):
            i.provider.register_client("other", "O", [uri])
