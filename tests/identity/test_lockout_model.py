"""Lockout against a reference model: any sequence of right and wrong logins and clock steps
gives the same outcome as the rule "5 failures in a row lock for 15 minutes"."""

from __future__ import annotations

from argon2 import PasswordHasher
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from govchain.errors import AccountLocked, BadCredentials
from govchain.identity import passwords
from govchain.identity.records import RecordStore
from govchain.identity.users import LOCK_S, MAX_FAILURES, UserDirectory
from govchain.storage.memory import MemoryStore

PASSWORD = "Model-password-1"
# The model checks the counting, not Argon2's cost: a cheap hasher keeps 100s of logins fast.
_CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class LockoutMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._saved = passwords._HASHER
        passwords._HASHER = _CHEAP
        self.now = 1_800_000_000.0
        self.users = UserDirectory(RecordStore(MemoryStore()), lambda: self.now)
        self.users.create_staff("tax/m", "model", "tax", "officer", PASSWORD)
        # Reference model.
        self.failures = 0
        self.locked_until = 0.0

    def teardown(self) -> None:
        passwords._HASHER = self._saved

    def _expect_locked(self) -> bool:
        return self.now < self.locked_until

    @rule()
    def right_password(self) -> None:
        if self._expect_locked():
            try:
                self.users.authenticate("tax/m", PASSWORD)
                raise AssertionError("a locked account accepted a login")
            except AccountLocked:
                return
        assert self.users.authenticate("tax/m", PASSWORD).id == "tax/m"
        self.failures = 0

    @rule()
    def wrong_password(self) -> None:
        locked_before = self._expect_locked()
        try:
            self.users.authenticate("tax/m", "Wrong-password-1")
            raise AssertionError("a wrong password was accepted")
        except AccountLocked:
            if not locked_before:
                self.failures += 1
                assert self.failures == MAX_FAILURES
                self.failures = 0
                self.locked_until = self.now + LOCK_S
        except BadCredentials:
            assert not locked_before
            self.failures += 1
            assert self.failures < MAX_FAILURES

    @rule(seconds=st.sampled_from([1, 60, LOCK_S - 1, LOCK_S, LOCK_S + 1]))
    def wait(self, seconds: int) -> None:
        self.now += seconds

    @invariant()
    def stored_state_matches(self) -> None:
        user = self.users.get("tax/m")
        assert user.failed == self.failures
        assert (user.locked_until > self.now) == self._expect_locked()


LockoutMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestLockout = LockoutMachine.TestCase
