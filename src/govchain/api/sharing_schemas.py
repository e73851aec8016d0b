"""Response schemas of the data-sharing routes (for validation and OpenAPI)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Public(BaseModel):
    model_config = ConfigDict(extra="allow")


class FieldPublic(_Public):
    """One field of a resource schema."""

    name: str
    type: str = Field(description="string, integer, boolean or date.")
    description: str


class ResourcePublic(_Public):
    """A catalogue resource."""

    id: str
    owner: str = Field(description="Owner department.")
    name: str
    description: str
    fields: list[FieldPublic]
    share_level: str = Field(description="unconditional, conditional or not_shared.")
    sensitivity: str = Field(description="public, internal, sensitive or secret.")
    update_frequency: str
    legal_basis: str
    registered_ms: int


class ScoredResourcePublic(ResourcePublic):
    """A catalogue resource with its search score."""

    score: int = Field(description="Search score (0 when listing without a query).")


class CataloguePublic(_Public):
    """Catalogue listing or search result."""

    resources: list[ScoredResourcePublic]


class RecordEntryPublic(_Public):
    """What the ledger holds about a record."""

    resource: str
    record: str
    subject_ref: str = Field(description="Pseudonymous hash of the subject id.")
    hash: str = Field(description="Hash of the sealed record (checks any copy).")
    published_by: str
    published_ms: int
    erased: dict[str, Any] | None = Field(description="Erasure proof: by, reason, erased_ms.")


class GrantPublic(_Public):
    """A grant."""

    id: str
    resource: str
    owner: str
    grantee: str
    fields: list[str]
    purpose: str
    legal_basis: str
    case: str
    expires_ms: int
    status: str = Field(description="pending, active, rejected or revoked.")
    requested_by: str
    requested_ms: int
    decided_by: str
    decided_ms: int
    reason: str


class GrantListPublic(_Public):
    """Grants."""

    grants: list[GrantPublic]


class KeyPublic(_Public):
    """A department's agreement public key."""

    dept: str
    public: str


class PublishedPublic(_Public):
    """A published record."""

    resource: str
    record: str
    hash: str
    tx_id: str


class ReadAnswerPublic(_Public):
    """A read answer, sealed for the reading department."""

    request_id: str
    tx_id: str = Field(description="The committed read-log transaction.")
    resource: str
    owner: str
    reader: str
    records: int
    wrapped_key: str = Field(description="Answer key sealed under the owner-reader KEK.")
    ciphertext: str = Field(description="The granted fields, sealed under the answer key.")


class ErasurePublic(_Public):
    """An erased record's ledger entry."""

    erased: dict[str, Any]
    tx_id: str


class AttestationPublic(_Public):
    """An attestation (or, in a batch answer, ``{error, tx_id}``)."""

    id: str | None = None
    answer: bool | None = None
    tx_id: str


class AccessReceiptsPublic(_Public):
    """Who read a subject's data, and attestations about them."""

    subject_ref: str
    reads: list[dict[str, Any]]
    attestations: list[dict[str, Any]]


def signed_request_schema(kind: str) -> dict[str, Any]:
    """Return the JSON schema of a signed data request of ``kind`` (for OpenAPI)."""
    return {
        "type": "object",
        "required": ["body", "signature"],
        "properties": {
            "body": {
                "type": "object",
                "required": [
                    "v",
                    "chain",
                    "kind",
                    "signer",
                    "actor",
                    "case",
                    "purpose",
                    "time_ms",
                    "nonce",
                    "args",
                ],
                "properties": {
                    "v": {"const": 1},
                    "kind": {"const": kind},
                    "chain": {"type": "string"},
                    "signer": {"type": "string", "description": "Member id, e.g. market/admin."},
                    "actor": {"type": "string", "description": "Person acting."},
                    "case": {"type": "string"},
                    "purpose": {"type": "string"},
                    "time_ms": {"type": "integer"},
                    "nonce": {"type": "integer", "description": "Random; makes the id unique."},
                    "args": {"type": "object"},
                },
            },
            "signature": {
                "type": "string",
                "description": "Hex signature of 'govchain/sharing/request/v1\\0' + canonical "
                "body.",
            },
        },
    }
