"""Relying parties of the OpenID Connect provider: applications and the portal.

A public client (the portal in a browser, a mobile app) has no secret and relies on PKCE; a
confidential client (an application's server) also authenticates with a secret, stored as its
SHA-256 hash only.
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
        self, client_id: str, name: str, redirect_uris: list[str], confidential: bool = False
    ) -> tuple[Client, str]:
        """Register a relying party; return it and its secret (empty for a public client)."""
        if not client_id or len(client_id) > 64 or not client_id.replace("-", "").isalnum():
            raise SchemaViolation("client_id is 1-64 letters, digits and -", field="client_id")
        if not redirect_uris:
            raise SchemaViolation("a client needs at least one redirect URI", field="redirect_uris")
        for uri in redirect_uris:
            parts = urlsplit(uri)
            if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
                raise SchemaViolation(
                    f"redirect URI {uri!r} must be an absolute http(s) URL without fragment",
                    field="redirect_uris",
                )
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
