"""The membership system contract: each department manages the member keys of its own people and
systems after genesis — add, suspend, reactivate, rotate a key.

Member records are the ``sys/member/<id>`` records that execution checks every signer against
(``ledger/execution.py``), so a suspended member's next transaction is rejected in the same
block order on every node. Like the lifecycle, this is a class-based contract run by the same
machinery (typed arguments, typed refusals, failed receipts that change nothing).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from govchain.contracts.errors import BadArguments
from govchain.contracts.model import ClassContract, Contract, Failed, entry, view
from govchain.errors import Forbidden
from govchain.ledger.execution import MEMBER_PREFIX
from govchain.ledger.genesis import ROLES

MEMBERSHIP = "membership"
"""Name of the membership system contract."""
_NAME = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}\Z")
MAX_REASON = 500
"""Longest suspension reason."""


class Membership(Contract):
    """Members of departments: add, suspend, reactivate, rotate keys (own department only)."""

    KEY_SIZE: ClassVar[int] = 32

    def _admin(self) -> str:
        caller = self.ctx.caller
        if caller.role != "admin":
            raise Forbidden(f"only department admins manage members; {caller.member} is not")
        return caller.dept

    def _key(self, public_key: str) -> str:
        try:
            raw = bytes.fromhex(public_key)
        except ValueError:
            raise BadArguments("public_key must be hex") from None
        if len(raw) != self.KEY_SIZE:
            raise BadArguments(f"public_key must be {self.KEY_SIZE} bytes on this network")
        return raw.hex()

    def _own(self, member_id: str) -> dict[str, Any]:
        dept = self._admin()
        record: dict[str, Any] | None = self.ctx.get(member_id)
        if record is None:
            raise Failed("not_found", f"no member {member_id!r}")
        if record["dept"] != dept:
            raise Failed("other_department", f"{member_id} belongs to department {record['dept']}")
        return record

    @entry
    def add(self, name: str, role: str, public_key: str) -> dict[str, Any]:
        """Add member ``<your department>/<name>`` with a role and public key."""
        dept = self._admin()
        if not _NAME.match(name):
            raise BadArguments("name must be 1 to 64 characters: a-z, 0-9, _ . -")
        if role not in ROLES:
            raise BadArguments(f"role must be one of {list(ROLES)}")
        member_id = f"{dept}/{name}"
        if self.ctx.exists(member_id):
            raise Failed("exists", f"member {member_id} exists")
        record = {
            "id": member_id,
            "dept": dept,
            "role": role,
            "public_key": self._key(public_key),
            "status": "active",
            "added_by": self.ctx.caller.member,
            "added_height": self.ctx.height,
        }
        self.ctx.put(member_id, record)
        self.ctx.emit("added", {"id": member_id, "role": role})
        return record

    @entry
    def suspend(self, member_id: str, reason: str) -> dict[str, Any]:
        """Suspend a member of your department: its transactions are rejected from now on."""
        record = self._own(member_id)
        if member_id == self.ctx.caller.member:
            raise Failed("self", "a member cannot suspend itself")
        if not reason.strip() or len(reason) > MAX_REASON:
            raise BadArguments(f"a reason of 1 to {MAX_REASON} characters is required")
        if record.get("status", "active") != "active":
            raise Failed("not_active", f"{member_id} is already suspended")
        record["status"] = "suspended"
        record["suspended"] = {"reason": reason, "by": self.ctx.caller.member}
        self.ctx.put(member_id, record)
        self.ctx.emit("suspended", {"id": member_id, "reason": reason})
        return record

    @entry
    def reactivate(self, member_id: str) -> dict[str, Any]:
        """Reactivate a suspended member of your department."""
        record = self._own(member_id)
        if record.get("status", "active") == "active":
            raise Failed("active", f"{member_id} is active")
        record["status"] = "active"
        record.pop("suspended", None)
        self.ctx.put(member_id, record)
        self.ctx.emit("reactivated", {"id": member_id})
        return record

    @entry
    def rotate_key(self, member_id: str, public_key: str) -> dict[str, Any]:
        """Replace a member's public key (the old key stops signing at once)."""
        record = self._own(member_id)
        record["public_key"] = self._key(public_key)
        self.ctx.put(member_id, record)
        self.ctx.emit("key_rotated", {"id": member_id})
        return record

    @view
    def member(self, member_id: str) -> dict[str, Any] | None:
        """Return a member record (``None`` if unknown)."""
        found: dict[str, Any] | None = self.ctx.get(member_id)
        return found

    @view
    def department(self, dept: str) -> list[dict[str, Any]]:
        """Return the members of a department."""
        return [value for _, value in self.ctx.scan(dept + "/", 10_000)]


def membership_contract(public_key_size: int) -> ClassContract:
    """Return the membership contract of a network whose keys have ``public_key_size`` bytes."""
    bound = type("NetworkMembership", (Membership,), {"KEY_SIZE": public_key_size})
    return ClassContract(MEMBERSHIP, bound, namespace=MEMBER_PREFIX)
