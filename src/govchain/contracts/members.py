"""The ``members`` system contract: a department's administrators manage its member keys.

=============================  =================================================================
``set_root(root)``             register the department's root credential (once)
``issue(credential)``          add a member whose credential the department root signed
``suspend(member)``            stop a member's key (its new transactions are rejected)
``resume(member)``             reactivate a suspended member
``revoke(member)``             stop a member's key for good
=============================  =================================================================

Only an ``admin`` member of the same department may call these, and not on its own key. A
changed record takes effect for the very next transaction executed (the execution loop drops
its member cache on every ``sys/member/`` write) and at admission from the next block on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govchain.contracts.errors import BadArguments, UnknownMethod
from govchain.errors import Conflict, Forbidden, GovchainError, NotFound
from govchain.identity import pki
from govchain.ledger.encoding import canonical_unchecked, decode
from govchain.ledger.execution import CallContext, member_key
from govchain.ledger.genesis import ROLES

ROOT_PREFIX = b"sys/ca/"
"""State keys of department roots: ``sys/ca/<dept>`` -> ``{"suite", "root": hex}``."""


def root_key(dept: str) -> bytes:
    """Return the state key of a department's root credential."""
    return ROOT_PREFIX + dept.encode()


def _hex_arg(args: Mapping[str, Any], name: str) -> bytes:
    value = args.get(name)
    if type(value) is not str or len(args) != 1:
        raise BadArguments(f"this method takes exactly the argument {name} (hex string)")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise BadArguments(f"args.{name} is not hex") from None


def _member_arg(args: Mapping[str, Any]) -> str:
    value = args.get("member")
    if type(value) is not str or len(args) != 1 or not 3 <= len(value) <= 97:
        raise BadArguments("this method takes exactly the argument member ('<dept>/<name>')")
    return value


def _require_admin(ctx: CallContext, dept: str) -> None:
    if ctx.signer_role != "admin" or ctx.signer_dept != dept:
        raise Forbidden(
            f"only an admin of department {dept!r} may manage its members",
            signer=ctx.tx.signer,
        )


class MembersContract:
    """Member keys of departments, certified by the department PKI."""

    name = "members"

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        if method == "set_root":
            return self._set_root(ctx, _hex_arg(args, "root"))
        if method == "issue":
            return self._issue(ctx, _hex_arg(args, "credential"))
        if method in ("suspend", "resume", "revoke"):
            return self._set_status(ctx, method, _member_arg(args))
        raise UnknownMethod(f"contract members has no method {method!r}")

    def _set_root(self, ctx: CallContext, root: bytes) -> Any:
        try:
            suite, dept, _ = pki.root_public_key(root)
        except GovchainError as exc:
            raise BadArguments(f"root credential: {exc.message}") from None
        _require_admin(ctx, dept)
        if ctx.get(root_key(dept)) is not None:
            raise Conflict(f"department {dept!r} already has a root credential")
        ctx.put(root_key(dept), canonical_unchecked({"suite": suite, "root": root.hex()}))
        ctx.emit("members.root_set", {"dept": dept, "suite": suite})
        return {"dept": dept, "suite": suite}

    def _issue(self, ctx: CallContext, credential: bytes) -> Any:
        dept = ctx.signer_dept
        stored = ctx.get(root_key(dept))
        if stored is None:
            raise NotFound(f"department {dept!r} has no root credential yet (members.set_root)")
        root = bytes.fromhex(decode(stored)["root"])
        try:
            cred = pki.verify_member(root, credential, ctx.block_time_ms)
        except GovchainError as exc:
            raise BadArguments(f"member credential: {exc.message}") from None
        _require_admin(ctx, cred.dept)
        if not cred.member_id.startswith(cred.dept + "/") or cred.role not in ROLES:
            raise BadArguments("the credential's member id or role is not valid")
        if ctx.get(member_key(cred.member_id)) is not None:
            raise Conflict(f"member {cred.member_id!r} already exists")
        record = {
            "id": cred.member_id,
            "dept": cred.dept,
            "role": cred.role,
            "public_key": cred.public_key.hex(),
            "status": "active",
            "credential": credential.hex(),
            "not_after_ms": cred.not_after_ms,
        }
        ctx.put(member_key(cred.member_id), canonical_unchecked(record))
        ctx.emit("members.issued", {"member": cred.member_id, "role": cred.role})
        return {"member": cred.member_id, "role": cred.role, "status": "active"}

    def _set_status(self, ctx: CallContext, method: str, member: str) -> Any:
        raw = ctx.get(member_key(member))
        if raw is None:
            raise NotFound(f"no member {member!r}")
        record = decode(raw)
        _require_admin(ctx, record["dept"])
        if member == ctx.tx.signer:
            raise Forbidden("a member cannot suspend, resume or revoke its own key")
        status = record.get("status", "active")
        if status == "revoked":
            raise Conflict(f"member {member!r} is revoked; revocation is final")
        new = {"suspend": "suspended", "resume": "active", "revoke": "revoked"}[method]
        if method == "resume" and status != "suspended":
            raise Conflict(f"member {member!r} is not suspended")
        ctx.put(member_key(member), canonical_unchecked({**record, "status": new}))
        ctx.emit(f"members.{new}", {"member": member})
        return {"member": member, "status": new}
