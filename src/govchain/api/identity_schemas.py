"""Request and response bodies of the identity endpoints (``XCreate`` in, ``XPublic`` out)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

_STRICT = ConfigDict(extra="forbid")

# The identity checks answer their own codes (``invalid_identity_number``, ``weak_password``)
# with a ``reason``; these constraints are documented for clients without being enforced first
# by the framework, which would answer a bare ``schema_violation`` instead.
_RESIDENT_ID: JsonDict = {"pattern": "^[0-9]{17}[0-9Xx]$", "minLength": 18, "maxLength": 18}
_USCC: JsonDict = {"pattern": "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"}
_PASSWORD: JsonDict = {"minLength": 10, "maxLength": 256}
_NAME: JsonDict = {"minLength": 1, "maxLength": 100, "pattern": "\\S"}
_LOGIN_NAME = "^[a-z0-9][a-z0-9_.-]{0,63}$"
"""A staff login or a member key's name inside its department (``<dept>/<name>``)."""
_IDENTIFIER = "^[a-z][a-z0-9_.-]{0,63}$"
"""A contract or method name, as a transaction body takes it."""


class CitizenCreate(BaseModel):
    """Self-registration of a citizen."""

    model_config = _STRICT
    resident_id: str = Field(
        description="Resident identity number (18 characters, GB 11643, with its check digit).",
        json_schema_extra=_RESIDENT_ID,
    )
    name: str = Field(description="Name as on the identity card.", json_schema_extra=_NAME)
    password: str = Field(
        description="10-256 characters with letters and digits.", json_schema_extra=_PASSWORD
    )


class EnterpriseCreate(BaseModel):
    """Registration of an enterprise by its legal representative."""

    model_config = _STRICT
    uscc: str = Field(
        description="Unified social credit code (18 characters, GB 32100, with its check "
        "character).",
        json_schema_extra=_USCC,
    )
    name: str = Field(description="Registered name of the enterprise.", json_schema_extra=_NAME)
    legal_rep: str = Field(description="Name of the legal representative.", json_schema_extra=_NAME)
    legal_rep_id: str = Field(
        description="Resident identity number of the legal representative.",
        json_schema_extra=_RESIDENT_ID,
    )
    password: str = Field(
        description="10-256 characters with letters and digits.", json_schema_extra=_PASSWORD
    )


class StaffCreate(BaseModel):
    """A department staff account, added by an admin of the department."""

    model_config = _STRICT
    name: str = Field(
        pattern=_LOGIN_NAME,
        description="Login name inside the department: the login is <dept>/<name>.",
    )
    display_name: str = Field(description="Person's name.", json_schema_extra=_NAME)
    # Not identity_admin: only the node's operator grants it (identity.users.IDENTITY_ADMIN).
    role: Literal["admin", "officer", "inspector", "approver", "auditor"]
    password: str = Field(
        description="Initial password (10-256 characters, letters and digits).",
        json_schema_extra=_PASSWORD,
    )


class RoleChange(BaseModel):
    """A new role for a staff account."""

    model_config = _STRICT
    # Not identity_admin: only the node's operator grants it (identity.users.IDENTITY_ADMIN).
    role: Literal["admin", "officer", "inspector", "approver", "auditor"]


class UserPublic(BaseModel):
    """A user as shown to the user and to administrators (no hash, no TOTP key)."""

    id: str
    kind: str
    login: str
    name: str
    dept: str
    role: str
    legal_rep: str
    status: str
    totp: bool
    locked: bool


class PasswordChange(BaseModel):
    """A new password for the logged-in user."""

    model_config = _STRICT
    current: str = Field(description="The current password.")
    new: str = Field(
        description="The new password (10-256 characters, letters and digits).",
        json_schema_extra=_PASSWORD,
    )


class TotpPublic(BaseModel):
    """A new TOTP key, shown once."""

    secret: str = Field(description="Base32 key for the authenticator app.")
    uri: str = Field(description="otpauth:// URI (show it as a QR code).")


class EventCreate(BaseModel):
    """An action a user's client reports for the access log."""

    model_config = _STRICT
    event: Literal["page_viewed", "service_started"]
    page: str = Field(default="", max_length=200)
    service: str = Field(default="", max_length=100)
    case: str = Field(default="", max_length=128)


class EntryPublic(BaseModel):
    """One access-log entry."""

    seq: int
    time_ms: int
    user: str
    event: str
    detail: dict[str, Any]
    prev: str


class LogVerificationPublic(BaseModel):
    """The result of verifying the access log's hash chain."""

    size: int
    head: str
    verified: bool


class Acting(BaseModel):
    """Which case and purpose an administrative action is for (recorded on the ledger)."""

    model_config = _STRICT
    case: str = Field(default="", max_length=128, description="Case (办件) id.")
    purpose: str = Field(default="", max_length=256, description="Declared purpose.")


class MemberCreate(Acting):
    """A new member key of the department, certified by its root."""

    name: str = Field(
        pattern=_LOGIN_NAME, description="Member name: the member id is <dept>/<name>."
    )
    role: Literal["admin", "officer", "auditor", "service"]
    public_key: str = Field(
        default="",
        # 32 bytes (intl, Ed25519) or 64 (gm, SM2): the network's suite decides which.
        pattern="^(([0-9a-fA-F]{64}){1,2})?$",
        description="Hex public key held by the member; empty: the node generates a key pair "
        "and keeps the private key in the network directory (0600).",
    )


class CallCreate(Acting):
    """A contract call a staff member makes for their department."""

    contract: str = Field(pattern=_IDENTIFIER)
    method: str = Field(pattern=_IDENTIFIER)
    args: dict[str, Any]


class ClientCreate(BaseModel):
    """A relying party of the OIDC provider."""

    model_config = _STRICT
    client_id: str
    name: str
    redirect_uris: list[str]
    confidential: bool = False


class ClientPublic(BaseModel):
    """A registered client; ``client_secret`` is shown once (confidential clients)."""

    client_id: str
    name: str
    redirect_uris: list[str]
    client_secret: str = ""


class OAuthErrorPublic(BaseModel):
    """A token-endpoint error as RFC 6749 section 5.2 defines it (``application/json``)."""

    error: str = Field(description="invalid_request, invalid_client, invalid_grant, ….")
    error_description: str
