"""What to submit to publish a set of service definitions: propose, approve, publish.

``publication_plan`` is pure: given the definitions a service ships, what is published now and
which admin member signs for each department, it returns the calls in three phases (all
proposals, then all approvals, then all publications, so each phase can go in one block) and a
note per definition that is already current or cannot be published on this network.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govchain.procedures.services_contract import definition_hash


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """One call of the ``services`` contract."""

    member: str
    """Admin member that signs it."""
    method: str
    """``propose``, ``approve`` or ``publish``."""
    args: Mapping[str, Any]
    """Its arguments."""


@dataclass(frozen=True, slots=True)
class Plan:
    """Calls by phase, and what was left alone."""

    phases: tuple[tuple[PlannedCall, ...], ...]
    """Proposals, approvals, publications."""
    notes: tuple[str, ...]
    """One line per definition not submitted, and why."""
    codes: tuple[str, ...]
    """Codes of the definitions that will be published."""


def _named_departments(d: Mapping[str, Any]) -> set[str]:
    found = {d.get("owner"), *d.get("co_handlers", [])}
    found |= {s.get("dept") for s in d.get("steps", []) if isinstance(s, Mapping)}
    for m in d.get("materials", []):
        if isinstance(m, Mapping) and isinstance(m.get("held_by"), Mapping):
            found.add(m["held_by"].get("dept"))
    return {x for x in found if isinstance(x, str)}


def publication_plan(
    definitions: Sequence[Mapping[str, Any]],
    published: Callable[[str], Mapping[str, Any] | None],
    departments: Collection[str],
    admins: Mapping[str, str],
    hash_fn: Callable[[bytes], bytes],
) -> Plan:
    """Plan the publication of ``definitions``.

    ``published(code)`` gives the current head (``{version, hash}``) or ``None``;
    ``admins`` maps a department to the admin member that signs for it."""
    proposals: list[PlannedCall] = []
    approvals: list[PlannedCall] = []
    publications: list[PlannedCall] = []
    notes: list[str] = []
    codes: list[str] = []
    for d in definitions:
        code, version = str(d.get("code")), d.get("version")
        missing = sorted(_named_departments(d) - set(departments))
        if missing:
            notes.append(f"{code}: not on this network (no department {', '.join(missing)})")
            continue
        concerned = [d["owner"], *d.get("co_handlers", [])]
        unsigned = [x for x in concerned if x not in admins]
        if unsigned:
            notes.append(f"{code}: no local admin key of {', '.join(unsigned)} to approve it")
            continue
        head = published(code)
        digest = definition_hash(d, hash_fn)
        if head is not None and head["version"] == version:
            if head["hash"] != digest:
                notes.append(
                    f"{code}: version {version} is published with other content: raise its version"
                )
            else:
                notes.append(f"{code}: version {version} is published")
            continue
        if head is not None and isinstance(version, int) and head["version"] > version:
            notes.append(f"{code}: version {head['version']} is published, newer than {version}")
            continue
        proposals.append(PlannedCall(admins[d["owner"]], "propose", {"definition": dict(d)}))
        for dept in concerned:
            args = {"code": code, "version": version, "hash": digest}
            approvals.append(PlannedCall(admins[dept], "approve", args))
        publications.append(
            PlannedCall(admins[d["owner"]], "publish", {"code": code, "version": version})
        )
        codes.append(code)
    return Plan(
        (tuple(proposals), tuple(approvals), tuple(publications)), tuple(notes), tuple(codes)
    )
