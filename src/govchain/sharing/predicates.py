"""Attestation predicates: a yes/no question about a subject's records, answered by the owner.

A predicate counts the subject's records of one resource that match every filter and compares
the count::

    {"filter": [["settled", "eq", false], ["due_date", "le", "2026-11-01"]], "count": ["eq", 0]}
        -> "no unsettled tax arrears due on or before 2026-11-01"
    {"filter": [["city", "eq", "杭州"]], "count": ["lt", 2]}
        -> "fewer than two homes in the city"

Values compare with the field's type (dates as ``YYYY-MM-DD`` strings, which order correctly).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from govchain.errors import SchemaViolation
from govchain.sharing.model import DATE, FieldType, Resource, only_fields

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
"""Comparison operators."""
MAX_FILTERS = 8
"""Most filters in one predicate."""


@dataclass(frozen=True, slots=True)
class Predicate:
    """A validated predicate."""

    filters: tuple[tuple[str, str, Any], ...]
    """``(field, op, value)`` each record must satisfy to be counted."""
    count_op: str
    """Operator comparing the count."""
    count: int
    """Number the count is compared with."""

    def to_json(self) -> dict[str, Any]:
        """Return the canonical JSON form (stored with the attestation)."""
        return {"filter": [list(f) for f in self.filters], "count": [self.count_op, self.count]}

    def answer(self, records: Iterable[Mapping[str, Any]]) -> bool:
        """Evaluate the predicate over a subject's records."""
        n = 0
        for rec in records:
            if all(OPS[op](rec[f], v) for f, op, v in self.filters):
                n += 1
        return OPS[self.count_op](n, self.count)


def _typed(ftype: FieldType, value: Any) -> bool:
    if ftype is FieldType.integer:
        return type(value) is int
    if ftype is FieldType.boolean:
        return type(value) is bool
    if ftype is FieldType.date:
        return type(value) is str and DATE.match(value) is not None
    return type(value) is str


def parse_predicate(obj: Any, resource: Resource) -> Predicate:
    """Validate a predicate against the resource's schema."""
    obj = only_fields(obj, {"filter", "count"}, "predicate")
    types = {f.name: f.type for f in resource.fields}
    raw_filters = obj.get("filter", [])
    if type(raw_filters) is not list or len(raw_filters) > MAX_FILTERS:
        raise SchemaViolation(f"predicate.filter must be a list of at most {MAX_FILTERS}")
    filters: list[tuple[str, str, Any]] = []
    for item in raw_filters:
        if type(item) is not list or len(item) != 3:
            raise SchemaViolation("each predicate filter is [field, op, value]")
        field, op, value = item
        if field not in types:
            raise SchemaViolation(f"predicate names unknown field {field!r}", field="predicate")
        if op not in OPS:
            raise SchemaViolation(f"predicate operator must be one of {sorted(OPS)}")
        if types[field] is FieldType.boolean and op not in ("eq", "ne"):
            raise SchemaViolation("booleans compare with eq or ne only")
        if not _typed(types[field], value):
            raise SchemaViolation(f"predicate value for {field!r} must be {types[field].value}")
        filters.append((field, op, value))
    count = obj.get("count")
    if (
        type(count) is not list
        or len(count) != 2
        or count[0] not in OPS
        or type(count[1]) is not int
        or count[1] < 0
    ):
        raise SchemaViolation('predicate.count must be [op, n], e.g. ["eq", 0]')
    return Predicate(tuple(filters), count[0], count[1])
