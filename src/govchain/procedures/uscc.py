"""Issuing and reading unified social credit codes (统一社会信用代码, GB 32100-2015).

An 18-character code is, in order:

====== ======================================================================================
1      registration authority category (登记管理部门码): ``9`` market regulation (工商) ...
2      entity category (机构类别码), per authority: for ``9``, ``1`` enterprise, ``2``
       individual business, ``3`` farmers' cooperative
3-8    GB/T 2260 code of the registering authority's division
9-17   organisation code (主体标识码, GB 11714-1997): 8 body characters and their own MOD 11
       check character
18     MOD 31 check character of the first 17 (``identity.idnumbers.uscc_check_char``)
====== ======================================================================================

How this registry numbers its enterprises: the registry keeps one counter per division; serial
``n`` gets the organisation code body ``G`` followed by ``n`` in seven decimal digits
(``G0000042``), so a division can issue 9,999,999 codes and the body shows the serial. ``G``
marks codes issued by this platform: the national system's own bodies for new enterprises start
with ``M``. Digits and ``G`` are all in the GB 32100 alphabet, as is every check character.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from govchain.errors import InvalidIdentityNumber, SchemaViolation
from govchain.identity.idnumbers import uscc_check_char, validate_uscc

ORGANISATION_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""Symbols of a GB 11714 organisation code body (value = position)."""
_ORGANISATION_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
"""GB 11714 weights of the eight body characters."""

AUTHORITY = "9"
"""This registry's authority category: market regulation (工商)."""
SERIAL_PREFIX = "G"
"""First character of the organisation code bodies this registry issues."""
MAX_SERIAL = 9_999_999
"""Largest serial a division can issue (seven decimal digits)."""


@dataclass(frozen=True, slots=True)
class Category:
    """A registration authority or entity category of GB 32100."""

    code: str
    """The one-character code."""
    zh: str
    """Chinese name."""
    en: str
    """English name."""


def _table(*rows: tuple[str, str, str]) -> Mapping[str, Category]:
    return MappingProxyType({code: Category(code, zh, en) for code, zh, en in rows})


REGISTRATION_AUTHORITIES: Mapping[str, Category] = _table(
    ("1", "机构编制", "institutional establishment"),
    ("2", "外交", "foreign affairs"),
    ("3", "司法行政", "justice administration"),
    ("4", "文化", "culture"),
    ("5", "民政", "civil affairs"),
    ("6", "旅游", "tourism"),
    ("7", "宗教", "religious affairs"),
    ("8", "工会", "trade unions"),
    ("9", "工商", "market regulation"),
    (
        "A",
        "中央军委改革和编制办公室",
        "Central Military Commission reform and establishment office",
    ),
    ("N", "农业", "agriculture"),
    ("Y", "其他", "other"),
)
"""First character of a USCC (GB 32100-2015, with its amendments)."""

ENTITY_CATEGORIES: Mapping[str, Mapping[str, Category]] = MappingProxyType(
    {
        "1": _table(
            ("1", "机关", "state organ"),
            ("2", "事业单位", "public institution"),
            ("3", "中央编办直接管理机构编制的群众团体", "mass organisation"),
            ("9", "其他", "other"),
        ),
        "2": _table(
            ("1", "外国常住新闻机构", "resident foreign news agency"), ("9", "其他", "other")
        ),
        "3": _table(
            ("1", "律师执业机构", "law firm"),
            ("2", "公证处", "notary office"),
            ("3", "基层法律服务所", "grassroots legal service office"),
            ("4", "司法鉴定机构", "forensic appraisal institution"),
            ("5", "仲裁委员会", "arbitration commission"),
            ("9", "其他", "other"),
        ),
        "4": _table(("1", "外国在华文化中心", "foreign cultural centre"), ("9", "其他", "other")),
        "5": _table(
            ("1", "社会团体", "social organisation"),
            ("2", "民办非企业单位", "private non-enterprise unit"),
            ("3", "基金会", "foundation"),
            ("9", "其他", "other"),
        ),
        "6": _table(
            ("1", "外国旅游部门常驻代表机构", "foreign tourism office"),
            (
                "2",
                "港澳台地区旅游部门常驻内地（大陆）代表机构",
                "Hong Kong, Macao or Taiwan tourism office",
            ),
            ("9", "其他", "other"),
        ),
        "7": _table(
            ("1", "宗教活动场所", "place of religious activity"),
            ("2", "宗教院校", "religious school"),
            ("9", "其他", "other"),
        ),
        "8": _table(("1", "基层工会", "grassroots trade union"), ("9", "其他", "other")),
        "9": _table(
            ("1", "企业", "enterprise"),
            ("2", "个体工商户", "individual business"),
            ("3", "农民专业合作社", "farmers' cooperative"),
        ),
        "A": _table(("1", "军队事业单位", "military public institution"), ("9", "其他", "other")),
        "N": _table(
            ("1", "组级集体经济组织", "group-level collective economic organisation"),
            ("2", "村级集体经济组织", "village-level collective economic organisation"),
            ("3", "乡镇级集体经济组织", "township-level collective economic organisation"),
            ("9", "其他", "other"),
        ),
        "Y": _table(("1", "其他", "other")),
    }
)
"""Second character of a USCC, per registration authority category."""


@dataclass(frozen=True, slots=True)
class UsccParts:
    """A unified social credit code taken apart."""

    authority: str
    """Registration authority category (``9`` market regulation)."""
    entity: str
    """Entity category under that authority (``1`` enterprise)."""
    division: str
    """GB/T 2260 code of the registering authority's division."""
    organisation_code: str
    """The 9-character organisation code (body and its check character)."""
    check: str
    """The MOD 31 check character."""


def organisation_code_check(body8: str) -> str:
    """Return the GB 11714 check character of an 8-character organisation code body: 11 minus
    the weighted sum (weights 3 7 9 10 5 8 4 2) mod 11, written ``X`` for 10 and ``0`` for 11."""
    if len(body8) != 8 or any(c not in ORGANISATION_ALPHABET for c in body8):
        raise SchemaViolation(
            "an organisation code body is 8 digits or upper-case letters",
            field="organisation_code",
        )
    total = sum(
        ORGANISATION_ALPHABET.index(c) * w
        for c, w in zip(body8, _ORGANISATION_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _division_ok(code: str) -> bool:
    """Whether ``code`` is shaped like a GB/T 2260 division code (provinces start 1-8)."""
    return len(code) == 6 and code.isascii() and code.isdigit() and code[0] in "12345678"


def issue_uscc(division_code: str, serial: int, entity: str = "1") -> str:
    """Return the USCC that this market-regulation registry issues to the ``serial``-th entity
    of ``division_code`` (see the module docstring); ``entity`` is ``1`` enterprise, ``2``
    individual business or ``3`` farmers' cooperative. The same inputs give the same code."""
    if entity not in ENTITY_CATEGORIES[AUTHORITY]:
        raise SchemaViolation(
            f"entity category {entity!r} is not one of market regulation's (1, 2, 3)",
            field="entity",
        )
    if not isinstance(division_code, str) or not _division_ok(division_code):
        raise SchemaViolation(
            f"{division_code!r} is not a six-digit GB/T 2260 division code", field="division_code"
        )
    if type(serial) is not int or not 1 <= serial <= MAX_SERIAL:
        raise SchemaViolation(
            f"the serial must be an integer from 1 to {MAX_SERIAL}", field="serial"
        )
    body = f"{SERIAL_PREFIX}{serial:07d}"
    first17 = f"{AUTHORITY}{entity}{division_code}{body}{organisation_code_check(body)}"
    return first17 + uscc_check_char(first17)


def parse_uscc(code: str) -> UsccParts:
    """Take a unified social credit code apart after checking it: both check characters, a
    known authority and entity category, and a division code; otherwise raise
    ``InvalidIdentityNumber`` naming what is wrong."""
    c = validate_uscc(code)
    entities = ENTITY_CATEGORIES.get(c[0])
    if entities is None:
        raise InvalidIdentityNumber(
            f"{c[0]} is not a registration authority category of GB 32100", reason="authority"
        )
    if c[1] not in entities:
        raise InvalidIdentityNumber(
            f"{c[1]} is not an entity category of authority {c[0]} "
            f"({REGISTRATION_AUTHORITIES[c[0]].en})",
            reason="entity",
        )
    if not _division_ok(c[2:8]):
        raise InvalidIdentityNumber(f"{c[2:8]} is not a division code", reason="region")
    if c[16] != organisation_code_check(c[8:16]):
        raise InvalidIdentityNumber(
            "the check character of the organisation code (characters 9-17) is wrong (GB 11714)",
            reason="organisation_code",
        )
    return UsccParts(c[0], c[1], c[2:8], c[8:17], c[17])
