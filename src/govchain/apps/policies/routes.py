"""HTTP routes of enterprise policies, mounted under ``/v1/apps/policies``.

Staff author, lint, test (against the registry's enterprises), propose, approve and withdraw
policies, attest and revoke the facts their department holds, and see the bulk matching.
An enterprise's legal representative or agent sees the enterprise's matched policies with
the trace, its grants, and declines a grant. Writes are signed by the node with the
department's key, the person logged in as actor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from govchain.apps.policies.rules import lint
from govchain.apps.policies.service import PolicyDesk, desk_for
from govchain.errors import Forbidden
from govchain.identity.oidc import Principal
from govchain.sdk.answers import COMMIT_ANSWERS, problem_responses

user = APIRouter(tags=["policies"])
"""Every route: a login; staff routes check the role, enterprise routes the agency."""

ROUTERS = {"user": user}
"""Who may call which routes (see ``docs/build-a-service.md``)."""

READERS = ("admin", "officer", "inspector", "approver", "auditor")
"""Staff roles that read policies, facts and matches."""
AUTHORS = ("admin", "officer")
"""Staff roles that propose policies and attest facts."""
APPROVERS = ("admin", "approver")
"""Staff roles that approve (publish), withdraw policies and revoke attestations."""


def _staff(roles: tuple[str, ...]) -> Callable[[Request], Principal]:
    def check(request: Request) -> Principal:
        p: Principal | None = getattr(request.state, "principal", None)
        if p is None or p.kind != "staff" or p.role not in roles:
            raise Forbidden(f"this is for department staff ({', '.join(roles)})")
        return p

    return check


def _anyone(request: Request) -> Principal:
    p: Principal | None = getattr(request.state, "principal", None)
    if p is None:
        raise Forbidden("a login is needed")
    return p


def _desk(request: Request) -> PolicyDesk:
    return desk_for(request.app.state)


Reader = Annotated[Principal, Depends(_staff(READERS))]
Author = Annotated[Principal, Depends(_staff(AUTHORS))]
Approver = Annotated[Principal, Depends(_staff(APPROVERS))]
Anyone = Annotated[Principal, Depends(_anyone)]
Desk = Annotated[PolicyDesk, Depends(_desk)]

_NOT_STAFF = "The caller is not staff of a role this route is for."
_READ = problem_responses({403: _NOT_STAFF, 404: "No such policy or enterprise."})
_WRITE = problem_responses(
    {
        **COMMIT_ANSWERS,
        403: f"{_NOT_STAFF} Or another department's policy or fact.",
        404: "No such policy, attestation or grant.",
        422: "The policy fails the lint (`findings` lists each place and reason).",
    }
)


def _written(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "receipt": f"/v1/transactions/{doc['tx_id']}/receipt"}


class Approval(BaseModel):
    """Which proposed version is approved."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    """The proposal's version."""


class Reason(BaseModel):
    """Why (a withdrawal, a revocation, a declined grant)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    """The reason, in plain words."""


class Facts(BaseModel):
    """Facts of the caller's department about enterprises."""

    model_config = ConfigDict(extra="forbid")

    facts: list[dict[str, Any]] = Field(min_length=1, max_length=100_000)
    """``[{uscc, attribute, value}]``."""
    valid_days: int = Field(default=366, ge=1, le=3660)
    """How long each attestation counts."""


@user.get("/policies", summary="Policies (of one status)", responses=_READ)
def list_policies(desk: Desk, who: Anyone, status: str = "") -> list[dict[str, Any]]:
    """Every policy record in id order: text, status, version, proposer and approver."""
    return desk.policies(status)


@user.get("/policies/{policy_id}", summary="One policy", responses=_READ)
def show_policy(policy_id: str, desk: Desk, who: Anyone) -> dict[str, Any]:
    """The policy's record."""
    return desk.policy(policy_id)


@user.post("/lint", summary="Lint a draft policy", responses=_READ)
def lint_policy(
    policy: Annotated[dict[str, Any], Body(description="A draft policy")], who: Reader
) -> dict[str, Any]:
    """Every finding (place and reason); none: the policy may be proposed."""
    found = lint(policy)
    return {"ok": not found, "findings": [f.to_json() for f in found]}


@user.post("/test", summary="Test a draft policy against the registry", responses=_WRITE)
def test_policy(
    policy: Annotated[dict[str, Any], Body(description="A draft policy")], desk: Desk, who: Reader
) -> dict[str, Any]:
    """How many enterprises would qualify or nearly qualify, the expected total benefit, and
    sample enterprises with their traces."""
    return desk.test_policy(policy)


@user.post("/policies", status_code=201, summary="Propose a policy", responses=_WRITE)
def propose_policy(
    policy: Annotated[dict[str, Any], Body(description="The policy")], desk: Desk, who: Author
) -> dict[str, Any]:
    """Linted first; the caller's department must be its issuer."""
    return _written(desk.propose(who.dept, who.user, policy))


@user.post("/policies/{policy_id}/approve", summary="Approve and publish", responses=_WRITE)
def approve_policy(policy_id: str, body: Approval, desk: Desk, who: Approver) -> dict[str, Any]:
    """Another person than the proposer, of the issuing or a co-approving department."""
    return _written(desk.approve(who.dept, who.user, policy_id, body.version))


@user.post("/policies/{policy_id}/withdraw", summary="Withdraw a policy", responses=_WRITE)
def withdraw_policy(policy_id: str, body: Reason, desk: Desk, who: Approver) -> dict[str, Any]:
    """The issuing department; grants already made stand."""
    return _written(desk.withdraw(who.dept, who.user, policy_id, body.reason))


@user.get("/matches", summary="Every policy against every enterprise", responses=_READ)
def match_all(desk: Desk, who: Reader) -> dict[str, Any]:
    """Per policy in force: enterprises qualifying and nearly qualifying, expected benefit."""
    return desk.match_all()


@user.get("/enterprises/{uscc}/matches", summary="An enterprise's matches", responses=_READ)
def enterprise_matches(uscc: str, desk: Desk, who: Reader, everything: bool = False) -> Any:
    """The policies it qualifies or nearly qualifies for (all with ``everything``), traced."""
    return desk.match(uscc, everything=everything)


@user.get("/enterprises/{uscc}/facts", summary="An enterprise's facts", responses=_READ)
def enterprise_facts(uscc: str, desk: Desk, who: Reader) -> dict[str, Any]:
    """Each fact with the department and attestation it comes from."""
    return desk.facts(uscc)


@user.post("/facts", status_code=201, summary="Attest facts", responses=_WRITE)
def attest_facts(body: Facts, desk: Desk, who: Author) -> list[dict[str, Any]]:
    """Facts the caller's department holds, in transactions of up to 500."""
    return [_written(d) for d in desk.attest(who.dept, who.user, body.facts, body.valid_days)]


@user.post("/attestations/{att_id}/revoke", summary="Revoke an attestation", responses=_WRITE)
def revoke_attestation(att_id: str, body: Reason, desk: Desk, who: Approver) -> dict[str, Any]:
    """The attesting department; a grant not yet made can no longer rely on it."""
    return _written(desk.revoke(who.dept, who.user, att_id, body.reason))


@user.get("/grants", summary="Grant decisions", responses=_READ)
def list_grants(desk: Desk, who: Reader, uscc: str = "") -> list[dict[str, Any]]:
    """Decisions made without an application (of one enterprise if given)."""
    return desk.grants(uscc)


def _acting(desk: PolicyDesk, who: Principal, uscc: str) -> None:
    acting = desk.node.query("registry", "acting_for", {"agent": who.user})
    if not any(e["uscc"] == uscc for e in acting):
        raise Forbidden(f"{who.user} does not act for {uscc}", uscc=uscc)


@user.get("/mine", summary="My enterprises' matched policies", responses=_READ)
def my_matches(desk: Desk, who: Anyone) -> list[dict[str, Any]]:
    """For each enterprise the caller acts for: its matches with their traces and grants."""
    acting = desk.node.query("registry", "acting_for", {"agent": who.user})
    return [desk.match(e["uscc"]) for e in acting if e.get("status") == "active"]


@user.post("/mine/{uscc}/grants/{policy_id}/decline", summary="Decline a grant", responses=_WRITE)
def decline_grant(
    uscc: str, policy_id: str, body: Reason, desk: Desk, who: Anyone
) -> dict[str, Any]:
    """The enterprise's legal representative or agent declines; the payment is not made."""
    _acting(desk, who, uscc)
    return _written(desk.decline(uscc, who.user, policy_id, body.reason))
