"""Industrial classification for national economic activities (GB/T 4754-2017, 国民经济行业分类).

The standard has four levels: section (门类, one letter ``A``-``T``), division (大类, two digits
``01``-``97``), group (中类, three digits) and class (小类, four digits). A group that is not
subdivided has a single class whose code is the group's code followed by ``0`` (``621`` 正餐服务
→ ``6210``), as the standard's table writes it.

The data file (``data/gbt4754-2017.json``) holds every section and division, and the groups and
classes of the divisions that the permit rules distinguish (construction, retail, road transport,
accommodation, catering, software, resident services, training, entertainment). English names
follow the wording of UN ISIC Rev. 4 where the two classifications match.

The table is loaded once and checked (every parent present, codes shaped by level); lookups are
dictionary reads.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Literal, cast

from govchain.errors import IntegrityError, NotFound, SchemaViolation

Level = Literal["section", "division", "group", "class"]
"""The four levels of GB/T 4754, top down."""

LEVELS: tuple[Level, ...] = ("section", "division", "group", "class")
"""Levels in order; a code's level is its position here."""

DATA_FILE = "gbt4754-2017.json"
"""The table, in ``govchain/procedures/data/``."""

_SECTIONS = "ABCDEFGHIJKLMNOPQRST"


@dataclass(frozen=True, slots=True)
class Industry:
    """One entry of GB/T 4754-2017."""

    code: str
    """``H``, ``62``, ``621`` or ``6210``."""
    level: Level
    """Section, division, group or class."""
    parent: str | None
    """Code of the entry one level up (``None`` for a section)."""
    zh: str
    """Chinese name as in the standard."""
    en: str
    """English name."""


def _shape_ok(code: str, level: Level) -> bool:
    """Whether ``code`` has the shape of a code of ``level``."""
    if level == "section":
        return len(code) == 1 and code in _SECTIONS
    digits = {"division": 2, "group": 3, "class": 4}[level]
    return len(code) == digits and code.isascii() and code.isdigit()


def _parse(raw: object) -> dict[str, Industry]:
    """Turn the JSON table into records, refusing an inconsistent table."""
    if not isinstance(raw, list):
        raise IntegrityError("the GB/T 4754 table must be a JSON list", file=DATA_FILE)
    table: dict[str, Industry] = {}
    for i, row in enumerate(raw):
        try:
            entry = Industry(
                code=str(row["code"]),
                level=cast(Level, row["level"]),
                parent=row["parent"],
                zh=str(row["zh"]),
                en=str(row["en"]),
            )
        except (KeyError, TypeError):
            raise IntegrityError(f"GB/T 4754 row {i} is malformed", file=DATA_FILE) from None
        if entry.level not in LEVELS or not _shape_ok(entry.code, entry.level):
            raise IntegrityError(f"GB/T 4754 code {entry.code!r} does not fit its level")
        if entry.code in table:
            raise IntegrityError(f"GB/T 4754 code {entry.code} appears twice", file=DATA_FILE)
        if entry.level != "section":
            # Parents come before children in the file; a group's or class's parent is its
            # code without the last digit.
            parent = table.get(entry.parent or "")
            up = LEVELS[LEVELS.index(entry.level) - 1]
            if parent is None or parent.level != up:
                raise IntegrityError(f"GB/T 4754 code {entry.code} has no {up} parent")
            if entry.level != "division" and entry.code[:-1] != parent.code:
                raise IntegrityError(f"GB/T 4754 code {entry.code} is not below {parent.code}")
        elif entry.parent is not None:
            raise IntegrityError(f"GB/T 4754 section {entry.code} has a parent")
        if not entry.zh or not entry.en:
            raise IntegrityError(f"GB/T 4754 code {entry.code} lacks a name", file=DATA_FILE)
        table[entry.code] = entry
    return table


@functools.cache
def load_industries() -> Mapping[str, Industry]:
    """Return the GB/T 4754-2017 table as a read-only ``{code: Industry}`` in standard order."""
    text = resources.files("govchain.procedures").joinpath("data", DATA_FILE).read_text("utf-8")
    return MappingProxyType(_parse(json.loads(text)))


def industry(code: str) -> Industry:
    """Return the entry for ``code`` (``NotFound`` naming the code if the table lacks it)."""
    found = load_industries().get(code.strip().upper())
    if found is None:
        raise NotFound(f"no industry {code!r} in GB/T 4754-2017", industry=code)
    return found


def path_of(code: str) -> list[Industry]:
    """Return the entries from the section down to ``code`` (``[H, 62, 621, 6210]``)."""
    table = load_industries()
    path = [industry(code)]
    while path[-1].parent is not None:
        path.append(table[path[-1].parent])
    path.reverse()
    return path


def section_of(code: str) -> Industry:
    """Return the section (门类) that ``code`` belongs to."""
    return path_of(code)[0]


def validate_industry_code(code: object) -> str:
    """Return ``code`` normalised if it is a GB/T 4754-2017 code in the table; otherwise raise
    ``SchemaViolation`` (field ``industry``) with reason ``malformed`` or ``unknown``.

    A code written with its section letter in front (``H6210``, as on some forms) is accepted
    when the letter is the code's section, and returned without it.
    """
    if not isinstance(code, str):
        raise SchemaViolation(
            "the industry must be a GB/T 4754 code given as text",
            field="industry",
            reason="malformed",
        )
    c = code.strip().upper()
    letter = ""
    if len(c) > 2 and c[0] in _SECTIONS and c[1:].isdigit():
        letter, c = c[0], c[1:]
    level = {1: "section", 2: "division", 3: "group", 4: "class"}.get(len(c))
    if level is None or not _shape_ok(c, cast(Level, level)):
        raise SchemaViolation(
            f"{code!r} is not shaped like a GB/T 4754 code (a letter, or 2 to 4 digits)",
            field="industry",
            reason="malformed",
        )
    if c not in load_industries():
        raise SchemaViolation(
            f"{code!r} is not an industry of GB/T 4754-2017", field="industry", reason="unknown"
        )
    if letter and section_of(c).code != letter:
        raise SchemaViolation(
            f"{code!r}: {c} belongs to section {section_of(c).code}, not {letter}",
            field="industry",
            reason="unknown",
        )
    return c


@functools.cache
def _search_index() -> tuple[tuple[Industry, str], ...]:
    """Each entry with its names folded for case-blind matching."""
    return tuple((e, f"{e.zh}\n{e.en}".casefold()) for e in load_industries().values())


def search_industries(text: str) -> list[Industry]:
    """Return the entries whose Chinese or English name contains ``text`` (case-blind), in the
    standard's order; blank text matches nothing."""
    needle = text.strip().casefold()
    if not needle:
        return []
    return [entry for entry, names in _search_index() if needle in names]
