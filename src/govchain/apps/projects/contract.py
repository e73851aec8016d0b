"""The registry of government IT systems and projects, and the decisions of duplication review
(项目重复性审查): every change is a transaction, so the registry's history is provable.

State keys (under the contract's namespace ``c/projects/``):

- ``e/<id>``                 an entry: its fields and who changed it last, in which
                             transaction, at which version (``previous_tx`` chains the versions)
- ``d/<application>``        the decision on a reviewed application, with its evidence
- ``s/<status>/<id>``, ``k/<department>/<id>``, ``ks/<department>/<status>/<id>``
                             indexes of the listing view (value ``1``)

This file is installed through the lifecycle contract: it runs in the contract sandbox. Its
checking functions are plain Python, so the service calls the same ones before it signs.
"""

from __future__ import annotations

from typing import Any

from govchain.sdk import Contract, Failed, entry, view

FIELDS = (
    "id",
    "status",
    "department",
    "department_name",
    "name",
    "purpose",
    "functions",
    "uses",
    "produces",
    "users",
    "user_count",
    "budget_fen",
    "platform",
    "start_date",
    "end_date",
)
REGISTERED = ("in_use", "in_development", "pending")
STATUSES = ("in_use", "in_development", "pending", "retired", "reviewed")
RECOMMENDATIONS = ("reuse", "join", "merge", "build")
RELATIONS = ("same", "related", "other")
# (field, shortest, longest) of the text fields; of list fields also (fewest, most items).
TEXTS = (("department_name", 2, 60), ("name", 2, 100), ("purpose", 1, 2000), ("platform", 1, 60))
LISTS = (
    ("functions", 2, 300, 1, 60),
    ("uses", 1, 100, 0, 50),
    ("produces", 1, 100, 0, 50),
    ("users", 1, 100, 1, 20),
)
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
ID_CHARS = "-" + DIGITS + UPPER  # in code-point order: the listing pages through ids with it
MAX_USERS = 10**9
MAX_BUDGET = 10**14
MAX_BATCH = 500
MAX_PAGE = 1000
MAX_CANDIDATES = 10
MAX_REASONS = 20
MAX_REASON_CHARS = 2000


def text_problem(value: Any, shortest: int, longest: int) -> str:
    """Why ``value`` is not a text of ``shortest`` to ``longest`` characters ('' if it is)."""
    if not isinstance(value, str):
        return "must be a string"
    if len(value) < shortest or len(value) > longest:
        return f"must be {shortest} to {longest} characters long"
    if value.strip() != value:
        return "must not start or end with spaces"
    return ""


def texts_problem(value: Any, shortest: int, longest: int, fewest: int, most: int) -> str:
    """Why ``value`` is not a list of distinct texts ('' if it is)."""
    if not isinstance(value, list):
        return "must be a list of strings"
    if len(value) < fewest or len(value) > most:
        return f"must have {fewest} to {most} items"
    seen: dict[str, int] = {}
    for i, item in enumerate(value):
        bad = text_problem(item, shortest, longest)
        if bad:
            return f"item {i + 1} {bad}"
        if item in seen:
            return f"item {i + 1} repeats item {seen[item] + 1}"
        seen[item] = i
    return ""


def integer_problem(value: Any, largest: int) -> str:
    """Why ``value`` is not an integer from 0 to ``largest`` ('' if it is)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer"
    if value < 0 or value > largest:
        return f"must be from 0 to {largest}"
    return ""


def date_problem(value: Any) -> str:
    """Why ``value`` is not a calendar date ``YYYY-MM-DD`` ('' if it is)."""
    if (
        not isinstance(value, str)
        or len(value) != 10
        or value[4] != "-"
        or value[7] != "-"
        or (value[:4] + value[5:7] + value[8:]).strip(DIGITS) != ""
    ):
        return "must be a date YYYY-MM-DD"
    y, m, d = int(value[:4]), int(value[5:7]), int(value[8:])
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if y < 1900 or m < 1 or m > 12 or d < 1 or d > days[m - 1]:
        return "is not a calendar date from 1900 on"
    return ""


def id_problem(value: Any) -> str:
    """Why ``value`` is not an entry id ``[A-Z][A-Z0-9-]{2,39}`` ('' if it is)."""
    if (
        not isinstance(value, str)
        or not 3 <= len(value) <= 40
        or value[0] not in UPPER
        or value.strip(ID_CHARS) != ""
    ):
        return "must be 3 to 40 characters A-Z, 0-9 and '-', starting with a letter"
    return ""


def department_problem(value: Any) -> str:
    """Why ``value`` is not a department code ``[a-z][a-z0-9_]{1,31}`` ('' if it is)."""
    if (
        not isinstance(value, str)
        or not 2 <= len(value) <= 32
        or value[0] not in LOWER
        or value.strip(LOWER + DIGITS + "_") != ""
    ):
        return "must be a department code: 2 to 32 characters a-z, 0-9 and '_'"
    return ""


def field_problem(name: str, value: Any) -> str:
    """Why ``value`` is not acceptable as the entry field ``name`` ('' if it is)."""
    if name == "id":
        return id_problem(value)
    if name == "status":
        return "" if value in STATUSES else "must be one of " + ", ".join(STATUSES)
    if name == "department":
        return department_problem(value)
    if name in ("user_count", "budget_fen"):
        return integer_problem(value, MAX_USERS if name == "user_count" else MAX_BUDGET)
    if name == "start_date":
        return date_problem(value)
    if name == "end_date":
        return "" if value == "" else date_problem(value)
    for field, shortest, longest in TEXTS:
        if name == field:
            return text_problem(value, shortest, longest)
    for field, shortest, longest, fewest, most in LISTS:
        if name == field:
            return texts_problem(value, shortest, longest, fewest, most)
    return "is not a field of an entry"


def entry_problems(obj: Any, statuses: tuple[str, ...] = REGISTERED) -> list[list[str]]:
    """Return every ``[field, reason]`` that makes ``obj`` no acceptable entry with one of
    ``statuses`` (empty: acceptable)."""
    if not isinstance(obj, dict):
        return [["", "an entry must be a JSON object"]]
    found = [[str(k), "is not a field of an entry"] for k in sorted(obj) if k not in FIELDS]
    for name in FIELDS:
        if name not in obj:
            bad = "is required"
        elif name == "status":
            bad = "" if obj[name] in statuses else "must be one of " + ", ".join(statuses)
        else:
            bad = field_problem(name, obj[name])
        if bad:
            found.append([name, bad])
    dates_ok = not date_problem(obj.get("start_date")) and not date_problem(obj.get("end_date"))
    if dates_ok and obj["end_date"] < obj["start_date"]:
        found.append(["end_date", "must not be before start_date"])
    return found


def check_entry(obj: Any, where: str, statuses: tuple[str, ...] = REGISTERED) -> None:
    """Refuse (``bad_entry``) an unacceptable entry, naming ``where`` and the first field."""
    found = entry_problems(obj, statuses)
    if found:
        field, reason = found[0]
        more = f" (and {len(found) - 1} more problem(s))" if len(found) > 1 else ""
        raise Failed(
            "bad_entry", f"{where}.{field}: {reason}{more}" if field else f"{where}: {reason}"
        )


def extras_problem(obj: dict[str, Any], known: tuple[str, ...]) -> str:
    """Why the keys of ``obj`` beyond ``known`` are refused: more than a few, or not scalar
    ('' if they are fine: a review may say a little more than the ledger asks)."""
    extra = [k for k in obj if k not in known]
    if len(extra) > 8:
        return "has too many keys"
    for k in extra:
        v = obj[k]
        if not (v is None or isinstance(v, int) or (isinstance(v, str) and len(v) <= 300)):
            return f"{k} must be an integer or a short text"
    return ""


def evidence_problem(evidence: Any, application: str) -> str:
    """Why ``evidence`` is not the review of ``application`` in the review's JSON form, within
    the size the ledger keeps ('' if it is)."""
    keys = ("application", "recommendation", "target", "confidence", "reasons", "candidates")
    if not isinstance(evidence, dict) or any(k not in evidence for k in keys):
        return "must be a review: " + ", ".join(keys)
    bad = extras_problem(evidence, keys)
    if bad:
        return bad
    if evidence["application"] != application:
        return "is the review of another application"
    if evidence["recommendation"] not in RECOMMENDATIONS:
        return "recommendation must be one of " + ", ".join(RECOMMENDATIONS)
    if evidence["target"] is not None and id_problem(evidence["target"]):
        return "target must be an entry id or null"
    if integer_problem(evidence["confidence"], 1000):
        return "confidence must be an integer from 0 to 1000"
    reasons = evidence["reasons"]
    if (
        not isinstance(reasons, list)
        or len(reasons) > MAX_REASONS
        or any(text_problem(r, 1, MAX_REASON_CHARS) for r in reasons)
    ):
        return f"reasons must be at most {MAX_REASONS} texts of 1 to {MAX_REASON_CHARS} characters"
    candidates = evidence["candidates"]
    if not isinstance(candidates, list) or len(candidates) > MAX_CANDIDATES:
        return f"candidates must be a list of at most {MAX_CANDIDATES}"
    for i, c in enumerate(candidates):
        bad = candidate_problem(c)
        if bad:
            return f"candidates[{i}] {bad}"
    return ""


def candidate_problem(c: Any) -> str:
    """Why ``c`` is not a candidate of a review ('' if it is)."""
    keys = (
        "id",
        "name",
        "department",
        "status",
        "score",
        "coverage",
        "functions",
        "shared_resources",
        "department_relation",
        "budget_fen",
    )
    if not isinstance(c, dict) or any(k not in c for k in keys):
        return "must hold " + ", ".join(keys)
    bad = extras_problem(c, keys)
    if bad:
        return bad
    if (
        id_problem(c["id"])
        or text_problem(c["name"], 1, 100)
        or department_problem(c["department"])
        or c["status"] not in STATUSES
        or c["department_relation"] not in RELATIONS
    ):
        return "has a bad id, name, department, status or department_relation"
    if integer_problem(c["score"], 1000) or integer_problem(c["coverage"], 1000):
        return "score and coverage must be integers from 0 to 1000"
    if integer_problem(c["budget_fen"], MAX_BUDGET):
        return "budget_fen must be an integer"
    bad = texts_problem(c["shared_resources"], 1, 100, 0, 100)
    if bad:
        return "shared_resources " + bad
    matches = c["functions"]
    if not isinstance(matches, list) or len(matches) > 60:
        return "functions must be a list of at most 60 matches"
    for m in matches:
        if not isinstance(m, dict) or "function" not in m or "score" not in m:
            return "functions must hold {function, matches, score}"
        bad = extras_problem(m, ("function", "matches", "score"))
        if bad:
            return "a function match " + bad
        if integer_problem(m.get("function"), 59) or integer_problem(m.get("score"), 1000):
            return "a function match needs integers function (0-59) and score (0-1000)"
        if m.get("matches") is not None and integer_problem(m.get("matches"), 59):
            return "a function match's matches must be an integer (0-59) or null"
    return ""


def decision_problem(
    application: dict[str, Any],
    dept: str,
    recommendation: Any,
    target: dict[str, Any] | None,
    target_id: Any,
    reason: Any,
    evidence: Any,
) -> tuple[str, str]:
    """Why the decision may not be recorded, as ``(code, message)`` (``("", "")``: it may).

    ``target`` is the entry ``target_id`` names (``None`` if there is none)."""
    app_id = application["id"]
    # The department the project is for never reviews it. Its keeper may, when it filed the
    # application for another department: that is the data bureau, which receives the
    # applications and keeps the registry.
    if dept == application["department"] or (
        dept == application["keeper"] and application["keeper"] == application["department"]
    ):
        return "self_review", f"department {dept} applied for {app_id}: another one reviews it"
    if application["status"] != "pending":
        return "not_pending", f"{app_id} is {application['status']}, not a pending application"
    if recommendation not in RECOMMENDATIONS:
        return "bad_recommendation", "recommendation must be one of " + ", ".join(RECOMMENDATIONS)
    if recommendation == "build":
        if target_id is not None:
            return "bad_target", "a recommendation to build has no target"
    else:
        wanted = {"reuse": ("in_use",), "join": ("in_development",)}.get(
            recommendation, ("pending", "reviewed")
        )
        if target_id is None:
            return "bad_target", f"a recommendation to {recommendation} needs a target"
        if target is None:
            return "no_target", f"there is no entry {target_id}"
        if target_id == app_id or target["status"] not in wanted:
            return "bad_target", (
                f"to {recommendation}, the target must be " + " or ".join(wanted) + " "
                f"(another entry); {target_id} is {target['status']}"
            )
    bad = text_problem(reason, 2, 1000)
    if bad:
        return "bad_reason", "reason " + bad
    bad = evidence_problem(evidence, app_id)
    if bad:
        return "bad_evidence", "evidence " + bad
    return "", ""


class Projects(Contract):
    """The registry of systems, projects and applications, and review decisions."""

    def _stamp(self, record: dict[str, Any], change: str, reason: str = "") -> dict[str, Any]:
        """``record`` as the next version written by this transaction."""
        caller = self.ctx.caller
        previous = record.get("tx_id", "")
        record.update(
            {
                "by": caller.member,
                "actor": caller.actor,
                "height": self.ctx.height,
                "time_ms": self.ctx.time_ms,
                "tx_id": self.ctx.tx_id,
                "version": record.get("version", 0) + 1,
                "previous_tx": previous,
                "change": change,
                "reason": reason,
            }
        )
        return record

    def _index(self, record: dict[str, Any], present: bool) -> None:
        ident, status, dept = record["id"], record["status"], record["department"]
        for key in (f"s/{status}/{ident}", f"k/{dept}/{ident}", f"ks/{dept}/{status}/{ident}"):
            if present:
                self.ctx.put(key, 1)
            else:
                self.ctx.delete(key)

    def _rewrite(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old["status"] != new["status"] or old["department"] != new["department"]:
            self._index(old, False)
            self._index(new, True)
        self.ctx.put("e/" + new["id"], new)

    def _add(self, obj: Any, where: str) -> dict[str, Any]:
        check_entry(obj, where)
        if self.ctx.exists("e/" + obj["id"]):
            raise Failed("exists", f"{where}.id: {obj['id']} is already registered")
        record = {name: obj[name] for name in FIELDS}
        record["keeper"] = self.ctx.caller.dept
        self._stamp(record, "registered")
        self.ctx.put("e/" + record["id"], record)
        self._index(record, True)
        return record

    def _keeper_copy(self, ident: str) -> dict[str, Any]:
        record = self.ctx.get("e/" + ident) if isinstance(ident, str) and ident else None
        if record is None:
            raise Failed("not_found", f"there is no entry {ident}")
        if record["keeper"] != self.ctx.caller.dept:
            raise Failed("not_keeper", f"only department {record['keeper']} changes {ident}")
        if record["status"] in ("retired", "reviewed"):
            raise Failed("frozen", f"{ident} is {record['status']}: it no longer changes")
        found: dict[str, Any] = record
        return found

    @entry
    def register(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Register one system, project or application; the caller's department keeps it."""
        record = self._add(entry, "entry")
        self.ctx.emit("registered", {"ids": [record["id"]], "count": 1})
        return {"ids": [record["id"]], "count": 1, "height": record["height"]}

    @entry
    def register_many(self, entries: list[Any]) -> dict[str, Any]:
        """Register up to 500 entries at once: all of them, or none if one is refused."""
        if not 1 <= len(entries) <= MAX_BATCH:
            raise Failed("bad_batch", f"register 1 to {MAX_BATCH} entries per call")
        ids = [self._add(obj, f"entries[{i}]")["id"] for i, obj in enumerate(entries)]
        self.ctx.emit("registered", {"ids": ids, "count": len(ids)})
        return {"ids": ids, "count": len(ids), "height": self.ctx.height}

    @entry
    def update(self, entry_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change fields of an entry (its keeper department only); the status may go from
        in_development to in_use, or from in_use or in_development to retired."""
        old = self._keeper_copy(entry_id)
        if not changes or changes.get("id", entry_id) != entry_id:
            raise Failed("bad_changes", "changes must name fields to change, not the id")
        status = changes.get("status", old["status"])
        moves = (("in_development", "in_use"), ("in_use", "retired"), ("in_development", "retired"))
        if status != old["status"] and (old["status"], status) not in moves:
            raise Failed("bad_transition", f"{entry_id} cannot go from {old['status']} to {status}")
        new = {name: old[name] for name in FIELDS}
        new.update(changes)
        check_entry(new, "changes", STATUSES)
        for key in ("keeper", "version", "tx_id"):
            new[key] = old[key]
        self._rewrite(old, self._stamp(new, "updated"))
        self.ctx.emit("updated", {"id": entry_id, "version": new["version"], "status": status})
        return {"id": entry_id, "version": new["version"], "height": new["height"]}

    @entry
    def retire(self, entry_id: str, reason: str) -> dict[str, Any]:
        """Retire a system or project no longer in use or given up (its keeper only)."""
        old = self._keeper_copy(entry_id)
        if old["status"] == "pending":
            raise Failed("bad_transition", f"{entry_id} is a pending application: it is reviewed")
        bad = text_problem(reason, 2, 1000)
        if bad:
            raise Failed("bad_reason", "reason " + bad)
        new = self._stamp({**old, "status": "retired"}, "retired", reason)
        self._rewrite(old, new)
        self.ctx.emit("retired", {"id": entry_id, "reason": reason})
        return {"id": entry_id, "version": new["version"], "height": new["height"]}

    @entry
    def decide(
        self,
        application: str,
        recommendation: str,
        reason: str,
        evidence: dict[str, Any],
        target: str | None = None,
    ) -> dict[str, Any]:
        """Record the review decision on a pending application (by another department than
        the applicant's), with the review it rests on; the application becomes reviewed."""
        old = self.ctx.get("e/" + application) if application else None
        if old is None:
            raise Failed("not_found", f"there is no entry {application}")
        found = self.ctx.get("e/" + target) if isinstance(target, str) and target else None
        caller = self.ctx.caller
        code, message = decision_problem(
            old, caller.dept, recommendation, found, target, reason, evidence
        )
        if code:
            raise Failed(code, message)
        decision = {
            "application": application,
            "recommendation": recommendation,
            "target": target,
            "reason": reason,
            "evidence": evidence,
            "reviewed": {
                "recommendation": evidence["recommendation"],
                "target": evidence["target"],
            },
            "changed": recommendation != evidence["recommendation"] or target != evidence["target"],
            "applicant": old["department"],
            "dept": caller.dept,
            "by": caller.member,
            "actor": caller.actor,
            "height": self.ctx.height,
            "time_ms": self.ctx.time_ms,
            "tx_id": self.ctx.tx_id,
        }
        self.ctx.put("d/" + application, decision)
        new = self._stamp({**old, "status": "reviewed"}, "reviewed", recommendation)
        self._rewrite(old, new)
        self.ctx.emit(
            "decided",
            {
                "application": application,
                "recommendation": recommendation,
                "target": target,
                "dept": caller.dept,
                "changed": decision["changed"],
            },
        )
        return {
            "application": application,
            "recommendation": recommendation,
            "height": new["height"],
        }

    # Defined after every @entry method: from here on, ``entry`` in the class body is this view.
    @view
    def entry(self, entry_id: str) -> dict[str, Any] | None:
        """Return an entry's current version (``None`` if there is none)."""
        found: dict[str, Any] | None = self.ctx.get("e/" + entry_id) if entry_id else None
        return found

    @view
    def decision(self, application: str) -> dict[str, Any] | None:
        """Return the decision on an application (``None`` if it is not decided)."""
        found: dict[str, Any] | None = self.ctx.get("d/" + application) if application else None
        return found

    @view
    def entries(
        self, status: str = "", department: str = "", after: str = "", limit: int = 100
    ) -> dict[str, Any]:
        """Return up to ``limit`` entries in id order after the id ``after``, of one status
        and/or department if given; ``next`` is the ``after`` of the next page (or null)."""
        if not 1 <= limit <= MAX_PAGE:
            raise Failed("bad_limit", f"limit must be 1 to {MAX_PAGE}")
        if (
            len(after) > 40
            or after.strip(ID_CHARS)
            or (department and department_problem(department))
        ):
            raise Failed("bad_filter", "after must be an entry id, department a department code")
        if status and status not in STATUSES:
            raise Failed("bad_filter", "status must be one of " + ", ".join(STATUSES))
        prefix = "e/"
        if status and department:
            prefix = f"ks/{department}/{status}/"
        elif status or department:
            prefix = f"s/{status}/" if status else f"k/{department}/"
        found = self._after(prefix, after, limit)
        out = [v if prefix == "e/" else self.ctx.get("e/" + k) for k, v in found]
        return {"entries": out, "next": found[-1][0] if len(found) == limit else None}

    def _after(self, prefix: str, after: str, limit: int) -> list[tuple[str, Any]]:
        """The first ``limit`` keys under ``prefix`` greater than ``prefix + after`` (as
        ``(rest of key, value)``), in key order: first the keys extending ``after``, then,
        shortening it one character at a time, those whose next character is greater."""
        n = len(prefix)
        if not after:
            return [(k[n:], v) for k, v in self.ctx.scan(prefix, limit)]
        out = [(k[n:], v) for k, v in self.ctx.scan(prefix + after, limit + 1) if k[n:] != after]
        out = out[:limit]
        for i in range(len(after) - 1, -1, -1):
            for c in ID_CHARS[ID_CHARS.index(after[i]) + 1 :]:
                if len(out) >= limit:
                    return out
                out.extend(
                    (k[n:], v) for k, v in self.ctx.scan(prefix + after[:i] + c, limit - len(out))
                )
        return out
