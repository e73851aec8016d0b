"""The ``members`` system contract: a department's administrators manage its member keys.

=============================  =================================================================
``set_root(root)``             register the department's root credential (once)
``issue(credential)``          add a member whose credential the department root signed
``suspend(member, reason)``    stop a member's key (its new transactions are rejected)
``resume(member)``             reactivate a suspended member
``revoke(member, reason)``     stop a member's key for good
``member(member)`` (view)      a member record, or ``None``
``department(dept)`` (view)    the member records of a department
=============================  =================================================================

Only an ``admin`` member of the same department may change records, and not its own. Member
records are the ``sys/member/<id>`` records that execution checks every signer against
(``ledger/execution.py``): a changed record takes effect for the very next transaction executed
(the execution loop drops its member cache on every ``sys/member/`` write) and at admission from
the next block on. A new key for a person is a new credential: revoke the old member, issue a new
one. Like the lifecycle, this is a class-based contract run by the same machinery as installed
ones (typed arguments, typed refusals, failed receipts that change nothing); being part of the
platform it may use the department PKI (``identity/pki.py``) to check credentials.
"""

from __future__ import annotations

from typing import Any

from govchain.contracts.errors import BadArguments
from govchain.contracts.model import ClassContract, Contract, entry, view
from govchain.errors import Conflict, Forbidden, GovchainError, NotFound
from govchain.identity import pki
from govchain.ledger.genesis import ROLES

MEMBERS = "members"
"""Name of the members system contract."""
NAMESPACE = b"sys/"
"""The contract's state area: ``member/<id>`` (read by execution) and ``ca/<dept>``."""
ROOT_PREFIX = NAMESPACE + b"ca/"
"""State keys of department roots: ``sys/ca/<dept>`` -> ``{"suite", "root": hex}``."""
MAX_REASON = 500
"""Longest suspension or revocation reason."""


def root_key(dept: str) -> bytes:
    """Return the state key of a department's root credential."""
    return ROOT_PREFIX + dept.encode()


def _hex(name: str, value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise BadArguments(f"args.{name} is not hex") from None


def _reason(reason: str) -> str:
    if not reason.strip() or len(reason) > MAX_REASON:
        raise BadArguments(f"a reason of 1 to {MAX_REASON} characters is required")
    return reason


class Members(Contract):
    """Member keys of departments, certified by the department PKI."""

    def _require_admin(self, dept: str) -> None:
        caller = self.ctx.caller
        if caller.role != "admin" or caller.dept != dept:
            raise Forbidden(
                f"only an admin of department {dept!r} may manage its members",
                signer=caller.member,
            )

    def _record(self, member: str) -> dict[str, Any]:
        if not 3 <= len(member) <= 97 or "/" not in member:
            raise BadArguments("member must be '<dept>/<name>'")
        record: dict[str, Any] | None = self.ctx.get("member/" + member)
        if record is None:
            raise NotFound(f"no member {member!r}")
        self._require_admin(record["dept"])
        if member == self.ctx.caller.member:
            raise Forbidden("a member cannot suspend, resume or revoke its own key")
        if record.get("status", "active") == "revoked":
            raise Conflict(f"member {member!r} is revoked; revocation is final")
        return record

    def _set_status(self, member: str, record: dict[str, Any], status: str, **extra: Any) -> Any:
        self.ctx.put("member/" + member, {**record, "status": status, **extra})
        self.ctx.emit(f"members.{status}", {"member": member, **extra})
        return {"member": member, "status": status}

    @entry
    def set_root(self, root: str) -> dict[str, Any]:
        """Register your department's root credential (once)."""
        try:
            suite, dept, _ = pki.root_public_key(_hex("root", root))
        except GovchainError as exc:
            raise BadArguments(f"root credential: {exc.message}") from None
        self._require_admin(dept)
        if self.ctx.exists("ca/" + dept):
            raise Conflict(f"department {dept!r} already has a root credential")
        self.ctx.put("ca/" + dept, {"suite": suite, "root": root.lower()})
        self.ctx.emit("members.root_set", {"dept": dept, "suite": suite})
        return {"dept": dept, "suite": suite}

    @entry
    def issue(self, credential: str) -> dict[str, Any]:
        """Add the member a credential signed by your department's root describes."""
        raw = _hex("credential", credential)
        dept = self.ctx.caller.dept
        stored = self.ctx.get("ca/" + dept)
        if stored is None:
            raise NotFound(f"department {dept!r} has no root credential yet (members.set_root)")
        try:
            cred = pki.verify_member(bytes.fromhex(stored["root"]), raw, self.ctx.time_ms)
        except GovchainError as exc:
            raise BadArguments(f"member credential: {exc.message}") from None
        self._require_admin(cred.dept)
        if not cred.member_id.startswith(cred.dept + "/") or cred.role not in ROLES:
            raise BadArguments("the credential's member id or role is not valid")
        if self.ctx.exists("member/" + cred.member_id):
            raise Conflict(f"member {cred.member_id!r} already exists")
        self.ctx.put(
            "member/" + cred.member_id,
            {
                "id": cred.member_id,
                "dept": cred.dept,
                "role": cred.role,
                "public_key": cred.public_key.hex(),
                "status": "active",
                "credential": raw.hex(),
                "not_after_ms": cred.not_after_ms,
                "issued_height": self.ctx.height,
            },
        )
        self.ctx.emit("members.issued", {"member": cred.member_id, "role": cred.role})
        return {"member": cred.member_id, "role": cred.role, "status": "active"}

    @entry
    def suspend(self, member: str, reason: str = "suspended by the department") -> Any:
        """Suspend a member of your department: its transactions are rejected from now on."""
        record = self._record(member)
        status = record.get("status", "active")
        if status != "active":
            raise Conflict(f"member {member!r} is {status}, not active")
        return self._set_status(member, record, "suspended", reason=_reason(reason))

    @entry
    def resume(self, member: str) -> Any:
        """Reactivate a suspended member of your department."""
        record = self._record(member)
        if record.get("status", "active") != "suspended":
            raise Conflict(f"member {member!r} is not suspended")
        record.pop("reason", None)
        return self._set_status(member, record, "active")

    @entry
    def revoke(self, member: str, reason: str = "revoked by the department") -> Any:
        """Revoke a member's key for good."""
        record = self._record(member)
        return self._set_status(member, record, "revoked", reason=_reason(reason))

    @view
    def member(self, member: str) -> dict[str, Any] | None:
        """Return a member record (``None`` if unknown)."""
        found: dict[str, Any] | None = self.ctx.get("member/" + member)
        return found

    @view
    def department(self, dept: str) -> list[dict[str, Any]]:
        """Return the member records of a department (genesis members included)."""
        return [value for _, value in self.ctx.scan(f"member/{dept}/", 10_000)]


def members_contract() -> ClassContract:
    """Return the members system contract."""
    return ClassContract(MEMBERS, Members, namespace=NAMESPACE)
