"""Helper of the CLI tests: log a staff member in through the node's OpenID Connect provider
over HTTP (authorization code + PKCE), as a browser and an app would."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from test_cli import govchain

from govchain.identity.tokens import b64u

REDIRECT = "http://127.0.0.1/portal/callback"
"""Redirect URI of the client the helper registers."""


def register_client(net: Path, client_id: str = "portal") -> None:
    """Register the OIDC client the helper logs in through (``govchain client add``)."""
    r = govchain(
        "client", "add", client_id, "--name", "统一门户", "--redirect-uri", REDIRECT, "-n", net
    )
    assert r.returncode == 0, r.stderr


def login(url: str, login_name: str, password: str, client_id: str = "portal") -> dict[str, str]:
    """Run the code flow for ``login_name``; return the token response."""
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "code_challenge": b64u(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256",
    }
    with httpx.Client(base_url=url) as ua:
        back = ua.post(
            "/oidc/authorize", data={**params, "login": login_name, "password": password}
        )
        assert back.status_code == 302, back.text
        code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
        tokens: dict[str, str] = ua.post(
            "/oidc/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
                "client_id": client_id,
            },
        ).json()
    return tokens
