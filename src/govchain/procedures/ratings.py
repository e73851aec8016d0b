"""The ``ratings`` system contract: the applicant's rating of a finished case (好差评).

After a case ends (decided, issued, closed or withdrawn) its applicant may rate it once, on five
levels (1 very dissatisfied … 5 very satisfied) with an optional comment. A rating of 1 or 2 is
a bad rating: it opens a follow-up that the handling department must answer within
``FOLLOW_UP_DAYS`` working days; the answer (what was done about it) is recorded and shown to
the applicant. Every rating and answer is a transaction, like every step of the case itself.

Entry points: ``rate(case, level, comment?)`` — an applicant's step, signed by the handling
department's node for the logged-in applicant (the node checks the session, as for ``withdraw``);
``answer(case, text)`` — staff of the handling department (officer, approver or admin).

Views: ``rating(case)``, ``ratings(service, limit?)``, ``follow_ups(dept, limit?)`` (open ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govchain.contracts.errors import UnknownMethod
from govchain.errors import Conflict, Forbidden, NotFound, SchemaViolation
from govchain.ledger.execution import CallContext
from govchain.procedures import layout, registry
from govchain.procedures.calendar import add_working_days
from govchain.procedures.cases_contract import NODE_ROLES
from govchain.procedures.services_contract import load_calendar, load_definition

LEVELS = range(1, 6)
"""Rating levels: 1 very dissatisfied, 2 dissatisfied, 3 neutral, 4 satisfied, 5 very satisfied."""
BAD = 2
"""Ratings at or below this level open a follow-up."""
FOLLOW_UP_DAYS = 5
"""Working days the handling department has to answer a bad rating."""
RATEABLE = frozenset({"decided", "issued", "closed", "withdrawn"})
"""Case statuses in which the applicant may rate it (the case has ended for them)."""
ANSWER_ROLES = frozenset({"officer", "approver", "admin"})
"""Staff roles that answer a follow-up."""
MAX_COMMENT = 500
"""Longest comment or answer, in characters."""
MAX_LIST = 1000
"""Most entries a list view returns."""

_PREFIX = layout.CASES + b"rating/"


def rating_key(number: str) -> bytes:
    """A case's rating."""
    return _PREFIX + b"case/" + number.encode()


def service_key(service: str, number: str) -> bytes:
    """Index: the ratings of a service."""
    return _PREFIX + b"svc/" + service.encode() + b"/" + number.encode()


def follow_up_key(dept: str, number: str) -> bytes:
    """Index: a department's open follow-ups."""
    return _PREFIX + b"open/" + dept.encode() + b"/" + number.encode()


def _text(args: Mapping[str, Any], name: str, required: bool) -> str:
    value = args.get(name, "")
    if type(value) is not str or len(value) > MAX_COMMENT or (required and not value.strip()):
        low = 1 if required else 0
        raise SchemaViolation(
            f"{name} must be text of {low} to {MAX_COMMENT} characters", field=name
        )
    return value.strip()


def _number(args: Mapping[str, Any]) -> str:
    number = args.get("case")
    if type(number) is not str or not 0 < len(number) <= 64:
        raise SchemaViolation("case must be a case number", field="case")
    return number


def _owner(ctx: CallContext, case: Mapping[str, Any]) -> str:
    """The department that owns the case's service (the one that must answer)."""
    return load_definition(ctx, case["service"], case["version"]).owner


class RatingsContract:
    """Ratings of finished cases and the follow-ups of bad ones."""

    name = "ratings"

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        if method == "rate":
            return self._rate(ctx, args)
        if method == "answer":
            return self._answer(ctx, args)
        raise UnknownMethod(f"contract {self.name} has no method {method!r}")

    def _case(self, ctx: CallContext, number: str) -> dict[str, Any]:
        case = registry.load(ctx, layout.case_key(number))
        if case is None:
            raise NotFound(f"no case {number!r}", case=number)
        return dict(case)

    def _rate(self, ctx: CallContext, args: Mapping[str, Any]) -> Any:
        number = _number(args)
        case = self._case(ctx, number)
        if ctx.signer_role not in NODE_ROLES:
            raise Forbidden("an applicant's rating is signed by the handling node's key")
        if ctx.tx.actor != case["applicant"]:
            raise Forbidden(f"only the applicant of case {number} may rate it")
        if case["status"] not in RATEABLE:
            raise Conflict(
                f"case {number} is {case['status']}: it can be rated once it has ended",
                case=number,
                status=case["status"],
            )
        if ctx.get(rating_key(number)) is not None:
            raise Conflict(f"case {number} has already been rated", case=number)
        level = args.get("level")
        if type(level) is not int or level not in LEVELS:
            raise SchemaViolation("level must be a whole number from 1 to 5", field="level")
        comment = _text(args, "comment", required=False)
        owner = _owner(ctx, case)
        if owner != ctx.signer_dept:
            raise Forbidden(f"case {number} is handled by {owner}: its node signs the rating")
        record: dict[str, Any] = {
            "case": number,
            "service": case["service"],
            "dept": owner,
            "level": level,
            "comment": comment,
            "time_ms": ctx.block_time_ms,
            "tx": ctx.tx.tx_id.hex(),
            "outcome": case["outcome"],
            "follow_up": None,
        }
        if level <= BAD:
            due = add_working_days(ctx.block_time_ms, FOLLOW_UP_DAYS, load_calendar(ctx))
            record["follow_up"] = {"status": "open", "due_ms": due, "answer": "", "by": ""}
            registry.store(ctx, follow_up_key(owner, number), {"service": case["service"]})
        registry.store(ctx, rating_key(number), record)
        registry.store(ctx, service_key(case["service"], number), {"level": level})
        ctx.emit("ratings.rated", {"case": number, "service": case["service"], "level": level})
        return record

    def _answer(self, ctx: CallContext, args: Mapping[str, Any]) -> Any:
        number = _number(args)
        found = registry.load(ctx, rating_key(number))
        if found is None:
            raise NotFound(f"case {number} has no rating", case=number)
        record = dict(found)
        follow = record["follow_up"]
        if follow is None or follow["status"] != "open":
            raise Conflict(f"the rating of case {number} has no open follow-up", case=number)
        person = ctx.tx.actor
        role = args.get("role", ctx.signer_role)
        if ctx.signer_dept != record["dept"] or not person.startswith(record["dept"] + "/"):
            raise Forbidden(f"the follow-up of case {number} is answered by {record['dept']}")
        if role not in ANSWER_ROLES:
            raise Forbidden("a follow-up is answered by an officer, an approver or an admin")
        record["follow_up"] = {
            **follow,
            "status": "answered",
            "answer": _text(args, "text", required=True),
            "by": person,
            "time_ms": ctx.block_time_ms,
            "late": ctx.block_time_ms > follow["due_ms"],
        }
        registry.store(ctx, rating_key(number), record)
        ctx.delete(follow_up_key(record["dept"], number))
        ctx.emit("ratings.answered", {"case": number, "dept": record["dept"]})
        return record

    def view(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Read-only views."""
        limit = args.get("limit", MAX_LIST)
        if type(limit) is not int or not 0 < limit <= MAX_LIST:
            raise SchemaViolation(f"limit must be 1 to {MAX_LIST}", field="limit")
        if method == "rating":
            number = _number(args)
            found = registry.load(ctx, rating_key(number))
            if found is None:
                raise NotFound(f"case {number} has no rating", case=number)
            return found
        if method == "ratings":
            service = args.get("service")
            if type(service) is not str or not service:
                raise SchemaViolation("service must be a service code", field="service")
            out = []
            for key, _ in ctx.scan(service_key(service, ""), limit):
                number = key.rsplit(b"/", 1)[1].decode()
                out.append(registry.load(ctx, rating_key(number)))
            return out
        if method == "follow_ups":
            dept = args.get("dept")
            if type(dept) is not str or not dept:
                raise SchemaViolation("dept must be a department id", field="dept")
            rows = ctx.scan(follow_up_key(dept, ""), limit)
            return [registry.load(ctx, rating_key(k.rsplit(b"/", 1)[1].decode())) for k, _ in rows]
        raise UnknownMethod(f"contract {self.name} has no view {method!r}")
