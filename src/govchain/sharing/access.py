"""The access rule: may this department read these fields of this resource, now, for this
purpose? One pure function, used by the owner node before it decrypts anything and again by
the read-log contract at block time (which is authoritative: a grant revoked in between makes
the log transaction fail, and then nothing is returned)."""

from __future__ import annotations

from collections.abc import Sequence

from govchain.sharing.errors import (
    FieldsNotGranted,
    GrantExpired,
    GrantPending,
    GrantRejected,
    GrantRevoked,
    NoGrant,
    NotShared,
    SecretResource,
    WrongDepartment,
    WrongPurpose,
)
from govchain.sharing.grants import Grant, GrantStatus
from govchain.sharing.model import Resource, Sensitivity, ShareLevel
from govchain.types import DeptId


def check_read(
    resource: Resource,
    grant: Grant | None,
    *,
    reader: DeptId,
    purpose: str,
    fields: Sequence[str],
    now_ms: int,
) -> None:
    """Raise the ``AccessDenied`` leaf that says why ``reader`` may not read ``fields``;
    return ``None`` if the read is allowed. The owner department reads its own resources
    without a grant (the read is still logged)."""
    unknown = sorted(set(fields) - set(resource.field_names()))
    if unknown:
        raise FieldsNotGranted(f"resource {resource.id!r} has no fields {unknown}", fields=unknown)
    if reader == resource.owner:
        return
    if resource.sensitivity is Sensitivity.secret:
        raise SecretResource(
            f"resource {resource.id!r} is secret: its records never leave "
            f"{resource.owner!r}'s node; ask for an attestation",
            resource=resource.id,
        )
    if resource.share_level is ShareLevel.not_shared:
        raise NotShared(f"resource {resource.id!r} is not shared", resource=resource.id)
    if grant is None or grant.resource != resource.id:
        raise NoGrant(
            f"no grant of resource {resource.id!r} was named for department {reader!r}",
            resource=resource.id,
        )
    if grant.grantee != reader:
        raise WrongDepartment(
            f"grant {grant.id} belongs to department {grant.grantee!r}, not {reader!r}",
            grant=grant.id,
        )
    if grant.status is GrantStatus.pending:
        raise GrantPending(
            f"grant {grant.id} waits for the approval of {grant.owner!r}", grant=grant.id
        )
    if grant.status is GrantStatus.rejected:
        raise GrantRejected(f"grant {grant.id} was rejected: {grant.reason}", grant=grant.id)
    if grant.status is GrantStatus.revoked:
        raise GrantRevoked(f"grant {grant.id} was revoked: {grant.reason}", grant=grant.id)
    if now_ms >= grant.expires_ms:
        raise GrantExpired(
            f"grant {grant.id} expired at {grant.expires_ms} (now {now_ms})",
            grant=grant.id,
            expires_ms=grant.expires_ms,
        )
    if purpose != grant.purpose:
        raise WrongPurpose(
            f"grant {grant.id} is for the purpose {grant.purpose!r}, not {purpose!r}",
            grant=grant.id,
        )
    missing = sorted(set(fields) - set(grant.fields))
    if missing:
        raise FieldsNotGranted(
            f"grant {grant.id} does not cover the fields {missing}", grant=grant.id, fields=missing
        )
