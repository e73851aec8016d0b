"""Grants: which department may read which fields of a resource, for what purpose, until when.

A conditional resource's grant waits for the owner's approval; an unconditional one is active
at once; the owner or the grantee may revoke it. Expiry is computed from ``expires_ms`` at each
check, never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import orjson

from govchain.errors import SchemaViolation
from govchain.sharing.model import (
    MAX_TEXT,
    ResourceId,
    field_list,
    int_field,
    only_fields,
    resource_id,
    string_field,
)
from govchain.types import DeptId

GrantId = str
"""Identifier of a grant (``g-`` + the request transaction id)."""


class GrantStatus(StrEnum):
    """Life cycle of a grant (expiry is computed from ``expires_ms``, never stored)."""

    pending = "pending"
    active = "active"
    rejected = "rejected"
    revoked = "revoked"


@dataclass(frozen=True, slots=True)
class Grant:
    """Access of one department to some fields of one resource, for one purpose."""

    id: GrantId
    """Grant id."""
    resource: ResourceId
    """Resource granted."""
    owner: DeptId
    """Owner department of the resource."""
    grantee: DeptId
    """Department granted."""
    fields: tuple[str, ...]
    """Fields the purpose needs (field-level grant)."""
    purpose: str
    """Purpose the data may be used for; each read must declare exactly this purpose."""
    legal_basis: str
    """Legal basis the grantee cites."""
    case: str
    """Case id the request was made for (may be empty)."""
    expires_ms: int
    """End of validity (block time, milliseconds since the epoch)."""
    status: GrantStatus
    """Life-cycle state."""
    requested_by: str
    """Member and person who asked: ``member (actor)``."""
    requested_ms: int
    """Block time of the request."""
    decided_by: str = ""
    """Who approved, rejected or revoked it."""
    decided_ms: int = 0
    """When."""
    reason: str = ""
    """Why it was rejected or revoked."""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored on-chain."""
        return {
            "id": self.id,
            "resource": self.resource,
            "owner": self.owner,
            "grantee": self.grantee,
            "fields": list(self.fields),
            "purpose": self.purpose,
            "legal_basis": self.legal_basis,
            "case": self.case,
            "expires_ms": self.expires_ms,
            "status": self.status.value,
            "requested_by": self.requested_by,
            "requested_ms": self.requested_ms,
            "decided_by": self.decided_by,
            "decided_ms": self.decided_ms,
            "reason": self.reason,
        }

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> Grant:
        """Rebuild a stored grant."""
        return Grant(
            id=obj["id"],
            resource=obj["resource"],
            owner=obj["owner"],
            grantee=obj["grantee"],
            fields=tuple(obj["fields"]),
            purpose=obj["purpose"],
            legal_basis=obj["legal_basis"],
            case=obj["case"],
            expires_ms=obj["expires_ms"],
            status=GrantStatus(obj["status"]),
            requested_by=obj["requested_by"],
            requested_ms=obj["requested_ms"],
            decided_by=obj["decided_by"],
            decided_ms=obj["decided_ms"],
            reason=obj["reason"],
        )


MAX_GRANT_MS = 366 * 24 * 3600 * 1000
"""Longest validity of a grant: about a year; renew by asking again."""
GRANT_REQUEST_FIELDS = {"resource", "fields", "purpose", "legal_basis", "case", "expires_ms"}
"""Fields of a grant request."""


@dataclass(frozen=True, slots=True)
class GrantRequest:
    """A validated grant request (the contract turns it into a ``Grant``)."""

    resource: ResourceId
    """Resource asked for."""
    fields: tuple[str, ...]
    """Fields asked for."""
    purpose: str
    """Purpose."""
    legal_basis: str
    """Legal basis."""
    case: str
    """Case id (may be empty)."""
    expires_ms: int
    """Requested end of validity."""


def parse_grant_request(args: Any, now_ms: int) -> GrantRequest:
    """Validate a grant request at block time ``now_ms``."""
    args = only_fields(args, GRANT_REQUEST_FIELDS, "grant request")
    expires = int_field(args, "expires_ms")
    if expires <= now_ms:
        raise SchemaViolation("expires_ms must be in the future", field="expires_ms")
    if expires - now_ms > MAX_GRANT_MS:
        raise SchemaViolation("a grant may last at most 366 days", field="expires_ms")
    return GrantRequest(
        resource=resource_id(args.get("resource")),
        fields=field_list(args.get("fields")),
        purpose=string_field(args, "purpose", 256),
        legal_basis=string_field(args, "legal_basis", MAX_TEXT),
        case=string_field(args, "case", 128, empty=True),
        expires_ms=expires,
    )


@lru_cache(maxsize=65_536)
def grant_from_bytes(raw: bytes) -> Grant:
    """Parse a stored grant (cached by its bytes: a changed grant is other bytes)."""
    return Grant.from_json(orjson.loads(raw))
