"""Administrative divisions of a registration area (GB/T 2260) and how enterprise names may
spell them (《企业名称登记管理规定》 2020, art. 7).

A GB/T 2260 code is six digits: province, city, county level. Inside a city ``xxxx00``, codes
``01``-``20`` are its districts (市辖区), ``21``-``80`` its counties and ``81``-``99`` the
county-level cities it administers. In a name a division is written in full (``杭州市``) or
without its suffix (``杭州``); a district only after its city (``杭州市西湖区``, ``杭州西湖区``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

HANGZHOU_DIVISIONS: Mapping[str, str] = MappingProxyType(
    {
        "杭州市": "330100",
        "上城区": "330102",
        "拱墅区": "330105",
        "西湖区": "330106",
        "滨江区": "330108",
        "萧山区": "330109",
        "余杭区": "330110",
        "富阳区": "330111",
        "临安区": "330112",
        "临平区": "330113",
        "钱塘区": "330114",
        "桐庐县": "330122",
        "淳安县": "330127",
        "建德市": "330182",
    }
)
"""The demo registration area: Hangzhou and its county-level divisions (GB/T 2260 codes)."""

SUFFIXES = ("省", "市", "区", "县")
"""Suffixes a division's name may drop in an enterprise name."""


@dataclass(frozen=True, slots=True)
class DivisionIndex:
    """The accepted spellings of a registration area's divisions."""

    spellings: Mapping[str, tuple[str, str]]
    """Text a name may begin with → (full division name, GB/T 2260 code)."""
    districts: frozenset[str]
    """District names, refused when they stand without their city."""
    longest: int
    """Length of the longest accepted spelling."""
    places: Mapping[str, tuple[str, str]]
    """Every division's full and short name, districts included (where a branch is)."""


def is_district(code: str) -> bool:
    """Whether a GB/T 2260 code is a district of a city (市辖区: last two digits 01-20)."""
    return len(code) == 6 and code.isdigit() and 1 <= int(code[4:]) <= 20


def short_name(name: str) -> str:
    """Return a division's name without its suffix (``杭州市`` → ``杭州``), if two characters
    remain; otherwise the name itself."""
    return name[:-1] if name.endswith(SUFFIXES) and len(name) > 2 else name


@functools.lru_cache(maxsize=16)
def _index(divisions: frozenset[tuple[str, str]]) -> DivisionIndex:
    # Sorted, so that the index (and which entry wins should two share a spelling) is the same
    # on every node whatever the hash seed of its Python process.
    ordered = sorted(divisions)
    by_code = {code: name for name, code in ordered}
    spellings: dict[str, tuple[str, str]] = {}
    places: dict[str, tuple[str, str]] = {}
    districts = set()
    for name, code in ordered:
        places[name] = places[short_name(name)] = (name, code)
        if name.endswith("区") and is_district(code):
            districts.add(name)
            city = by_code.get(code[:4] + "00")
            if city is not None:
                for prefix in (city, short_name(city)):
                    spellings[prefix + name] = (name, code)
        else:
            for spelling in (name, short_name(name)):
                spellings[spelling] = (name, code)
    longest = max((len(s) for s in spellings), default=0)
    return DivisionIndex(
        MappingProxyType(spellings), frozenset(districts), longest, MappingProxyType(places)
    )


def division_index(divisions: Mapping[str, str]) -> DivisionIndex:
    """Index an area given as ``{division name: GB/T 2260 code}`` (a district's city is the
    entry coded ``xxxx00``); the index of a recently used area is reused."""
    return _index(frozenset(divisions.items()))
