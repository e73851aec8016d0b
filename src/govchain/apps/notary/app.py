"""The notarisation service's description (discovered by ``govchain.sdk.discover_apps``)."""

from __future__ import annotations

from govchain.apps.notary.demo import demo_calls
from govchain.sdk import App

APP = App(
    name="notary",
    title="电子存证 / Notarisation",
    description=(
        "A citizen, enterprise or department notarises a document: the ledger records its hash, "
        "who, when, the case and an optional expiry; the file stays off-chain (optionally in the "
        "node's content store). Anyone verifies a document against its receipt offline, or "
        "online. Batches put the Merkle root of many documents in one transaction; a "
        "notarisation can be revoked with a reason."
    ),
    demo=demo_calls,
)
