"""The ``network`` system contract: departments join and leave by majority approval.

A department's admin proposes a change (``propose``), admins of other current departments
``approve`` it, and once more than half of the current departments approved, the change takes
effect in the same transaction: the department list (``sys/departments``) is rewritten, a
joining department's ``admin`` member key is recorded, and a leaving department's member keys
are all revoked (none of them signs again). Quorum sizes follow from the new list
from the next checkpoint on.

State: ``sys/proposal/<id>`` -> proposal JSON (id = first 16 bytes of the proposing tx id, hex).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from govchain.contracts.errors import BadArguments, UnknownMethod
from govchain.errors import Conflict, Forbidden, NotFound
from govchain.ledger.encoding import canonical_unchecked, decode
from govchain.ledger.execution import CallContext, member_key
from govchain.ledger.genesis import Department, Genesis
from govchain.ledger.membership import (
    DEPARTMENTS_KEY,
    MEMBERSHIP_CHANGED_EVENT,
    Membership,
    majority_of,
)

PROPOSAL_PREFIX = b"sys/proposal/"
"""State keys of membership proposals."""
MAX_DEPARTMENT_MEMBERS = 1_000_000
"""Most member records of one department that its removal revokes (far above any real
department's signing keys)."""
_ID = re.compile(r"[a-z][a-z0-9_\-]{0,31}\Z")


def _str(args: Mapping[str, Any], name: str, limit: int = 200) -> str:
    v = args.get(name)
    if type(v) is not str or not 1 <= len(v) <= limit:
        raise BadArguments(f"args.{name} must be a string of 1 to {limit} characters")
    return v


def _hex(args: Mapping[str, Any], name: str) -> str:
    v = _str(args, name, 256)
    try:
        bytes.fromhex(v)
    except ValueError:
        raise BadArguments(f"args.{name} must be hex") from None
    return v.lower()


class NetworkContract:
    """``propose(action, dept, ...)``, ``approve(proposal)``."""

    name = "network"

    def __init__(self, genesis: Genesis) -> None:
        self._genesis_departments = genesis.departments

    def _membership(self, ctx: CallContext) -> Membership:
        raw = ctx.get(DEPARTMENTS_KEY)
        return Membership(self._genesis_departments) if raw is None else Membership.decode(raw)

    @staticmethod
    def _revoke_members(ctx: CallContext, dept: str, pid: str) -> int:
        """Revoke every member key of a department that leaves: none of them may sign from
        the next transaction on. Returns how many were revoked (revoked ones stay as they are)."""
        revoked = 0
        for key, raw in ctx.scan(member_key(f"{dept}/"), MAX_DEPARTMENT_MEMBERS):
            record = decode(raw)
            if record.get("status", "active") == "revoked":
                continue
            record["status"] = "revoked"
            record["reason"] = f"department {dept} left the network (proposal {pid})"
            ctx.put(key, canonical_unchecked(record))
            revoked += 1
        return revoked

    def _check_admin(self, ctx: CallContext, members: Membership) -> None:
        if ctx.signer_role != "admin":
            raise Forbidden("only a department's admin may propose or approve membership changes")
        if ctx.signer_dept not in members.ids():
            raise Forbidden(f"department {ctx.signer_dept!r} is not a current member")

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        members = self._membership(ctx)
        if method == "propose":
            self._check_admin(ctx, members)
            return self._propose(ctx, members, args)
        if method == "approve":
            self._check_admin(ctx, members)
            pid = _str(args, "proposal", 32)
            raw = ctx.get(PROPOSAL_PREFIX + pid.encode())
            if raw is None:
                raise NotFound(f"no membership proposal {pid!r}")
            prop = decode(raw)
            if prop["status"] != "open":
                raise Conflict(f"proposal {pid} is already {prop['status']}")
            if ctx.signer_dept in prop["approvals"]:
                raise Conflict(f"department {ctx.signer_dept!r} already approved {pid}")
            prop["approvals"] = sorted([*prop["approvals"], ctx.signer_dept])
            return self._settle(ctx, members, prop)
        raise UnknownMethod(f"contract network has no method {method!r}")

    def view(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Read-only queries: ``departments`` (the current member departments' ids)."""
        if method == "departments" and not args:
            return list(self._membership(ctx).ids())
        raise UnknownMethod(f"contract network has no view {method!r} (it has ['departments'])")

    def _propose(self, ctx: CallContext, members: Membership, args: Mapping[str, Any]) -> Any:
        action = args.get("action")
        dept = _str(args, "dept", 32)
        if not _ID.match(dept):
            raise BadArguments("args.dept must be a short lower-case identifier")
        prop: dict[str, Any] = {"action": action, "dept": dept}
        if action == "add":
            if set(args) != {"action", "dept", "name", "node_key", "admin_key"}:
                raise BadArguments("add takes action, dept, name, node_key and admin_key")
            if dept in members.ids():
                raise Conflict(f"department {dept!r} is already a member")
            prop.update(
                name=_str(args, "name"),
                node_key=_hex(args, "node_key"),
                admin_key=_hex(args, "admin_key"),
            )
        elif action == "remove":
            if set(args) != {"action", "dept"}:
                raise BadArguments("remove takes action and dept")
            if dept not in members.ids():
                raise NotFound(f"department {dept!r} is not a member")
            if len(members.departments) == 1:
                raise Conflict("the last department cannot be removed")
        else:
            raise BadArguments("args.action must be 'add' or 'remove'")
        pid = ctx.tx.tx_id[:16].hex()
        prop.update(
            id=pid,
            status="open",
            proposer=ctx.signer_dept,
            proposed_at=ctx.height,
            approvals=[ctx.signer_dept],
        )
        ctx.emit("network.proposed", {"proposal": pid, "action": action, "dept": dept})
        return self._settle(ctx, members, prop)

    def _settle(self, ctx: CallContext, members: Membership, prop: dict[str, Any]) -> Any:
        pid = prop["id"]
        current = members.ids()
        approvals = [d for d in prop["approvals"] if d in current]
        need = majority_of(len(current))
        if len(approvals) >= need:
            dept = prop["dept"]
            if prop["action"] == "add":
                new = Department(dept, prop["name"], bytes.fromhex(prop["node_key"]))
                after = Membership((*members.departments, new))
                admin = f"{dept}/admin"
                ctx.put(
                    member_key(admin),
                    canonical_unchecked(
                        {
                            "id": admin,
                            "dept": dept,
                            "role": "admin",
                            "public_key": prop["admin_key"],
                            "status": "active",
                        }
                    ),
                )
            else:
                after = Membership(tuple(d for d in members.departments if d.id != dept))
                revoked = self._revoke_members(ctx, dept, pid)
                ctx.emit("network.members_revoked", {"dept": dept, "members": revoked})
            ctx.put(DEPARTMENTS_KEY, after.encode())
            prop["status"] = "done"
            prop["done_at"] = ctx.height
            ctx.emit(
                MEMBERSHIP_CHANGED_EVENT,
                {
                    "proposal": pid,
                    "action": prop["action"],
                    "dept": dept,
                    "departments": after.ids(),
                    # With node keys: what an offline verifier learns the new quorum from.
                    "membership": after.to_json(),
                },
            )
        ctx.put(PROPOSAL_PREFIX + pid.encode(), canonical_unchecked(prop))
        return {"proposal": pid, "status": prop["status"], "approvals": approvals, "needed": need}
