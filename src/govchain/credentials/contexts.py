"""The JSON-LD contexts shipped in the package and the offline document loader.

Two documents ship under ``govchain/credentials/contexts/`` and nothing else is ever loaded:

* ``https://www.w3.org/ns/credentials/v2``: the W3C VC Data Model 2.0 base context, byte for
  byte as W3C publishes it (its SHA-384 is the ``digestSRI`` the specification gives:
  ``VC_V2_DIGEST_SRI``).
* ``https://govchain.example/ns/credentials/v1``: ours, the GB/T 36903 e-licence and the e-bill
  terms (docs/credentials.md). ``govchain.example`` is a reserved name (RFC 6761): the URL is an
  identifier, never fetched; a deployment that owns a domain keeps this URL as it is, since it
  is signed into every credential.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from govchain.errors import NotFound

VC_V2 = "https://www.w3.org/ns/credentials/v2"
"""URL of the W3C Verifiable Credentials 2.0 base context."""
GOVCHAIN_V1 = "https://govchain.example/ns/credentials/v1"
"""URL of our context (e-licence and e-bill terms)."""
VC_V2_DIGEST_SRI = "sha384-l/HrjlBCNWyAX91hr6LFV2Y3heB5Tcr6IeE4/Tje8YyzYBM8IhqjHWiWpr8+ZbYU"
"""Subresource-integrity digest W3C publishes for the VC 2.0 context."""

_FILES = {
    VC_V2: "credentials-v2.jsonld",
    GOVCHAIN_V1: "govchain-credentials-v1.jsonld",
}


def shipped_urls() -> tuple[str, ...]:
    """Return the URLs of every shipped context."""
    return tuple(_FILES)


@cache
def context_bytes(url: str) -> bytes:
    """Return the exact bytes of a shipped context; ``NotFound`` for any other URL."""
    name = _FILES.get(url)
    if name is None:
        raise NotFound(f"context {url!r} is not shipped; nothing is fetched", url=url)
    return resources.files("govchain.credentials").joinpath("contexts", name).read_bytes()


def context_document(url: str) -> dict[str, Any]:
    """Return the parsed JSON of a shipped context (a fresh copy)."""
    parsed: dict[str, Any] = json.loads(context_bytes(url))
    return parsed


def document_loader(url: str, options: Any = None) -> dict[str, Any]:
    """Serve a shipped context in the shape JSON-LD processors (pyld) expect.

    ``options`` is accepted and ignored (pyld passes it). Any URL not shipped raises
    ``NotFound``: a verifier never goes to the network.
    """
    return {"contextUrl": None, "documentUrl": url, "document": context_document(url)}
