"""Users of the access layer: citizens, enterprises and department staff; login with lockout.

===========  ==========================================  ===============================
kind         login name                                  user id (the ``actor`` on-chain)
===========  ==========================================  ===============================
citizen      resident identity number (GB 11643 checked)  ``citizen/<16 random hex>``
enterprise   unified social credit code (GB 32100)        ``enterprise/<16 random hex>``
staff        ``<department>/<name>``                      ``<department>/<name>``
===========  ==========================================  ===============================

Citizens' and enterprises' ids are random pseudonyms: the raw identity number stays in this
node's store only. Five failed logins in a row lock an account for 15 minutes.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from govchain.errors import (
    AccountLocked,
    BadCredentials,
    Conflict,
    Forbidden,
    NotFound,
    SchemaViolation,
)
from govchain.identity import passwords, totp
from govchain.identity.idnumbers import validate_resident_id, validate_uscc
from govchain.identity.records import RecordStore

KINDS = ("citizen", "enterprise", "staff")
"""Kinds of user."""
IDENTITY_ADMIN = "identity_admin"
"""Role of the staff who administer the login service itself (register OIDC clients). Only
the node's operator grants it (``govchain user role``): a department administrator cannot, so
that no department can put its own application on the platform's login page."""
STAFF_ROLES = ("admin", "officer", "inspector", "approver", "auditor", IDENTITY_ADMIN)
"""Roles of department staff (``service`` is for machine members, not people); ``inspector``
and ``approver`` own case steps and decisions (docs/services.md)."""
MAX_FAILURES = 5
"""Failed logins in a row that lock an account."""
LOCK_S = 15 * 60
"""How long a locked account stays locked."""

_STAFF_NAME = re.compile(r"[a-z][a-z0-9_\-]{0,31}/[a-z0-9][a-z0-9_.\-]{0,63}\Z")


@dataclass(frozen=True, slots=True)
class User:
    """A user account as stored on the node."""

    id: str
    """Stable user id; goes into transactions as ``actor``."""
    kind: str
    """``citizen``, ``enterprise`` or ``staff``."""
    login: str
    """Login name (identity number, credit code, or ``<dept>/<name>``)."""
    name: str
    """Display name (person or enterprise)."""
    dept: str = ""
    """Department of staff; empty otherwise."""
    role: str = ""
    """Role of staff; empty otherwise."""
    legal_rep: str = ""
    """Enterprise: name of the legal representative."""
    legal_rep_id: str = ""
    """Enterprise: resident identity number of the legal representative."""
    status: str = "active"
    """``active``, ``suspended`` or ``revoked``."""
    password_hash: str = ""
    """Argon2id hash (PHC string)."""
    totp_key: str = ""
    """Hex TOTP key when the second factor is on; empty otherwise."""
    totp_last_step: int = -1
    """Last accepted TOTP time step (a code is accepted once)."""
    failed: int = 0
    """Failed logins in a row."""
    locked_until: int = 0
    """Unix time until which logins are refused."""
    created: int = 0
    """Unix time of creation."""

    def to_json(self) -> dict[str, Any]:
        """Return the stored form."""
        return {f: getattr(self, f) for f in self.__dataclass_fields__}

    def public(self) -> dict[str, Any]:
        """Return what the user and administrators may see: no hash, no TOTP key."""
        return {
            "id": self.id,
            "kind": self.kind,
            "login": self.login,
            "name": self.name,
            "dept": self.dept,
            "role": self.role,
            "legal_rep": self.legal_rep,
            "status": self.status,
            "totp": bool(self.totp_key),
            "locked": self.locked_until > int(time.time()),
        }


_POLICY_KEY = "policy/login"


def _user_key(user_id: str) -> str:
    return f"user/{user_id}"


def _login_key(login: str) -> str:
    return f"login/{login}"


class UserDirectory:
    """Creates users, changes them and checks their logins, durably."""

    def __init__(self, records: RecordStore, clock: Callable[[], float] = time.time) -> None:
        self._records = records
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    # --- reading ---------------------------------------------------------------------------

    def get(self, user_id: str) -> User:
        """Return a user by id (``NotFound`` if there is none)."""
        obj = self._records.get(_user_key(user_id))
        if obj is None:
            raise NotFound(f"no user {user_id!r}")
        return User(**obj)

    def find_login(self, login: str) -> User | None:
        """Return the user with this login name, or ``None``."""
        if "/" not in login:  # identity numbers and credit codes: case-insensitive (x/X)
            login = login.strip().upper()
        ref = self._records.get(_login_key(login))
        return None if ref is None else self.get(ref["user"])

    def list(self, dept: str | None = None) -> list[User]:
        """Return all users (of one department's staff when ``dept`` is given)."""
        out = [User(**orjson.loads(v)) for _, v in self._records.scan("user/")]
        return [u for u in out if dept is None or u.dept == dept]

    # --- creating --------------------------------------------------------------------------

    def _create(self, user: User, password: str) -> User:
        passwords.check_policy(password)
        user = replace(user, password_hash=passwords.hash_password(password), created=self._now())
        with self._records.lock:
            if self._records.get(_login_key(user.login)) is not None:
                raise Conflict("a user with this login name already exists", login_kind=user.kind)
            self._records.write(
                {_user_key(user.id): user.to_json(), _login_key(user.login): {"user": user.id}}
            )
        return user

    def create_citizen(self, resident_id: str, name: str, password: str) -> User:
        """Register a citizen; the resident identity number's check digit is validated."""
        number = validate_resident_id(resident_id)
        _check_name(name)
        uid = f"citizen/{secrets.token_hex(8)}"
        return self._create(User(uid, "citizen", number, name), password)

    def create_enterprise(
        self, uscc: str, name: str, legal_rep: str, legal_rep_id: str, password: str
    ) -> User:
        """Register an enterprise with its legal representative (both numbers validated)."""
        code = validate_uscc(uscc)
        rep_id = validate_resident_id(legal_rep_id)
        _check_name(name)
        _check_name(legal_rep)
        uid = f"enterprise/{secrets.token_hex(8)}"
        return self._create(
            User(uid, "enterprise", code, name, legal_rep=legal_rep, legal_rep_id=rep_id),
            password,
        )

    def create_staff(self, login: str, name: str, dept: str, role: str, password: str) -> User:
        """Add a department staff account ``<dept>/<name>`` with a role."""
        if not _STAFF_NAME.match(login) or not login.startswith(dept + "/"):
            raise SchemaViolation(
                "a staff login is '<department>/<name>' (lower-case letters, digits, . _ -)",
                field="login",
            )
        if role not in STAFF_ROLES:
            raise SchemaViolation(f"a staff role is one of {', '.join(STAFF_ROLES)}", field="role")
        _check_name(name)
        return self._create(User(login, "staff", login, name, dept=dept, role=role), password)

    # --- changing --------------------------------------------------------------------------

    def _update(self, user_id: str, change: Callable[[User], User]) -> User:
        with self._records.lock:
            user = change(self.get(user_id))
            self._records.write({_user_key(user.id): user.to_json()})
            return user

    def set_role(self, user_id: str, role: str) -> User:
        """Change a staff member's role."""
        if role not in STAFF_ROLES:
            raise SchemaViolation(f"a staff role is one of {', '.join(STAFF_ROLES)}", field="role")

        def change(u: User) -> User:
            if u.kind != "staff":
                raise SchemaViolation("only staff accounts have roles", field="role")
            return replace(u, role=role)

        return self._update(user_id, change)

    def set_status(self, user_id: str, status: str) -> User:
        """Suspend, reactivate or revoke an account (revocation is final)."""
        if status not in ("active", "suspended", "revoked"):
            raise SchemaViolation("status is active, suspended or revoked", field="status")

        def change(u: User) -> User:
            if u.status == "revoked":
                raise Conflict(f"user {u.id!r} is revoked; revocation is final")
            return replace(u, status=status)

        return self._update(user_id, change)

    def enable_totp(self, user_id: str) -> tuple[User, bytes]:
        """Turn on the TOTP second factor; return the user and the new key (shown once)."""
        key = totp.new_secret()
        user = self._update(user_id, lambda u: replace(u, totp_key=key.hex(), totp_last_step=-1))
        return user, key

    def set_totp_key(self, user_id: str, key: bytes) -> User:
        """Turn on the TOTP second factor with a given key (the demo network's deterministic
        keys, ``identity.demo_totp``); the accepted-step counter restarts only for a new key."""
        if len(key) < 16:
            raise SchemaViolation("a TOTP key has at least 128 bits", field="totp_key")

        def change(u: User) -> User:
            if u.totp_key == key.hex():
                return u
            return replace(u, totp_key=key.hex(), totp_last_step=-1)

        return self._update(user_id, change)

    def require_staff_totp(self, on: bool = True) -> None:
        """Require (or stop requiring) the TOTP second factor of every staff login: once on, a
        staff account without a TOTP key cannot log in until an administrator turns it on."""
        self._records.write({_POLICY_KEY: {"staff_totp": bool(on)}})

    def staff_totp_required(self) -> bool:
        """Whether staff must log in with a TOTP code (``require_staff_totp``)."""
        policy = self._records.get(_POLICY_KEY)
        return bool(policy and policy.get("staff_totp"))

    def change_password(self, user_id: str, current: str, new: str) -> User:
        """Replace the password after checking the current one (``BadCredentials`` if wrong)."""
        passwords.check_policy(new)

        def change(u: User) -> User:
            if not passwords.verify_password(u.password_hash, current):
                raise Forbidden("the current password is wrong")
            return replace(u, password_hash=passwords.hash_password(new))

        return self._update(user_id, change)

    def unlock(self, user_id: str) -> User:
        """Clear a lockout (administrator action)."""
        return self._update(user_id, lambda u: replace(u, failed=0, locked_until=0))

    # --- logging in ------------------------------------------------------------------------

    def authenticate(self, login: str, password: str, otp: str = "") -> User:
        """Return the user if the password (and TOTP code, when enabled) are right.

        ``BadCredentials`` names no reason (wrong name, password or code look the same);
        ``AccountLocked`` once ``MAX_FAILURES`` failures in a row happened; ``Forbidden`` for a
        suspended or revoked account. Unknown names cost the same hashing time."""
        now = self._now()
        with self._records.lock:
            user = self.find_login(login)
            if user is None:
                passwords.verify_password(passwords.DUMMY_HASH, password)
                raise BadCredentials("wrong login name, password or one-time code")
            if user.locked_until > now:
                raise AccountLocked(
                    "too many failed logins: the account is locked; try again later or ask "
                    "an administrator to unlock it",
                    retry_after_s=user.locked_until - now,
                )
            ok = passwords.verify_password(user.password_hash, password)
            step: int | None = None
            if ok and user.totp_key:
                step = totp.match_step(bytes.fromhex(user.totp_key), otp, now, user.totp_last_step)
                ok = step is not None
            if not ok:
                failed = user.failed + 1
                locked = now + LOCK_S if failed >= MAX_FAILURES else 0
                self._records.write(
                    {
                        _user_key(user.id): replace(
                            user, failed=0 if locked else failed, locked_until=locked
                        ).to_json()
                    }
                )
                if locked:
                    raise AccountLocked(
                        f"{MAX_FAILURES} failed logins in a row: the account is locked for "
                        f"{LOCK_S // 60} minutes",
                        retry_after_s=LOCK_S,
                    )
                raise BadCredentials("wrong login name, password or one-time code")
            if user.status != "active":
                raise Forbidden(f"the account is {user.status}")
            if user.kind == "staff" and not user.totp_key and self.staff_totp_required():
                # Reached only with the right password, so saying why reveals nothing more.
                raise Forbidden(
                    "staff log in with a one-time code: ask an administrator to turn it on "
                    "for this account (govchain user totp)"
                )
            changed = replace(
                user,
                failed=0,
                locked_until=0,
                totp_last_step=step if step is not None else user.totp_last_step,
            )
            if passwords.needs_rehash(user.password_hash):
                changed = replace(changed, password_hash=passwords.hash_password(password))
            if changed != user:
                self._records.write({_user_key(user.id): changed.to_json()})
            return changed


def _check_name(name: str) -> None:
    if not 1 <= len(name.strip()) <= 100:
        raise SchemaViolation("a name has 1 to 100 characters", field="name")
