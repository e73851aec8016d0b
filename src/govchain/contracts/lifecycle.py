"""The lifecycle system contract: install, approve, commit and upgrade contract packages.

1. ``install(name, version, files, policy?, budget?)`` — a department admin submits a package;
   it is checked (static check + load) and stored under its code hash as a proposal.
2. ``approve(name, version, code_hash)`` — department admins approve *the code hash*.
3. ``commit(name, version)`` — once the approvals satisfy the endorsement policy, the definition
   (name, version, code hash, policy, budget) is committed; an upgrade runs the new code's
   ``@migration`` method in the same transaction.

A new contract needs a majority of the network's departments; an upgrade needs what the
committed definition's policy says (``majority``, ``all``, or named ``departments``). The
lifecycle contract is itself a class-based contract run by the same machinery as installed ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from govchain.contracts.errors import BadArguments, NotApproved, UnknownContract, UnknownMethod
from govchain.contracts.installed import InstalledContracts
from govchain.contracts.model import ClassContract, Contract, Failed, entry, view
from govchain.contracts.packages import (
    DEFAULT_BUDGET,
    LIFECYCLE,
    MAX_BUDGET,
    NAMESPACE,
    check_files,
    check_name,
    code_hash,
)
from govchain.errors import Forbidden

POLICY_RULES = ("majority", "all", "departments")
"""Endorsement rules: more than half of the departments, every department, or the named ones."""
ADMIN_ROLE = "admin"
"""Role a member needs to install, approve or commit contracts."""


def check_policy(policy: Any, departments: Sequence[str]) -> dict[str, Any]:
    """Validate an endorsement policy (``BadArguments`` naming the defect)."""
    if type(policy) is not dict or policy.get("rule") not in POLICY_RULES:
        raise BadArguments(f"policy must be an object with rule one of {POLICY_RULES}")
    if policy["rule"] != "departments":
        if set(policy) != {"rule"}:
            raise BadArguments(f"policy {policy['rule']!r} takes no other fields")
        return {"rule": policy["rule"]}
    named = policy.get("departments")
    if set(policy) != {"rule", "departments"} or type(named) is not list or not named:
        raise BadArguments("policy 'departments' needs a non-empty list of departments")
    unknown = sorted(d for d in named if d not in departments)
    if unknown or len(set(named)) != len(named):
        raise BadArguments(f"policy names unknown or repeated departments {unknown or named}")
    return {"rule": "departments", "departments": sorted(named)}


def required_departments(
    policy: dict[str, Any], departments: Sequence[str]
) -> tuple[int, list[str]]:
    """Return ``(how many approvals are needed, from which departments)`` under ``policy``."""
    rule = policy["rule"]
    if rule == "majority":
        return len(departments) // 2 + 1, list(departments)
    if rule == "all":
        return len(departments), list(departments)
    named = list(policy["departments"])
    return len(named), named


class Lifecycle(Contract):
    """Contract packages: install, approve (by code hash), commit, upgrade."""

    DEPARTMENTS: ClassVar[tuple[str, ...]] = ()
    """Genesis departments: the approvers when no ``network`` contract is reachable."""
    INSTALLED: ClassVar[InstalledContracts | None] = None
    RESERVED: ClassVar[Sequence[str]] = ()
    """Names of the built-in contracts (filled once the registry exists)."""

    def _departments(self) -> tuple[str, ...]:
        # The approvers are the network's current departments (membership governance may have
        # added or removed some since genesis), read from the network contract.
        try:
            return tuple(self.ctx.read("network", "departments"))
        except (UnknownContract, UnknownMethod):
            return self.DEPARTMENTS

    def _admin(self) -> str:
        caller = self.ctx.caller
        if caller.role != ADMIN_ROLE:
            raise Forbidden(f"only department admins manage contracts; {caller.member} is not")
        return caller.dept

    def _proposal(self, name: str, version: int) -> dict[str, Any]:
        found = self.ctx.get(f"proposal/{name}/{version:08d}")
        if found is None:
            raise Failed("no_proposal", f"version {version} of {name!r} was not installed")
        result: dict[str, Any] = found
        return result

    @entry
    def install(
        self,
        name: str,
        version: int,
        files: dict[str, str],
        policy: dict[str, Any] | None = None,
        budget: int | None = None,
    ) -> dict[str, Any]:
        """Install a package as a proposed version of a contract (not yet runnable)."""
        dept = self._admin()
        check_name(name)
        if name in self.RESERVED:
            raise Failed("reserved_name", f"{name!r} is the name of a system contract")
        if version < 1:
            raise BadArguments("version must be 1 or more")
        current = self.ctx.get(f"def/{name}")
        if current is not None and version <= current["version"]:
            raise Failed("stale_version", f"{name!r} is at version {current['version']}")
        if self.ctx.exists(f"proposal/{name}/{version:08d}"):
            raise Failed("already_installed", f"version {version} of {name!r} is installed")
        files = check_files(files)
        if policy is None:
            policy = current["policy"] if current is not None else {"rule": "majority"}
        policy = check_policy(policy, self._departments())
        steps = DEFAULT_BUDGET if budget is None else budget
        if not 1_000 <= steps <= MAX_BUDGET:
            raise BadArguments(f"budget must be 1000 to {MAX_BUDGET} steps")
        installed = self.INSTALLED
        assert installed is not None
        installed.load(name, files, steps)  # raises ContractRefused with file:line findings
        digest = code_hash(installed.hash_fn, files)
        if not self.ctx.exists(f"code/{digest}"):
            self.ctx.put(f"code/{digest}", {"files": files})
        caller = self.ctx.caller
        proposal: dict[str, Any] = {
            "name": name,
            "version": version,
            "code_hash": digest,
            "policy": policy,
            "budget": steps,
            "installed_by": caller.member,
            "installed_dept": dept,
            "installed_height": self.ctx.height,
            "upgrade_of": None if current is None else current["version"],
            "approvals": [],
            "committed": False,
        }
        self.ctx.put(f"proposal/{name}/{version:08d}", proposal)
        self.ctx.put(f"proposed/{name}", version)
        self.ctx.emit("installed", {"name": name, "version": version, "code_hash": digest})
        return {"name": name, "version": version, "code_hash": digest}

    @entry
    def approve(self, name: str, version: int, code_hash: str) -> dict[str, Any]:
        """Approve a proposed version on behalf of the caller's department (by code hash)."""
        dept = self._admin()
        proposal = self._proposal(name, version)
        if proposal["committed"]:
            raise Failed("already_committed", f"version {version} of {name!r} is committed")
        if code_hash != proposal["code_hash"]:
            raise Failed(
                "hash_mismatch",
                f"the proposal's code hash is {proposal['code_hash']}, not {code_hash}",
            )
        if dept in proposal["approvals"]:
            raise Failed("already_approved", f"department {dept} already approved")
        proposal["approvals"] = sorted([*proposal["approvals"], dept])
        self.ctx.put(f"proposal/{name}/{version:08d}", proposal)
        self.ctx.emit("approved", {"name": name, "version": version, "dept": dept})
        return {"name": name, "version": version, "approvals": proposal["approvals"]}

    @entry
    def commit(self, name: str, version: int) -> dict[str, Any]:
        """Commit an approved version; an upgrade runs the new code's migration."""
        self._admin()
        proposal = self._proposal(name, version)
        if proposal["committed"]:
            raise Failed("already_committed", f"version {version} of {name!r} is committed")
        current = self.ctx.get(f"def/{name}")
        if current is not None and version <= current["version"]:
            raise Failed("stale_version", f"{name!r} is at version {current['version']}")
        # Who must approve: the network's rule for a new contract, the committed policy of the
        # running version for an upgrade.
        governing = current["policy"] if current is not None else {"rule": "majority"}
        needed, eligible = required_departments(governing, self._departments())
        approved = [d for d in proposal["approvals"] if d in eligible]
        if len(approved) < needed:
            missing = [d for d in eligible if d not in approved]
            raise NotApproved(
                f"{name!r} version {version} needs {needed} approvals under policy "
                f"{governing['rule']!r} ({', '.join(eligible)}); it has {len(approved)} "
                f"({', '.join(approved) or 'none'}); missing {', '.join(missing)}",
                needed=needed,
                approvals=approved,
            )
        definition = {
            "name": name,
            "version": version,
            "code_hash": proposal["code_hash"],
            "policy": proposal["policy"],
            "budget": proposal["budget"],
            "approvals": approved,
            "committed_height": self.ctx.height,
        }
        installed = self.INSTALLED
        assert installed is not None
        installed.changed(
            self.ctx.height
        )  # before the write: a rolled-back commit only costs a read
        self.ctx.put(f"def/{name}", definition)
        proposal["committed"] = True
        self.ctx.put(f"proposal/{name}/{version:08d}", proposal)
        raw_ctx = self.ctx._ctx
        migrated = installed.resolve(raw_ctx, name).migrate(
            raw_ctx, 0 if current is None else current["version"]
        )
        self.ctx.emit(
            "committed",
            {"name": name, "version": version, "code_hash": proposal["code_hash"]},
        )
        return {**definition, "migration": migrated}

    @view
    def definition(self, name: str) -> dict[str, Any] | None:
        """Return the committed definition of a contract (``None`` if not committed)."""
        found: dict[str, Any] | None = self.ctx.get(f"def/{name}")
        return found

    @view
    def proposal(self, name: str, version: int) -> dict[str, Any] | None:
        """Return a proposal (installed version), with its approvals."""
        found: dict[str, Any] | None = self.ctx.get(f"proposal/{name}/{version:08d}")
        return found

    @view
    def contracts(self) -> list[dict[str, Any]]:
        """Return every committed definition."""
        return [value for _, value in self.ctx.scan("def/", 10_000)]


def lifecycle_contract(
    departments: Sequence[str],
    installed: InstalledContracts,
    reserved: Sequence[str],
) -> ClassContract:
    """Return the lifecycle contract of a network with these departments."""
    bound = type(
        "NetworkLifecycle",
        (Lifecycle,),
        {
            "DEPARTMENTS": tuple(departments),
            "INSTALLED": installed,
            "RESERVED": reserved,
        },
    )
    return ClassContract(LIFECYCLE, bound, namespace=NAMESPACE, host=None)
