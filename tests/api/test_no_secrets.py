"""No secret (password, key, token, code) appears in logs or error messages.

This test drives the error paths at DEBUG level and checks what was logged and answered; the
suite-wide scan in tests/conftest.py also checks every log line of the whole run."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI
from identity_helpers import CITIZEN_ID, CLIENT, PASSWORD, REDIRECT, SEEN_SECRETS, tokens_for

from govchain.identity.service import Identity
from log_scan import find_leaks


def test_error_paths_leak_no_secret(
    app: FastAPI, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    identity: Identity = app.state.identity
    identity.users.create_citizen(CITIZEN_ID, "张三", PASSWORD)
    tokens = tokens_for(identity, CITIZEN_ID)
    wrong = "Guessed-password-77"
    weak = "weakpass"
    forged = tokens.access_token[:-6] + "AAAAAA"
    secrets = {
        PASSWORD,
        wrong,
        weak,
        tokens.access_token,
        tokens.refresh_token,
        tokens.id_token,
        forged,
        identity.provider.signer.key.private.hex(),
    }
    SEEN_SECRETS.update(secrets)
    answers = [
        client.post(
            "/oidc/authorize",
            data={
                "client_id": CLIENT,
                "redirect_uri": REDIRECT,
                "login": CITIZEN_ID,
                "password": wrong,
            },
        ),
        client.post(
            "/v1/identity/register/citizen",
            json={"resident_id": "440524188001010014", "name": "李四", "password": weak},
        ),
        client.post(
            "/v1/identity/register/citizen",
            json={"resident_id": "440524188001010015", "name": "李四", "password": PASSWORD},
        ),
        client.get("/v1/identity/me", headers={"Authorization": f"Bearer {forged}"}),
        client.get("/v1/identity/me", headers={"Authorization": f"Basic {tokens.access_token}"}),
        client.post(
            "/oidc/token",
            data={"grant_type": "refresh_token", "refresh_token": forged, "client_id": CLIENT},
        ),
        client.post(
            "/oidc/token",
            data={"grant_type": "authorization_code", "code": tokens.refresh_token},
        ),
        client.post(
            "/oidc/token",
            data={"grant_type": "password", "username": CITIZEN_ID, "password": PASSWORD},
        ),
    ]
    assert [a.status_code for a in answers] == [401, 422, 422, 401, 401, 400, 401, 400]
    for answer in answers:
        for s in secrets:
            assert s not in answer.text
            assert s not in str(answer.headers)
    assert caplog.records, "nothing was logged: the check would be empty"
    for s in secrets:
        assert s not in caplog.text
    # The access log records failures without the password tried.
    entries = [e.body() for e in identity.log.entries()]
    assert any(e["event"] == "login_failed" for e in entries)
    assert not any(s in str(entries) for s in secrets)


def test_the_suite_scan_finds_a_planted_secret(tmp_path: Any) -> None:
    text = "line one\nHTTP Request: POST /oidc/token token=eyJhbGciOi.secret.part\nline three"
    leaks = find_leaks(text, {"eyJhbGciOi.secret.part"}, "suite.log")
    assert len(leaks) == 1 and leaks[0].startswith("suite.log:2:")
    assert "secret.part" not in leaks[0]
