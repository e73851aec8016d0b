"""The certification matters (证明事项) this app ships, and what their conditions say about a
person's records.

Each matter is a service definition (``services/*.json``) whose conditions are ``check`` steps
answered by the departments that hold the facts, with an attestation each: no paper is asked
for. ``failing_checks`` evaluates a definition's own predicates over a person's records the way
the owner departments evaluate them when they attest, so the demo and the tests know, before any
case runs, which condition a person fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govchain.sharing.model import Resource, parse_resource
from govchain.sharing.predicates import parse_predicate

SCHOOL_ENROLMENT = "330100-RZ-0001"
"""随迁子女义务教育入学资格审核: residence permit valid, social insurance ≥ 12 months."""
POINTS_HOUSEHOLD = "330100-RZ-0002"
"""积分落户申请资格审核: residence permit valid, social insurance ≥ 24 months, points scored."""
HOUSING_PURCHASE = "330100-RZ-0003"
"""商品住房购房资格核验: fewer than two homes in the city, social insurance ≥ 24 months."""
MARRIAGE = "330100-RZ-0004"
"""内地居民结婚登记: not married now, both partners examined in person."""
MATTERS = (SCHOOL_ENROLMENT, POINTS_HOUSEHOLD, HOUSING_PURCHASE, MARRIAGE)
"""Every matter's code."""
DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("public_security", "公安局"),
    ("civil_affairs", "民政局"),
    ("education", "教育局"),
    ("hrss", "人力资源和社会保障局"),
    ("housing", "住房和城乡建设局"),
)
"""Departments the matters need (id, name): the network must have them to publish them."""


@dataclass(frozen=True, slots=True)
class Failing:
    """A condition of a matter a person does not meet."""

    step: str
    """Id of the check step."""
    dept: str
    """Department that holds the fact."""
    statement: str
    """What a ``yes`` would have said."""


def parse_resources(specs: Iterable[Mapping[str, Any]]) -> dict[str, Resource]:
    """Return the catalogue resources ``specs`` describe, by id (checked as at registration)."""
    return {str(s["id"]): parse_resource(dict(s), str(s["id"]).split(".")[0], 0) for s in specs}


def failing_checks(
    definition: Mapping[str, Any],
    resources: Mapping[str, Resource],
    records: Sequence[tuple[str, Mapping[str, Any]]],
) -> list[Failing]:
    """Return the check steps of ``definition`` that a person's ``records`` (``(resource id,
    fields)``) do not meet, in step order; an empty list means every condition holds."""
    out: list[Failing] = []
    for step in definition.get("steps", []):
        check = step.get("check")
        if step.get("kind") != "check" or not isinstance(check, Mapping):
            continue
        resource = resources[check["resource"]]
        predicate = parse_predicate(dict(check["predicate"]), resource)
        mine = [fields for rid, fields in records if rid == resource.id]
        if not predicate.answer(mine):
            out.append(Failing(str(step["id"]), str(step["dept"]), str(check["statement"])))
    return out
