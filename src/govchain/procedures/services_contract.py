"""The ``services`` system contract: service definitions and the working-day calendar on-chain.

A definition is published like contract code: an admin of the owning department ``propose``s a
version (checked in full: ``DefinitionRefused`` lists every problem with its place), every
department concerned (owner and co-handlers) ``approve``s **its hash**, then ``publish`` makes
it the current version. Older versions stay readable: a case runs under the version it was
submitted with. The calendar changes by a year at a time: ``propose_calendar`` then approvals of
a majority of the network's departments, the last of which puts it in force.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from govchain.contracts.errors import UnknownMethod
from govchain.errors import Conflict, Forbidden, NotFound, SchemaViolation
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.execution import CallContext
from govchain.ledger.genesis import Genesis
from govchain.ledger.membership import current_membership
from govchain.procedures import layout
from govchain.procedures.calendar import (
    WorkCalendar,
    calendar_to_json,
    load_default_calendar,
    merge_year,
    parse_calendar,
)
from govchain.procedures.definitions import DefinitionRefused, ServiceDefinition, parse_definition
from govchain.procedures.registry import load, store
from govchain.sharing.contracts import load_resource
from govchain.sharing.layout import resource_key
from govchain.sharing.predicates import parse_predicate

MAX_LIST = 5000
"""Most definitions one ``list`` view returns."""

_parsed: dict[bytes, ServiceDefinition] = {}
_calendars: dict[bytes, WorkCalendar] = {}


def departments_of(ctx: CallContext, genesis: Genesis) -> list[str]:
    """Return the network's current departments."""
    return [d.id for d in current_membership(genesis, ctx.get).departments]


def definition_hash(definition: Mapping[str, Any], hash_fn: Callable[[bytes], bytes]) -> str:
    """Return the hash of a definition's canonical JSON (what departments approve)."""
    return hash_fn(canonical_unchecked(definition)).hex()


def load_definition(ctx: CallContext, code: str, version: int | None = None) -> ServiceDefinition:
    """Return a published definition (the current version if ``version`` is None).

    Parsed definitions are kept by their stored bytes: published versions never change."""
    if version is None:
        head = load(ctx, layout.definition_key(code))
        if head is None:
            raise NotFound(f"no published service {code!r}", service=code)
        version = int(head["version"])
    raw = ctx.get(layout.version_key(code, version))
    if raw is None:
        raise NotFound(f"service {code!r} has no published version {version}", service=code)
    found = _parsed.get(raw)
    if found is None:
        obj = orjson.loads(raw)
        # Checked when it was published; the departments are not re-checked (one may have
        # left the network since, and its running cases must still be readable).
        found = parse_definition(obj, departments_in(obj))
        if len(_parsed) > 4096:
            _parsed.clear()
        _parsed[raw] = found
    return found


def departments_in(obj: Mapping[str, Any]) -> set[str]:
    """Return the departments a definition names (owner, co-handlers, steps, materials)."""
    found = {obj.get("owner"), *obj.get("co_handlers", [])}
    for s in obj.get("steps", []):
        found.add(s.get("dept"))
    for m in obj.get("materials", []):
        if m.get("held_by"):
            found.add(m["held_by"].get("dept"))
    return {d for d in found if type(d) is str}


def load_calendar(ctx: CallContext) -> WorkCalendar:
    """Return the calendar in force."""
    raw = ctx.get(layout.CALENDAR_KEY)
    if raw is None:
        return load_default_calendar()
    cal = _calendars.get(raw)
    if cal is None:
        cal = parse_calendar(orjson.loads(raw))
        _calendars.clear()
        _calendars[raw] = cal
    return cal


def _check_resources(ctx: CallContext, defn: ServiceDefinition) -> None:
    """Checks and held materials must name catalogue resources of the right department, and a
    check's predicate must be one the resource can answer."""
    problems: list[dict[str, str]] = []
    for i, step in enumerate(defn.steps):
        if step.check is None:
            continue
        place = f"steps[{i}].check"
        try:
            resource = load_resource(ctx, step.check.resource)
        except NotFound:
            problems.append(
                {
                    "place": f"{place}.resource",
                    "reason": f"no resource {step.check.resource!r} in the data catalogue",
                }
            )
            continue
        if resource.owner != step.dept:
            problems.append(
                {
                    "place": f"{place}.resource",
                    "reason": f"{resource.id} belongs to {resource.owner}, not {step.dept}: "
                    "the owner answers a check",
                }
            )
        try:
            parse_predicate(step.check.predicate, resource)
        except SchemaViolation as exc:
            problems.append({"place": f"{place}.predicate", "reason": exc.message})
    for i, m in enumerate(defn.materials):
        if m.resource and ctx.get(resource_key(m.resource)) is None:
            problems.append(
                {
                    "place": f"materials[{i}].held_by.resource",
                    "reason": f"no resource {m.resource!r} in the data catalogue",
                }
            )
    if problems:
        raise DefinitionRefused(problems)


def _admin(ctx: CallContext) -> None:
    if ctx.signer_role != "admin":
        raise Forbidden("only a department admin may change service definitions or the calendar")


class ServicesContract:
    """``propose``, ``approve``, ``publish`` definitions; ``propose_calendar``,
    ``approve_calendar``; views ``definition``, ``list``, ``proposal``, ``calendar``."""

    name = "services"

    def __init__(self, genesis: Genesis, hash_fn: Callable[[bytes], bytes]) -> None:
        self._genesis = genesis
        self._hash = hash_fn

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        run = {
            "propose": self._propose,
            "approve": self._approve,
            "publish": self._publish,
            "propose_calendar": self._propose_calendar,
            "approve_calendar": self._approve_calendar,
        }.get(method)
        if run is None:
            raise UnknownMethod(f"contract {self.name} has no method {method!r}")
        _admin(ctx)
        return run(ctx, args)

    def _propose(self, ctx: CallContext, args: Mapping[str, Any]) -> Any:
        obj = args.get("definition")
        defn = parse_definition(obj, departments_of(ctx, self._genesis))
        if ctx.signer_dept != defn.owner:
            raise Forbidden(f"only {defn.owner} (the owner) proposes versions of {defn.code}")
        head = load(ctx, layout.definition_key(defn.code))
        current = 0 if head is None else head["version"]
        if defn.version != current + 1:
            raise Conflict(
                f"{defn.code} is at version {current}: propose version {current + 1}",
                version=current,
            )
        _check_resources(ctx, defn)
        digest = definition_hash(defn.raw, self._hash)
        proposal = {
            "definition": defn.raw,
            "hash": digest,
            "approvals": [],
            "proposer": ctx.tx.signer,
            "departments": list(defn.departments),
            "proposed_ms": ctx.block_time_ms,
        }
        store(ctx, layout.proposal_key(defn.code, defn.version), proposal)
        ctx.emit("services.proposed", {"code": defn.code, "version": defn.version, "hash": digest})
        return {
            "code": defn.code,
            "version": defn.version,
            "hash": digest,
            "needs": list(defn.departments),
        }

    def _proposal(
        self, ctx: CallContext, args: Mapping[str, Any]
    ) -> tuple[str, int, dict[str, Any]]:
        code, version = args.get("code"), args.get("version")
        if type(code) is not str or type(version) is not int:
            raise SchemaViolation("code (string) and version (integer) are required", field="code")
        prop = load(ctx, layout.proposal_key(code, version))
        if prop is None:
            raise NotFound(f"no proposal of {code} version {version}", service=code)
        return code, version, prop

    def _approve(self, ctx: CallContext, args: Mapping[str, Any]) -> Any:
        code, version, prop = self._proposal(ctx, args)
        dept = ctx.signer_dept
        if dept not in prop["departments"]:
            raise Forbidden(
                f"{dept} is not a department of {code}: {', '.join(prop['departments'])} approve it"
            )
        if args.get("hash") != prop["hash"]:
            raise Conflict(
                f"hash mismatch: {code} version {version} is {prop['hash']}",
                expected=prop["hash"],
            )
        if dept in prop["approvals"]:
            raise Conflict(f"{dept} already approved {code} version {version}")
        prop["approvals"] = sorted([*prop["approvals"], dept])
        store(ctx, layout.proposal_key(code, version), prop)
        ctx.emit("services.approved", {"code": code, "version": version, "dept": dept})
        return {"code": code, "version": version, "approvals": prop["approvals"]}

    def _publish(self, ctx: CallContext, args: Mapping[str, Any]) -> Any:
        code, version, prop = self._proposal(ctx, args)
        missing = [d for d in prop["departments"] if d not in prop["approvals"]]
        if missing:
            raise Forbidden(
                f"{code} version {version} still needs the approval of {', '.join(missing)}",
                missing=missing,
            )
        head = load(ctx, layout.definition_key(code))
        if head is not None and head["version"] >= version:
            raise Conflict(f"{code} version {head['version']} is already published")
        store(ctx, layout.version_key(code, version), prop["definition"])
        store(
            ctx,
            layout.definition_key(code),
            {"version": version, "hash": prop["hash"], "published_ms": ctx.block_time_ms,
             "height": ctx.height, "approvals": prop["approvals"]},
        )  # fmt: skip
        ctx.delete(layout.proposal_key(code, version))
        ctx.emit("services.published", {"code": code, "version": version, "hash": prop["hash"]})
        return {"code": code, "version": version, "hash": prop["hash"]}

    def _propose_calendar(self, ctx: CallContext, args: Mapping[str, Any]) -> Any:
        year = args.get("year")
        if type(year) is not int:
            raise SchemaViolation("year must be an integer", field="year")
        holidays, workdays = args.get("holidays"), args.get("workdays")
        if not isinstance(holidays, list) or not isinstance(workdays, list):
            raise SchemaViolation("holidays and workdays are lists of dates", field="holidays")
        source = args.get("source", "on-chain calendar update")
        if type(source) is not str or not 0 < len(source) <= 300:
            raise SchemaViolation("source names the notice, up to 300 characters", field="source")
        # Checked now, in full, so that the approval that puts it in force cannot fail.
        merge_year(load_calendar(ctx), year, holidays, workdays, source=source)
        prop = {"year": year, "holidays": holidays, "workdays": workdays, "source": source,
                "approvals": [ctx.signer_dept], "proposer": ctx.tx.signer}  # fmt: skip
        store(ctx, layout.calendar_proposal_key(year), prop)
        ctx.emit("services.calendar_proposed", {"year": year})
        return self._maybe_apply(ctx, prop)

    def _approve_calendar(self, ctx: CallContext, args: Mapping[str, Any]) -> Any:
        year = args.get("year")
        prop = load(ctx, layout.calendar_proposal_key(year)) if type(year) is int else None
        if prop is None:
            raise NotFound(f"no calendar proposal for {year!r}")
        if ctx.signer_dept in prop["approvals"]:
            raise Conflict(f"{ctx.signer_dept} already approved the {year} calendar")
        prop["approvals"] = sorted([*prop["approvals"], ctx.signer_dept])
        store(ctx, layout.calendar_proposal_key(prop["year"]), prop)
        return self._maybe_apply(ctx, prop)

    def _maybe_apply(self, ctx: CallContext, prop: dict[str, Any]) -> Any:
        depts = departments_of(ctx, self._genesis)
        if len([d for d in prop["approvals"] if d in depts]) * 2 <= len(depts):
            return {"year": prop["year"], "approvals": prop["approvals"], "in_force": False}
        cal = merge_year(
            load_calendar(ctx),
            prop["year"],
            prop["holidays"],
            prop["workdays"],
            source=prop["source"],
        )
        store(ctx, layout.CALENDAR_KEY, calendar_to_json(cal))
        ctx.delete(layout.calendar_proposal_key(prop["year"]))
        ctx.emit("services.calendar_changed", {"year": prop["year"]})
        return {"year": prop["year"], "approvals": prop["approvals"], "in_force": True}

    # --- views ------------------------------------------------------------------------------

    def view(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Run a read-only method."""
        if method == "definition":
            code, version = args.get("code"), args.get("version")
            if type(code) is not str or (version is not None and type(version) is not int):
                raise SchemaViolation(
                    "code (string) and an optional version (integer)", field="code"
                )
            defn = load_definition(ctx, code, version)
            head = load(ctx, layout.definition_key(code))
            return {"definition": defn.raw, "current": head}
        if method == "list":
            out = []
            for key, raw in ctx.scan(layout.SERVICES + b"def/", MAX_LIST):
                head = orjson.loads(raw)
                code = key[len(layout.SERVICES) + 4 :].decode()
                out.append({"code": code, **head})
            return out
        if method == "definitions":
            heads = self.view(ctx, "list", {})
            return [load(ctx, layout.version_key(h["code"], h["version"])) for h in heads]
        if method == "proposal":
            return self._proposal(ctx, args)[2]
        if method == "calendar":
            return calendar_to_json(load_calendar(ctx))
        if method == "check":
            # What ``propose`` checks, without writing: the definition itself, then the
            # catalogue resources its checks and held materials read.
            try:
                defn = parse_definition(args.get("definition"), departments_of(ctx, self._genesis))
                _check_resources(ctx, defn)
            except DefinitionRefused as exc:
                return {"ok": False, "problems": exc.fields["problems"]}
            digest = definition_hash(defn.raw, self._hash)
            return {"ok": True, "problems": [], "code": defn.code, "version": defn.version,
                    "hash": digest, "departments": list(defn.departments)}  # fmt: skip
        raise UnknownMethod(f"contract {self.name} has no view {method!r}")
