"""Service definitions (政务服务事项) as data: parsing and the checks made at publication.

A definition is a JSON object (``docs/services.md`` lists every field). ``parse_definition``
checks all of it and raises ``DefinitionRefused`` with *every* problem found, each with its
place (``steps[2].role``) and reason, so a department fixes a definition in one round:

- names, codes, lists and integers of the right shape (integers only: fees in fen);
- departments that are in the network and roles that cases know;
- steps: unique ids, an owner department and role, a time limit in working days, ``after``
  naming earlier-declared or later steps without a cycle; checks name a data resource;
- the application form is a valid JSON Schema (draft 2020-12) describing an object;
- materials held by another department say where they come from (grant or attestation);
- a service its department opens itself (``"opened_by": "department"``, 依职权) names no
  applicants, no material held by another department and no notice open to objections, and
  may have no steps.

The result is a ``ServiceDefinition`` record whose ``raw`` is the canonical JSON that is hashed
and approved on-chain; the case engine reads the typed fields.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from govchain.errors import InvalidInput

CATEGORIES = frozenset(
    {"registration", "permit", "deregistration", "certification", "filing", "payment", "other"}
)
"""Kinds of service (the catalogue filters on them)."""
APPLICANTS = frozenset({"citizen", "enterprise"})
"""Who may apply."""
OPENERS = frozenset({"applicant", "department"})
"""Who opens a service's cases: an ``applicant`` (a citizen or enterprise applies), or the
owner ``department`` itself (依职权: a grant without an application, a supervision lead)."""
CASE_ROLES = frozenset({"officer", "inspector", "approver"})
"""Staff roles a step or decision may be owned by (a department ``admin`` may act for any)."""
STEP_KINDS = frozenset({"review", "inspection", "check", "notice"})
"""``review`` and ``inspection`` are done by a person, ``check`` is answered by the owning
department's data (an attestation), ``notice`` is a public notice period open to objections."""
OUTPUT_KINDS = frozenset(
    {
        "enterprise.register", "enterprise.deregister", "enterprise.deregistering",
        "licence.issue", "certificate.issue",
    }
)  # fmt: skip
"""Registry changes a decision may make."""
ISSUING_KINDS = frozenset({"licence.issue", "certificate.issue"})
"""Outputs that issue something a commitment-based approval can later take back."""
MAX_CERTIFICATE_DAYS = 3650
"""Longest validity of a certificate, in days (ten years)."""
EXISTS: Mapping[str, Any] = MappingProxyType({"filter": [], "count": ["ge", 1]})
"""Default predicate of a held material: the holder has a live record of it about the
subject."""
MAX_STEPS = 32
MAX_DAYS = 365
MAX_NOTICE_DAYS = 90
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{1,39}\Z")
_ID = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")
_RESOURCE = re.compile(r"[a-z][a-z0-9_]{0,31}\.[a-z0-9_.\-]{1,63}\Z")


class DefinitionRefused(InvalidInput):
    """A service definition has problems; ``problems`` lists each ``{place, reason}``."""

    code = "definition_refused"

    def __init__(self, problems: Sequence[Mapping[str, str]]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"service definition refused: {first['place']}: {first['reason']}{more}",
            problems=[dict(p) for p in problems],
        )


@dataclass(frozen=True, slots=True)
class Check:
    """An automatic check answered from a department's own data (an attestation)."""

    resource: str
    """Catalogue resource the predicate is evaluated over (owned by the step's department)."""
    predicate: Mapping[str, Any]
    """Sharing predicate (``docs/data-sharing.md``) whose ``yes`` clears the step."""
    statement: str
    """What a ``yes`` says, recorded with the attestation."""
    advice: Mapping[str, str]
    """What the applicant should do when the answer is ``no`` (zh, en)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the procedure."""

    id: str
    """Identifier, unique in the definition."""
    name: Mapping[str, str]
    """Display name (zh, en)."""
    kind: str
    """One of ``STEP_KINDS``."""
    dept: str
    """Department that owns the step."""
    role: str
    """Role of that department's staff who act on it."""
    days: int
    """Time limit in working days from the moment the step opens (notice: calendar days)."""
    after: tuple[str, ...]
    """Steps that must be done first (none: opens when the case is accepted)."""
    check: Check | None
    """The automatic check of a ``check`` step."""
    objections: bool
    """A ``notice`` step accepts objections from anyone while it runs."""


@dataclass(frozen=True, slots=True)
class Material:
    """A material (申请材料) of the application."""

    id: str
    """Identifier, unique in the definition."""
    name: Mapping[str, str]
    """Display name (zh, en)."""
    required: bool
    """Whether the application is incomplete without it."""
    held_by: str
    """Department that already holds it (not uploaded: fetched by grant or attested); ''."""
    via: str
    """How a held material is obtained: ``grant`` or ``attestation`` ('' if uploaded)."""
    resource: str
    """Catalogue resource of a held material ('' if uploaded)."""
    predicate: Mapping[str, Any]
    """What the holder attests about the applicant's records (default: that one exists)."""
    statement: str
    """What a ``yes`` says ('' if uploaded)."""


@dataclass(frozen=True, slots=True)
class Output:
    """A registry change made when the case is approved."""

    kind: str
    """One of ``OUTPUT_KINDS``."""
    licence_type: str
    """For ``licence.issue``: the licence type code."""
    licence_name: Mapping[str, str]
    """For ``licence.issue``: its display name."""
    validity_years: int
    """For ``licence.issue``: years of validity (0: no end)."""
    certificate_type: str = ""
    """For ``certificate.issue``: the certificate type code."""
    certificate_name: Mapping[str, str] = field(default_factory=dict)
    """For ``certificate.issue``: its display name (zh, en)."""
    validity_days: int = 0
    """For ``certificate.issue``: days of validity from the decision (0: no end)."""


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    """A parsed, checked service definition."""

    code: str
    """Service code, stable across versions."""
    version: int
    """Version number, from 1."""
    category: str
    """One of ``CATEGORIES``."""
    name: Mapping[str, str]
    """Display name (zh, en)."""
    owner: str
    """Department that owns the service, accepts and decides its cases."""
    co_handlers: tuple[str, ...]
    """Other departments that own steps."""
    applicants: frozenset[str]
    """Who may apply."""
    materials: tuple[Material, ...]
    """Materials of the application."""
    steps: tuple[Step, ...]
    """Steps in declaration order."""
    decision_role: str
    """Role of the owner's staff who decide."""
    auto_decision: bool
    """Decided without a person when every step passed (不见面办结)."""
    auto_accept: bool
    """Accepted on submission, without a person (its steps open at once)."""
    outputs: tuple[Output, ...]
    """What approval changes in the registries."""
    fee_fen: int
    """Fee in fen."""
    time_limit_days: int
    """Promised time from acceptance to decision, in working days."""
    supplement_days: int
    """Working days an applicant has to answer a supplement request."""
    commitment_check_days: int
    """Commitment-based approval (告知承诺制): granted at once, checked within this many
    working days (0: not commitment-based)."""
    raw: Mapping[str, Any]
    """The definition as published (canonical JSON of this is what is hashed)."""
    opened_by: str = "applicant"
    """One of ``OPENERS``: ``department`` cases are opened by the owner about a subject, with
    no applicant."""

    def step(self, step_id: str) -> Step | None:
        """Return a step by id."""
        for s in self.steps:
            if s.id == step_id:
                return s
        return None

    @property
    def departments(self) -> tuple[str, ...]:
        """The owner, then the co-handling departments: who approves the definition."""
        return (self.owner, *self.co_handlers)


class _Problems:
    """Collects ``{place, reason}`` while a definition is read."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, place: str, reason: str) -> None:
        self.items.append({"place": place, "reason": reason})

    def text(self, obj: Mapping[str, Any], key: str, place: str, limit: int = 200) -> str:
        value = obj.get(key)
        if type(value) is not str or not value.strip() or len(value) > limit:
            self.add(f"{place}{key}", f"must be a non-empty string of at most {limit} characters")
            return ""
        return value

    def names(self, obj: Mapping[str, Any], key: str, place: str) -> dict[str, str]:
        value = obj.get(key)
        if not isinstance(value, Mapping):
            self.add(f"{place}{key}", "must be an object with 'zh' and 'en' names")
            return {}
        out = {lang: self.text(value, lang, f"{place}{key}.", 300) for lang in ("zh", "en")}
        for extra in sorted(set(value) - {"zh", "en"}):
            self.add(f"{place}{key}.{extra}", "unknown language (zh and en only)")
        return out

    def integer(self, obj: Mapping[str, Any], key: str, place: str, lo: int, hi: int) -> int:
        value = obj.get(key)
        if type(value) is not int or not lo <= value <= hi:
            what = "is missing" if value is None else f"must be an integer from {lo} to {hi}"
            self.add(f"{place}{key}", what)
            return lo
        return value

    def only(self, obj: Mapping[str, Any], allowed: Collection[str], place: str) -> None:
        """Refuse fields a nested object does not have (a typo is never silently ignored)."""
        for extra in sorted(set(obj) - set(allowed)):
            self.add(f"{place}{extra}", "unknown field")

    def dept(self, value: Any, place: str, departments: Collection[str]) -> str:
        if type(value) is not str or value not in departments:
            self.add(
                place, f"unknown department {value!r} (known: {', '.join(sorted(departments))})"
            )
            return ""
        return value

    def strings(self, obj: Mapping[str, Any], key: str, place: str, limit: int = 300) -> list[str]:
        value = obj.get(key, [])
        if not isinstance(value, list) or not all(
            type(v) is str and v.strip() and len(v) <= limit for v in value
        ):
            self.add(f"{place}{key}", f"must be a list of non-empty strings (≤ {limit} characters)")
            return []
        return list(value)


_TOP_FIELDS = frozenset(
    {
        "code", "version", "category", "name", "summary", "owner", "co_handlers", "legal_basis",
        "applicants", "keywords", "life_events", "materials", "form", "steps", "decision",
        "outputs", "fee_fen", "time_limit_days", "supplement_days", "commitment", "auto_accept",
        "opened_by",
    }
)  # fmt: skip
_STEP_FIELDS = frozenset(
    {"id", "name", "kind", "dept", "role", "days", "after", "check", "objections"}
)


def _check_form(form: Any, p: _Problems) -> None:
    # Imported here: the validator library costs ~60 ms to import, paid when a definition is
    # first published rather than by every process that imports the case engine.
    from jsonschema import Draft202012Validator, SchemaError

    if not isinstance(form, Mapping):
        p.add("form", "must be a JSON Schema object")
        return
    try:
        Draft202012Validator.check_schema(form)
    except SchemaError as exc:
        where = "".join(f"[{part!r}]" if isinstance(part, int) else f".{part}" for part in exc.path)
        p.add(f"form{where}", f"not a valid JSON Schema (draft 2020-12): {exc.message}")
        return
    if form.get("type") != "object" or not isinstance(form.get("properties"), Mapping):
        p.add("form", "must describe an object ('type': 'object' with 'properties')")


def _read_check(step: Mapping[str, Any], place: str, p: _Problems) -> Check | None:
    raw = step.get("check")
    if raw is None:
        p.add(f"{place}check", "a 'check' step needs a check (resource, predicate, statement)")
        return None
    if not isinstance(raw, Mapping):
        p.add(f"{place}check", "must be an object")
        return None
    p.only(raw, ("resource", "predicate", "statement", "advice"), f"{place}check.")
    resource = raw.get("resource")
    if type(resource) is not str or not _RESOURCE.match(resource):
        p.add(f"{place}check.resource", "must be a catalogue resource id like 'tax.arrears'")
        resource = ""
    predicate = raw.get("predicate")
    if not isinstance(predicate, Mapping) or "count" not in predicate:
        p.add(f"{place}check.predicate", "must be a sharing predicate with 'filter' and 'count'")
        predicate = {}
    statement = p.text(raw, "statement", f"{place}check.")
    advice = p.names(raw, "advice", f"{place}check.")
    return Check(resource, predicate, statement, advice)


def _read_steps(
    raw: Any, departments: Collection[str], p: _Problems, least: int = 1
) -> tuple[Step, ...]:
    if not isinstance(raw, list) or not least <= len(raw) <= MAX_STEPS:
        p.add("steps", f"must be a list of {least} to {MAX_STEPS} steps")
        return ()
    steps: list[Step] = []
    seen: set[str] = set()
    for i, s in enumerate(raw):
        place = f"steps[{i}]."
        if not isinstance(s, Mapping):
            p.add(f"steps[{i}]", "must be an object")
            continue
        for extra in sorted(set(s) - _STEP_FIELDS):
            p.add(f"{place}{extra}", "unknown field")
        sid = s.get("id")
        if type(sid) is not str or not _ID.match(sid):
            p.add(f"{place}id", "must be a lower-case identifier")
            sid = f"#{i}"
        elif sid in seen:
            p.add(f"{place}id", f"step id {sid!r} is used twice")
        seen.add(sid)
        kind = s.get("kind", "review")
        if kind not in STEP_KINDS:
            p.add(f"{place}kind", f"must be one of {', '.join(sorted(STEP_KINDS))}")
        if "dept" not in s:
            p.add(f"{place}dept", "a step needs an owner department")
            dept = ""
        else:
            dept = p.dept(s["dept"], f"{place}dept", departments)
        role = s.get("role")
        if role is None:
            p.add(f"{place}role", "a step needs an owner role")
        elif role not in CASE_ROLES:
            p.add(f"{place}role", f"unknown role {role!r} (known: {', '.join(sorted(CASE_ROLES))})")
        if "days" not in s:
            p.add(f"{place}days", "a step needs a time limit in working days")
            days = 1
        else:
            hi = MAX_NOTICE_DAYS if kind == "notice" else MAX_DAYS
            days = p.integer(s, "days", place, 1, hi)
        after = s.get("after", [])
        if not isinstance(after, list) or not all(type(a) is str for a in after):
            p.add(f"{place}after", "must be a list of step ids")
            after = []
        check = _read_check(s, place, p) if kind == "check" else None
        if kind != "check" and s.get("check") is not None:
            p.add(f"{place}check", "only a 'check' step has a check")
        objections = s.get("objections", kind == "notice")
        if type(objections) is not bool or (objections and kind != "notice"):
            p.add(f"{place}objections", "only a 'notice' step takes objections (true/false)")
            objections = False
        names = p.names(s, "name", place)
        steps.append(
            Step(sid, names, kind, dept, str(role or ""), days, tuple(after), check, objections)
        )
    _check_order(steps, p)
    return tuple(steps)


def _check_order(steps: Sequence[Step], p: _Problems) -> None:
    """Unknown ``after`` ids and cycles (Kahn's algorithm; the places name the cycle's steps)."""
    index = {s.id: i for i, s in enumerate(steps)}
    for i, s in enumerate(steps):
        for a in s.after:
            if a not in index:
                p.add(f"steps[{i}].after", f"unknown step {a!r}")
            elif a == s.id:
                p.add(f"steps[{i}].after", "a step cannot wait for itself")
    waiting = {s.id: {a for a in s.after if a in index and a != s.id} for s in steps}
    ready = [sid for sid, deps in waiting.items() if not deps]
    done: set[str] = set()
    while ready:
        sid = ready.pop()
        done.add(sid)
        for other, deps in waiting.items():
            if sid in deps:
                deps.discard(sid)
                if not deps and other not in done:
                    ready.append(other)
    stuck = {s.id for s in steps if s.id not in done and waiting[s.id]}
    if stuck:
        # Steps left waiting are on a cycle or wait for one: name only those on it (a step that
        # can reach itself through the steps it waits for).
        cycle = [s.id for s in steps if s.id in stuck and _reaches_itself(s.id, waiting)]
        ids = " → ".join(cycle)
        p.add(f"steps[{index[cycle[0]]}].after", f"the steps wait for each other in a cycle: {ids}")


def _reaches_itself(start: str, waiting: Mapping[str, set[str]]) -> bool:
    """Whether ``start`` waits, directly or through others, for itself."""
    seen: set[str] = set()
    todo = list(waiting[start])
    while todo:
        sid = todo.pop()
        if sid == start:
            return True
        if sid not in seen:
            seen.add(sid)
            todo.extend(waiting.get(sid, ()))
    return False


def _read_materials(raw: Any, departments: Collection[str], p: _Problems) -> tuple[Material, ...]:
    if not isinstance(raw, list):
        p.add("materials", "must be a list")
        return ()
    out: list[Material] = []
    seen: set[str] = set()
    for i, m in enumerate(raw):
        place = f"materials[{i}]."
        if not isinstance(m, Mapping):
            p.add(f"materials[{i}]", "must be an object")
            continue
        p.only(m, ("id", "name", "required", "held_by"), place)
        mid = m.get("id")
        if type(mid) is not str or not _ID.match(mid) or mid in seen:
            p.add(f"{place}id", "must be a unique lower-case identifier")
            mid = f"#{i}"
        seen.add(mid)
        required = m.get("required", True)
        if type(required) is not bool:
            p.add(f"{place}required", "must be true or false")
            required = True
        held, via, resource = "", "", ""
        if m.get("held_by") is not None:
            h = m["held_by"]
            if not isinstance(h, Mapping):
                p.add(f"{place}held_by", "must be an object (dept, resource, via)")
            else:
                p.only(h, ("dept", "resource", "via", "predicate", "statement"), f"{place}held_by.")
                held = p.dept(h.get("dept"), f"{place}held_by.dept", departments)
                via = h.get("via", "")
                if via not in ("grant", "attestation"):
                    p.add(f"{place}held_by.via", "must be 'grant' or 'attestation'")
                resource = h.get("resource", "")
                if type(resource) is not str or not _RESOURCE.match(resource):
                    p.add(f"{place}held_by.resource", "must be a catalogue resource id")
                    resource = ""
                elif held and not resource.startswith(held + "."):
                    p.add(f"{place}held_by.resource", f"resource {resource!r} is not {held}'s")
                predicate = h.get("predicate", EXISTS)
                if not isinstance(predicate, Mapping) or "count" not in predicate:
                    p.add(f"{place}held_by.predicate", "must be a sharing predicate")
                    predicate = EXISTS
        names = p.names(m, "name", place)
        statement = ""
        if held:
            h = m["held_by"]
            statement = h.get("statement", f"持有{names.get('zh', mid)}")
            if type(statement) is not str or not 0 < len(statement) <= 300:
                p.add(f"{place}held_by.statement", "must be text of 1 to 300 characters")
                statement = ""
        out.append(
            Material(
                mid,
                names,
                required,
                held,
                str(via),
                resource,
                predicate if held else EXISTS,
                statement,
            )
        )
    return tuple(out)


def _read_outputs(raw: Any, p: _Problems) -> tuple[Output, ...]:
    if not isinstance(raw, list):
        p.add("outputs", "must be a list")
        return ()
    out: list[Output] = []
    for i, o in enumerate(raw):
        place = f"outputs[{i}]."
        if not isinstance(o, Mapping) or o.get("kind") not in OUTPUT_KINDS:
            p.add(f"outputs[{i}].kind", f"must be one of {', '.join(sorted(OUTPUT_KINDS))}")
            continue
        fields = {
            "licence.issue": ("kind", "licence_type", "licence_name", "validity_years"),
            "certificate.issue": ("kind", "certificate_type", "certificate_name", "validity_days"),
        }
        p.only(o, fields.get(o["kind"], ("kind",)), place)
        if o["kind"] == "certificate.issue":
            ctype = o.get("certificate_type")
            if type(ctype) is not str or not _ID.match(ctype):
                p.add(f"{place}certificate_type", "must be a lower-case identifier")
                ctype = ""
            days = p.integer(o, "validity_days", place, 0, MAX_CERTIFICATE_DAYS)
            names = p.names(o, "certificate_name", place)
            out.append(Output("certificate.issue", "", {}, 0, ctype, names, days))
        elif o["kind"] == "licence.issue":
            ltype = o.get("licence_type")
            if type(ltype) is not str or not _ID.match(ltype):
                p.add(f"{place}licence_type", "must be a lower-case identifier")
                ltype = ""
            years = p.integer(o, "validity_years", place, 0, 30)
            out.append(Output("licence.issue", ltype, p.names(o, "licence_name", place), years))
        else:
            out.append(Output(o["kind"], "", {}, 0))
    return tuple(out)


def parse_definition(obj: Any, departments: Collection[str]) -> ServiceDefinition:
    """Check a definition against the network's ``departments``; return it parsed or raise
    ``DefinitionRefused`` listing every problem with its place and reason."""
    p = _Problems()
    if not isinstance(obj, Mapping):
        raise DefinitionRefused([{"place": "", "reason": "a definition is a JSON object"}])
    for extra in sorted(set(obj) - _TOP_FIELDS):
        p.add(extra, "unknown field")
    code = obj.get("code")
    if type(code) is not str or not _CODE.match(code):
        p.add("code", "must be 2-40 letters, digits and '-'")
        code = ""
    version = p.integer(obj, "version", "", 1, 1_000_000)
    category = obj.get("category")
    if category not in CATEGORIES:
        p.add("category", f"must be one of {', '.join(sorted(CATEGORIES))}")
    name = p.names(obj, "name", "")
    p.names(obj, "summary", "")
    owner = p.dept(obj.get("owner"), "owner", departments)
    co = obj.get("co_handlers", [])
    if not isinstance(co, list):
        p.add("co_handlers", "must be a list of departments")
        co = []
    co_handlers = [p.dept(d, f"co_handlers[{i}]", departments) for i, d in enumerate(co)]
    if owner and owner in co_handlers:
        p.add("co_handlers", "the owner is not also a co-handler")
    if len(set(co_handlers)) != len(co_handlers):
        p.add("co_handlers", "a department is named twice")
    if not p.strings(obj, "legal_basis", ""):
        p.add("legal_basis", "name at least one law or regulation")
    p.strings(obj, "keywords", "", 40)
    p.strings(obj, "life_events", "", 40)
    opened_by = obj.get("opened_by", "applicant")
    if opened_by not in OPENERS:
        p.add("opened_by", "must be 'applicant' or 'department'")
        opened_by = "applicant"
    own = opened_by == "department"
    applicants = obj.get("applicants", [] if own else None)
    if own:
        if applicants != []:
            p.add("applicants", "a service its department opens itself has no applicants")
        applicants = []
    elif not isinstance(applicants, list) or not applicants or not set(applicants) <= APPLICANTS:
        p.add("applicants", "must list 'citizen' and/or 'enterprise'")
        applicants = []
    materials = _read_materials(obj.get("materials", []), departments, p)
    if own:
        for i, m in enumerate(materials):
            if m.held_by:  # fetched with an applicant's consent, and there is no applicant
                p.add(f"materials[{i}].held_by", "no applicant consents to fetching it")
    _check_form(obj.get("form"), p)
    # A department's own case may be decided on what it records alone (no step at all).
    steps = _read_steps(obj.get("steps"), departments, p, 0 if own else 1)
    for i, s in enumerate(steps):
        if own and s.objections:
            p.add(f"steps[{i}].objections", "a department's own case takes no objections")
    handlers = {owner, *co_handlers}
    for i, s in enumerate(steps):
        if s.dept and s.dept not in handlers:
            p.add(f"steps[{i}].dept", f"{s.dept!r} is neither the owner nor a co-handler")
    decision = obj.get("decision", {})
    if not isinstance(decision, Mapping):
        p.add("decision", "must be an object (role, auto)")
        decision = {}
    p.only(decision, ("role", "auto"), "decision.")
    decision_role = decision.get("role", "approver")
    if decision_role not in CASE_ROLES:
        p.add("decision.role", f"unknown role {decision_role!r}")
    auto = decision.get("auto", False)
    if type(auto) is not bool:
        p.add("decision.auto", "must be true or false")
        auto = False
    if auto and any(s.kind in ("review", "inspection") for s in steps):
        p.add("decision.auto", "an automatic decision needs steps answered by data or notice only")
    if auto and not steps:
        p.add("decision.auto", "an automatic decision follows steps: this service has none")
    auto_accept = obj.get("auto_accept", False)
    if type(auto_accept) is not bool:
        p.add("auto_accept", "must be true or false")
        auto_accept = False
    outputs = _read_outputs(obj.get("outputs", []), p)
    fee = p.integer(obj, "fee_fen", "", 0, 100_000_000_00)
    limit = p.integer(obj, "time_limit_days", "", 1, MAX_DAYS)
    supplement = obj.get("supplement_days", 30)
    if type(supplement) is not int or not 1 <= supplement <= 180:
        p.add("supplement_days", "must be an integer from 1 to 180")
        supplement = 30
    commitment = obj.get("commitment")
    check_days = 0
    if commitment is not None:
        if not isinstance(commitment, Mapping):
            p.add("commitment", "must be an object with 'check_days'")
        else:
            p.only(commitment, ("check_days",), "commitment.")
            check_days = p.integer(commitment, "check_days", "commitment.", 1, MAX_DAYS)
            if not any(o.kind in ISSUING_KINDS for o in outputs):
                # What a broken commitment takes back is what the approval issued.
                p.add(
                    "commitment",
                    "commitment-based approval needs a licence output or a certificate output",
                )
    if p.items:
        raise DefinitionRefused(p.items)
    return ServiceDefinition(
        code=str(code),
        version=version,
        category=str(category),
        name=name,
        owner=owner,
        co_handlers=tuple(co_handlers),
        applicants=frozenset(applicants),
        materials=materials,
        steps=steps,
        decision_role=str(decision_role),
        auto_decision=auto,
        auto_accept=auto_accept,
        outputs=outputs,
        fee_fen=fee,
        time_limit_days=limit,
        supplement_days=supplement,
        commitment_check_days=check_days,
        raw=obj,
        opened_by=str(opened_by),
    )
