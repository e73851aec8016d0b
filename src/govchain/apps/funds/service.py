"""Service functions of fund supervision, below the HTTP layer: the projects, disbursements,
evidence and flags as the node committed them; the calls a node signs for staff (checked first
with the contract's own functions, so bad input is refused with a typed error before anything
is signed); and the scan that raises flags from the analytics index.

Flags are computed from the analytics index (``index.load_data``), never from the node's
state: the scan waits until the index has caught up with the ledger, runs the rules and the
detector over what it holds, and records each new finding on-chain with its inputs and the
index height they were read at.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from govchain.analytics.index import AnalyticsIndex
from govchain.apps.funds.contract import (
    EVIDENCE_KINDS,
    FLAG_STATUSES,
    disbursement_problem,
    handling_problem,
    id_problem,
)
from govchain.apps.funds.detector import detector_findings
from govchain.apps.funds.flags import rule_findings
from govchain.apps.funds.index import load_data
from govchain.apps.funds.records import Finding, validate_project
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
from govchain.node.content import check_digest
from govchain.node.node import Node

CONTRACT = "funds"
"""Name the contract is committed under."""
PREFIX = b"c/funds/"
"""State key prefix of the contract."""
DEFAULT_TIMEOUT_S = 30.0
"""How long a write waits for its block when the settings say nothing."""
INDEX_WAIT_S = 10.0
"""How long a scan waits for the analytics index to catch up with the ledger."""
RULE_TITLES = {
    "missing_evidence": {
        "zh": "拨付无对应里程碑证据",
        "en": "Disbursement without milestone evidence",
    },
    "shared_payee": {"zh": "同一收款方跨无关项目", "en": "Same payee across unrelated projects"},
    "peer_outlier": {"zh": "金额偏离同类项目", "en": "Amount out of line with peers"},
    "isolation_forest": {
        "zh": "支付模式异常（孤立森林）",
        "en": "Irregular payment (isolation forest)",
    },
}
"""Display name of each rule."""


class IndexFollower(Protocol):
    """The analytics index kept in step with the node (``analytics.follow.Follower``)."""

    index: AnalyticsIndex

    def wait_caught_up(self, timeout: float) -> bool:
        """Wait until the index holds every committed block; return whether it does."""
        ...


Notify = Callable[[str, str, Mapping[str, str], Mapping[str, str], str, Mapping[str, Any]], None]
"""Posts a notice: ``(recipient, kind, title, body, link, source)``."""


@dataclass(frozen=True, slots=True)
class ScanReport:
    """What one scan of the index found and raised."""

    index_height: int
    """Ledger height the index had reached when read."""
    findings: int
    """Findings of the rules and the detector (new and flagged already)."""
    raised: tuple[str, ...]
    """Flag ids raised by this scan."""
    already: int
    """Findings flagged before."""
    by_rule: dict[str, int]
    """Flags raised by this scan, per rule."""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "index_height": self.index_height,
            "findings": self.findings,
            "raised": list(self.raised),
            "already": self.already,
            "by_rule": self.by_rule,
        }


def findings_of(index: Any) -> tuple[int, list[Finding], frozenset[tuple[str, str]]]:
    """Return the index height, every finding of the rules and the detector over what the
    index holds, and the pairs flagged already."""
    data = load_data(index)
    return data.height, [*rule_findings(data), *detector_findings(data)], data.flagged


def _refusal(message: str) -> GovchainError:
    """The typed error of a contract check's message ``"<field or kind>: <reason>"``."""
    head, _, rest = message.partition(": ")
    if head == "state":
        return Conflict(rest, field="flag")
    if head == "actor":
        return Forbidden(rest)
    return SchemaViolation(message, field=head.split(" ")[0])


class FundsDesk:
    """Reads fund supervision records and signs its calls for staff."""

    def __init__(
        self,
        node: Node,
        casedesk: CaseDesk,
        follower: Callable[[], IndexFollower],
        notify: Notify | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.node = node
        self.casedesk = casedesk
        self._follower = follower
        self.notify = notify
        self.timeout_s = timeout_s
        self._scan_lock = threading.Lock()

    # --- reads ------------------------------------------------------------------------------

    def _get(self, key: str) -> dict[str, Any] | None:
        raw = self.node.ledger.state.get_value(PREFIX + key.encode())
        return None if raw is None else dict(orjson.loads(raw))

    def _scan(self, prefix: str) -> list[tuple[str, Any]]:
        n = len(PREFIX) + len(prefix)
        return [
            (k[n:].decode(), orjson.loads(vv.value))
            for k, vv in self.node.ledger.state.iter_range(PREFIX + prefix.encode())
            if vv.value is not None
        ]

    def project(self, project_id: str) -> dict[str, Any]:
        """Return a project (``NotFound`` if there is none)."""
        found = self._get("p/" + project_id) if not id_problem(project_id) else None
        if found is None:
            raise NotFound(f"there is no project {project_id!r}", id=project_id)
        return found

    def projects(self, department: str = "") -> list[dict[str, Any]]:
        """Return every project (of ``department`` if given), in id order, each with the
        number of its open (not closed) flags."""
        open_by_project: dict[str, int] = {}
        for f in self.flags():
            if f["status"] != "closed":
                for p in f["projects"]:
                    open_by_project[p] = open_by_project.get(p, 0) + 1
        out = []
        for _, record in self._scan("p/"):
            if department and record["dept"] != department:
                continue
            out.append({**record, "open_flags": open_by_project.get(record["id"], 0)})
        return out

    def disbursements(self, project_id: str) -> list[dict[str, Any]]:
        """Return a project's disbursements, oldest first."""
        self.project(project_id)
        ids = [k.split("/")[-1] for k, _ in self._scan(f"px/{project_id}/")]
        return [d for d in (self._get("x/" + i) for i in ids) if d is not None]

    def evidence(self, project_id: str) -> list[dict[str, Any]]:
        """Return a project's notarised evidence, by milestone."""
        self.project(project_id)
        digests = [k.split("/")[-1] for k, _ in self._scan(f"pv/{project_id}/")]
        found = [e for e in (self._get("v/" + d) for d in digests) if e is not None]
        return sorted(found, key=lambda e: (e["milestone"], e["height"], e["digest"]))

    def evidence_item(self, digest: str) -> dict[str, Any]:
        """Return one evidence item, with whether the node's content store holds its file."""
        found = self._get("v/" + check_digest(digest))
        if found is None:
            raise NotFound(f"{digest} is not notarised evidence", digest=digest)
        return {**found, "in_store": self.node.content.has(digest)}

    def disbursement(self, disbursement_id: str) -> dict[str, Any]:
        """Return a disbursement (``NotFound`` if there is none)."""
        found = self._get("x/" + disbursement_id) if not id_problem(disbursement_id, 64) else None
        if found is None:
            raise NotFound(f"there is no disbursement {disbursement_id!r}", id=disbursement_id)
        return found

    def flag(self, flag_id: str) -> dict[str, Any]:
        """Return a flag with its inputs and handling (``NotFound`` if there is none)."""
        found = self._get("f/" + flag_id) if not id_problem(flag_id) else None
        if found is None:
            raise NotFound(f"there is no flag {flag_id!r}", id=flag_id)
        return found

    def flags(self, status: str = "", project: str = "") -> list[dict[str, Any]]:
        """Return the flags (of one status, of one project, if given), in id order."""
        if status and status not in FLAG_STATUSES:
            raise SchemaViolation(
                f"status must be one of {', '.join(FLAG_STATUSES)}", field="status"
            )
        if project:
            if id_problem(project):
                raise SchemaViolation(f"project {id_problem(project)}", field="project")
            ids = [k.split("/")[-1] for k, _ in self._scan(f"fp/{project}/")]
            found = [f for f in (self._get("f/" + i) for i in sorted(ids)) if f is not None]
        else:
            found = [v for _, v in self._scan("f/")]
        return [f for f in found if not status or f["status"] == status]

    def project_view(self, project_id: str) -> dict[str, Any]:
        """Return a project with its disbursements, evidence and flags."""
        return {
            "project": self.project(project_id),
            "disbursements": self.disbursements(project_id),
            "evidence": self.evidence(project_id),
            "flags": self.flags(project=project_id),
        }

    # --- writes -----------------------------------------------------------------------------

    def _commit(self, tx: Transaction) -> dict[str, Any]:
        result = self.casedesk.commit_one(tx, self.timeout_s)
        return {"tx_id": tx.tx_id.hex(), "height": result.get("height"), "result": result}

    def create_project(self, dept: str, actor: str, obj: Any) -> dict[str, Any]:
        """Register a project owned by ``dept``."""
        project = validate_project(obj)
        if self._get("p/" + project["id"]) is not None:
            raise Conflict(f"project {project['id']} is already registered", id=project["id"])
        for other in project["related"]:
            self.project(other)
        tx = self.casedesk.sign(dept, CONTRACT, "create_project", {"project": project}, actor)
        return self._commit(tx)

    def add_evidence(
        self,
        dept: str,
        actor: str,
        project_id: str,
        milestone: str,
        data: bytes,
        kind: str,
        title: str,
        *,
        keep: bool = True,
    ) -> dict[str, Any]:
        """Notarise a file as evidence of a milestone (its hash on-chain; the file in the
        node's content store when ``keep``)."""
        project = self.project(project_id)
        if not any(m["id"] == milestone for m in project["milestones"]):
            raise SchemaViolation(f"{project_id} has no milestone {milestone!r}", field="milestone")
        if kind not in EVIDENCE_KINDS:
            raise SchemaViolation(f"kind must be one of {', '.join(EVIDENCE_KINDS)}", field="kind")
        if not data:
            raise SchemaViolation("the evidence file is empty", field="file")
        digest = self.node.suite.hash(data).hex()
        if self._get("v/" + digest) is not None:
            raise Conflict(f"{digest} is already notarised", digest=digest)
        if keep:
            self.node.content.put(data, expected=digest)
        args = {
            "project": project_id,
            "milestone": milestone,
            "digest": digest,
            "kind": kind,
            "title": title,
            "stored": keep,
        }
        doc = self._commit(self.casedesk.sign(dept, CONTRACT, "add_evidence", args, actor))
        doc["digest"] = digest
        return doc

    def disburse(self, dept: str, actor: str, project_id: str, **args: Any) -> dict[str, Any]:
        """Record a disbursement (``milestone``, ``payee``, ``amount_fen``, ``paid_on``,
        ``purpose``) from a project's budget."""
        project = self.project(project_id)
        bad = disbursement_problem(project, project["paid_fen"], args)
        if bad:
            raise _refusal(bad)
        call = {"project": project_id, **{k: args[k] for k in sorted(args)}}
        return self._commit(self.casedesk.sign(dept, CONTRACT, "disburse", call, actor))

    def scan(self, dept: str, actor: str) -> ScanReport:
        """Read the analytics index, run the rules and the detector, and raise a flag for
        every new finding (signed by ``dept``, the supervising department)."""
        follower = self._follower()
        if not follower.wait_caught_up(INDEX_WAIT_S):
            raise Unavailable(
                f"the analytics index did not catch up with the ledger in {INDEX_WAIT_S} s"
            )
        with self._scan_lock:
            height, findings, flagged = findings_of(follower.index)
            new = [
                f
                for f in findings
                if (f.rule, f.subject) not in flagged
                and self._get(f"fk/{f.rule}/{f.subject}") is None
            ]
            txs = [
                self.casedesk.sign(
                    dept,
                    CONTRACT,
                    "raise_flag",
                    {
                        "rule": f.rule,
                        "subject": f.subject,
                        "projects": list(f.projects),
                        "inputs": f.inputs,
                        "index_height": height,
                    },
                    actor,
                    purpose="fund supervision: anomaly flags",
                )
                for f in new
            ]
            outcomes = self.casedesk.commit(txs, self.timeout_s) if txs else []
        raised: list[str] = []
        by_rule: dict[str, int] = {}
        refused: list[GovchainError] = []
        for f, outcome in zip(new, outcomes, strict=True):
            if isinstance(outcome, GovchainError):
                refused.append(outcome)
                continue
            raised.append(str(outcome["id"]))
            by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
            self._notify_raised(str(outcome["id"]), f)
        if refused:
            # Another scan raised some of them meanwhile: say what did go in.
            raise Conflict(
                f"{len(refused)} of {len(new)} flag(s) were refused: {refused[0].message}",
                raised=raised,
            )
        return ScanReport(height, len(findings), tuple(raised), len(findings) - len(new), by_rule)

    def _handle(self, dept: str, actor: str, method: str, event: str, args: dict[str, Any]) -> Any:
        flag = self.flag(str(args["flag"]))
        bad = handling_problem(flag, event, dept, actor, args)
        if bad:
            raise _refusal(bad)
        doc = self._commit(self.casedesk.sign(dept, CONTRACT, method, args, actor))
        doc["flag"] = self.flag(flag["id"])
        return doc

    def assign(self, dept: str, actor: str, flag_id: str, to: str, note: str = "") -> Any:
        """Assign a flag to a person of a department owning one of its projects."""
        doc = self._handle(
            dept, actor, "assign_flag", "assign", {"flag": flag_id, "to": to, "note": note}
        )
        self._post(
            to, "funds.flag_assigned", flag_id,
            {"zh": f"请说明预警 {flag_id}", "en": f"Please explain flag {flag_id}"},
            {"zh": note, "en": note},
        )  # fmt: skip
        return doc

    def explain(
        self,
        dept: str,
        actor: str,
        flag_id: str,
        explanation: str,
        evidence: list[str] | None = None,
    ) -> Any:
        """Explain a flag assigned to ``actor``, optionally naming notarised evidence."""
        args = {"flag": flag_id, "explanation": explanation, "evidence": list(evidence or [])}
        for digest in args["evidence"]:
            self.evidence_item(digest)
        doc = self._handle(dept, actor, "explain_flag", "explain", args)
        self._post(
            "dept:" + doc["flag"]["dept"], "funds.flag_explained", flag_id,
            {"zh": f"预警 {flag_id} 已说明", "en": f"Flag {flag_id} was explained"},
            {"zh": explanation, "en": explanation},
        )  # fmt: skip
        return doc

    def close(self, dept: str, actor: str, flag_id: str, outcome: str, reason: str) -> Any:
        """Close an explained flag as ``confirmed`` or ``dismissed``, with a reason."""
        args = {"flag": flag_id, "outcome": outcome, "reason": reason}
        return self._handle(dept, actor, "close_flag", "close", args)

    # --- notices ----------------------------------------------------------------------------

    def _post(
        self, recipient: str, kind: str, flag_id: str, title: dict[str, str], body: dict[str, str]
    ) -> None:
        if self.notify is None:
            return
        link = f"/staff/funds/flags/{flag_id}"
        self.notify(recipient, kind, title, body, link, {"contract": CONTRACT, "flag": flag_id})

    def _notify_raised(self, flag_id: str, f: Finding) -> None:
        names = RULE_TITLES[f.rule]
        owners = sorted({str(self.project(p)["dept"]) for p in f.projects})
        for owner in owners:
            self._post(
                "dept:" + owner, "funds.flag_raised", flag_id,
                {
                    "zh": f"资金预警 {flag_id}：{names['zh']}",
                    "en": f"Fund flag {flag_id}: {names['en']}",
                },
                {"zh": f"对象 {f.subject}", "en": f"Subject {f.subject}"},
            )  # fmt: skip


_DESK_LOCK = threading.Lock()


def desk_for(app_state: Any) -> FundsDesk:
    """Return the fund supervision desk of an API application's state (``node``,
    ``casedesk``; made on first use and kept there as ``funds``), reading the node's analytics
    index and posting to its notice board."""
    desk: FundsDesk | None = getattr(app_state, "funds", None)
    if desk is None:
        with _DESK_LOCK:
            desk = getattr(app_state, "funds", None)
            if desk is None:
                from govchain.analytics.follow import follower_for
                from govchain.node.notifications import board_for

                node = app_state.node
                board = board_for(app_state)

                def notify(
                    recipient: str, kind: str, title: Mapping[str, str],
                    body: Mapping[str, str], link: str, source: Mapping[str, Any],
                ) -> None:  # fmt: skip
                    board.post(recipient, kind, title, body, link=link, source=source)

                settings = getattr(app_state, "settings", None)
                timeout = getattr(settings, "wait_timeout_s", DEFAULT_TIMEOUT_S)
                desk = FundsDesk(
                    node, app_state.casedesk, lambda: follower_for(node), notify, float(timeout)
                )
                app_state.funds = desk
    return desk
