"""Relying parties of the OpenID Connect provider: applications and the portal.

A public client (the portal in a browser, a mobile app) has no secret and relies on PKCE; a
confidential client (an application's server) also authenticates with a secret, stored as its
SHA-256 hash only.

Redirect URIs are ``https`` URLs, or plain ``http`` on the loopback interface only
(``127.0.0.1``, ``[::1]``, ``localhost``, any port: RFC 8252 section 7.3, an app on the user's
own machine): a code sent over plain http across a network could be read on the way. The one
other origin accepted is the provider's own (the portal the node serves beside it): a code sent
back there travels the way the password on the login page already did.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from govchain.errors import OAuthError, SchemaViolation
from govchain.identity.records import RecordStore

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
"""Hosts a plain-``http`` redirect URI may name."""


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """Return ``(scheme, host, port)`` of an absolute http(s) URL, or ``None``."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError unless a number from 0 to 65535
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or port == 0:
        return None
    return parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme]


def _acceptable(uri: str, own_origin: str) -> bool:
    if any(c.isspace() or ord(c) < 0x20 for c in uri) or "#" in uri:
        return False
    origin = _origin(uri)
    if origin is None or urlsplit(uri).username is not None:
        return False
    scheme, host, _ = origin
    return (
        scheme == "https"
        or host in LOOPBACK_HOSTS
        or (bool(own_origin) and origin == _origin(own_origin))
    )


def check_redirect_uri(uri: str, own_origin: str = "") -> None:
    """Refuse (``SchemaViolation``) a redirect URI that is neither an ``https`` URL, nor an
    ``http`` URL on a loopback host, nor on ``own_origin`` (the provider's issuer URL), or that
    has a fragment or user info."""
    if not _acceptable(uri, own_origin):
        raise SchemaViolation(
            f"redirect URI {uri!r} must be an https URL, or http on 127.0.0.1, [::1] or "
            "localhost, without fragment or user info",
            field="redirect_uris",
        )


def hash_secret(secret: str) -> str:
    """Return the stored form of a secret (hex SHA-256): secrets are long random strings, so a
    plain hash suffices; passwords use Argon2id instead."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Client:
    """A relying party (an application or the portal)."""

    client_id: str
    """Public identifier."""
    name: str
    """Display name."""
    redirect_uris: tuple[str, ...]
    """Exact redirect URIs allowed (also allowed after logout)."""
    secret_hash: str = ""
    """SHA-256 of the client secret (confidential clients); empty for public clients."""

    def to_json(self) -> dict[str, Any]:
        """Return the stored form."""
        return {
            "client_id": self.client_id,
            "name": self.name,
            "redirect_uris": list(self.redirect_uris),
            "secret_hash": self.secret_hash,
        }


class ClientRegistry:
    """Registered clients in the identity store."""

    def __init__(self, records: RecordStore) -> None:
        self._records = records

    def register(
        self,
        client_id: str,
        name: str,
        redirect_uris: list[str],
        confidential: bool = False,
        *,
        own_origin: str = "",
    ) -> tuple[Client, str]:
        """Register a relying party; return it and its secret (empty for a public client).
        Redirect URIs are checked by ``check_redirect_uri`` (``own_origin``: the issuer)."""
        if not client_id or len(client_id) > 64 or not client_id.replace("-", "").isalnum():
            raise SchemaViolation("client_id is 1-64 letters, digits and -", field="client_id")
        if not redirect_uris:
            raise SchemaViolation("a client needs at least one redirect URI", field="redirect_uris")
        for uri in redirect_uris:
            check_redirect_uri(uri, own_origin)
        secret = secrets.token_urlsafe(32) if confidential else ""
        client = Client(
            client_id, name, tuple(redirect_uris), hash_secret(secret) if secret else ""
        )
        self._records.write({f"client/{client_id}": client.to_json()})
        return client, secret

    def get(self, client_id: str) -> Client:
        """Return a registered client (``OAuthError invalid_client`` if unknown)."""
        obj = self._records.get(f"client/{client_id}")
        if obj is None:
            raise OAuthError(f"unknown client {client_id!r}", error="invalid_client")
        return Client(
            obj["client_id"], obj["name"], tuple(obj["redirect_uris"]), obj["secret_hash"]
        )

    def check_secret(self, client: Client, secret: str | None) -> None:
        """Authenticate a confidential client (public clients send no secret)."""
        if client.secret_hash:
            if not secret or not hmac.compare_digest(hash_secret(secret), client.secret_hash):
                raise OAuthError("client authentication failed", error="invalid_client")
        elif secret:
            raise OAuthError("this client is public and has no secret", error="invalid_client")
