"""The API's settings: one validated, immutable object, injected into routes as a dependency."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
"""Loopback only: ledger reads are public and transactions carry their own signatures."""
DEFAULT_PORT = 8700
"""Default API port of ``govchain up``."""
MAX_BATCH_ITEMS = 10_000
"""Default largest number of transactions in one batch request."""
MAX_BATCH_BYTES = 64 * 1024 * 1024
"""Default largest batch request body (64 MiB)."""


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Configuration of the HTTP API (validated on construction)."""

    network_dir: Path
    """Network directory (genesis and keys) the node was opened from."""
    data_dir: Path | None = None
    """Node data directory; ``None`` means the network's default (or an in-memory node)."""
    host: str = DEFAULT_HOST
    """Interface to listen on."""
    port: int = DEFAULT_PORT
    """TCP port to listen on (0: any free port)."""
    max_batch_items: int = MAX_BATCH_ITEMS
    """Largest number of transactions in one batch request."""
    max_batch_bytes: int = MAX_BATCH_BYTES
    """Largest request body accepted by the transaction endpoints, in bytes."""
    wait_timeout_s: float = 30.0
    """How long a ``wait=true`` submission waits for its block to be durable."""
    identity_dir: Path | None = None
    """Directory of the node's identity store and token key; ``None``: in memory (tests)."""
    issuer: str = ""
    """Public base URL of the OIDC provider (token ``iss``); empty: ``http://<host>:<port>``."""
    alert_webhook_url: str = ""
    """Where recorded supervision alerts are POSTed (``http://`` or ``https://``); empty: none."""
    alert_webhook_secret: str = field(default="", repr=False)
    """HMAC key the webhook's receiver checks ``X-Govchain-Signature`` with (at least 16
    characters when a URL is set)."""

    def __post_init__(self) -> None:
        if not isinstance(self.network_dir, Path):
            object.__setattr__(self, "network_dir", Path(self.network_dir))
        if self.data_dir is not None and not isinstance(self.data_dir, Path):
            object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.identity_dir is not None and not isinstance(self.identity_dir, Path):
            object.__setattr__(self, "identity_dir", Path(self.identity_dir))
        if self.issuer.endswith("/"):
            raise ValueError("issuer must not end with '/'")
        if not self.host:
            raise ValueError("host must not be empty")
        if type(self.port) is not int or not 0 <= self.port <= 65535:
            raise ValueError(f"port must be an integer from 0 to 65535, not {self.port!r}")
        if type(self.max_batch_items) is not int or self.max_batch_items < 1:
            raise ValueError("max_batch_items must be a positive integer")
        if type(self.max_batch_bytes) is not int or self.max_batch_bytes < 1024:
            raise ValueError("max_batch_bytes must be an integer of at least 1024")
        if not 0 < self.wait_timeout_s <= 3600:
            raise ValueError("wait_timeout_s must be more than 0 and at most 3600 seconds")
        if self.alert_webhook_url:
            if not self.alert_webhook_url.startswith(("http://", "https://")):
                raise ValueError("alert_webhook_url must be an http:// or https:// URL")
            # A short key would let anyone forge alerts the receiver then believes.
            if len(self.alert_webhook_secret) < 16:
                raise ValueError("alert_webhook_secret must have at least 16 characters")

    @property
    def issuer_url(self) -> str:
        """The OIDC issuer identifier."""
        return self.issuer or f"http://{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        """Whether ``host`` is a loopback address (or ``localhost``)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False
