"""Users, department staff, OIDC clients and the access log (``/v1/identity``).

Every route declares who may call it (``api.auth``); member keys and staff calls on the ledger
are in ``routes/members.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from govchain.api.auth import (
    PUBLIC,
    USER,
    IdentityDep,
    dept_staff,
    requires,
    staff,
)
from govchain.api.deps import NodeDep
from govchain.api.identity_schemas import (
    CitizenCreate,
    ClientCreate,
    ClientPublic,
    EnterpriseCreate,
    EntryPublic,
    EventCreate,
    LogVerificationPublic,
    PasswordChange,
    RoleChange,
    StaffCreate,
    TotpPublic,
    UserPublic,
)
from govchain.api.openapi import problem_responses
from govchain.api.params import DeptPath
from govchain.errors import Forbidden, NotFound
from govchain.identity import totp
from govchain.identity.oidc import Principal
from govchain.identity.service import Identity
from govchain.identity.users import IDENTITY_ADMIN
from govchain.ledger.encoding import MAX_SAFE_INTEGER

router = APIRouter(tags=["identity"])

ADMIN = dept_staff("admin")
"""Administrators of the department in the path."""
ADMIN_OR_AUDITOR = dept_staff("admin", "auditor")
"""Administrators and auditors of the department in the path."""
AUDITOR = staff("auditor")
"""Auditors of any department."""
IDENTITY_ADMINS = staff(IDENTITY_ADMIN)
"""Administrators of the login service itself (a role only the node's operator grants)."""
STAFF = staff("admin", "officer", "auditor")
"""Any staff member."""

Me = Annotated[Principal, requires(USER)]
Limit = Annotated[int, Query(ge=1, le=1000, description="Most entries to return.")]

_STAFF_ACTIONS = {"suspend": "suspended", "activate": "active", "revoke": "revoked"}

_REGISTRATION = problem_responses(
    {
        409: "A user with this login (identity number or credit code) exists.",
        422: "An identity number or credit code is invalid (`invalid_identity_number`, with "
        "`reason`), the password is weak (`weak_password`), a name is empty or too long, or the "
        "body is malformed.",
    }
)
_NO_STAFF = "No staff account of this name in the department."
StaffName = Annotated[
    str, Path(pattern="^[a-z0-9][a-z0-9_.-]{0,63}$", description="Login name in the department.")
]


def _principal(request: Request) -> Principal:
    p: Principal = request.state.principal
    return p


def _public(user: Any) -> dict[str, Any]:
    out: dict[str, Any] = user.public()
    return out


# --- registration and the user's own account -----------------------------------------------


@router.post(
    "/v1/identity/register/citizen",
    status_code=201,
    response_model=UserPublic,
    dependencies=[requires(PUBLIC)],
    summary="Register a citizen (resident identity number checked)",
    responses=_REGISTRATION,
)
def register_citizen(body: CitizenCreate, identity: IdentityDep) -> dict[str, Any]:
    """Create a citizen account; 422 with the reason if the identity number is invalid."""
    return _public(identity.users.create_citizen(body.resident_id, body.name, body.password))


@router.post(
    "/v1/identity/register/enterprise",
    status_code=201,
    response_model=UserPublic,
    dependencies=[requires(PUBLIC)],
    summary="Register an enterprise (credit code and legal representative checked)",
    responses=_REGISTRATION,
)
def register_enterprise(body: EnterpriseCreate, identity: IdentityDep) -> dict[str, Any]:
    """Create an enterprise account for its legal representative."""
    user = identity.users.create_enterprise(
        body.uscc, body.name, body.legal_rep, body.legal_rep_id, body.password
    )
    return _public(user)


@router.get("/v1/identity/me", response_model=UserPublic, summary="The logged-in user")
def me(principal: Me, identity: IdentityDep) -> dict[str, Any]:
    """Return the caller's account."""
    return _public(identity.users.get(principal.user))


@router.get(
    "/v1/identity/me/history",
    response_model=list[EntryPublic],
    summary="The logged-in user's own access history, newest first",
)
def my_history(principal: Me, identity: IdentityDep, limit: Limit = 100) -> list[dict[str, Any]]:
    """Return the caller's logins, failed logins and actions."""
    return [e.body() for e in identity.log.history(principal.user, limit)]


@router.post(
    "/v1/identity/me/events",
    status_code=201,
    response_model=EntryPublic,
    summary="Record a page view or a started service in the access log",
)
def record_event(principal: Me, body: EventCreate, identity: IdentityDep) -> dict[str, Any]:
    """Append what the user did (the portal and apps call this)."""
    detail = {k: v for k, v in body.model_dump().items() if k != "event" and v}
    return identity.log.append(principal.user, body.event, detail).body()


@router.post(
    "/v1/identity/me/password",
    response_model=UserPublic,
    summary="Change the logged-in user's password",
    responses=problem_responses(
        {
            403: "The current password is wrong.",
            422: "The new password is weak (`weak_password`), or the body is malformed.",
        }
    ),
)
def change_password(principal: Me, body: PasswordChange, identity: IdentityDep) -> dict[str, Any]:
    """Check the current password, then store the Argon2id hash of the new one."""
    user = identity.users.change_password(principal.user, body.current, body.new)
    identity.log.append(user.id, "action", {"route": "password_changed"})
    return _public(user)


@router.post(
    "/v1/identity/me/totp",
    status_code=201,
    response_model=TotpPublic,
    dependencies=[requires(STAFF)],
    summary="Turn on the TOTP second factor (staff); the key is shown once",
)
def enable_totp(request: Request, identity: IdentityDep) -> dict[str, Any]:
    """Generate a TOTP key; from now on logins need the 6-digit code."""
    principal = _principal(request)
    user, key = identity.users.enable_totp(principal.user)
    identity.log.append(user.id, "action", {"route": "totp_enabled"})
    return {
        "secret": totp.secret_base32(key),
        "uri": totp.provisioning_uri(key, user.login, identity.provider.issuer),
    }


# --- the access log -------------------------------------------------------------------------


@router.get(
    "/v1/identity/access-log/verify",
    response_model=LogVerificationPublic,
    dependencies=[requires(AUDITOR)],
    summary="Verify the access log's hash chain (auditors)",
    responses=problem_responses({500: "`integrity_error`, naming the first bad entry."}),
)
def verify_access_log(identity: IdentityDep) -> dict[str, Any]:
    """Recompute every entry's hash; 500 ``integrity_error`` naming the first bad entry."""
    return identity.log.verify()


@router.get(
    "/v1/identity/access-log",
    response_model=list[EntryPublic],
    dependencies=[requires(AUDITOR)],
    summary="Access-log entries (auditors), optionally of one user",
)
def access_log(
    identity: IdentityDep,
    user: Annotated[str | None, Query(description="Only this user's entries.")] = None,
    start: Annotated[
        int, Query(ge=0, le=MAX_SAFE_INTEGER, description="First entry (its sequence number).")
    ] = 0,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """Return entries in order from ``start``, or one user's newest first."""
    if user is not None:
        return [e.body() for e in identity.log.history(user, limit)]
    return [e.body() for e in identity.log.entries(start)[:limit]]


# --- department staff -----------------------------------------------------------------------


@router.get(
    "/v1/identity/departments/{dept}/staff",
    response_model=list[UserPublic],
    dependencies=[requires(ADMIN_OR_AUDITOR)],
    summary="Staff accounts of a department",
)
def list_staff(dept: DeptPath, identity: IdentityDep) -> list[dict[str, Any]]:
    """Return the department's staff."""
    return [_public(u) for u in identity.users.list(dept)]


@router.post(
    "/v1/identity/departments/{dept}/staff",
    status_code=201,
    response_model=UserPublic,
    dependencies=[requires(ADMIN)],
    summary="Add a staff account to a department (its admins)",
    responses=problem_responses(
        {
            404: "No such department in the network.",
            409: "A user with this login exists.",
            422: "The name, role or password is refused (`weak_password`), or the body is "
            "malformed.",
        }
    ),
)
def add_staff(
    dept: DeptPath, body: StaffCreate, request: Request, identity: IdentityDep, node: NodeDep
) -> dict[str, Any]:
    """Create ``<dept>/<name>`` with a role."""
    node.genesis.department(dept)
    user = identity.users.create_staff(
        f"{dept}/{body.name}", body.display_name, dept, body.role, body.password
    )
    identity.log.append(
        _principal(request).user, "action", {"route": "staff_added", "target": user.id}
    )
    return _public(user)


def _staff_of(identity: Identity, dept: str, name: str) -> str:
    user_id = f"{dept}/{name}"
    user = identity.users.get(user_id)
    if user.kind != "staff" or user.dept != dept:
        raise NotFound(f"no staff account {user_id!r}")
    return user_id


@router.put(
    "/v1/identity/departments/{dept}/staff/{name}/role",
    response_model=UserPublic,
    dependencies=[requires(ADMIN)],
    summary="Assign a role to a staff account",
    responses=problem_responses({404: _NO_STAFF}),
)
def assign_role(
    dept: DeptPath, name: StaffName, body: RoleChange, request: Request, identity: IdentityDep
) -> dict[str, Any]:
    """Change the role (takes effect at the user's next login or token refresh)."""
    user = identity.users.set_role(_staff_of(identity, dept, name), body.role)
    identity.log.append(
        _principal(request).user,
        "action",
        {"route": "role_assigned", "target": user.id, "role": body.role},
    )
    return _public(user)


@router.post(
    "/v1/identity/departments/{dept}/staff/{name}/{action}",
    response_model=UserPublic,
    dependencies=[requires(ADMIN)],
    summary="Suspend, reactivate, revoke or unlock a staff account",
    responses=problem_responses(
        {
            403: "An administrator may not suspend or revoke their own account.",
            404: f"{_NO_STAFF} Or no such action.",
            409: "The account is revoked; revocation is final.",
        }
    ),
)
def change_staff(
    dept: DeptPath,
    name: StaffName,
    # Documented, not validated: an unknown action is answered 404 like an unknown account.
    action: Annotated[str, Path(json_schema_extra={"enum": [*_STAFF_ACTIONS, "unlock"]})],
    request: Request,
    identity: IdentityDep,
) -> dict[str, Any]:
    """``suspend`` / ``activate`` / ``revoke`` (final) / ``unlock`` (clears a lockout)."""
    user_id = _staff_of(identity, dept, name)
    me = _principal(request).user
    if user_id == me and action != "unlock":
        raise Forbidden("an administrator cannot suspend or revoke their own account")
    if action == "unlock":
        user = identity.users.unlock(user_id)
    elif action in _STAFF_ACTIONS:
        user = identity.users.set_status(user_id, _STAFF_ACTIONS[action])
        if user.status != "active":
            identity.provider.end_user_sessions(user_id)  # its tokens stop working now
    else:
        raise NotFound(f"no staff action {action!r} (suspend, activate, revoke, unlock)")
    identity.log.append(me, "action", {"route": f"staff_{action}", "target": user_id})
    return _public(user)


# --- OIDC clients ---------------------------------------------------------------------------


@router.post(
    "/v1/identity/clients",
    status_code=201,
    response_model=ClientPublic,
    dependencies=[requires(IDENTITY_ADMINS)],
    summary="Register an application or portal as an OIDC client (identity administrators)",
    responses=problem_responses(
        {
            422: "The client id is not 1-64 letters, digits and `-`, there is no redirect URI, "
            "or one is neither https nor http on a loopback address."
        }
    ),
)
def register_client(body: ClientCreate, request: Request, identity: IdentityDep) -> dict[str, Any]:
    """Register a relying party; a confidential client's secret is returned once. Redirect
    URIs are https, or http on a loopback address (``127.0.0.1``, ``[::1]``, ``localhost``)."""
    client, secret = identity.provider.register_client(
        body.client_id, body.name, body.redirect_uris, body.confidential
    )
    identity.log.append(
        _principal(request).user,
        "action",
        {"route": "client_registered", "target": client.client_id},
    )
    return {**client.to_json(), "client_secret": secret}
