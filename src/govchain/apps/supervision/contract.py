"""Supervision (监管) on the ledger: enterprise facts reported by the departments that hold them,
random inspection plans and their draws (双随机、一公开), inspection results, and alerts raised
by decision indicators with the figures behind them.

State keys (under the contract's namespace ``c/supervision/``):

- ``b/<batch>``                 a reported batch of facts: kind, period, department, rows, sum
- ``p/<plan>``                  an inspection plan: its rules, inspector pool, status, heights
- ``pp/<plan>/<chunk>``         its committed population, in chunks of at most 500 rows
- ``pu/<plan>/<uscc>``          the enterprise's row in the plan's population
- ``d/<plan>``                  the plan's draw (at most one): seed, targets, inspectors
- ``r/<plan>/<uscc>``           the published result of one inspection
- ``l/<uscc>``                  who inspected the enterprise last (a conflict of interest next time)
- ``a/<indicator>/<subject>/<period>``  an alert, with the inputs that raised it

The facts themselves are the batches' rows in the transactions; the analytics index reads them
from the committed blocks. This file is installed through the lifecycle contract: it runs in
the contract sandbox. Its checking functions are plain Python; the service calls the same ones
before it signs.
"""

from __future__ import annotations

from typing import Any

from govchain.sdk import Contract, Failed, entry, view

KINDS = ("tax", "social", "complaint", "penalty", "abnormal", "inspection")
# (kind, departments that hold it); none listed: any member department (penalties and
# inspections are imposed and made by many departments).
HOLDERS = (
    ("tax", ("tax",)),
    ("social", ("hrss",)),
    ("complaint", ("market",)),
    ("abnormal", ("market",)),
    ("penalty", ()),
    ("inspection", ()),
)
RISK_CLASSES = ("low", "medium", "high")
OUTCOMES = ("pass", "issues", "fail")
MAX_ROWS = 500
MAX_INSPECTORS = 200
MAX_PER_TARGET = 5
MAX_TARGETS = 500
MAX_DELAY = 100
MAX_VALUE = 10**15
DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"
HEX = "0123456789abcdef"
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ID_CHARS = "-_" + DIGITS + UPPER + LOWER


def text_problem(value: Any, shortest: int, longest: int) -> str:
    """Why ``value`` is not a text of ``shortest`` to ``longest`` characters ('' if it is)."""
    if not isinstance(value, str):
        return "must be a string"
    if len(value) < shortest or len(value) > longest:
        return f"must be {shortest} to {longest} characters long"
    return ""


def id_problem(value: Any) -> str:
    """Why ``value`` is not an identifier ``[A-Za-z0-9_-]{3,64}`` ('' if it is)."""
    if not isinstance(value, str) or not 3 <= len(value) <= 64 or value.strip(ID_CHARS):
        return "must be 3 to 64 characters A-Z, a-z, 0-9, '-' and '_'"
    return ""


def uscc_problem(value: Any) -> str:
    """Why ``value`` is not shaped like a unified social credit code ('' if it is)."""
    if not isinstance(value, str) or len(value) != 18 or value.strip(USCC_CHARS):
        return "must be an 18-character unified social credit code"
    return ""


def period_problem(value: Any) -> str:
    """Why ``value`` is not a month ``YYYY-MM`` ('' if it is)."""
    if (
        not isinstance(value, str)
        or len(value) != 7
        or value[4] != "-"
        or (value[:4] + value[5:]).strip(DIGITS)
        or not 1 <= int(value[5:]) <= 12
        or not 1990 <= int(value[:4]) <= 2999
    ):
        return "must be a month YYYY-MM"
    return ""


def row_problem(row: Any) -> str:
    """Why ``row`` is not a fact row ``[uscc, industry, division, value]`` ('' if it is)."""
    if not isinstance(row, list) or len(row) != 4:
        return "must be [uscc, industry, division, value]"
    uscc, industry, division, value = row
    bad = uscc_problem(uscc)
    if bad:
        return "uscc " + bad
    if not isinstance(industry, str) or not 2 <= len(industry) <= 4 or industry.strip(DIGITS):
        return "industry must be a GB/T 4754 code of 2 to 4 digits"
    if not isinstance(division, str) or len(division) != 6 or division.strip(DIGITS):
        return "division must be a six-digit GB/T 2260 code"
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VALUE:
        return f"value must be an integer from 0 to {MAX_VALUE}"
    return ""


def report_problem(kind: Any, period: Any, rows: Any, dept: str) -> tuple[str, str]:
    """Why a batch of facts may not be reported by ``dept``, as ``(code, message)``."""
    if kind not in KINDS:
        return "bad_kind", "kind must be one of " + ", ".join(KINDS)
    holders = next(h for k, h in HOLDERS if k == kind)
    if holders and dept not in holders:
        return "not_holder", f"{kind} facts are reported by " + ", ".join(holders)
    bad = period_problem(period)
    if bad:
        return "bad_period", "period " + bad
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_ROWS:
        return "bad_batch", f"a batch holds 1 to {MAX_ROWS} rows"
    for i, row in enumerate(rows):
        bad = row_problem(row)
        if bad:
            return "bad_row", f"rows[{i}] {bad}"
    return "", ""


def inspector_problem(obj: Any) -> str:
    """Why ``obj`` is not an inspector ``{id, name, division, related}`` ('' if it is)."""
    if not isinstance(obj, dict) or sorted(obj) != ["division", "id", "name", "related"]:
        return "must hold exactly id, name, division, related"
    if id_problem(obj["id"]):
        return "id " + id_problem(obj["id"])
    if text_problem(obj["name"], 1, 60):
        return "name " + text_problem(obj["name"], 1, 60)
    division = obj["division"]
    if not isinstance(division, str) or len(division) != 6 or division.strip(DIGITS):
        return "division must be a six-digit GB/T 2260 code"
    related = obj["related"]
    if not isinstance(related, list) or len(related) > 50:
        return "related must be a list of at most 50 USCCs"
    for u in related:
        if uscc_problem(u):
            return "related " + uscc_problem(u)
    return ""


def plan_problem(plan: Any) -> str:
    """Why ``plan`` is not an inspection plan ('' if it is)."""
    keys = [
        "delay",
        "department",
        "filter",
        "id",
        "inspectors",
        "per_target",
        "targets",
        "title",
        "weights",
    ]
    if not isinstance(plan, dict) or sorted(plan) != keys:
        return "must hold exactly " + ", ".join(keys)
    if id_problem(plan["id"]):
        return "id " + id_problem(plan["id"])
    if text_problem(plan["title"], 2, 200):
        return "title " + text_problem(plan["title"], 2, 200)
    flt = plan["filter"]
    if not isinstance(flt, dict) or any(
        k not in ("industry", "division", "status") or text_problem(v, 0, 10)
        for k, v in flt.items()
    ):
        return "filter may hold industry, division and status, each a short text"
    for name, largest in (("targets", MAX_TARGETS), ("per_target", MAX_PER_TARGET)):
        v = plan[name]
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= largest:
            return f"{name} must be an integer from 1 to {largest}"
    delay = plan["delay"]
    if isinstance(delay, bool) or not isinstance(delay, int) or not 1 <= delay <= MAX_DELAY:
        return f"delay must be an integer from 1 to {MAX_DELAY} blocks"
    weights = plan["weights"]
    if not isinstance(weights, dict) or sorted(weights) != sorted(RISK_CLASSES):
        return "weights must give each risk class (low, medium, high) a weight"
    for w in weights.values():
        if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= 100:
            return "each weight must be an integer from 1 to 100"
    pool = plan["inspectors"]
    if not isinstance(pool, list) or not 1 <= len(pool) <= MAX_INSPECTORS:
        return f"inspectors must list 1 to {MAX_INSPECTORS} inspectors"
    seen: dict[str, int] = {}
    for i, ins in enumerate(pool):
        bad = inspector_problem(ins)
        if bad:
            return f"inspectors[{i}] {bad}"
        if ins["id"] in seen:
            return f"inspectors[{i}] repeats inspector {ins['id']}"
        seen[ins["id"]] = i
    if len(pool) < plan["per_target"]:
        return "the pool has fewer inspectors than each target needs"
    return ""


def member_problem(row: Any) -> str:
    """Why ``row`` is not a population member ``{uscc, division, industry, risk, last}``."""
    if not isinstance(row, dict) or sorted(row) != ["division", "industry", "last", "risk", "uscc"]:
        return "must hold exactly uscc, division, industry, risk, last"
    if uscc_problem(row["uscc"]):
        return "uscc " + uscc_problem(row["uscc"])
    if row_problem([row["uscc"], row["industry"], row["division"], 0]):
        return row_problem([row["uscc"], row["industry"], row["division"], 0])
    if row["risk"] not in RISK_CLASSES:
        return "risk must be one of " + ", ".join(RISK_CLASSES)
    last = row["last"]
    if not isinstance(last, list) or len(last) > MAX_PER_TARGET or any(id_problem(x) for x in last):
        return f"last must list at most {MAX_PER_TARGET} inspector ids"
    return ""


def conflict_of(inspector: Any, member: Any) -> str:
    """The rule that keeps ``inspector`` from inspecting ``member`` ('' if none does): they
    inspected it last time, they work in the division of its registered address, or they
    declared a relation with it."""
    if inspector["id"] in member["last"]:
        return "inspected_last_time"
    if inspector["division"] == member["division"]:
        return "same_division"
    if member["uscc"] in inspector["related"]:
        return "declared_relation"
    return ""


class Supervision(Contract):
    """Facts, inspection plans and draws, results and alerts."""

    def _stamp(self) -> dict[str, Any]:
        caller = self.ctx.caller
        return {
            "dept": caller.dept,
            "by": caller.member,
            "actor": caller.actor,
            "height": self.ctx.height,
            "time_ms": self.ctx.time_ms,
            "tx_id": self.ctx.tx_id,
        }

    def _plan(self, plan_id: Any) -> dict[str, Any]:
        found = self.ctx.get("p/" + plan_id) if isinstance(plan_id, str) and plan_id else None
        if found is None:
            raise Failed("not_found", f"there is no plan {plan_id}")
        plan: dict[str, Any] = found
        return plan

    def _owned(self, plan_id: Any) -> dict[str, Any]:
        plan = self._plan(plan_id)
        if plan["department"] != self.ctx.caller.dept:
            raise Failed("not_owner", f"only department {plan['department']} acts on {plan_id}")
        return plan

    @entry
    def report(self, batch: str, kind: str, period: str, rows: list[Any]) -> dict[str, Any]:
        """Report a batch (at most 500 rows ``[uscc, industry, division, value]``) of one kind
        of fact for one month; the holding department of the kind signs it."""
        if id_problem(batch):
            raise Failed("bad_batch", "batch " + id_problem(batch))
        code, message = report_problem(kind, period, rows, self.ctx.caller.dept)
        if code:
            raise Failed(code, message)
        if self.ctx.exists("b/" + batch):
            raise Failed("exists", f"batch {batch} is already reported")
        total = sum(r[3] for r in rows)
        record = {"batch": batch, "kind": kind, "period": period, "rows": len(rows), "sum": total}
        self.ctx.put("b/" + batch, {**record, **self._stamp()})
        self.ctx.emit("reported", record)
        return {**record, "height": self.ctx.height}

    @entry
    def plan(self, plan: dict[str, Any]) -> dict[str, Any]:
        """Open an inspection plan: its rules and inspector pool; the population follows."""
        bad = plan_problem(plan)
        if bad:
            raise Failed("bad_plan", "plan " + bad)
        if plan["department"] != self.ctx.caller.dept:
            raise Failed("not_owner", "a department plans its own inspections")
        if self.ctx.exists("p/" + plan["id"]):
            raise Failed("exists", f"plan {plan['id']} exists")
        record = {**plan, "status": "open", "population": 0, "chunks": 0, "sealed_height": 0}
        record["opened"] = self._stamp()
        self.ctx.put("p/" + plan["id"], record)
        self.ctx.emit("planned", {"plan": plan["id"], "department": plan["department"]})
        return {"plan": plan["id"], "status": "open", "height": self.ctx.height}

    @entry
    def populate(self, plan_id: str, members: list[Any]) -> dict[str, Any]:
        """Add up to 500 members to an open plan's population, each with its risk class and
        who inspected it last (checked against the ledger's record)."""
        plan = self._owned(plan_id)
        if plan["status"] != "open":
            raise Failed("sealed", f"plan {plan_id} is {plan['status']}: its population is fixed")
        if not isinstance(members, list) or not 1 <= len(members) <= MAX_ROWS:
            raise Failed("bad_batch", f"add 1 to {MAX_ROWS} members per call")
        for i, row in enumerate(members):
            bad = member_problem(row)
            if bad:
                raise Failed("bad_member", f"members[{i}] {bad}")
            key = f"pu/{plan_id}/{row['uscc']}"
            if self.ctx.exists(key):
                raise Failed("bad_member", f"members[{i}] {row['uscc']} is already in the plan")
            if row["last"] != self.ctx.get("l/" + row["uscc"]) and (
                row["last"] or self.ctx.exists("l/" + row["uscc"])
            ):
                raise Failed("bad_member", f"members[{i}] last is not the ledger's record")
            self.ctx.put(key, row)
        chunk = plan["chunks"]
        self.ctx.put(f"pp/{plan_id}/{chunk:05d}", members)
        plan["chunks"] = chunk + 1
        plan["population"] = plan["population"] + len(members)
        self.ctx.put("p/" + plan_id, plan)
        return {"plan": plan_id, "population": plan["population"], "height": self.ctx.height}

    @entry
    def seal(self, plan_id: str) -> dict[str, Any]:
        """Fix the population: the draw's seed is the hash of block ``sealed + delay``, a
        block that does not exist yet."""
        plan = self._owned(plan_id)
        if plan["status"] != "open":
            raise Failed("sealed", f"plan {plan_id} is already {plan['status']}")
        if plan["population"] < 1:
            raise Failed("empty", f"plan {plan_id} has no population")
        plan["status"] = "sealed"
        plan["sealed_height"] = self.ctx.height
        plan["seed_height"] = self.ctx.height + plan["delay"]
        plan["sealed"] = self._stamp()
        self.ctx.put("p/" + plan_id, plan)
        self.ctx.emit("sealed", {"plan": plan_id, "seed_height": plan["seed_height"]})
        return {"plan": plan_id, "seed_height": plan["seed_height"], "height": self.ctx.height}

    @entry
    def draw(
        self, plan_id: str, seed: str, targets: list[Any], excluded: list[Any]
    ) -> dict[str, Any]:
        """Record the one draw of a sealed plan: the seed (hash of the seed block, checked by
        anyone against the ledger), targets with their inspectors, and the members passed over
        for a conflict of interest. A plan is drawn once; a second draw is refused."""
        plan = self._owned(plan_id)
        if self.ctx.exists("d/" + plan_id) or plan["status"] == "drawn":
            raise Failed("drawn", f"plan {plan_id} is already drawn: a draw is never repeated")
        if plan["status"] != "sealed":
            raise Failed("not_sealed", f"plan {plan_id} is {plan['status']}, not sealed")
        if self.ctx.height <= plan["seed_height"]:
            raise Failed(
                "too_early", f"the seed block {plan['seed_height']} of {plan_id} is not committed"
            )
        if not isinstance(seed, str) or len(seed) not in (64, 128) or seed.strip(HEX):
            raise Failed("bad_seed", "seed must be the seed block's hash in lower-case hex")
        if not isinstance(targets, list) or len(targets) > plan["targets"]:
            raise Failed("bad_draw", f"at most {plan['targets']} targets")
        if not isinstance(excluded, list) or len(excluded) > plan["population"]:
            raise Failed("bad_draw", "excluded must be a list of passed-over members")
        pool = {ins["id"]: ins for ins in plan["inspectors"]}
        for i, t in enumerate(targets):
            if not isinstance(t, dict) or sorted(t) != ["inspectors", "risk", "uscc"]:
                raise Failed("bad_draw", f"targets[{i}] must hold uscc, risk, inspectors")
            member = (
                self.ctx.get(f"pu/{plan_id}/{t['uscc']}") if isinstance(t["uscc"], str) else None
            )
            if member is None:
                raise Failed("bad_draw", f"targets[{i}] {t['uscc']} is not in the population")
            names = t["inspectors"]
            if not isinstance(names, list) or len(names) != plan["per_target"]:
                raise Failed("bad_draw", f"targets[{i}] needs {plan['per_target']} inspectors")
            for name in names:
                ins = pool.get(name) if isinstance(name, str) else None
                if ins is None:
                    raise Failed("bad_draw", f"targets[{i}] {name} is not in the pool")
                why = conflict_of(ins, member)
                if why:
                    raise Failed("conflict", f"targets[{i}] {name}: {why}")
        record = {
            "plan": plan_id,
            "seed": seed,
            "seed_height": plan["seed_height"],
            "targets": targets,
            "excluded": excluded,
            **self._stamp(),
        }
        self.ctx.put("d/" + plan_id, record)
        for t in targets:
            self.ctx.put("l/" + t["uscc"], t["inspectors"])
        plan["status"] = "drawn"
        self.ctx.put("p/" + plan_id, plan)
        self.ctx.emit("drawn", {"plan": plan_id, "targets": len(targets), "seed": seed})
        return {"plan": plan_id, "targets": len(targets), "height": self.ctx.height}

    @entry
    def publish(self, plan_id: str, uscc: str, outcome: str, findings: str) -> dict[str, Any]:
        """Publish the result of one drawn inspection (公开): outcome and findings."""
        self._owned(plan_id)
        drawn = self.ctx.get("d/" + plan_id)
        if drawn is None or not any(t["uscc"] == uscc for t in drawn["targets"]):
            raise Failed("not_target", f"{uscc} was not drawn in {plan_id}")
        if outcome not in OUTCOMES:
            raise Failed("bad_outcome", "outcome must be one of " + ", ".join(OUTCOMES))
        if text_problem(findings, 2, 2000):
            raise Failed("bad_findings", "findings " + text_problem(findings, 2, 2000))
        key = f"r/{plan_id}/{uscc}"
        if self.ctx.exists(key):
            raise Failed("exists", f"the result for {uscc} in {plan_id} is published")
        record = {"plan": plan_id, "uscc": uscc, "outcome": outcome, "findings": findings}
        self.ctx.put(key, {**record, **self._stamp()})
        self.ctx.emit("published", {"plan": plan_id, "uscc": uscc, "outcome": outcome})
        return {**record, "height": self.ctx.height}

    @entry
    def alert(self, alert: dict[str, Any]) -> dict[str, Any]:
        """Record an alert raised by a decision indicator, with the inputs that raised it; an
        indicator alerts once per subject and period."""
        keys = ["figures", "indicator", "inputs", "period", "recipients", "subject", "threshold"]
        if not isinstance(alert, dict) or sorted(alert) != keys:
            raise Failed("bad_alert", "an alert holds exactly " + ", ".join(keys))
        if id_problem(alert["indicator"]) or id_problem(alert["subject"]):
            raise Failed("bad_alert", "indicator and subject must be identifiers")
        if period_problem(alert["period"]):
            raise Failed("bad_alert", "period " + period_problem(alert["period"]))
        figures = alert["figures"]
        if not isinstance(figures, dict) or not figures or len(figures) > 20:
            raise Failed("bad_alert", "figures must be a non-empty object")
        inputs = alert["inputs"]
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
            raise Failed("bad_alert", "inputs must name 1 to 100 inputs (the facts' batches)")
        recipients = alert["recipients"]
        if not isinstance(recipients, list) or not 1 <= len(recipients) <= 20:
            raise Failed("bad_alert", "recipients must list 1 to 20 recipients")
        key = f"a/{alert['indicator']}/{alert['subject']}/{alert['period']}"
        if self.ctx.exists(key):
            raise Failed("exists", f"alert {key[2:]} is already recorded")
        self.ctx.put(key, {**alert, **self._stamp()})
        self.ctx.emit(
            "alerted",
            {
                "indicator": alert["indicator"],
                "subject": alert["subject"],
                "period": alert["period"],
            },
        )
        return {"alert": key[2:], "height": self.ctx.height}

    @view
    def plan_of(self, plan_id: str) -> dict[str, Any] | None:
        """Return a plan (``None`` if there is none)."""
        found: dict[str, Any] | None = self.ctx.get("p/" + plan_id) if plan_id else None
        return found

    @view
    def draw_of(self, plan_id: str) -> dict[str, Any] | None:
        """Return a plan's draw (``None`` if it is not drawn)."""
        found: dict[str, Any] | None = self.ctx.get("d/" + plan_id) if plan_id else None
        return found

    @view
    def results(self, plan_id: str) -> list[Any]:
        """Return the published results of a plan (public: 一公开)."""
        return [v for _, v in self.ctx.scan(f"r/{plan_id}/", MAX_TARGETS)]
