"""A registry entry (a system in use, a project in development or a pending application) as the
service checks it before signing: the contract's own field rules (``contract.entry_problems``,
one source of truth) plus what the sandbox cannot check, Unicode normal form NFC.

=================  ==========  ===============================================================
field              type        rule
=================  ==========  ===============================================================
``id``             str         ``[A-Z][A-Z0-9-]{2,39}`` (``SYS-HEALTH-0012``, ``APP-2027-0041``)
``status``         str         at registration ``in_use``, ``in_development`` or ``pending``;
                               later ``retired`` (by its keeper) or ``reviewed`` (decided)
``department``     str         department code ``[a-z][a-z0-9_]{1,31}``
``department_name`` str        2..60 characters
``name``           str         2..100 characters
``purpose``        str         1..2000 characters
``functions``      list[str]   1..60 items of 2..300 characters, one function a sentence
``uses``           list[str]   0..50 data resources read (catalogue id or name), 1..100 chars
``produces``       list[str]   0..50 data resources produced, same rule
``users``          list[str]   1..20 user groups, 1..100 characters
``user_count``     int         0..10^9
``budget_fen``     int         0..10^14 (fen)
``platform``       str         1..60 characters
``start_date``     str         ``YYYY-MM-DD``
``end_date``       str         ``YYYY-MM-DD`` not before ``start_date``, or ``""``
=================  ==========  ===============================================================

Texts are NFC without leading or trailing spaces; list items are distinct.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from govchain.apps.projects.contract import (
    FIELDS,
    LISTS,
    REGISTERED,
    STATUSES,
    entry_problems,
)
from govchain.errors import SchemaViolation

__all__ = [
    "FIELDS",
    "INTEGER_FIELDS",
    "LIST_FIELDS",
    "REGISTERED",
    "STATUSES",
    "Problem",
    "problems_of",
    "validate_entry",
]

LIST_FIELDS = tuple(spec[0] for spec in LISTS)
"""Fields holding lists of texts."""
INTEGER_FIELDS = ("user_count", "budget_fen")
"""Fields holding integers."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason an entry is not acceptable."""

    field: str
    """The field at fault ('' for the entry as a whole)."""
    reason: str
    """What is wrong with it."""

    def to_json(self) -> dict[str, str]:
        """Return the JSON form."""
        return {"field": self.field, "reason": self.reason}


def _not_nfc(value: Any) -> bool:
    if isinstance(value, str):
        return not unicodedata.is_normalized("NFC", value)
    if isinstance(value, list):
        return any(_not_nfc(v) for v in value)
    return False


def problems_of(obj: Any, statuses: tuple[str, ...] = REGISTERED) -> list[Problem]:
    """Return every problem of ``obj`` as an entry with one of ``statuses`` (empty: none)."""
    found = [Problem(field, reason) for field, reason in entry_problems(obj, statuses)]
    if isinstance(obj, dict):
        faulty = {p.field for p in found}
        found += [
            Problem(name, "must be in Unicode normal form NFC")
            for name in FIELDS
            if name not in faulty and _not_nfc(obj.get(name))
        ]
    return found


def validate_entry(obj: Any, statuses: tuple[str, ...] = REGISTERED) -> dict[str, Any]:
    """Return ``obj`` as an entry (its fields, in order; lists copied), or raise
    ``SchemaViolation`` naming the first field at fault, with ``problems`` listing them all."""
    found = problems_of(obj, statuses)
    if found:
        first = found[0]
        raise SchemaViolation(
            f"{first.field or 'entry'}: {first.reason}"
            + (f" (and {len(found) - 1} more problem(s))" if len(found) > 1 else ""),
            field=first.field,
            problems=[p.to_json() for p in found],
        )
    return {name: list(obj[name]) if name in LIST_FIELDS else obj[name] for name in FIELDS}
