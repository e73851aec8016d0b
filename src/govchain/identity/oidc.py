"""OpenID Connect provider logic (no HTTP here): clients, login sessions, authorization codes
with PKCE, ID / access / refresh tokens, userinfo, logout, and bearer-token checks.

Flow (OpenID Connect Core 1.0, section 3.1; RFC 7636 PKCE with ``S256`` only):

1. ``authorize`` (user logged in at the provider, session cookie) -> one-time code, 60 s;
2. ``exchange_code`` (client + code + PKCE verifier) -> access token (JWT, 10 min), ID token
   (JWT, audience = client), refresh token (opaque, rotated on every use, bounded by the session);
3. ``refresh`` -> new tokens; ``logout`` revokes the session, which invalidates every token
   issued in it at once (bearer checks look the session up).

Every token issued from one code, and from the refresh tokens that descend from it, carries the
same *grant* id. A code presented a second time has leaked: the grant is revoked in its session,
so those tokens stop working at once (RFC 6749 section 4.1.2), while the user's other clients
stay logged in. A refresh token is only used up by the client it was issued to.

Codes, refresh tokens and session secrets are stored as SHA-256 hashes only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from govchain.errors import InvalidToken, OAuthError
from govchain.identity.clients import Client, ClientRegistry, hash_secret
from govchain.identity.records import RecordStore
from govchain.identity.tokens import ALG, TokenSigner, b64u
from govchain.identity.users import User, UserDirectory

CODE_TTL_S = 60
"""Lifetime of an authorization code."""
ACCESS_TTL_S = 600
"""Lifetime of an access token (and of an ID token)."""
REFRESH_TTL_S = 8 * 3600
"""Lifetime of a refresh token (never beyond its session)."""
SESSION_TTL_S = 8 * 3600
"""Lifetime of a login session at the provider (one working day)."""
API_AUDIENCE = "govchain-api"
"""Audience of access tokens: the platform's HTTP API."""
SCOPES = ("openid", "profile")
"""Scopes the provider knows."""


_h = hash_secret


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling the API, from a verified access token."""

    user: str
    """User id."""
    kind: str
    """``citizen``, ``enterprise`` or ``staff``."""
    dept: str
    """Department of staff; empty otherwise."""
    role: str
    """Role of staff; empty otherwise."""
    sid: str
    """Login session the token belongs to."""
    client: str
    """Client the token was issued to."""


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What the token endpoint returns."""

    access_token: str
    """JWT for the API."""
    id_token: str
    """JWT about the user, for the client."""
    refresh_token: str
    """Opaque; rotated on use."""
    expires_in: int
    """Seconds the access token is valid."""
    scope: str
    """Granted scopes."""

    def to_json(self) -> dict[str, Any]:
        """Return the RFC 6749 section 5.1 response body."""
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "id_token": self.id_token,
            "refresh_token": self.refresh_token,
            "scope": self.scope,
        }


class Provider:
    """The OpenID Connect provider of the platform."""

    def __init__(
        self,
        records: RecordStore,
        users: UserDirectory,
        signer: TokenSigner,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._records = records
        self.clients = ClientRegistry(records)
        """The registered relying parties."""
        self._users = users
        self.signer = signer
        self._clock = clock

    @property
    def issuer(self) -> str:
        """Issuer identifier (the provider's base URL)."""
        return self.signer.issuer

    def _now(self) -> int:
        return int(self._clock())

    # --- clients ---------------------------------------------------------------------------

    def register_client(
        self, client_id: str, name: str, redirect_uris: list[str], confidential: bool = False
    ) -> tuple[Client, str]:
        """Register a relying party (see ``ClientRegistry.register``); a redirect URI on the
        provider's own origin is accepted even over plain http (the portal beside it)."""
        return self.clients.register(
            client_id, name, redirect_uris, confidential, own_origin=self.issuer
        )

    def client(self, client_id: str) -> Client:
        """Return a registered client (``OAuthError invalid_client`` if unknown)."""
        return self.clients.get(client_id)

    # --- sessions --------------------------------------------------------------------------

    def start_session(self, user: User) -> str:
        """Create a login session; return the cookie value ``<sid>.<secret>``."""
        sid = secrets.token_urlsafe(12)
        secret = secrets.token_urlsafe(32)
        now = self._now()
        self._records.write(
            {
                f"session/{sid}": {
                    "user": user.id,
                    "secret_hash": _h(secret),
                    "auth_time": now,
                    "expires": now + SESSION_TTL_S,
                    "revoked": False,
                }
            }
        )
        return f"{sid}.{secret}"

    def _session(self, sid: str) -> dict[str, Any] | None:
        s = self._records.get(f"session/{sid}")
        if s is None or s["revoked"] or s["expires"] < self._now():
            return None
        return s

    def session_user(self, cookie: str | None) -> tuple[str, User] | None:
        """Return ``(sid, user)`` of a valid session cookie, or ``None``."""
        if not cookie or "." not in cookie:
            return None
        sid, _, secret = cookie.partition(".")
        s = self._session(sid)
        if s is None or not hmac.compare_digest(_h(secret), s["secret_hash"]):
            return None
        user = self._users.get(s["user"])
        return (sid, user) if user.status == "active" else None

    def end_session(self, sid: str) -> str | None:
        """Revoke a session (every token issued in it stops working); return its user id."""
        with self._records.lock:
            s = self._records.get(f"session/{sid}")
            if s is None:
                return None
            self._records.write({f"session/{sid}": {**s, "revoked": True}})
            user: str = s["user"]
            return user

    def end_user_sessions(self, user_id: str) -> int:
        """Revoke every live session of a user (suspension, revocation); return how many."""
        ended = 0
        with self._records.lock:
            for key, raw in list(self._records.scan("session/")):
                s = orjson.loads(raw)
                if s["user"] == user_id and not s["revoked"]:
                    self._records.write({key: {**s, "revoked": True}})
                    ended += 1
        return ended

    def revoke_grant(self, sid: str, grant: str) -> None:
        """Revoke the tokens of one grant (one redeemed code and its refresh chain) in session
        ``sid``; the session and its other grants stay valid."""
        with self._records.lock:
            s = self._records.get(f"session/{sid}")
            if s is None or grant in s.get("revoked_grants", ()):
                return
            revoked = [*s.get("revoked_grants", ()), grant]
            self._records.write({f"session/{sid}": {**s, "revoked_grants": revoked}})

    def purge_expired(self) -> int:
        """Delete expired codes (used or not), refresh tokens (used or not) and ended sessions;
        return how many records went. Safe at any time: each of them is refused by its expiry
        anyway."""
        now = self._now()
        gone: list[str] = []
        with self._records.lock:
            for prefix in ("code/", "code-used/", "refresh/", "refresh-used/", "session/"):
                for key, raw in self._records.scan(prefix):
                    rec = orjson.loads(raw)
                    if rec.get("expires", 0) < now or rec.get("revoked", False):
                        gone.append(key)
            if gone:
                self._records.write({}, tuple(gone))
        return len(gone)

    # --- authorization ---------------------------------------------------------------------

    def check_authorization_request(self, params: Mapping[str, str]) -> Client:
        """Validate the client and redirect URI (errors here are shown, never redirected)."""
        client = self.client(params.get("client_id", ""))
        if params.get("redirect_uri", "") not in client.redirect_uris:
            raise OAuthError(
                "redirect_uri is not registered for this client", error="invalid_request"
            )
        return client

    def authorize(self, params: Mapping[str, str], sid: str, user: User) -> str:
        """Issue a one-time code for a logged-in user; return the redirect URL.

        Errors after the redirect URI is known go back to the client as ``error=`` parameters
        (RFC 6749 section 4.1.2.1)."""
        client = self.check_authorization_request(params)
        redirect = params["redirect_uri"]
        state = params.get("state")

        def back(query: dict[str, str]) -> str:
            if state is not None:
                query["state"] = state
            sep = "&" if "?" in redirect else "?"
            return f"{redirect}{sep}{urlencode(query)}"

        scopes = params.get("scope", "").split()
        if params.get("response_type") != "code":
            return back({"error": "unsupported_response_type"})
        if "openid" not in scopes or not set(scopes) <= set(SCOPES):
            return back({"error": "invalid_scope"})
        challenge = params.get("code_challenge", "")
        if params.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
            return back(
                {"error": "invalid_request", "error_description": "PKCE with S256 is required"}
            )
        code = secrets.token_urlsafe(32)
        session = self._session(sid)
        self._records.write(
            {
                f"code/{_h(code)}": {
                    "client": client.client_id,
                    "user": user.id,
                    "sid": sid,
                    "redirect_uri": redirect,
                    "challenge": challenge,
                    "scope": " ".join(scopes),
                    "nonce": params.get("nonce", ""),
                    "auth_time": session["auth_time"] if session else self._now(),
                    "expires": self._now() + CODE_TTL_S,
                }
            }
        )
        return back({"code": code})

    # --- tokens ----------------------------------------------------------------------------

    def _issue(
        self,
        client_id: str,
        user: User,
        sid: str,
        grant: str,
        scope: str,
        nonce: str,
        auth_time: int,
    ) -> TokenSet:
        now = self._now()
        base = {"sub": user.id, "iat": now, "exp": now + ACCESS_TTL_S, "sid": sid}
        person = {"kind": user.kind, "dept": user.dept, "role": user.role}
        access = self.signer.sign(
            {
                **base,
                **person,
                "aud": API_AUDIENCE,
                "typ": "access",
                "client_id": client_id,
                "scope": scope,
                "grant": grant,
                "jti": secrets.token_urlsafe(12),
            }
        )
        id_claims: dict[str, Any] = {
            **base,
            **person,
            "aud": client_id,
            "typ": "id",
            "auth_time": auth_time,
            "name": user.name,
            "at_hash": b64u(hashlib.sha512(access.encode()).digest()[:32]),
        }
        if nonce:
            id_claims["nonce"] = nonce
        refresh = secrets.token_urlsafe(32)
        session = self._session(sid)
        ends = min(now + REFRESH_TTL_S, session["expires"] if session else now)
        self._records.write(
            {
                f"refresh/{_h(refresh)}": {
                    "client": client_id,
                    "user": user.id,
                    "sid": sid,
                    "grant": grant,
                    "scope": scope,
                    "auth_time": auth_time,
                    "expires": ends,
                }
            }
        )
        return TokenSet(access, self.signer.sign(id_claims), refresh, ACCESS_TTL_S, scope)

    def exchange_code(
        self, client_id: str, client_secret: str | None, code: str, redirect_uri: str, verifier: str
    ) -> TokenSet:
        """Redeem a code (once) for tokens; PKCE ``S256`` verifier required.

        A code presented again (by anyone) revokes the tokens issued for it: the code leaked,
        and whoever redeemed it first may not be the client (RFC 6749 section 4.1.2)."""
        client = self.client(client_id)
        self.clients.check_secret(client, client_secret)
        digest = _h(code)
        grant_id = ""
        with self._records.lock:
            key = f"code/{digest}"
            grant = self._records.get(key)
            if grant is not None:
                # Single use, even when it fails below. The grant id is fixed now, before any
                # token exists, so that a replay racing this redemption still revokes them.
                grant_id = secrets.token_urlsafe(12)
                session = self._records.get(f"session/{grant['sid']}")
                used = {
                    "sid": grant["sid"],
                    "grant": grant_id,
                    # Tokens of the grant never outlive the session: neither need this record.
                    "expires": max(grant["expires"], session["expires"] if session else 0),
                }
                self._records.write({f"code-used/{digest}": used}, deletes=(key,))
            else:
                replayed = self._records.get(f"code-used/{digest}")
                if replayed is not None:
                    self.revoke_grant(replayed["sid"], replayed["grant"])
                    raise OAuthError(
                        "this authorization code was already used: the tokens issued for it "
                        "are revoked",
                        error="invalid_grant",
                    )
        if grant is None or grant["expires"] < self._now():
            raise OAuthError("the authorization code is invalid or expired", error="invalid_grant")
        if grant["client"] != client.client_id or grant["redirect_uri"] != redirect_uri:
            raise OAuthError("the code was issued to another client or URI", error="invalid_grant")
        expected = b64u(hashlib.sha256(verifier.encode()).digest())
        if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(expected, grant["challenge"]):
            raise OAuthError("the PKCE code verifier does not match", error="invalid_grant")
        if self._session(grant["sid"]) is None:
            raise OAuthError("the login session has ended", error="invalid_grant")
        user = self._users.get(grant["user"])
        return self._issue(
            client.client_id,
            user,
            grant["sid"],
            grant_id,
            grant["scope"],
            grant["nonce"],
            grant["auth_time"],
        )

    def refresh(self, client_id: str, client_secret: str | None, refresh_token: str) -> TokenSet:
        """Rotate a refresh token into new tokens (the old one stops working).

        Presenting a refresh token that was already rotated means it was copied: the whole
        session is ended, so neither the thief nor the user keeps working tokens (OAuth 2.0
        Security BCP, RFC 9700 section 4.14.2). A token presented by another client is refused
        and stays valid: it is neither used up nor taken as a copy, or any client could log
        its user out."""
        client = self.client(client_id)
        self.clients.check_secret(client, client_secret)
        digest = _h(refresh_token)
        with self._records.lock:
            key = f"refresh/{digest}"
            grant = self._records.get(key)
            if grant is not None:
                if grant["client"] != client.client_id:
                    raise OAuthError(
                        "the refresh token was issued to another client", error="invalid_grant"
                    )
                used_rec = {
                    "sid": grant["sid"],
                    "client": grant["client"],
                    "expires": grant["expires"],
                }
                self._records.write({f"refresh-used/{digest}": used_rec}, (key,))
            else:
                used = self._records.get(f"refresh-used/{digest}")
                if used is not None and used.get("client", client.client_id) == client.client_id:
                    self.end_session(used["sid"])
                    raise OAuthError(
                        "this refresh token was already used: the session is ended",
                        error="invalid_grant",
                    )
        if grant is None or grant["expires"] < self._now():
            raise OAuthError("the refresh token is invalid or expired", error="invalid_grant")
        session = self._session(grant["sid"])
        if session is None:
            raise OAuthError("the login session has ended", error="invalid_grant")
        grant_id = grant.get("grant", "")
        if grant_id in session.get("revoked_grants", ()):
            raise OAuthError(
                "the tokens of this grant were revoked (its code was used twice)",
                error="invalid_grant",
            )
        user = self._users.get(grant["user"])
        if user.status != "active":
            raise OAuthError(f"the account is {user.status}", error="invalid_grant")
        return self._issue(
            client_id, user, grant["sid"], grant_id, grant["scope"], "", grant["auth_time"]
        )

    def verify_access_token(self, token: str) -> Principal:
        """Return the principal of a valid access token: signature, issuer, audience, type,
        expiry, a session that was not logged out and a grant that was not revoked
        (``InvalidToken`` otherwise)."""
        claims = self.signer.verify(token, audience=API_AUDIENCE, now=self._now(), typ="access")
        sid = claims.get("sid", "")
        session = self._session(sid)
        if session is None:
            raise InvalidToken("the token's login session has ended (logged out or expired)")
        if claims.get("grant") in session.get("revoked_grants", ()):
            raise InvalidToken("the token was revoked: the code it was issued for was used twice")
        return Principal(
            claims["sub"], claims["kind"], claims["dept"], claims["role"], sid, claims["client_id"]
        )

    def verify_id_token(self, token: str, client_id: str | None = None) -> dict[str, Any]:
        """Return the claims of an ID token this provider issued (e.g. a logout hint)."""
        return self.signer.verify(token, audience=client_id, now=self._now(), typ="id")

    def userinfo(self, principal: Principal) -> dict[str, Any]:
        """Return the UserInfo claims of the token's user."""
        user = self._users.get(principal.user)
        return {
            "sub": user.id,
            "name": user.name,
            "kind": user.kind,
            "dept": user.dept,
            "role": user.role,
        }

    def discovery(self) -> dict[str, Any]:
        """Return the OpenID Provider metadata (OpenID Connect Discovery 1.0)."""
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/oidc/authorize",
            "token_endpoint": f"{base}/oidc/token",
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "jwks_uri": f"{base}/oidc/jwks",
            "end_session_endpoint": f"{base}/oidc/logout",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALG],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [
                "none",
                "client_secret_basic",
                "client_secret_post",
            ],
            "scopes_supported": list(SCOPES),
            "claims_supported": ["sub", "name", "kind", "dept", "role", "sid", "auth_time"],
        }

    def jwks(self) -> dict[str, Any]:
        """Return the JWK Set of the token key."""
        return {"keys": [self.signer.key.jwk()]}
