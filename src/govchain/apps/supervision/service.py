"""Service functions of supervision (监管) and decision support, below the HTTP layer.

Reads of facts, risk scores and indicators come from the analytics index (``sv_facts``), kept
in step with the node by its follower; reads of plans, draws, results and alerts come from the
committed state. Every write is checked first with the contract's own functions and signed by
the node with the department's key for the acting staff member; the contract checks again.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from govchain.analytics.follow import Follower, follower_for
from govchain.apps.supervision.alerts import AlertDispatcher, Webhook
from govchain.apps.supervision.contract import (
    MAX_ROWS,
    RISK_CLASSES,
    id_problem,
    period_problem,
    plan_problem,
    report_problem,
)
from govchain.apps.supervision.facts import FactBook, FactRow
from govchain.apps.supervision.indicators import (
    Cell,
    Indicator,
    Signal,
    assistance_counts,
    default_indicators,
    evaluate,
)
from govchain.apps.supervision.inspections import Draw, draw, matches
from govchain.apps.supervision.risk import RiskModel, RiskScore, default_model, fact_values, score
from govchain.errors import (
    Conflict,
    Forbidden,
    GovchainError,
    NotFound,
    SchemaViolation,
    Unavailable,
)
from govchain.ledger.transactions import Transaction
from govchain.node.casedesk import CaseDesk
from govchain.node.node import Node
from govchain.procedures import layout

CONTRACT = "supervision"
"""Name the contract is committed under."""
PREFIX = b"c/supervision/"
"""State key prefix of the contract."""
DEFAULT_TIMEOUT_S = 30.0
"""How long a write waits for its block when the settings say nothing."""
INDEX_WAIT_S = 30.0
"""How long a read waits for the index to hold every committed block."""
DEFAULT_WEIGHTS = {"low": 1, "medium": 2, "high": 4}
"""Draw weights of the risk classes when a plan gives none: a low-risk enterprise is drawn a
quarter as often as a high-risk one."""


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of recomputing a draw from the ledger."""

    plan: str
    """The plan."""
    seed_height: int
    """Height of the seed block."""
    seed: str
    """The seed block's hash as the ledger has it."""
    recorded_seed: str
    """The seed the draw recorded."""
    targets: int
    """Targets recomputed."""
    problems: tuple[str, ...]
    """What differs (empty: the recorded draw is the only one the rules allow)."""

    @property
    def ok(self) -> bool:
        """Whether the recorded draw is the recomputed one."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "plan": self.plan,
            "seed_height": self.seed_height,
            "seed": self.seed,
            "recorded_seed": self.recorded_seed,
            "targets": self.targets,
            "ok": self.ok,
            "problems": list(self.problems),
        }


_FIELDS = {"bad_kind": "kind", "not_holder": "kind", "bad_period": "period"}
"""The field a refused report names, by the contract's refusal code (else ``rows``)."""


def _refuse(code: str, message: str) -> GovchainError:
    """The typed error of a report the contract would refuse."""
    field = _FIELDS.get(code, "rows")
    if code == "not_holder":
        return Forbidden(message, field=field)
    return SchemaViolation(message, field=field)


class SupervisionDesk:
    """Reads facts, scores, indicators, plans and draws; signs supervision calls for staff."""

    def __init__(
        self,
        node: Node,
        casedesk: CaseDesk,
        follower: Follower | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        model: RiskModel | None = None,
        indicators: Sequence[Indicator] | None = None,
        dispatcher: AlertDispatcher | None = None,
    ) -> None:
        self.node = node
        self.dispatcher = dispatcher
        """Posts recorded alerts to the configured webhook (``None``: no webhook)."""
        self.casedesk = casedesk
        self.follower = follower or follower_for(node)
        self.timeout_s = timeout_s
        self.model = model or default_model()
        self.indicators = tuple(indicators or default_indicators())
        self._book: tuple[int, FactBook] | None = None
        self._scores: tuple[int, str, list[RiskScore]] | None = None
        """Scores of one index height and month."""
        self._lock = threading.Lock()

    # --- facts, scores, indicators (analytics index) ---------------------------------------

    def book(self) -> FactBook:
        """Return the facts as indexed (read again only after the index moved on)."""
        self.follower.wait_caught_up(INDEX_WAIT_S)
        index = self.follower.index
        with self._lock:
            height = index.height
            if self._book is None or self._book[0] != height:
                rows: list[FactRow] = [
                    (b, k, p, u, i, d, int(v))
                    for b, k, p, u, i, d, v in index.query(
                        "SELECT batch, kind, period, uscc, industry, division, value "
                        "FROM sv_facts ORDER BY height, position"
                    )
                ]
                self._book = (height, FactBook.of(rows))
            return self._book[1]

    def _period(self, book: FactBook, period: str) -> str:
        if period:
            if period_problem(period):
                raise SchemaViolation("period " + period_problem(period), field="period")
            return period
        latest = book.latest("tax")
        if not latest:
            raise NotFound("no facts are reported yet", field="period")
        return latest

    def scores(self, period: str = "") -> list[RiskScore]:
        """Return every enterprise's risk score as of ``period`` (default: the last month with
        tax facts), highest first."""
        book = self.book()
        month = self._period(book, period)
        with self._lock:
            key = self._book[0] if self._book is not None else 0
            if self._scores is None or self._scores[:2] != (key, month):
                out = [
                    score(u, month, fact_values(book, u, month), self.model)
                    for u in book.enterprises()
                ]
                out.sort(key=lambda s: (-s.score, s.uscc))
                self._scores = (key, month, out)
            return self._scores[2]

    def risk_list(
        self, period: str = "", risk: str = "", limit: int = 100, offset: int = 0
    ) -> dict[str, Any]:
        """Return a page of scores (of one class if given), highest first, with the counts of
        each class."""
        if risk and risk not in RISK_CLASSES:
            raise SchemaViolation("risk must be one of " + ", ".join(RISK_CLASSES), field="risk")
        if not 1 <= limit <= 1000 or offset < 0:
            raise SchemaViolation("limit must be 1 to 1000, offset ≥ 0", field="limit")
        all_ = self.scores(period)
        counts = {c: 0 for c in RISK_CLASSES}
        for s in all_:
            counts[s.risk] += 1
        chosen = [s for s in all_ if not risk or s.risk == risk]
        page = chosen[offset : offset + limit]
        return {
            "period": all_[0].period if all_ else period,
            "counts": counts,
            "total": len(chosen),
            "scores": [s.to_json() for s in page],
            "factors": [
                {"fact": f.fact, "kind": f.kind, "weight": f.weight, "threshold": f.threshold,
                 "cap": f.cap, "name": dict(f.name)}
                for f in self.model.factors
            ],
        }  # fmt: skip

    def score_of(self, uscc: str, period: str = "") -> dict[str, Any]:
        """Return one enterprise's score with its explanation and the batches of its facts."""
        book = self.book()
        month = self._period(book, period)
        if uscc not in book.industry and uscc not in book.division:
            raise NotFound(f"no facts are reported for {uscc}", uscc=uscc)
        s = score(uscc, month, fact_values(book, uscc, month), self.model)
        doc = s.to_json()
        doc["names"] = {f.fact: dict(f.name) for f in self.model.factors}
        doc["industry"] = book.industry.get(uscc, "")
        doc["division"] = book.division.get(uscc, "")
        doc["series"] = {
            kind: dict(sorted(book.series(kind, uscc).items()))
            for kind in ("tax", "social", "complaint", "penalty", "abnormal", "inspection")
        }
        return doc

    def signals(self, period: str = "") -> list[Signal]:
        """Return what every indicator flags in ``period`` (default: the last month)."""
        book = self.book()
        month = self._period(book, period)
        return [s for ind in self.indicators for s in evaluate(book, ind, month)]

    def assistance(self, period: str = "") -> tuple[str, list[Cell], int | None]:
        """Return the month and the suppressed counts of people who may need assistance."""
        book = self.book()
        month = self._period(book, period)
        cells, total = assistance_counts(book, month)
        return month, cells, total

    def trend(self, subject: str) -> list[tuple[str, int]]:
        """Return an indicator subject's series by month (``industry-52``, ``division-…``)."""
        by, _, group = subject.partition("-")
        kind = {"industry": "tax", "division": "social"}.get(by)
        if kind is None or not group:
            raise SchemaViolation(
                "subject must be industry-<code> or division-<code>", field="subject"
            )
        book = self.book()
        out: dict[str, int] = {}
        for uscc, months in book.values.get(kind, {}).items():
            code = book.industry.get(uscc, "")[:2] if by == "industry" else book.division.get(uscc)
            if code != group:
                continue
            for p, v in months.items():
                out[p] = out.get(p, 0) + v
        return sorted(out.items())

    # --- state reads -------------------------------------------------------------------------

    def _get(self, key: str) -> Any:
        raw = self.node.ledger.state.get_value(PREFIX + key.encode())
        return None if raw is None else orjson.loads(raw)

    def _scan(self, prefix: str) -> list[Any]:
        return [
            orjson.loads(vv.value)
            for _, vv in self.node.ledger.state.iter_range(PREFIX + prefix.encode())
            if vv.value is not None
        ]

    def plans(self) -> list[dict[str, Any]]:
        """Return every plan (without its inspector pool's relations), newest first."""
        out = self._scan("p/")
        out.sort(key=lambda p: -p["opened"]["height"])
        return out

    def plan(self, plan_id: str) -> dict[str, Any]:
        """Return a plan (``NotFound`` if there is none)."""
        found = self._get("p/" + plan_id) if not id_problem(plan_id) else None
        if found is None:
            raise NotFound(f"there is no plan {plan_id!r}", plan=plan_id)
        plan: dict[str, Any] = found
        return plan

    def population(self, plan_id: str) -> list[dict[str, Any]]:
        """Return a plan's committed population, in the order it was committed."""
        self.plan(plan_id)
        return [m for chunk in self._scan(f"pp/{plan_id}/") for m in chunk]

    def drawn(self, plan_id: str) -> dict[str, Any]:
        """Return a plan's recorded draw (``NotFound`` if it is not drawn)."""
        self.plan(plan_id)
        found = self._get("d/" + plan_id)
        if found is None:
            raise NotFound(f"plan {plan_id} is not drawn yet", plan=plan_id)
        doc: dict[str, Any] = found
        return doc

    def results(self, plan_id: str) -> list[dict[str, Any]]:
        """Return the published results of a plan (public)."""
        self.plan(plan_id)
        return self._scan(f"r/{plan_id}/")

    def alerts(self) -> list[dict[str, Any]]:
        """Return every recorded alert, newest first."""
        out = self._scan("a/")
        out.sort(key=lambda a: (-a["height"], a["indicator"], a["subject"]))
        return out

    def last_inspectors(self, uscc: str) -> list[str]:
        """Return who inspected an enterprise last, as the ledger records it (empty: nobody)."""
        found = self._get("l/" + uscc)
        return list(found) if found else []

    def seed_of(self, height: int) -> str:
        """Return the hash (hex) of the block at ``height``: a draw's seed."""
        ledger = self.node.ledger
        if height > ledger.height:
            raise Unavailable(
                f"the seed block {height} is not committed yet (height {ledger.height})",
                height=height,
            )
        return ledger.header(height).header.hash(ledger.h).hex()

    # --- writes ------------------------------------------------------------------------------

    def _commit(self, tx: Transaction) -> dict[str, Any]:
        result = self.casedesk.commit_one(tx, self.timeout_s)
        return {"tx_id": tx.tx_id.hex(), "height": result.get("height"), "result": result}

    def report(
        self, dept: str, actor: str, batch: str, kind: str, period: str, rows: Any
    ) -> dict[str, Any]:
        """Report one batch of facts for ``dept`` (the department holding them)."""
        if id_problem(batch):
            raise SchemaViolation("batch " + id_problem(batch), field="batch")
        code, message = report_problem(kind, period, rows, dept)
        if code:
            raise _refuse(code, message)
        if self._get("b/" + batch) is not None:
            raise Conflict(f"batch {batch} is already reported", batch=batch)
        args = {"batch": batch, "kind": kind, "period": period, "rows": rows}
        return self._commit(self.casedesk.sign(dept, CONTRACT, "report", args, actor))

    def report_many(
        self, dept: str, actor: str, kind: str, period: str, rows: Sequence[Any], prefix: str
    ) -> list[dict[str, Any]]:
        """Report ``rows`` in batches of at most 500 named ``<prefix>-<n>``, committed
        together."""
        txs = []
        for n, i in enumerate(range(0, len(rows), MAX_ROWS)):
            part = list(rows[i : i + MAX_ROWS])
            code, message = report_problem(kind, period, part, dept)
            if code:
                raise _refuse(code, message)
            args = {"batch": f"{prefix}-{n:03d}", "kind": kind, "period": period, "rows": part}
            txs.append(self.casedesk.sign(dept, CONTRACT, "report", args, actor))
        return self._commit_all(txs)

    def _commit_all(self, txs: list[Transaction]) -> list[dict[str, Any]]:
        out = []
        for tx, outcome in zip(txs, self.casedesk.commit(txs, self.timeout_s), strict=True):
            if isinstance(outcome, GovchainError):
                raise outcome
            out.append({"tx_id": tx.tx_id.hex(), "height": outcome.get("height")})
        return out

    def registry_members(self, flt: Mapping[str, str], period: str = "") -> list[dict[str, Any]]:
        """Return the population a filter selects from the enterprise registry: each
        enterprise with its division, industry, risk class (from its score; ``low`` without
        facts) and who inspected it last (the ledger's record)."""
        risk: dict[str, str] = {}
        try:
            risk = {s.uscc: s.risk for s in self.scores(period)}
        except NotFound:
            risk = {}
        status = flt.get("status", "active") or "active"
        industry, division = flt.get("industry", ""), flt.get("division", "")
        out = []
        for _, vv in self.node.ledger.state.iter_range(layout.ENTERPRISES):
            if vv.value is None:
                continue
            e = orjson.loads(vv.value)
            ind, div = str(e.get("industry", "")), str(e.get("division", ""))
            if e.get("status") != status or not ind.startswith(industry):
                continue
            if not div.startswith(division) or len(div) != 6 or not 2 <= len(ind) <= 4:
                continue
            last = self.last_inspectors(e["uscc"])
            out.append(
                {
                    "uscc": e["uscc"],
                    "division": div,
                    "industry": ind,
                    "risk": risk.get(e["uscc"], "low"),
                    "last": last,
                }
            )
        out.sort(key=lambda m: m["uscc"])
        return out

    def open_plan(
        self,
        dept: str,
        actor: str,
        plan: Mapping[str, Any],
        population: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Commit an inspection plan, its population (the registry's enterprises its filter
        selects, unless given) and its seal, in that order; the seed block is ``delay`` blocks
        after the seal."""
        doc = {**plan}
        doc.setdefault("weights", dict(DEFAULT_WEIGHTS))
        doc.setdefault("filter", {})
        doc["department"] = dept
        bad = plan_problem(doc)
        if bad:
            raise SchemaViolation("plan " + bad, field="plan")
        if self._get("p/" + doc["id"]) is not None:
            raise Conflict(f"plan {doc['id']} exists", plan=doc["id"])
        members = (
            list(population) if population is not None else self.registry_members(doc["filter"])
        )
        if not members:
            raise SchemaViolation("the filter selects no enterprise", field="filter")
        self._commit(self.casedesk.sign(dept, CONTRACT, "plan", {"plan": doc}, actor))
        txs = [
            self.casedesk.sign(
                dept,
                CONTRACT,
                "populate",
                {"plan_id": doc["id"], "members": list(members[i : i + MAX_ROWS])},
                actor,
            )
            for i in range(0, len(members), MAX_ROWS)
        ]
        # In order: each chunk is the next one of the population.
        for tx in txs:
            self._commit(tx)
        sealed = self._commit(
            self.casedesk.sign(dept, CONTRACT, "seal", {"plan_id": doc["id"]}, actor)
        )
        return {**sealed, "plan": self.plan(doc["id"])}

    def compute_draw(self, plan_id: str) -> tuple[dict[str, Any], str, Draw]:
        """Return a sealed plan, its seed and the draw the rules give (nothing is signed)."""
        plan = self.plan(plan_id)
        if plan["status"] == "open":
            raise Conflict(f"plan {plan_id} is not sealed", plan=plan_id)
        seed = self.seed_of(plan["seed_height"])
        return plan, seed, draw(plan, self.population(plan_id), bytes.fromhex(seed))

    def draw(self, dept: str, actor: str, plan_id: str) -> dict[str, Any]:
        """Draw a sealed plan's targets and inspectors and record the draw (once: a second
        draw is refused)."""
        plan = self.plan(plan_id)
        if plan["status"] == "drawn":
            raise Conflict(
                f"plan {plan_id} is already drawn: a draw is never repeated", plan=plan_id
            )
        plan, seed, result = self.compute_draw(plan_id)
        args = {"plan_id": plan_id, "seed": seed, **result.to_args()}
        doc = self._commit(self.casedesk.sign(dept, CONTRACT, "draw", args, actor))
        return {**doc, "draw": self.drawn(plan_id), "allocation": dict(result.allocation)}

    def verify(self, plan_id: str) -> Verification:
        """Recompute a plan's draw from the ledger alone (the plan, its committed population,
        the seed block) and compare it with the recorded one."""
        recorded = self.drawn(plan_id)
        plan, seed, result = self.compute_draw(plan_id)
        problems = matches(recorded, result)
        if recorded["seed"] != seed:
            problems.insert(0, f"the recorded seed is not the hash of block {plan['seed_height']}")
        if recorded["seed_height"] != plan["sealed_height"] + plan["delay"]:
            problems.insert(0, "the seed block is not the one the plan fixed when it was sealed")
        return Verification(
            plan_id,
            plan["seed_height"],
            seed,
            recorded["seed"],
            len(result.targets),
            tuple(problems),
        )

    def publish(
        self, dept: str, actor: str, plan_id: str, uscc: str, outcome: str, findings: str
    ) -> dict[str, Any]:
        """Publish the result of one drawn inspection."""
        drawn = self.drawn(plan_id)
        if not any(t["uscc"] == uscc for t in drawn["targets"]):
            raise NotFound(f"{uscc} was not drawn in {plan_id}", uscc=uscc)
        args = {"plan_id": plan_id, "uscc": uscc, "outcome": outcome, "findings": findings}
        return self._commit(self.casedesk.sign(dept, CONTRACT, "publish", args, actor))

    def record_alerts(self, dept: str, actor: str, period: str = "") -> list[dict[str, Any]]:
        """Record on-chain every signal of ``period`` not recorded yet; return the alerts
        recorded now (each with its transaction). With a webhook, each is queued for it once
        committed: delivered off this call's path, by the dispatcher's thread."""
        fresh = [
            s
            for s in self.signals(period)
            if self._get(f"a/{s.indicator}/{s.subject}/{s.period}") is None
        ]
        txs = [
            self.casedesk.sign(dept, CONTRACT, "alert", {"alert": s.to_alert()}, actor)
            for s in fresh
        ]
        done = self._commit_all(txs) if txs else []
        recorded = [
            {**s.to_alert(), "tx_id": d["tx_id"], "height": d["height"]}
            for s, d in zip(fresh, done, strict=True)
        ]
        if self.dispatcher is not None:
            for alert in recorded:
                self.dispatcher.submit(alert)
        return recorded


_DESK_LOCK = threading.Lock()


def dispatcher_for(settings: Any) -> AlertDispatcher | None:
    """Return a webhook dispatcher for the API settings' ``alert_webhook_url`` and
    ``alert_webhook_secret`` (``None`` when no webhook is configured)."""
    url = str(getattr(settings, "alert_webhook_url", "") or "")
    if not url:
        return None
    secret = str(getattr(settings, "alert_webhook_secret", ""))
    return AlertDispatcher(Webhook(url, secret.encode()))


def desk_for(app_state: Any) -> SupervisionDesk:
    """Return the supervision desk of an API application's state (``node``, ``casedesk``
    and the analytics follower; made on first use and kept there as ``supervision``). With
    a webhook in the settings, the desk's dispatcher posts the alerts it records and stops
    before the node closes."""
    desk: SupervisionDesk | None = getattr(app_state, "supervision", None)
    if desk is None:
        with _DESK_LOCK:
            desk = getattr(app_state, "supervision", None)
            if desk is None:
                from govchain.analytics.follow import index_for

                index_for(app_state)
                settings = getattr(app_state, "settings", None)
                timeout = getattr(settings, "wait_timeout_s", DEFAULT_TIMEOUT_S)
                dispatcher = dispatcher_for(settings)
                if dispatcher is not None:
                    app_state.node.before_close.append(dispatcher.close)
                desk = SupervisionDesk(
                    app_state.node,
                    app_state.casedesk,
                    app_state.analytics,
                    float(timeout),
                    dispatcher=dispatcher,
                )
                app_state.supervision = desk
    return desk
