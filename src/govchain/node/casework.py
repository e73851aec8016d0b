"""The node's case worker: the automatic checks and notice periods of the cases owned by the
departments this node serves (不见面办结).

A ``check`` step is answered from the owning department's own data: the worker asks its own
sharing service for an attestation about the case's subject (with the transaction ``case`` =
the case number), then submits ``cases.answer_check`` with the attestation and its yes/no,
signed by the department's sharing member key (role ``system``). A ``no`` blocks the step with
the definition's advice; when a record of the check's resource about that subject is published
or erased, the check runs again, and a ``yes`` clears it. A ``notice`` step is ended with
``cases.end_notice`` once the node's clock passes its deadline; the contract's automatic
decision follows in the same transaction.

The ledger is the only state. The committer thread only picks the relevant events out of each
block and hands them to the worker thread; the worker rereads the cases concerned, attests
many checks in one call and submits many answers at once (through the sharing service's signer,
so the sharing member's nonces stay one sequence). On start (and after a failure) it scans the
served departments' queues, so nothing is missed after a restart: a blocked check is asked
again then if its data changed after its last attestation. A refused transaction (the step was
answered meanwhile) is logged at debug level and not retried; a failure to reach the ledger is
retried a few times with growing pauses. Logs name case numbers and step ids, never a subject.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from govchain.errors import GovchainError, IntegrityError, Unavailable
from govchain.ledger.chain import CommittedBlock
from govchain.node.network import NetworkDir
from govchain.node.node import Node
from govchain.procedures import layout
from govchain.procedures.definitions import Check, ServiceDefinition, parse_definition
from govchain.procedures.services_contract import departments_in
from govchain.sharing import layout as sharing_layout
from govchain.sharing.requests import build_request
from govchain.sharing.service import SharingService
from govchain.sharing.signer import NodeCall
from govchain.types import DeptId

log = logging.getLogger("govchain.casework")

PURPOSE = "办件自动核查 / automatic check of a case"
"""Declared purpose of the worker's attestation requests and transactions."""
MAX_SLEEP_S = 1.0
"""Longest the worker sleeps while a notice deadline is pending (a clock may jump)."""
NOTICE_RETRIES = 5
"""Times an ``end_notice`` refused while its step is still open is tried again, 1 s apart
(a proposer whose clock is a little behind stamps the block before the deadline)."""
RESCAN_RETRIES = 6
"""Consecutive failures to reach the ledger after which the worker waits for new blocks
instead of rescanning (pauses of 1, 2, 4 ... s)."""
CASE_EVENTS = frozenset({"cases.submitted", "cases.transition"})
"""Events after which a case is read again."""
DATA_EVENTS = frozenset({"sharing.published", "sharing.erased"})
"""Events after which the blocked checks over that record's subject run again."""

StepKey = tuple[str, str]
"""``(case number, step id)``."""


@dataclass(frozen=True, slots=True)
class _Changes:
    """What one committed block (or a start) asks the worker to look at."""

    cases: tuple[str, ...] = ()
    """Case numbers submitted or moved."""
    records: tuple[tuple[str, str], ...] = ()
    """``(resource, record)`` published or erased."""
    scan: bool = False
    """Scan the served departments' queues."""


@dataclass(frozen=True, slots=True)
class _CheckTask:
    """A check step to attest and answer."""

    case: str
    """Case number."""
    step: str
    """Step id."""
    dept: DeptId
    """Department owning the step (and the resource)."""
    subject: str
    """Who the check is about (the enterprise's USCC, or the applicant)."""
    check: Check
    """The step's check (for a material: what its holder attests)."""
    material: bool = False
    """``step`` is a material the department holds, answered with ``attach``."""


@dataclass(slots=True)
class CaseWorkStats:
    """What a worker did since it started."""

    answered_yes: int = 0
    """Checks answered yes."""
    answered_no: int = 0
    """Checks answered no."""
    notices_ended: int = 0
    """Notice periods ended."""
    refused: int = 0
    """Attestations or transactions refused."""
    last_error: str = ""
    """Code of the last failure to reach the ledger ('' if none)."""


class CaseWorker:
    """Answers the checks and ends the notices of the served departments (see the module)."""

    def __init__(
        self,
        node: Node,
        sharing: SharingService,
        network_dir: Path | str,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self._node = node
        self._sharing = sharing
        self._port = sharing.port
        self._clock = clock_ms or sharing.port.now_ms
        net = NetworkDir(network_dir)
        # The departments whose sharing member key this node holds and signs with.
        self.departments = frozenset(
            d for d, c in sharing.credentials.items() if net.member_key_path(c.member).exists()
        )
        self.stats = CaseWorkStats()
        self._queue: queue.SimpleQueue[_Changes | None] = queue.SimpleQueue()
        self._definitions: dict[tuple[str, int], ServiceDefinition | None] = {}
        # Live check steps by what their answer depends on: (resource, subject reference).
        self._watch: dict[tuple[str, str], set[StepKey]] = {}
        self._watched: dict[StepKey, tuple[str, str]] = {}
        # Open notices: a heap of (deadline, case, step), and the current entry of each step
        # (older heap entries are skipped when popped).
        self._notices: list[tuple[int, str, str]] = []
        self._notice_due: dict[StepKey, tuple[int, DeptId]] = {}
        self._notice_tries: dict[StepKey, int] = {}
        self._in_flight: set[StepKey] = set()
        self._rescan_at: float | None = None
        self._failures = 0
        self._closed = False
        self._queue.put(_Changes(scan=True))
        node.listeners.append(self._on_block)
        self._thread = threading.Thread(target=self._run, name="govchain-casework", daemon=True)
        self._thread.start()
        log.info("case worker started for %s", ", ".join(sorted(self.departments)) or "no one")

    def close(self, timeout: float = 30.0) -> None:
        """Stop listening and join the worker thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(ValueError):
            self._node.listeners.remove(self._on_block)
        self._queue.put(None)
        self._thread.join(timeout)

    # --- the committer thread's part ------------------------------------------------------------

    def _on_block(self, block: CommittedBlock) -> None:
        """Pick the events of a committed block the worker acts on (cheap: no state reads).
        Runs on the committer thread, which stops the node on an exception: nothing escapes."""
        cases: list[str] = []
        records: list[tuple[str, str]] = []
        try:
            for receipt in block.result.receipts:
                for event in receipt.events:
                    kind = event.get("type")
                    if kind in CASE_EVENTS:
                        cases.append(str(event["data"]["case"]))
                    elif kind in DATA_EVENTS:
                        data = event["data"]
                        records.append((str(data["resource"]), str(data["record"])))
        except (KeyError, TypeError, AttributeError):
            log.warning("block %d has a malformed case or record event", block.header.header.height)
        if cases or records:
            self._queue.put(_Changes(tuple(cases), tuple(records)))

    # --- the worker thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            items: list[_Changes | None] = []
            with contextlib.suppress(queue.Empty):
                items.append(self._queue.get(timeout=self._sleep_s()))
            with contextlib.suppress(queue.Empty):
                while True:
                    items.append(self._queue.get_nowait())
            if None in items or self._closed:
                return
            try:
                if self._work([i for i in items if i is not None]):
                    self._failures = 0
            except GovchainError as exc:
                if not self._closed:
                    self._retry_later(exc.code)
            except Exception:  # the worker must outlive a bug in one batch
                if not self._closed:  # (a store closed under it at shutdown is no bug)
                    log.exception("case work failed")
                    self._retry_later("internal")

    def _sleep_s(self) -> float | None:
        waits: list[float] = []
        if self._notices:
            waits.append((self._notices[0][0] - self._clock()) / 1000)
        if self._rescan_at is not None:
            waits.append(self._rescan_at - time.monotonic())
        if not waits:
            return None  # nothing is due: sleep until a block arrives
        return min(MAX_SLEEP_S, max(0.0, min(waits)))

    def _retry_later(self, code: str) -> None:
        self.stats.last_error = code
        self._failures += 1
        if self._failures > RESCAN_RETRIES:
            log.error(
                "case work failed %d times (%s): waiting for new blocks", self._failures, code
            )
            self._rescan_at = None
            return
        pause = float(2 ** (self._failures - 1))
        log.warning("case work failed (%s): scanning the queues again in %.0f s", code, pause)
        self._rescan_at = time.monotonic() + pause

    def _work(self, items: Sequence[_Changes]) -> bool:
        """Do what ``items`` and the clock ask for; return whether anything was done."""
        cases: set[str] = set()
        records: list[tuple[str, str]] = []
        scan = False
        for item in items:
            cases.update(item.cases)
            records.extend(item.records)
            scan = scan or item.scan
        if self._rescan_at is not None and time.monotonic() >= self._rescan_at:
            self._rescan_at = None
            scan = True
        if scan:
            cases |= self._scan_queues()
        forced: set[StepKey] = set()
        for resource, record in records:
            entry = self._json(sharing_layout.record_key(resource, record))
            if entry is None:
                continue
            for key in self._watch.get((resource, entry["subject_ref"]), ()):
                forced.add(key)
                cases.add(key[0])
        checks = [t for number in sorted(cases) for t in self._plan(number, forced, scan)]
        notices = self._due_notices()
        if checks:
            self._answer(checks)
        if notices:
            self._end_notices(notices)
        return bool(checks or notices or scan)

    # --- reading the ledger ----------------------------------------------------------------------

    def _json(self, key: bytes) -> Any:
        raw = self._port.read_state(key)
        return None if raw is None else orjson.loads(raw)

    def _scan_queues(self) -> set[str]:
        """Return the cases with an open or blocked check or notice of a served department."""
        found: set[str] = set()
        for dept in sorted(self.departments):
            prefix = layout.queue_prefix(dept)
            for key, raw in self._port.scan_state(prefix):
                if orjson.loads(raw).get("kind") in ("check", "notice"):
                    found.add(key[len(prefix) :].decode().split("/")[1])
        return found

    def _definition(self, code: str, version: int) -> ServiceDefinition | None:
        known = (code, version)
        if known not in self._definitions:
            obj = self._json(layout.version_key(code, version))
            found = None
            try:
                # Checked when it was published; its departments are not checked again.
                found = None if obj is None else parse_definition(obj, departments_in(obj))
            except GovchainError as exc:  # its cases are left to people
                log.error("service %s version %d cannot be read (%s)", code, version, exc.code)
            self._definitions[known] = found
        return self._definitions[known]

    def _plan(self, number: str, forced: set[StepKey], scan: bool) -> list[_CheckTask]:
        """Read a case: keep the watches and notice deadlines of its served steps up to date;
        return the checks to ask now (open ones, blocked ones whose data changed)."""
        doc = self._json(layout.case_key(number))
        defn = None if doc is None else self._definition(doc["service"], doc["version"])
        if doc is None or defn is None:
            return []
        live = doc["status"] == "accepted"
        subject = doc["subject"] or doc["applicant"]
        out: list[_CheckTask] = self._held_materials(number, doc, defn, forced)
        for d, st in zip(defn.steps, doc["steps"], strict=True):
            key = (number, d.id)
            if d.dept not in self.departments:
                continue
            if d.kind == "check" and d.check is not None:
                if not live or st["status"] not in ("open", "blocked"):
                    self._unwatch(key)
                    continue
                ref = self._sharing.subject_ref(subject)
                self._watch_step(key, d.check.resource, ref)
                if key in self._in_flight:
                    continue
                if (
                    st["status"] == "open"
                    or key in forced
                    or (scan and self._changed_since(d.check.resource, ref, subject, st))
                ):
                    out.append(_CheckTask(number, d.id, d.dept, subject, d.check))
            elif d.kind == "notice":
                if live and st["status"] == "open":
                    self._schedule(key, st["deadline_ms"], d.dept)
                else:
                    self._notice_due.pop(key, None)
                    self._notice_tries.pop(key, None)
        return out

    def _held_materials(
        self, number: str, doc: Mapping[str, Any], defn: ServiceDefinition, forced: set[StepKey]
    ) -> list[_CheckTask]:
        """Materials a served department holds that the applicant consented to have answered:
        the holder attests them once, and again when its records about the subject change
        after a ``no`` (enterprise subjects only: a citizen's records are filed under an
        identity number this worker does not see)."""
        live = doc["status"] in ("submitted", "accepted", "supplement_requested")
        fetched = doc.get("fetched", {})
        out = []
        for m in defn.materials:
            key = (number, m.id)
            if m.held_by not in self.departments or m.via != "attestation":
                continue
            if not live or not doc["subject"] or m.id not in doc["consents"]:
                self._unwatch(key)
                continue
            answered = fetched.get(m.id)
            if answered is not None and answered["answer"]:
                self._unwatch(key)
                continue
            self._watch_step(key, m.resource, self._sharing.subject_ref(doc["subject"]))
            if key in self._in_flight or (answered is not None and key not in forced):
                continue
            check = Check(m.resource, m.predicate, m.statement, {})
            out.append(_CheckTask(number, m.id, m.held_by, doc["subject"], check, True))
        return out

    def _changed_since(
        self, resource: str, ref: str, subject: str, step: Mapping[str, Any]
    ) -> bool:
        """Whether a record of ``resource`` about the subject was published or erased since the
        step's last attestation was issued (a change the worker may have missed while down)."""
        try:
            since = self._sharing.attestation(step["attestation"], subject)["issued_ms"]
        except GovchainError:  # not found: ask again
            return True
        for rid in self._sharing.vault.records_of(resource, ref):
            entry = self._json(sharing_layout.record_key(resource, rid))
            if entry is None:
                continue  # stored here, never committed
            erased = entry["erased"]
            if entry["published_ms"] >= since or (erased and erased["erased_ms"] >= since):
                return True
        return False

    def _watch_step(self, key: StepKey, resource: str, ref: str) -> None:
        on = (resource, ref)
        if self._watched.get(key) != on:
            self._unwatch(key)
            self._watched[key] = on
            self._watch.setdefault(on, set()).add(key)

    def _unwatch(self, key: StepKey) -> None:
        on = self._watched.pop(key, None)
        if on is not None:
            keys = self._watch[on]
            keys.discard(key)
            if not keys:
                del self._watch[on]

    def _schedule(self, key: StepKey, deadline_ms: int, dept: DeptId) -> None:
        if self._notice_due.get(key) != (deadline_ms, dept):
            self._notice_due[key] = (deadline_ms, dept)
            heapq.heappush(self._notices, (deadline_ms, *key))

    def _due_notices(self) -> list[tuple[StepKey, DeptId]]:
        now = self._clock()
        out: list[tuple[StepKey, DeptId]] = []
        while self._notices and self._notices[0][0] <= now:
            deadline, number, step = heapq.heappop(self._notices)
            key = (number, step)
            due = self._notice_due.get(key)
            if due is None or due[0] != deadline:
                continue  # superseded or ended
            del self._notice_due[key]
            out.append((key, due[1]))
        return out

    # --- acting ------------------------------------------------------------------------------

    def _request(self, task: _CheckTask) -> dict[str, Any]:
        cred = self._sharing.signer.local(task.dept)
        suite = self._port.suite
        return build_request(
            chain=self._port.chain_id,
            kind="attest",
            signer=cred.member,
            actor=cred.member,
            args={
                "resource": task.check.resource,
                "subject": task.subject,
                "predicate": dict(task.check.predicate),
                "statement": task.check.statement,
            },
            time_ms=self._port.now_ms(),  # the clock the service checks requests against
            sign=lambda m: suite.sign(cred.member_private, m),
            case=task.case,
            purpose=PURPOSE,
        ).envelope()

    def _attest(self, requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Attest all at once; if the batch is refused (one bad request refuses it), one by
        one, so a single broken check does not hold the others back."""
        try:
            return self._sharing.attest(requests)
        except (Unavailable, IntegrityError):
            raise  # the node's trouble, not the requests': try again later
        except GovchainError as exc:
            if len(requests) == 1:
                return [{"error": {"code": exc.code}}]
        return [self._attest([r])[0] for r in requests]

    def _answer(self, tasks: Sequence[_CheckTask]) -> None:
        keys = [(t.case, t.step) for t in tasks]
        self._in_flight.update(keys)
        try:
            results = self._attest([self._request(t) for t in tasks])
            calls: list[NodeCall] = []
            answered: list[tuple[_CheckTask, bool]] = []
            for t, r in zip(tasks, results, strict=True):
                if "answer" not in r:
                    self.stats.refused += 1
                    code = (r.get("error") or {}).get("code")
                    log.warning("case %s step %s: attestation refused (%s)", t.case, t.step, code)
                    continue
                args = {
                    "case": t.case,
                    "material" if t.material else "step": t.step,
                    "attestation": r["id"],
                    "answer": r["answer"],
                    "role": "system",
                }
                calls.append(self._call(t.dept, "attach" if t.material else "answer_check", args))
                answered.append((t, bool(r["answer"])))
            refused = set(self._commit(calls, [(t.case, t.step) for t, _ in answered], "answer"))
            for t, yes in answered:
                if (t.case, t.step) in refused:
                    continue
                log.debug("case %s step %s: answered %s", t.case, t.step, "yes" if yes else "no")
                if yes:
                    self.stats.answered_yes += 1
                else:
                    self.stats.answered_no += 1
            if answered:
                log.info(
                    "answered %d checks (%d refused)", len(answered) - len(refused), len(refused)
                )
        finally:
            self._in_flight.difference_update(keys)

    def _end_notices(self, notices: Sequence[tuple[StepKey, DeptId]]) -> None:
        keys = [key for key, _ in notices]
        self._in_flight.update(keys)
        try:
            calls = []
            for (number, step), dept in notices:
                args = {"case": number, "step": step, "role": "system"}
                calls.append(self._call(dept, "end_notice", args))
            refused = self._commit(calls, keys, "end_notice")
        finally:
            self._in_flight.difference_update(keys)
        self.stats.notices_ended += len(keys) - len(refused)
        log.info("ended %d notice periods (%d refused)", len(keys) - len(refused), len(refused))
        for number, step in keys:
            if (number, step) not in refused:
                log.debug("case %s step %s: notice ended", number, step)
        by_key = dict(notices)
        for key in refused:
            self._retry_notice(key, by_key[key])
        for key in keys:
            if key not in refused:
                self._notice_tries.pop(key, None)

    def _retry_notice(self, key: StepKey, dept: DeptId) -> None:
        """Try a refused ``end_notice`` again a second later while the step is still open."""
        number, step = key
        doc = self._json(layout.case_key(number))
        still_open = (
            doc is not None
            and doc["status"] == "accepted"
            and any(s["id"] == step and s["status"] == "open" for s in doc["steps"])
        )
        tries = self._notice_tries.get(key, 0) + 1
        if not still_open or tries > NOTICE_RETRIES:
            self._notice_tries.pop(key, None)
            return
        self._notice_tries[key] = tries
        self._schedule(key, self._clock() + 1000, dept)

    def _call(self, dept: DeptId, method: str, args: dict[str, Any]) -> NodeCall:
        """A ``cases`` call by the department's node, as its sharing member (role system)."""
        signer = self._sharing.signer
        member = signer.local(dept).member
        return signer.call(
            dept, "cases", method, args, actor=member, case=args["case"], purpose=PURPOSE
        )

    def _commit(
        self, calls: Sequence[NodeCall], keys: Sequence[StepKey], what: str
    ) -> list[StepKey]:
        """Sign and commit the calls (one submission); return the keys of those refused."""
        if not calls:
            return []
        refused: list[StepKey] = []
        for key, (_, receipt) in zip(keys, self._sharing.signer.commit(calls), strict=True):
            if receipt["status"] != "ok":
                refused.append(key)
                self.stats.refused += 1
                code = (receipt.get("error") or {}).get("code")
                log.debug("case %s step %s: %s refused (%s)", key[0], key[1], what, code)
        return refused


def start_casework(
    node: Node,
    sharing: SharingService,
    network_dir: Path | str,
    clock_ms: Callable[[], int] | None = None,
) -> CaseWorker:
    """Start the case worker of a node (closed with the node)."""
    worker = CaseWorker(node, sharing, network_dir, clock_ms)
    node.before_close.append(worker.close)
    return worker
