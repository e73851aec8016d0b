"""Users: registration with checked numbers, Argon2 hashes, TOTP second factor, lockout."""

from __future__ import annotations

import pytest

from govchain.errors import (
    AccountLocked,
    BadCredentials,
    Conflict,
    Forbidden,
    InvalidIdentityNumber,
    SchemaViolation,
    WeakPassword,
)
from govchain.identity import totp
from govchain.identity.records import RecordStore
from govchain.identity.users import IDENTITY_ADMIN, LOCK_S, MAX_FAILURES, UserDirectory
from govchain.storage.memory import MemoryStore

PASSWORD = "Correct-horse-42"


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(clock: Clock) -> UserDirectory:
    return UserDirectory(RecordStore(MemoryStore()), clock)


def test_citizen_enterprise_staff(users: UserDirectory) -> None:
    c = users.create_citizen("11010519491231002x", "张三", PASSWORD)
    assert c.id.startswith("citizen/") and "110105" not in c.id  # pseudonymous id
    assert c.login == "11010519491231002X"
    assert c.password_hash.startswith("$argon2id$") and PASSWORD not in c.password_hash
    e = users.create_enterprise(
        "91350100M000100Y43", "某某餐饮有限公司", "李四", "440524188001010014", PASSWORD
    )
    assert e.kind == "enterprise" and e.legal_rep == "李四"
    s = users.create_staff("tax/wang", "王五", "tax", "officer", PASSWORD)
    assert (s.id, s.dept, s.role) == ("tax/wang", "tax", "officer")
    assert "password_hash" not in s.public() and "totp_key" not in s.public()
    assert [u.id for u in users.list("tax")] == ["tax/wang"]
    assert users.authenticate("11010519491231002x", PASSWORD).id == c.id
    with pytest.raises(Conflict):
        users.create_citizen("11010519491231002X", "张三", PASSWORD)


def test_bad_input_changes_nothing(users: UserDirectory) -> None:
    with pytest.raises(InvalidIdentityNumber):
        users.create_citizen("110105194912310021", "张三", PASSWORD)
    with pytest.raises(InvalidIdentityNumber):
        users.create_enterprise("91350100M000100Y44", "X", "李四", "440524188001010014", PASSWORD)
    with pytest.raises(WeakPassword):
        users.create_citizen("11010519491231002X", "张三", "short1")
    with pytest.raises(WeakPassword):
        users.create_citizen("11010519491231002X", "张三", "onlyletterslong")
    with pytest.raises(SchemaViolation):
        users.create_staff("market/wang", "王五", "tax", "officer", PASSWORD)
    with pytest.raises(SchemaViolation):
        users.create_staff("tax/wang", "王五", "tax", "service", PASSWORD)
    assert users.list() == []


def test_lockout_after_repeated_failures(users: UserDirectory, clock: Clock) -> None:
    users.create_staff("tax/wang", "王五", "tax", "officer", PASSWORD)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(BadCredentials):
            users.authenticate("tax/wang", "wrong-password-1")
    with pytest.raises(AccountLocked) as info:
        users.authenticate("tax/wang", "wrong-password-1")
    assert "locked" in info.value.message
    # Even the right password is refused while locked ...
    with pytest.raises(AccountLocked):
        users.authenticate("tax/wang", PASSWORD)
    # ... and accepted once the lock expired.
    clock.t += LOCK_S + 1
    assert users.authenticate("tax/wang", PASSWORD).failed == 0


def test_unknown_login_and_suspended_account(users: UserDirectory) -> None:
    with pytest.raises(BadCredentials):
        users.authenticate("tax/nobody", PASSWORD)
    users.create_staff("tax/wang", "王五", "tax", "officer", PASSWORD)
    users.set_status("tax/wang", "suspended")
    with pytest.raises(Forbidden):
        users.authenticate("tax/wang", PASSWORD)
    users.set_status("tax/wang", "revoked")
    with pytest.raises(Conflict):
        users.set_status("tax/wang", "active")


def test_totp_second_factor(users: UserDirectory, clock: Clock) -> None:
    users.create_staff("tax/wang", "王五", "tax", "admin", PASSWORD)
    _, key = users.enable_totp("tax/wang")
    with pytest.raises(BadCredentials):
        users.authenticate("tax/wang", PASSWORD)  # code missing
    code = totp.totp(key, int(clock.t))
    assert users.authenticate("tax/wang", PASSWORD, code).id == "tax/wang"
    with pytest.raises(BadCredentials):
        users.authenticate("tax/wang", PASSWORD, code)  # a code works once
    clock.t += 30
    assert users.authenticate("tax/wang", PASSWORD, totp.totp(key, int(clock.t))).role == "admin"


def test_role_assignment(users: UserDirectory) -> None:
    users.create_staff("tax/wang", "王五", "tax", "officer", PASSWORD)
    assert users.set_role("tax/wang", "auditor").role == "auditor"
    c = users.create_citizen("11010519491231002X", "张三", PASSWORD)
    with pytest.raises(SchemaViolation):
        users.set_role(c.id, "admin")


def test_the_operator_appoints_identity_administrators(users: UserDirectory) -> None:
    # What `govchain user add-staff --role identity_admin` and `govchain user role` call; the
    # HTTP API's staff schemas do not offer this role (tests/api/test_oidc_abuse.py).
    users.create_staff("tax/wang", "王五", "tax", "officer", PASSWORD)
    assert users.set_role("tax/wang", IDENTITY_ADMIN).role == IDENTITY_ADMIN
    made = users.create_staff("tax/li", "李四", "tax", IDENTITY_ADMIN, PASSWORD)
    assert (made.kind, made.role) == ("staff", IDENTITY_ADMIN)
