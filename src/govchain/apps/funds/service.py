"""Service functions of fund supervision, below the HTTP layer: the projects, disbursements,
evidence and flags as the node committed them; the calls a node signs for staff (checked first
with the contract's own functions, so bad input is refused with a typed error before anything
is signed); and the scan that raises flags from the analytics index.

Flags are computed from the analytics index (``index.load_data``), never from the node's
state: the scan waits until the index has caught up with the ledger, runs the rules and the
detector over what it holds, and records each new finding on-chain with its inputs and the
index height they were read at.

Each flag is handled as a case (办件) on the case engine, opened by the raising department
itself (依职权) right after the flag (service ``330100-JG-00NN`` of the raising department and
the department of the flag's first project; subject: the flag id) and recorded on the flag
(``link_case``). The handling steps are the case's transitions: *assign* is the project
department's staff claiming the ``explain`` step (an admin reassigning it), *explain* completes
it with the explanation, *close* is the raising department's decision (approve: confirmed,
reject: dismissed) and closing the case. A flag's status, assignee, outcome and handling are
read from its case and the transactions of its timeline.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from govchain.analytics.index import AnalyticsIndex
from govchain.apps.funds.app import APP
from govchain.apps.funds.contract import (
    EVIDENCE_KINDS,
    MAX_TEXT,
    disbursement_problem,
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
    ReplayedNonce,
    SchemaViolation,
    Unavailable,
)
from govchain.ledger.receipts import LogEntry
from govchain.ledger.transactions import Transaction
from govchain.node.casedesk import CaseDesk
from govchain.node.content import check_digest
from govchain.node.node import Node
from govchain.procedures.cases import Actor

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


FLAG_STATUSES = ("open", "assigned", "explained", "closed")
"""A flag's status, from its case: the ``explain`` step open and unclaimed, claimed, done;
the case decided."""
OUTCOMES = {"approved": "confirmed", "rejected": "dismissed"}
"""A closed flag's outcome, from its case's."""
FLAG_SERVICES: dict[tuple[str, str], str] = {
    (str(d["owner"]), str(d["steps"][0]["dept"])): str(d["code"])
    for d in APP.definitions()
    if d.get("opened_by") == "department"
}
"""The flag case's service for (raising department, department that explains)."""
EXPLAIN = "explain"
"""The step of a flag case in which the project's department explains the flag."""
NONCE_RETRIES = 3
"""Times a call refused for a stale nonce is signed again and resubmitted."""
ENGINE_ACTOR = "funds-scan"
"""Person id (``<dept>/funds-scan``) of the node when it opens a flag's case."""


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
        """Return a flag with its inputs, its case and the handling read from the case
        (``NotFound`` if there is none)."""
        found = self._get("f/" + flag_id) if not id_problem(flag_id) else None
        if found is None:
            raise NotFound(f"there is no flag {flag_id!r}", id=flag_id)
        return self._with_handling(found)

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
        out = [self._with_handling(f, timeline=False) for f in found]
        return [f for f in out if not status or f["status"] == status]

    def _with_handling(self, flag: dict[str, Any], timeline: bool = True) -> dict[str, Any]:
        """The flag with ``status``, ``assignee``, ``outcome`` and (with ``timeline``) its
        ``handling`` steps, read from its case."""
        out = {**flag, "status": "open", "assignee": "", "outcome": "", "handling": []}
        if not flag.get("case"):
            return out
        case = self.casedesk.case(flag["case"])
        step = next((s for s in case["steps"] if s["id"] == EXPLAIN), None)
        if case["outcome"] in OUTCOMES:
            out["status"], out["outcome"] = "closed", OUTCOMES[case["outcome"]]
        elif step is not None and step["status"] == "done":
            out["status"] = "explained"
        elif step is not None and step["assignee"]:
            out["status"] = "assigned"
        out["assignee"] = step["assignee"] if step is not None else ""
        if timeline:
            out["handling"] = self._handling(case)
        return out

    def _handling(self, case: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The case's timeline as handling steps, each with what its transaction said."""
        steps = []
        for h in case["history"]:
            kind = {
                "claimed": "assign", "reassigned": "assign", "step_pass": "explain",
                "approved": "close", "rejected": "close",
            }.get(h["event"])  # fmt: skip
            if kind is None:
                continue
            loc = self.node.ledger.locate(bytes.fromhex(h["tx"]))
            entry = LogEntry.decode(self.node.ledger.entry_bytes(loc.log_index))
            args = entry.tx["body"]["args"]
            step: dict[str, Any] = {
                "event": kind,
                "actor": h["actor"],
                "dept": h["dept"],
                "height": loc.height,
                "time_ms": h["time_ms"],
                "tx_id": h["tx"],
            }
            if kind == "assign":
                step.update(to=args.get("to", h["actor"]), note=args.get("note", ""))
            elif kind == "explain":
                step.update(explanation=args.get("note", ""), evidence=args.get("evidence", []))
            else:
                step.update(
                    outcome=OUTCOMES[h["event"]],
                    reason=args.get("reason", case["reason"]),
                )
            steps.append(step)
        return steps

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
        self.open_cases(dept, raised)
        for f, outcome in zip(new, outcomes, strict=True):
            if not isinstance(outcome, GovchainError):
                self._notify_raised(str(outcome["id"]), f)
        if refused:
            # Another scan raised some of them meanwhile: say what did go in.
            raise Conflict(
                f"{len(refused)} of {len(new)} flag(s) were refused: {refused[0].message}",
                raised=raised,
            )
        return ScanReport(height, len(findings), tuple(raised), len(findings) - len(new), by_rule)

    def open_cases(self, dept: str, flag_ids: list[str]) -> list[str]:
        """Open the case of each flag (by ``dept``'s node, the department that raised them)
        and record it on the flag; return the case numbers. A flag whose pair of departments
        has no flag-case service published on this network is left without a case."""
        actor = f"{dept}/{ENGINE_ACTOR}"
        prepared: list[tuple[str, dict[str, Any]]] = []
        for flag_id in flag_ids:
            flag = self._get("f/" + flag_id)
            if flag is None or flag["case"]:
                continue
            code = FLAG_SERVICES.get((flag["dept"], flag["owners"][0]))
            if code is None:
                continue
            form = {
                "flag": flag_id,
                "rule": flag["rule"],
                "subject": flag["subject"],
                "projects": flag["projects"],
                "inputs": flag["inputs"],
                "index_height": flag["index_height"],
            }
            particulars = {"flag": flag_id, "rule": flag["rule"], "projects": flag["projects"]}
            try:
                args = self.casedesk.department_case(
                    dept, actor, code, flag_id, form, particulars=particulars
                )
            except NotFound:  # the service is not published on this network
                continue
            prepared.append((flag_id, args))
        opened = self._commit_signed(
            [functools.partial(self.casedesk.sign_department_case, dept, actor, a)
             for _, a in prepared]
        )  # fmt: skip
        numbers = [str(case["number"]) for case in opened]
        self._commit_signed(
            [
                functools.partial(
                    self.casedesk.sign, dept, CONTRACT, "link_case",
                    {"flag": flag_id, "case": number}, actor,
                )
                for (flag_id, _), number in zip(prepared, numbers, strict=True)
            ]
        )  # fmt: skip
        return numbers

    def _commit_signed(self, signers: list[Callable[[], Transaction]]) -> list[dict[str, Any]]:
        """Sign the calls together just before committing them, and commit them; sign again
        those the node refused for a stale nonce (another thread signed for the same member
        meanwhile: a node accepts a member's nonces only within a small window), a few times.
        Raise the first other refusal."""
        outcomes: dict[int, dict[str, Any]] = {}
        todo = list(range(len(signers)))
        for _ in range(NONCE_RETRIES):
            if not todo:
                break
            signed = [(i, signers[i]()) for i in todo]
            results = self.casedesk.commit([tx for _, tx in signed], self.timeout_s)
            todo = []
            for (i, _), result in zip(signed, results, strict=True):
                if isinstance(result, ReplayedNonce):
                    todo.append(i)
                elif isinstance(result, GovchainError):
                    raise result
                else:
                    outcomes[i] = result
        if todo:
            raise Unavailable(f"{len(todo)} call(s) kept being refused for stale nonces")
        return [outcomes[i] for i in range(len(signers))]

    def _case_step(
        self,
        flag_id: str,
        dept: str,
        actor: str,
        role: str,
        steps: list[tuple[str, dict[str, Any]]],
    ) -> dict[str, Any]:
        """Take case transitions on the flag's case as ``actor`` (checked by the case engine
        before signing, and again when the block runs); return the last result and the flag."""
        flag = self.flag(flag_id)
        number = flag["case"]
        if not number:
            raise Conflict(f"flag {flag_id} has no case to handle it in", field="flag")
        txs: list[Transaction] = []
        for transition, args in steps:
            if not txs:  # a later one depends on the state the first leaves: the block checks
                self.casedesk.preview(
                    number, transition, Actor("staff", actor, dept, role, f"{dept}/admin"), args
                )
            call = {**args, "case": number, "role": role}
            txs.append(self.casedesk.sign(dept, "cases", transition, call, actor, case=number))
        outcomes = self.casedesk.commit(txs, self.timeout_s)
        for outcome in outcomes:
            if isinstance(outcome, GovchainError):
                raise outcome
        last = outcomes[-1]
        assert isinstance(last, dict)
        height = self.node.ledger.locate(txs[-1].tx_id).height
        return {"tx_id": txs[-1].tx_id.hex(), "height": height, "result": last,
                "case": number, "flag": self.flag(flag_id)}  # fmt: skip

    def next_steps(self, flag: Mapping[str, Any], dept: str, actor: str, role: str) -> list[str]:
        """The handling steps (``assign``, ``explain``, ``close``) the case engine would let
        this staff member take on the flag now."""
        number = flag.get("case")
        if not number:
            return []
        probes = {
            "assign": ("claim", {"step": EXPLAIN}),
            "explain": ("complete", {"step": EXPLAIN, "result": "pass", "note": "--"}),
            "close": ("decide", {"outcome": "reject", "reason": "--"}),
        }
        if role == "admin":
            probes["assign"] = ("reassign", {"step": EXPLAIN, "to": f"{dept}/x"})
        if flag.get("status") != "explained":
            del probes["close"]  # the case engine would let it be rejected: the desk waits
        out = []
        for name, (transition, args) in probes.items():
            try:
                self.casedesk.preview(
                    str(number), transition, Actor("staff", actor, dept, role, ""), args
                )
            except GovchainError:
                continue
            out.append(name)
        return out

    def assign(
        self, dept: str, actor: str, flag_id: str, to: str, note: str = "", *, role: str
    ) -> Any:
        """Give the flag's explanation to a person of the project's department: the person
        claims it (``to`` is the actor), or an admin of that department reassigns it. ``role``
        is the actor's staff role, which the node vouches for (from the login)."""
        args: dict[str, Any] = {"step": EXPLAIN}
        if note:
            args["note"] = note
        if to == actor:
            doc = self._case_step(flag_id, dept, actor, role, [("claim", args)])
        else:
            doc = self._case_step(flag_id, dept, actor, role, [("reassign", {**args, "to": to})])
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
        *,
        role: str,
    ) -> Any:
        """Explain a flag (completing its case's ``explain`` step; claimed by ``actor``, or
        by nobody yet), optionally naming notarised evidence."""
        self.flag(flag_id)
        found = list(evidence or [])
        for digest in found:
            self.evidence_item(digest)
        if not 2 <= len(explanation) <= MAX_TEXT:
            raise SchemaViolation(
                f"the explanation is 2 to {MAX_TEXT} characters", field="explanation"
            )
        args = {"step": EXPLAIN, "result": "pass", "note": explanation, "evidence": found}
        doc = self._case_step(flag_id, dept, actor, role, [("complete", args)])
        self._post(
            "dept:" + doc["flag"]["dept"], "funds.flag_explained", flag_id,
            {"zh": f"预警 {flag_id} 已说明", "en": f"Flag {flag_id} was explained"},
            {"zh": explanation, "en": explanation},
        )  # fmt: skip
        return doc

    def close(
        self,
        dept: str,
        actor: str,
        flag_id: str,
        outcome: str,
        reason: str,
        *,
        role: str,
    ) -> Any:
        """Close an explained flag as ``confirmed`` (its case approved) or ``dismissed``
        (rejected), with a reason; the case is closed with it."""
        decision = {"confirmed": "approve", "dismissed": "reject"}.get(outcome)
        if decision is None:
            raise SchemaViolation("outcome must be confirmed or dismissed", field="outcome")
        flag = self.flag(flag_id)
        if not 2 <= len(reason) <= MAX_TEXT:
            raise SchemaViolation(f"the reason is 2 to {MAX_TEXT} characters", field="reason")
        if flag["status"] != "explained":
            raise Conflict(
                f"flag {flag_id} is {flag['status']}: it is closed once explained", field="flag"
            )
        steps = [("decide", {"outcome": decision, "reason": reason}), ("close", {})]
        return self._case_step(flag_id, dept, actor, role, steps)

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
