"""Errors of data sharing, as leaves of the one tree in ``govchain.errors``.

::

    Forbidden
    └── AccessDenied             a read or grant operation is not allowed (``reason`` says why)
        ├── NotShared                the resource's share level is "not shared"
        ├── SecretResource           secret records never leave the owner's node
        ├── NoGrant                  no grant names this resource for the reader
        ├── GrantPending             the grant waits for the owner's approval
        ├── GrantRejected            the owner rejected the grant
        ├── GrantRevoked             the grant was revoked
        ├── GrantExpired             the grant's expiry has passed
        ├── WrongDepartment          the grant belongs to another department
        ├── WrongPurpose             the declared purpose is not the grant's purpose
        ├── FieldsNotGranted         a requested field is not covered by the grant
        └── NotOwner                 only the owner department may do this
    NotFound
    └── RecordErased             the record was crypto-shredded
    InvalidInput
    └── StaleRequest             a signed request's time is outside the accepted window
    Conflict
    └── ReplayedRequest          a signed request was already served
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govchain.errors import Conflict, Forbidden, GovchainError, InvalidInput, NotFound


class AccessDenied(Forbidden):
    """The caller is a member, but this data access is not allowed."""

    code = "access_denied"
    reason = "access_denied"

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message, reason=self.reason, **fields)


class NotShared(AccessDenied):
    """The resource's share level is "not shared" (不予共享)."""

    code = reason = "not_shared"


class SecretResource(AccessDenied):
    """Records of a secret resource never leave the owner's node; ask for an attestation."""

    code = reason = "secret_resource"


class NoGrant(AccessDenied):
    """No grant of this resource covers the reader."""

    code = reason = "no_grant"


class GrantPending(AccessDenied):
    """The grant still waits for the owner department's approval."""

    code = reason = "grant_pending"


class GrantRejected(AccessDenied):
    """The owner department rejected the grant."""

    code = reason = "grant_rejected"


class GrantRevoked(AccessDenied):
    """The grant was revoked."""

    code = reason = "grant_revoked"


class GrantExpired(AccessDenied):
    """The grant's expiry time has passed."""

    code = reason = "grant_expired"


class WrongDepartment(AccessDenied):
    """The grant was given to another department."""

    code = reason = "wrong_department"


class WrongPurpose(AccessDenied):
    """The declared purpose is not the purpose the grant was given for."""

    code = reason = "wrong_purpose"


class FieldsNotGranted(AccessDenied):
    """A requested field is not among the grant's fields."""

    code = reason = "fields_not_granted"


class NotOwner(AccessDenied):
    """Only the resource's owner department may do this."""

    code = reason = "not_owner"


class RecordErased(NotFound):
    """The record was erased (its data key destroyed); the ledger keeps the proof."""

    code = "record_erased"


class StaleRequest(InvalidInput):
    """A signed request's time is too far from the node's clock."""

    code = "stale_request"


class ReplayedRequest(Conflict):
    """A signed request with this id was already served."""

    code = "replayed_request"


DENIALS: dict[str, type[AccessDenied]] = {
    cls.code: cls
    for cls in (
        AccessDenied,
        NotShared,
        SecretResource,
        NoGrant,
        GrantPending,
        GrantRejected,
        GrantRevoked,
        GrantExpired,
        WrongDepartment,
        WrongPurpose,
        FieldsNotGranted,
        NotOwner,
    )
}
"""Denial classes by code: a failed on-chain check comes back as a receipt error code."""


def _error_classes() -> dict[str, type[GovchainError]]:
    out: dict[str, type[GovchainError]] = {}
    todo: list[type[GovchainError]] = [GovchainError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        out.setdefault(cls.code, cls)
    return out


def error_of(error: Mapping[str, Any]) -> GovchainError:
    """Rebuild the typed error a receipt names (a failed on-chain check)."""
    cls = _error_classes().get(str(error.get("code")), Conflict)
    message = str(error.get("message", "the transaction failed"))
    try:
        return cls(message)
    except TypeError:  # an error class with extra constructor arguments
        return Conflict(message, code=error.get("code"))
