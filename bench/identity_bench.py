"""Identity: bearer-token validation per API request, and the login flow end to end.

* Token validation: ``Provider.verify_access_token`` (signature, issuer, audience, type, expiry
  and the session lookup in the LMDB identity store), per call, beside the machine limit
  measured in the same run: one raw Ed25519 verification with the same library (libsodium).
* Login flow: against a real ``govchain up`` process on a loopback port, one user agent does
  GET /oidc/authorize (login page) -> POST /oidc/authorize (Argon2id check, session, code) ->
  POST /oidc/token (PKCE, tokens) -> GET /v1/identity/me (bearer). Beside it, this machine's
  Argon2id time with the same parameters (the floor of any password login).

Usage: ``python -m bench.identity_bench [--tokens N] [--logins N]``; targets: validation
< 0.2 ms, login flow < 100 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import signal
import statistics
import time
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from bench.common import make_network, write_result
from bench.http_bench import free_port, start_node
from govchain.crypto import get_suite
from govchain.identity import passwords
from govchain.identity.service import Identity, identity_store_path, load_or_create_token_key
from govchain.identity.tokens import b64u
from govchain.node.network import NetworkDir
from govchain.storage.factory import open_store

PASSWORD = "Bench-password-2026"
REDIRECT = "http://127.0.0.1/bench/callback"


def per_call_us(fn: Any, n: int) -> float:
    """Median over 5 rounds of the mean time of one call, in microseconds."""
    rounds = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(rounds)


def ed25519_verify_us(n: int) -> float:
    """The machine limit: one Ed25519 verification of a token-sized message with the library
    tokens use (the intl suite: libsodium through PyNaCl)."""
    suite = get_suite("intl")
    kp = suite.generate_keypair()
    msg = secrets.token_bytes(400)
    sig = suite.sign(kp.private, msg)
    return per_call_us(lambda: suite.verify(kp.public, msg, sig), n)


def login_flow(ua: httpx.Client) -> float:
    """Run one login flow; return its wall time in milliseconds."""
    verifier = secrets.token_urlsafe(48)
    challenge = b64u(hashlib.sha256(verifier.encode()).digest())
    params = {
        "response_type": "code",
        "client_id": "bench",
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    ua.cookies.clear()
    t = time.perf_counter()
    page = ua.get("/oidc/authorize", params=params)
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    form = {k: unescape(v) for k, v in hidden.items()}
    back = ua.post("/oidc/authorize", data={**form, "login": "tax/bench", "password": PASSWORD})
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    tokens = ua.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": "bench",
        },
    ).json()
    me = ua.get("/v1/identity/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    elapsed = (time.perf_counter() - t) * 1000
    if me.status_code != 200:
        raise RuntimeError(f"login flow failed: {me.status_code}")
    return elapsed


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the figures, write bench/results/identity.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20_000, help="validations per round")
    parser.add_argument("--logins", type=int, default=40, help="login flows")
    args = parser.parse_args(argv)

    network = make_network("intl")
    net = NetworkDir(network)
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    store = open_store(str(identity_store_path(net.identity_dir)))
    ident = Identity(store, load_or_create_token_key(net.identity_dir), issuer)
    ident.users.create_staff("tax/bench", "bench", "tax", "officer", PASSWORD)
    ident.provider.register_client("bench", "bench", [REDIRECT])

    # --- token validation, in process, against the durable store ---
    user = ident.users.get("tax/bench")
    cookie = ident.provider.start_session(user)
    verifier = secrets.token_urlsafe(48)
    url = ident.provider.authorize(
        {
            "response_type": "code",
            "client_id": "bench",
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "code_challenge": b64u(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        },
        cookie.partition(".")[0],
        user,
    )
    code = parse_qs(urlsplit(url).query)["code"][0]
    token = ident.provider.exchange_code("bench", None, code, REDIRECT, verifier).access_token
    raw_us = ed25519_verify_us(args.tokens)
    validate_us = per_call_us(lambda: ident.provider.verify_access_token(token), args.tokens)
    argon_ms = per_call_us(lambda: passwords.hash_password(PASSWORD), 3) / 1000
    store.close()

    # --- the login flow against a real node process ---
    proc = start_node(network, port)
    try:
        with httpx.Client(base_url=issuer, timeout=30) as ua:
            login_flow(ua)  # warm-up
            times = sorted(login_flow(ua) for _ in range(args.logins))
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(60)
    median_ms = statistics.median(times)
    p95_ms = times[int(len(times) * 0.95) - 1]

    print(f"token validation     {validate_us:8.1f} us/request   (target < 200 us)")
    print(f"  machine limit      {raw_us:8.1f} us  one Ed25519 verification (libsodium)")
    print(
        f"login flow (HTTP)    {median_ms:8.1f} ms median, {p95_ms:.1f} ms p95   (target < 100 ms)"
    )
    print(f"  machine limit      {argon_ms:8.1f} ms  one Argon2id hash (19 MiB, t=2)")
    result = {
        "token_validation_us": round(validate_us, 2),
        "ed25519_verify_us": round(raw_us, 2),
        "login_flow_ms_median": round(median_ms, 2),
        "login_flow_ms_p95": round(p95_ms, 2),
        "argon2id_ms": round(argon_ms, 2),
        "logins": args.logins,
        "validations_per_round": args.tokens,
    }
    path = write_result("identity", result)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
