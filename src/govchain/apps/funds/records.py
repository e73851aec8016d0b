"""Records of fund supervision as the flags read them, and the project a department registers.

A **project** (key project or public-welfare fund) is owned by one department and has

=================  ==========  ===============================================================
field              type        rule
=================  ==========  ===============================================================
``id``             str         ``[A-Z][A-Z0-9-]{1,39}`` (``FP-2025-001``)
``name``           str         2..100 characters
``fund``           str         ``key_project`` or ``public_welfare``
``category``       str         code ``[a-z][a-z0-9_]{1,31}``: its peers for amounts
``unit``           str         unit of its output (``km``, ``m2``, ``beds``), 1..20 characters
``quantity``       int         output in that unit, 1..10^9
``budget_fen``     int         1..10^14 fen; equals the sum of the milestones' amounts
``start_date``     str         ``YYYY-MM-DD``; no milestone is due before it
``payees``         list        1..20 ``{id, name}``, ``id`` a unified social credit code
``milestones``     list        1..20 ``{id, name, amount_fen, due}``
``related``        list[str]   0..20 ids of projects it belongs with (phases, one programme)
=================  ==========  ===============================================================

The contract checks the same rules (``contract.project_problems``); ``validate_project`` adds
the check characters of the payees' codes (GB 32100), which the sandbox does not compute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from govchain.apps.funds.contract import PROJECT_FIELDS, project_problems
from govchain.errors import GovchainError, SchemaViolation
from govchain.procedures.uscc import parse_uscc


@dataclass(frozen=True, slots=True)
class Milestone:
    """A milestone of a project, with its planned amount."""

    project: str
    """Project id."""
    id: str
    """Milestone id within the project (``M1``)."""
    name: str
    """What is delivered."""
    amount_fen: int
    """Planned amount, fen."""
    due: str
    """Planned completion date ``YYYY-MM-DD``."""


@dataclass(frozen=True, slots=True)
class Project:
    """A project as indexed."""

    id: str
    """Project id."""
    name: str
    """Project name."""
    fund: str
    """``key_project`` or ``public_welfare``."""
    category: str
    """Category: the peers its amounts are compared with."""
    unit: str
    """Unit of its output."""
    quantity: int
    """Output, in ``unit``."""
    budget_fen: int
    """Budget, fen."""
    start_date: str
    """Start date."""
    department: str
    """Owner department."""
    related: tuple[str, ...]
    """Projects it was declared related to."""
    payees: tuple[str, ...]
    """Payee ids."""
    milestones: tuple[Milestone, ...]
    """Milestones, in declared order."""

    @property
    def unit_cost_fen(self) -> int:
        """Budget per unit of output, fen (rounded down)."""
        return self.budget_fen // self.quantity


@dataclass(frozen=True, slots=True)
class Disbursement:
    """A payment from a project's budget, as indexed."""

    id: str
    """Disbursement id (``<project>-D001``)."""
    project: str
    """Project id."""
    milestone: str
    """Milestone paid for."""
    payee: str
    """Payee id."""
    amount_fen: int
    """Amount, fen."""
    paid_on: str
    """Payment date."""
    height: int
    """Block height of the transaction."""
    position: int
    """Position of the transaction in its block."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """An evidence item notarised for a milestone, as indexed."""

    digest: str
    """Hash of the file (hex)."""
    project: str
    """Project id."""
    milestone: str
    """Milestone id."""
    kind: str
    """``photo``, ``acceptance`` or ``invoice``."""
    height: int
    """Block height of the transaction."""
    position: int
    """Position of the transaction in its block."""


@dataclass(frozen=True, slots=True)
class FundsData:
    """Everything the flags read, as of one index height."""

    height: int
    """Ledger height the index had reached."""
    projects: Mapping[str, Project]
    """Projects by id."""
    disbursements: tuple[Disbursement, ...]
    """Disbursements in commit order."""
    evidence: tuple[Evidence, ...]
    """Evidence in commit order."""
    flagged: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    """``(rule, subject)`` pairs already flagged on-chain."""


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule or the detector found: a flag to raise, with its inputs."""

    rule: str
    """Rule id (``contract.RULES``)."""
    subject: str
    """Disbursement, payee or project id (by the rule's subject kind)."""
    projects: tuple[str, ...]
    """Projects concerned (their departments explain the flag)."""
    inputs: dict[str, Any]
    """The figures that raised it (integers and texts only: they go on-chain)."""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "rule": self.rule,
            "subject": self.subject,
            "projects": list(self.projects),
            "inputs": self.inputs,
        }


def validate_project(obj: Any) -> dict[str, Any]:
    """Return ``obj`` as a project (its fields, in order), or raise ``SchemaViolation``
    naming the first field at fault, with ``problems`` listing them all."""
    found = project_problems(obj)
    if not found:
        for i, payee in enumerate(obj["payees"]):
            try:
                parse_uscc(payee["id"])
            except GovchainError as exc:
                found.append([f"payees[{i}].id", exc.message])
    if found:
        field_name, reason = found[0]
        more = f" (and {len(found) - 1} more problem(s))" if len(found) > 1 else ""
        raise SchemaViolation(
            f"{field_name or 'project'}: {reason}{more}",
            field=field_name,
            problems=[{"field": f, "reason": r} for f, r in found],
        )
    return {name: obj[name] for name in PROJECT_FIELDS}


def project_of(record: Mapping[str, Any]) -> Project:
    """Return the indexed form of an on-chain project record."""
    pid = str(record["id"])
    return Project(
        id=pid,
        name=str(record["name"]),
        fund=str(record["fund"]),
        category=str(record["category"]),
        unit=str(record["unit"]),
        quantity=int(record["quantity"]),
        budget_fen=int(record["budget_fen"]),
        start_date=str(record["start_date"]),
        department=str(record.get("dept", record.get("department", ""))),
        related=tuple(record["related"]),
        payees=tuple(p["id"] for p in record["payees"]),
        milestones=tuple(
            Milestone(pid, m["id"], m["name"], int(m["amount_fen"]), m["due"])
            for m in record["milestones"]
        ),
    )
