"""Helpers of the identity API tests: users with known passwords and their tokens."""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

from govchain.errors import OAuthError
from govchain.identity.oidc import TokenSet
from govchain.identity.service import Identity
from govchain.identity.tokens import b64u

PASSWORD = "Test-password-2026"
"""Password of every test user."""
CLIENT = "test-app"
"""OIDC client the helpers log in through."""
REDIRECT = "https://app.test/callback"
"""Its redirect URI."""
CITIZEN_ID = "11010519491231002X"
"""A valid resident identity number (GB 11643 example)."""

SEEN_SECRETS: set[str] = set()
"""Every password, token and key the identity tests handled (scanned for in the logs)."""
SEEN_SECRETS.add(PASSWORD)


def ensure_client(identity: Identity) -> None:
    """Register the test client once."""
    try:
        identity.provider.client(CLIENT)
    except OAuthError:
        identity.provider.register_client(CLIENT, "测试应用", [REDIRECT])


def pkce_pair() -> tuple[str, str]:
    """Return a PKCE ``(verifier, S256 challenge)``."""
    verifier = secrets.token_urlsafe(48)
    return verifier, b64u(hashlib.sha256(verifier.encode()).digest())


def tokens_for(identity: Identity, login: str, password: str = PASSWORD) -> TokenSet:
    """Log ``login`` in and run the code flow through the provider's own functions."""
    ensure_client(identity)
    user = identity.login(login, password, "", {"client": CLIENT})
    cookie = identity.provider.start_session(user)
    verifier, challenge = pkce_pair()
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
    SEEN_SECRETS.update({cookie, code, tokens.access_token, tokens.refresh_token, tokens.id_token})
    return tokens


def bearer(tokens: TokenSet) -> dict[str, str]:
    """Return the Authorization header of an access token."""
    return {"Authorization": f"Bearer {tokens.access_token}"}
