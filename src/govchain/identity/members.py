"""Member management as ledger transactions: the calls of the ``members`` contract, built and
signed for a department administrator (the CLI and the API submit them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from govchain.crypto import get_suite
from govchain.identity import pki
from govchain.ledger.genesis import Genesis
from govchain.ledger.transactions import Transaction, build_transaction

ROOT_KEY_FILE = "root.key"
"""Department root key file name (next to the node key, 0600)."""


def department_dir(network: Path, dept: str) -> Path:
    """Return a department's directory in the network directory."""
    return network / "departments" / dept


_nonce_lock = threading.Lock()
_last_nonce = 0


def nonce_now() -> int:
    """Return a fresh nonce: microseconds since the epoch, like the CLI's, but strictly
    increasing within this process (two requests in the same microsecond, or a clock step
    back, must not reuse a nonce of the same member key)."""
    global _last_nonce
    with _nonce_lock:
        _last_nonce = max(_last_nonce + 1, time.time_ns() // 1000)
        return _last_nonce


class MemberAdmin:
    """Builds ``members`` transactions signed by one department admin member."""

    def __init__(
        self,
        genesis: Genesis,
        dept: str,
        admin_member: str,
        admin_private: bytes,
        root_private: bytes,
        nonce: Callable[[], int] = nonce_now,
    ) -> None:
        self.genesis = genesis
        self.dept = dept
        self.admin_member = admin_member
        self._admin_private = admin_private
        self._root_private = root_private
        self._suite = get_suite(genesis.suite)
        self._nonce = nonce

    def _tx(
        self,
        contract: str,
        method: str,
        args: dict[str, Any],
        actor: str,
        case: str,
        purpose: str,
    ) -> Transaction:
        private = self._admin_private
        return build_transaction(
            chain=self.genesis.chain_id,
            signer=self.admin_member,
            nonce=self._nonce(),
            contract=contract,
            method=method,
            args=args,
            actor=actor,
            case=case,
            purpose=purpose,
            sign=lambda msg: self._suite.sign(private, msg),
            hash_fn=self._suite.hash,
        )

    def set_root(self, actor: str, case: str = "", purpose: str = "") -> Transaction:
        """Return the transaction registering the department's root credential."""
        root = pki.make_root(self.genesis.suite, self.dept, self._root_private, _now_ms())
        return self._tx("members", "set_root", {"root": root.hex()}, actor, case, purpose)

    def issue(
        self,
        member_id: str,
        role: str,
        public_key: bytes,
        actor: str,
        case: str = "",
        purpose: str = "",
    ) -> Transaction:
        """Return the transaction that issues a member credential for ``public_key``."""
        cred = pki.issue_member(
            self.genesis.suite,
            self.dept,
            self._root_private,
            member_id,
            role,
            public_key,
            _now_ms(),
        )
        return self._tx("members", "issue", {"credential": cred.hex()}, actor, case, purpose)

    def call(
        self,
        contract: str,
        method: str,
        args: dict[str, Any],
        actor: str,
        case: str = "",
        purpose: str = "",
    ) -> Transaction:
        """Return a contract call signed with the department's key for a staff member."""
        return self._tx(contract, method, args, actor, case, purpose)

    def change(
        self, method: str, member_id: str, actor: str, case: str = "", purpose: str = ""
    ) -> Transaction:
        """Return a ``suspend`` / ``resume`` / ``revoke`` transaction."""
        return self._tx("members", method, {"member": member_id}, actor, case, purpose)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
