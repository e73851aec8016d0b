"""Ledger actions of department staff: member keys (``/v1/identity/departments/{dept}/
members``) and contract calls made for their department (``/v1/departments/{dept}/calls``).

They are signed by the department's ``admin`` member key held by this node, with the acting
staff member's user id as ``actor`` and the case and purpose they give: the ledger records who
did it, for which case.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from govchain.api.auth import IdentityDep, dept_staff, requires
from govchain.api.commits import commit_transactions
from govchain.api.deps import NodeDep, SettingsDep
from govchain.api.identity_schemas import Acting, CallCreate, MemberCreate
from govchain.api.openapi import COMMIT_ANSWERS, problem_responses
from govchain.api.params import DeptPath
from govchain.api.settings import ApiSettings
from govchain.contracts.members import root_key
from govchain.crypto import get_suite
from govchain.errors import Conflict, Forbidden, NotFound, SchemaViolation
from govchain.identity.members import MemberAdmin
from govchain.identity.oidc import Principal
from govchain.ledger.transactions import Transaction
from govchain.node.network import NetworkDir, write_key
from govchain.node.node import Node

router = APIRouter(tags=["identity"])

ADMIN = dept_staff("admin")
"""Administrators of the department in the path."""
WORKER = dept_staff("admin", "officer")
"""Staff who act for the department in the path."""

_MEMBER_ACTIONS = ("suspend", "resume", "revoke")
_NO_KEYS = "This node does not hold the department's admin and root keys."


def _principal(request: Request) -> Principal:
    p: Principal = request.state.principal
    return p


# --- member keys on the ledger --------------------------------------------------------------


def _member_admin(node: Node, settings: ApiSettings, dept: str) -> MemberAdmin:
    net = NetworkDir(settings.network_dir)
    admin_id = f"{dept}/admin"
    try:
        admin = net.member_key(admin_id)
        root = net.root_key(dept)
    except NotFound:
        raise NotFound(
            f"this node does not hold the keys of department {dept!r} (admin member and root)"
        ) from None
    return MemberAdmin(node.genesis, dept, admin_id, admin.keypair.private, root.keypair.private)


def _commit(node: Node, settings: ApiSettings, txs: list[Transaction]) -> dict[str, Any]:
    return commit_transactions(node, txs, settings.wait_timeout_s)


def _root_registered(node: Node, dept: str) -> bool:
    value = node.ledger.state.get(root_key(dept))
    return value is not None and value.value is not None


@router.post(
    "/v1/identity/departments/{dept}/members",
    status_code=201,
    dependencies=[requires(ADMIN)],
    summary="Issue a member key certified by the department root (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            404: _NO_KEYS,
            409: "The member exists (or its key file does), or the transaction failed.",
            422: "The public key is not a key of the network's suite, or the body is malformed.",
        }
    ),
)
async def issue_member(
    dept: DeptPath,
    body: MemberCreate,
    request: Request,
    node: NodeDep,
    settings: SettingsDep,
    identity: IdentityDep,
) -> dict[str, Any]:
    """Certify the given public key, or generate a key pair kept in the network directory.
    The department's root is registered on the ledger first if it is not yet."""
    actor = _principal(request).user
    member_id = f"{dept}/{body.name}"
    suite = get_suite(node.genesis.suite)
    if body.public_key:
        try:
            public = bytes.fromhex(body.public_key)
        except ValueError:
            raise SchemaViolation("public_key is not hex", field="public_key") from None
        # The suite's key size, from a key it makes: a key of another length would be
        # certified as it is (gm) or fail deep in the X.509 builder (intl).
        size = len(suite.generate_keypair().public)
        if len(public) != size:
            raise SchemaViolation(
                f"public_key must be {size} bytes, a public key of the {node.genesis.suite} suite",
                field="public_key",
                size=len(public),
            )
    else:
        net = NetworkDir(settings.network_dir)
        path = net.member_key_path(member_id)
        if path.exists():
            # The member was issued before (its key is kept here): a duplicate, not bad input.
            raise Conflict(f"a key file for {member_id!r} already exists", member=member_id)
        kp = suite.generate_keypair()
        public = kp.public

    def run() -> dict[str, Any]:
        admin = _member_admin(node, settings, dept)
        txs = []
        if not _root_registered(node, dept):
            txs.append(admin.set_root(actor, body.case, body.purpose))
        txs.append(admin.issue(member_id, body.role, public, actor, body.case, body.purpose))
        doc = _commit(node, settings, txs)
        # Written once the member is on the ledger (a failed issue leaves no key file) and
        # before the answer (an acknowledged member has its key).
        if not body.public_key:
            write_key(path, member_id, node.genesis.suite, kp)
        return doc

    doc = await run_in_threadpool(run)
    identity.log.append(
        actor, "action", {"route": "member_issued", "target": member_id, "case": body.case}
    )
    return doc


@router.post(
    "/v1/identity/departments/{dept}/members/{name}/{action}",
    dependencies=[requires(ADMIN)],
    summary="Suspend, resume or revoke a member key (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            404: f"{_NO_KEYS} Or no such action.",
            409: "No such member, or it cannot change so (the transaction failed).",
        }
    ),
)
async def change_member(
    dept: DeptPath,
    name: Annotated[str, Path(min_length=1, max_length=64)],
    # Documented, not validated: an unknown action is answered 404.
    action: Annotated[str, Path(json_schema_extra={"enum": list(_MEMBER_ACTIONS)})],
    body: Acting,
    request: Request,
    node: NodeDep,
    settings: SettingsDep,
    identity: IdentityDep,
) -> dict[str, Any]:
    """The key's new transactions are rejected from the next block on."""
    if action not in _MEMBER_ACTIONS:
        raise NotFound(f"no member action {action!r} (suspend, resume, revoke)")
    actor = _principal(request).user
    member_id = f"{dept}/{name}"

    def run() -> dict[str, Any]:
        admin = _member_admin(node, settings, dept)
        return _commit(
            node, settings, [admin.change(action, member_id, actor, body.case, body.purpose)]
        )

    doc = await run_in_threadpool(run)
    identity.log.append(
        actor, "action", {"route": f"member_{action}", "target": member_id, "case": body.case}
    )
    return doc


# --- staff acting for their department ------------------------------------------------------


@router.post(
    "/v1/departments/{dept}/calls",
    dependencies=[requires(WORKER)],
    summary="A contract call by a staff member for their department (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            400: (
                "The arguments cannot be signed: canonical JSON has no floats "
                "(`malformed_encoding`)."
            ),
            403: "Member keys are managed through their own endpoints.",
            404: _NO_KEYS,
            409: "The call failed in its block (`call_failed`, with the contract's error).",
        }
    ),
)
async def department_call(
    dept: DeptPath,
    body: CallCreate,
    request: Request,
    node: NodeDep,
    settings: SettingsDep,
    identity: IdentityDep,
) -> dict[str, Any]:
    """Signed with the department's key on this node; ``actor`` is the staff member, with the
    case and purpose given. Member management goes through its own endpoints."""
    if body.contract == "members":
        raise Forbidden("member keys are managed through /v1/identity/departments/{dept}/members")
    actor = _principal(request).user

    def run() -> dict[str, Any]:
        admin = _member_admin(node, settings, dept)
        tx = admin.call(body.contract, body.method, body.args, actor, body.case, body.purpose)
        return _commit(node, settings, [tx])

    doc = await run_in_threadpool(run)
    identity.log.append(
        actor,
        "action",
        {"route": "call", "contract": body.contract, "method": body.method, "case": body.case},
    )
    return doc
