"""Signed tokens of the platform: compact JWS (RFC 7515) signed with Ed25519 (RFC 8037 keys).

The JWS algorithm is ``Ed25519``, the fully-specified identifier of RFC 9864, which deprecates
the polymorphic ``EdDSA`` (current JOSE libraries warn on it).

ID tokens and access tokens are JWTs signed with the platform's token key; ``verify`` is the
check every API request makes: signature, issuer, audience, expiry. The key is published as a
JWK Set (RFC 7517) for relying parties. Both suites use Ed25519 here: JOSE has no registered SM2
algorithm, so OIDC client libraries could not verify an SM2-signed token (docs/identity.md).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from govchain.crypto import get_suite
from govchain.errors import InvalidToken

# Ed25519 of the intl suite (libsodium through PyNaCl): about twice as fast to verify here as
# the ``cryptography`` binding, and every request verifies a token.
_ED25519 = get_suite("intl")

ALG = "Ed25519"
"""JWS ``alg`` of every token (RFC 9864)."""
LEEWAY_S = 30
"""Clock skew tolerated on ``exp``, ``nbf`` and ``iat``."""


def b64u(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text: str | bytes) -> bytes:
    """Decode base64url without padding; ``ValueError`` on bad input."""
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))


@dataclass(frozen=True, slots=True)
class TokenKey:
    """The platform's token-signing key pair."""

    private: bytes
    """Raw 32-byte Ed25519 private key (never logged, never in a token or error)."""
    public: bytes
    """Raw 32-byte Ed25519 public key."""
    kid: str
    """Key id: the RFC 7638 JWK thumbprint of the public key."""

    @staticmethod
    def from_private(private: bytes) -> TokenKey:
        """Derive the public key and key id from a raw private key."""
        pub = _ED25519.keypair_from_private(private).public
        thumb = orjson.dumps({"crv": "Ed25519", "kty": "OKP", "x": b64u(pub)})
        return TokenKey(private, pub, b64u(hashlib.sha256(thumb).digest()))

    @staticmethod
    def generate() -> TokenKey:
        """Return a fresh key."""
        return TokenKey.from_private(secrets.token_bytes(32))

    def jwk(self) -> dict[str, str]:
        """Return the public JWK (RFC 8037)."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64u(self.public),
            "kid": self.kid,
            "alg": ALG,
            "use": "sig",
        }


class TokenSigner:
    """Signs and verifies the platform's JWTs with one ``TokenKey``."""

    def __init__(self, key: TokenKey, issuer: str) -> None:
        self.key = key
        self.issuer = issuer
        self._header = b64u(orjson.dumps({"alg": ALG, "kid": key.kid, "typ": "JWT"}))
        self._header_b = self._header.encode()

    def sign(self, claims: Mapping[str, Any]) -> str:
        """Return a compact JWS of ``claims`` (``iss`` is set to this issuer)."""
        payload = b64u(orjson.dumps({**claims, "iss": self.issuer}, option=orjson.OPT_SORT_KEYS))
        signing_input = f"{self._header}.{payload}"
        signature = _ED25519.sign(self.key.private, signing_input.encode())
        return f"{signing_input}.{b64u(signature)}"

    def verify(
        self, token: str, *, audience: str | None, now: int, typ: str | None
    ) -> dict[str, Any]:
        """Return the claims of a token this issuer signed; ``InvalidToken`` if it is malformed,
        signed by another key, from another issuer or audience, of another type or expired."""
        parts = token.encode().split(b".")
        if len(parts) != 3:
            raise InvalidToken("the bearer token is not a compact JWS")
        head, body, sig = parts
        if head != self._header_b:
            # Our header is fixed: anything else (alg none, HS256, another kid) is not ours.
            raise InvalidToken("the token was not signed with this platform's key")
        try:
            valid = _ED25519.verify(self.key.public, head + b"." + body, b64u_decode(sig))
            claims = orjson.loads(b64u_decode(body)) if valid else None
        except (ValueError, orjson.JSONDecodeError):
            valid = False
        if not valid:
            raise InvalidToken("the token's signature does not verify")
        if type(claims) is not dict:
            raise InvalidToken("the token's payload is not a JSON object")
        if claims.get("iss") != self.issuer:
            raise InvalidToken("the token is from another issuer")
        if audience is not None:
            aud = claims.get("aud")
            if aud != audience and not (isinstance(aud, list) and audience in aud):
                raise InvalidToken("the token is for another audience")
        if typ is not None and claims.get("typ") != typ:
            raise InvalidToken(f"the token is not an {typ} token")
        exp = claims.get("exp")
        if type(exp) is not int or now > exp + LEEWAY_S:
            raise InvalidToken("the token has expired")
        nbf = claims.get("nbf", claims.get("iat", 0))
        if type(nbf) is not int or nbf > now + LEEWAY_S:
            raise InvalidToken("the token is not valid yet")
        return claims
