"""Archetypes of government IT systems, the vocabulary that rewords them and the departments that
run them, as shipped in ``data/`` (JSON read with importlib.resources).

An archetype is one kind of system (全民健康信息平台, 学籍管理系统 ...): a few names, a purpose
paragraph, 12 to 16 functions, the data resources it reads and produces, its user groups, the
kind of users it has and its typical budget. A function is kept in parts so that rewording can
recombine them: ``verb|objects|manners|results|actors``, each part a ``/``-separated list of
alternatives (the first is the plain wording), every part but the first two optional. Its plain
sentence is ``支持{actor}{manner}{verb}{object}，{result}``; a verb written ``=评价`` takes
no synonym or mode from the vocabulary. E.g.
``调阅|居民电子健康档案/电子健康档案|按授权跨机构|调阅行为全程留痕|医生`` reads
支持医生按授权跨机构调阅居民电子健康档案，调阅行为全程留痕.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources as package_files
from typing import Any

from govchain.errors import SchemaViolation

PACKAGE = "govchain.apps.projects"
"""Package whose ``data/`` folder holds the files read here."""
ARCHETYPE_FILES = (
    "social",
    "culture",
    "market",
    "economy",
    "urban",
    "environment",
    "safety",
    "government",
)
"""Files of ``data/archetypes/`` holding archetypes, one per group of sectors."""
LEVELS = ("province", "city", "both")
"""Where a kind of system is run: by the province, by each city, or either."""
MIN_FUNCTIONS, MAX_FUNCTIONS = 12, 16
"""Bounds of an archetype's function pool (the windows of ``windows`` need at least 12)."""


@dataclass(frozen=True, slots=True)
class Function:
    """One function of an archetype, in the parts rewording recombines."""

    verbs: tuple[str, ...]
    """The action (调阅); alternatives after the first."""
    objects: tuple[str, ...]
    """What it acts on (居民电子健康档案 / 电子健康档案)."""
    manners: tuple[str, ...]
    """How, where or on what basis, put before the verb (按授权跨机构); may be empty."""
    results: tuple[str, ...]
    """A clause after the main one (调阅行为全程留痕); may be empty."""
    actors: tuple[str, ...]
    """Who does it (医生); may be empty."""
    fixed_verb: bool
    """Only its own verbs: the vocabulary's synonyms and modes do not fit it (written ``=评价``
    where patients rate a service, which 评估 or 量化评价 would misread)."""


@dataclass(frozen=True, slots=True)
class Archetype:
    """One kind of government IT system."""

    key: str
    """Unique key, ``department.kind`` (``health.regional_platform``)."""
    departments: tuple[str, ...]
    """Codes of the departments that run such a system (most have one)."""
    level: str
    """``province``, ``city`` or ``both``."""
    names: tuple[str, ...]
    """Names such a system goes by."""
    purpose: str
    """What it is for; words in braces ({建设}) may be replaced by ``purpose_words``."""
    functions: tuple[Function, ...]
    """Its function pool (12 to 16); an entry has a subset."""
    uses: tuple[str, ...]
    """Data-catalogue ids of the resources it reads."""
    produces: tuple[str, ...]
    """Data-catalogue ids of the resources it produces."""
    users: tuple[str, ...]
    """User groups."""
    reach: str
    """Kind of users, a key of the vocabulary's ``reach`` (``staff``, ``public`` ...)."""
    budget_wan: tuple[int, int]
    """Typical budget of a provincial system, in 万元 (low, high)."""
    near_miss: str
    """Key of an archetype that shares its vocabulary but does other things ('' if none)."""
    platform: str
    """Platform it always runs on ('' when it is the usual government cloud)."""


@dataclass(frozen=True, slots=True)
class Verb:
    """How one verb may be reworded."""

    synonyms: tuple[str, ...]
    """Verbs that may replace it."""
    modes: tuple[str, ...]
    """Adverbs that read well before it (在线, 实时 ...)."""
    jinxing: bool
    """Whether ``对{object}进行{verb}`` reads well."""


@dataclass(frozen=True, slots=True)
class Wording:
    """The rewording vocabulary (``data/archetypes/wording.json``)."""

    verbs: dict[str, Verb]
    """Verb -> its synonyms and modes."""
    purpose_words: dict[str, tuple[str, ...]]
    """Marked purpose word -> its alternatives (the first is itself)."""
    purpose_leads: tuple[str, ...]
    """Sentences a purpose may open with."""
    purpose_closings: tuple[str, ...]
    """Sentences a purpose may close with."""
    name_suffixes: tuple[str, ...]
    """Endings recognised in a name (longest first)."""
    name_new_suffixes: tuple[str, ...]
    """Endings a name may get instead."""
    name_styles: tuple[str, ...]
    """Words a name may start with (智慧, 数字 ...)."""
    name_province_prefixes: tuple[str, ...]
    """Prefixes of a provincial system's name (浙江省, 全省 ...)."""
    scope_words: dict[str, str]
    """``province``/``city`` -> the word for the whole area (全省, 全市)."""
    cities: tuple[str, ...]
    """Cities of the province."""
    reach: dict[str, tuple[int, int]]
    """Kind of users -> range of user counts of a provincial system."""
    platforms: dict[str, tuple[str, ...]]
    """``province``/``city`` -> platforms drawn from (repeats weigh)."""


@dataclass(frozen=True, slots=True)
class Department:
    """A department of the province (``data/departments.json``)."""

    code: str
    """Department code (``health``)."""
    name: str
    """Short name (卫生健康委员会)."""
    sector: str
    """Sector; departments sharing one are related."""
    abbr: str
    """Department part of registry ids (``HEALTH``)."""
    provincial_name: str
    """Name of the provincial department (省卫生健康委员会)."""
    municipal_name: str
    """Name of a city's department, ``{city}`` standing for the city ('' if none)."""

    def name_in(self, city: str) -> str:
        """Return the department's name in ``city`` ('' for the province)."""
        if not city or not self.municipal_name:
            return self.provincial_name
        return self.municipal_name.format(city=city)


def read_json(path: str) -> Any:
    """Return the parsed JSON file at ``path`` under the package's ``data/``."""
    text = package_files.files(PACKAGE).joinpath("data", *path.split("/")).read_text("utf-8")
    return json.loads(text)


def parse_function(text: str, where: str) -> Function:
    """Return the function written ``verb|objects|manners|results|actors``."""
    parts = text.split("|")
    if len(parts) > 5:
        raise SchemaViolation(f"{where}: more than 5 parts in {text!r}", field=where)
    parts += [""] * (5 - len(parts))
    fixed = parts[0].startswith("=")
    parts[0] = parts[0].removeprefix("=")
    alts = [tuple(a.strip() for a in p.split("/") if a.strip()) for p in parts]
    if not alts[0] or not alts[1]:
        raise SchemaViolation(f"{where}: a function needs a verb and an object", field=where)
    return Function(alts[0], alts[1], alts[2], alts[3], alts[4], fixed)


def _archetype(raw: dict[str, Any], where: str) -> Archetype:
    functions = tuple(
        parse_function(f, f"{where}.functions[{i}]") for i, f in enumerate(raw["functions"])
    )
    if not MIN_FUNCTIONS <= len(functions) <= MAX_FUNCTIONS:
        raise SchemaViolation(f"{where}: {len(functions)} functions", field=where)
    if raw["level"] not in LEVELS:
        raise SchemaViolation(f"{where}: level {raw['level']!r}", field=where)
    low, high = raw["budget_wan"]
    return Archetype(
        key=raw["key"],
        departments=tuple(raw["departments"]),
        level=raw["level"],
        names=tuple(raw["names"]),
        purpose=raw["purpose"],
        functions=functions,
        uses=tuple(raw["uses"]),
        produces=tuple(raw["produces"]),
        users=tuple(raw["users"]),
        reach=raw["reach"],
        budget_wan=(int(low), int(high)),
        near_miss=raw.get("near_miss", ""),
        platform=raw.get("platform", ""),
    )


@cache
def load_archetypes() -> tuple[Archetype, ...]:
    """Return every archetype, sorted by key."""
    out: list[Archetype] = []
    for name in ARCHETYPE_FILES:
        doc = read_json(f"archetypes/{name}.json")
        out += [_archetype(a, f"{name}.json[{i}]") for i, a in enumerate(doc["archetypes"])]
    keys = [a.key for a in out]
    if len(set(keys)) != len(keys):
        raise SchemaViolation("archetype keys are not unique", field="key")
    return tuple(sorted(out, key=lambda a: a.key))


@cache
def load_wording() -> Wording:
    """Return the rewording vocabulary."""
    doc = read_json("archetypes/wording.json")
    verbs = {
        verb: Verb(tuple(v["syn"]), tuple(v["modes"]), bool(v["jinxing"]))
        for verb, v in doc["verbs"].items()
    }
    return Wording(
        verbs=verbs,
        purpose_words={k: tuple(v) for k, v in doc["purpose_words"].items()},
        purpose_leads=tuple(doc["purpose_leads"]),
        purpose_closings=tuple(doc["purpose_closings"]),
        name_suffixes=tuple(sorted(doc["name_suffixes"], key=len, reverse=True)),
        name_new_suffixes=tuple(doc["name_new_suffixes"]),
        name_styles=tuple(doc["name_styles"]),
        name_province_prefixes=tuple(doc["name_province_prefixes"]),
        scope_words=dict(doc["scope_words"]),
        cities=tuple(doc["cities"]),
        reach={k: (int(v[0]), int(v[1])) for k, v in doc["reach"].items()},
        platforms={k: tuple(v) for k, v in doc["platforms"].items()},
    )


@cache
def department_records() -> dict[str, Department]:
    """Return department code -> department, from ``data/departments.json``."""
    doc = read_json("departments.json")
    return {d["code"]: Department(**d) for d in doc["departments"]}


def load_departments() -> dict[str, Any]:
    """Return ``data/departments.json`` as parsed JSON (``{"departments": [...], ...}``)."""
    doc: dict[str, Any] = read_json("departments.json")
    return doc


@cache
def resource_names() -> dict[str, str]:
    """Return data-catalogue id -> Chinese name of every resource an archetype names."""
    doc = read_json("archetypes/resources.json")
    return {str(k): str(v) for k, v in doc["resources"].items()}
