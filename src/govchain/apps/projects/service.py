"""Service functions of duplication review (项目重复性审查), below the HTTP layer: the registry
as the node has committed it, the review of an application over it, and the calls a node signs
for a staff member with their department's key (the case desk's signing and committing).

Reads come from the node's committed state. The registry is read once per change of it (a
block with a ``projects`` event) and the ``Reviewer`` is built over it once per such change:
building costs far more than a review, which must stay well under half a second against
10,000 entries. Every write is checked first with the contract's own functions, so bad input
is refused with a typed error before anything is signed (the contract checks again when the
block runs).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from govchain.apps.projects.contract import (
    MAX_CANDIDATES,
    MAX_PAGE,
    STATUSES,
    decision_problem,
    department_problem,
    id_problem,
)
from govchain.apps.projects.imports import (
    FORMATS,
    ImportReport,
    LineProblem,
    chunks,
    parse_file,
    refuse,
)
from govchain.apps.projects.records import FIELDS, validate_entry
from govchain.apps.projects.review import Reviewer
from govchain.errors import (
    Conflict,
    Forbidden,
    GovchainError,
    NotFound,
    SchemaViolation,
    TooLarge,
)
from govchain.ledger.chain import CommittedBlock
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.transactions import Transaction
from govchain.node.casedesk import CaseDesk
from govchain.node.node import Node

CONTRACT = "projects"
"""Name the registry contract is committed under."""
ENTRY_PREFIX = b"c/projects/e/"
"""State key prefix of the entries."""
DECISION_PREFIX = b"c/projects/d/"
"""State key prefix of the decisions."""
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
"""Largest file imported at once."""
TX_MARGIN_BYTES = 2048
"""Room a transaction needs besides its arguments (signature, signer, actor, nonce ...)."""
MAX_HISTORY = 100
"""Most versions of an entry shown."""
DEFAULT_TIMEOUT_S = 30.0
"""How long a write waits for its block when the settings say nothing."""


@dataclass(frozen=True, slots=True)
class Registry:
    """The registry as committed at one point."""

    revision: int
    """Count of registry changes this desk has seen when it was read."""
    height: int
    """Ledger height when it was read."""
    entries: tuple[dict[str, Any], ...]
    """Every entry's current version, in id order."""
    ids: tuple[str, ...]
    """Their ids, in the same order."""
    by_id: Mapping[str, dict[str, Any]]
    """Entry by id."""
    texts: dict[str, str] = field(default_factory=dict)
    """Lower-cased searchable text by id (filled on the first search)."""


_REFUSALS: dict[str, tuple[type[GovchainError], str]] = {
    "self_review": (Forbidden, "application"),
    "not_pending": (Conflict, "application"),
    "no_target": (NotFound, "target"),
    "bad_recommendation": (SchemaViolation, "recommendation"),
    "bad_target": (SchemaViolation, "target"),
    "bad_reason": (SchemaViolation, "reason"),
}
"""The error a decision the contract would refuse is answered with, and its field."""


def search_text(entry: Mapping[str, Any]) -> str:
    """Return what a search looks in: ids, names, purpose, functions, resources, users."""
    parts = [str(entry.get(k, "")) for k in ("id", "name", "department", "department_name")]
    parts += [str(entry.get("purpose", "")), str(entry.get("platform", ""))]
    for key in ("functions", "uses", "produces", "users"):
        parts += [str(v) for v in entry.get(key, [])]
    return "\n".join(parts).casefold()


class ProjectDesk:
    """Reads the registry and signs registry and decision calls for staff."""

    def __init__(self, node: Node, casedesk: CaseDesk, timeout_s: float = DEFAULT_TIMEOUT_S):
        self.node = node
        self.casedesk = casedesk
        self.timeout_s = timeout_s
        self._revision = 0
        self._registry: Registry | None = None
        self._reviewer: tuple[int, Reviewer] | None = None
        self._merges: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._review_lock = threading.Lock()
        node.listeners.append(self._on_block)

    def _on_block(self, block: CommittedBlock) -> None:
        """Committer thread: note a block that changed the registry (or its contract)."""
        for receipt in block.result.receipts:
            for event in receipt.events:
                kind = str(event.get("type", ""))
                data = event.get("data")
                if kind.startswith(CONTRACT + ".") or (
                    kind.startswith("lifecycle.")
                    and isinstance(data, dict)
                    and data.get("name") == CONTRACT
                ):
                    self._revision += 1
                    return

    # --- reads ------------------------------------------------------------------------------

    def registry(self) -> Registry:
        """Return the committed registry (read again only after a block changed it)."""
        with self._lock:
            revision = self._revision
            if self._registry is None or self._registry.revision != revision:
                height = self.node.ledger.height
                entries = tuple(
                    orjson.loads(vv.value)
                    for _, vv in self.node.ledger.state.iter_range(ENTRY_PREFIX)
                    if vv.value is not None
                )
                ids = tuple(str(e["id"]) for e in entries)
                self._registry = Registry(
                    revision, height, entries, ids, dict(zip(ids, entries, strict=True))
                )
            return self._registry

    def entry(self, entry_id: str) -> dict[str, Any]:
        """Return an entry's current version (``NotFound`` if there is none)."""
        found = self._read(ENTRY_PREFIX, entry_id)
        if found is None:
            raise NotFound(f"there is no entry {entry_id!r}", id=entry_id)
        return found

    def _read(self, prefix: bytes, entry_id: str) -> dict[str, Any] | None:
        if id_problem(entry_id):
            return None
        raw = self.node.ledger.state.get_value(prefix + entry_id.encode())
        return None if raw is None else dict(orjson.loads(raw))

    def history(self, entry_id: str) -> list[dict[str, Any]]:
        """Return an entry's versions, oldest first (at most ``MAX_HISTORY``), each with the
        block and transaction that wrote it; each version's ``previous_tx`` names the one
        before."""
        self.entry(entry_id)
        versions = self.node.ledger.state.history(ENTRY_PREFIX + entry_id.encode(), MAX_HISTORY)
        out = []
        for vv in reversed(versions):
            if vv.value is None:
                continue
            record = orjson.loads(vv.value)
            out.append(
                {
                    "version": record["version"],
                    "height": vv.height,
                    "tx_id": vv.tx_id.hex(),
                    "previous_tx": record["previous_tx"],
                    "change": record["change"],
                    "status": record["status"],
                    "record": record,
                }
            )
        return out

    def decision(self, application: str) -> dict[str, Any]:
        """Return the decision on an application (``NotFound`` if it is not decided)."""
        found = self._read(DECISION_PREFIX, application)
        if found is None:
            self.entry(application)
            raise NotFound(f"{application} has no decision yet", id=application)
        return found

    def entries(
        self,
        *,
        status: str = "",
        department: str = "",
        query: str = "",
        after: str = "",
        limit: int = 100,
    ) -> dict[str, Any]:
        """Return a page of entries in id order after ``after``: of ``status`` and
        ``department`` if given, and whose text holds every word of ``query``; ``next`` is the
        ``after`` of the next page (null on the last), ``total`` how many match."""
        if status and status not in STATUSES:
            raise SchemaViolation(f"status must be one of {', '.join(STATUSES)}", field="status")
        if department and department_problem(department):
            raise SchemaViolation(
                f"department {department_problem(department)}", field="department"
            )
        if not 1 <= limit <= MAX_PAGE:
            raise SchemaViolation(f"limit must be 1 to {MAX_PAGE}", field="limit")
        reg = self.registry()
        words = query.casefold().split()
        if words and not reg.texts:
            with self._lock:
                if not reg.texts:
                    reg.texts.update((e["id"], search_text(e)) for e in reg.entries)
        matched = [
            e
            for e in reg.entries
            if (not status or e["status"] == status)
            and (not department or e["department"] == department)
            and all(w in reg.texts[e["id"]] for w in words)
        ]
        start = bisect.bisect_right([e["id"] for e in matched], after) if after else 0
        page = matched[start : start + limit]
        more = start + limit < len(matched)
        return {
            "entries": page,
            "next": page[-1]["id"] if more and page else None,
            "total": len(matched),
            "height": reg.height,
        }

    def reviewer(self) -> tuple[Registry, Reviewer]:
        """Return the committed registry and the reviewer built over it."""
        reg = self.registry()
        with self._review_lock:
            if self._reviewer is None or self._reviewer[0] != reg.revision:
                self._reviewer = (reg.revision, Reviewer(reg.entries))
            return reg, self._reviewer[1]

    def review(self, application: str, k: int = MAX_CANDIDATES) -> dict[str, Any]:
        """Return the review of a registered application against the committed registry (the
        review's JSON form, with the ``height`` it was made at)."""
        if not 1 <= k <= MAX_CANDIDATES:
            raise SchemaViolation(f"k must be 1 to {MAX_CANDIDATES}", field="k")
        reg, reviewer = self.reviewer()
        found = reg.by_id.get(application)
        if found is None:
            raise NotFound(f"there is no entry {application!r}", id=application)
        doc: dict[str, Any] = reviewer.review(found, k).to_json()
        return {**doc, "height": reg.height}

    def merge_candidates(self, min_score: int = 0) -> dict[str, Any]:
        """Return the pairs of pending applications that ask for the same or overlapping
        things (a score of at least ``min_score`` per mille; 0: the reviewer's threshold)."""
        if not 0 <= min_score <= 1000:
            raise SchemaViolation("min_score must be 0 to 1000", field="min_score")
        reg, reviewer = self.reviewer()
        key = (reg.revision, min_score)
        pairs = self._merges.get(key)
        if pairs is None:
            pairs = []
            for pair in reviewer.merge_candidates(None, min_score):
                doc = pair.to_json()
                for side in ("first", "second"):
                    e = reg.by_id.get(doc[side], {})
                    doc[side + "_name"] = e.get("name", "")
                    doc[side + "_department"] = e.get("department", "")
                pairs.append(doc)
            self._merges = {key: pairs}
        return {"pairs": pairs, "count": len(pairs), "height": reg.height}

    # --- writes -----------------------------------------------------------------------------

    def _max_args_bytes(self) -> int:
        return self.node.genesis.params.max_tx_bytes - TX_MARGIN_BYTES

    def _commit(self, tx: Transaction) -> dict[str, Any]:
        result = self.casedesk.commit_one(tx, self.timeout_s)
        return {"tx_id": tx.tx_id.hex(), "height": result.get("height"), "result": result}

    def register(self, dept: str, actor: str, obj: Any) -> dict[str, Any]:
        """Register one entry for ``dept`` (its keeper), ``actor`` acting."""
        entry = validate_entry(obj)
        if self._read(ENTRY_PREFIX, entry["id"]) is not None:
            raise Conflict(f"{entry['id']} is already registered", id=entry["id"])
        size = len(canonical_unchecked(entry))
        if size > self._max_args_bytes():
            raise TooLarge(
                f"the entry is {size} bytes; a transaction holds {self._max_args_bytes()}",
                size=size,
            )
        tx = self.casedesk.sign(dept, CONTRACT, "register", {"entry": entry}, actor)
        return self._commit(tx)

    def import_file(
        self, dept: str, actor: str, data: bytes, media_type: str, *, dry_run: bool = False
    ) -> ImportReport:
        """Import every entry of a file for ``dept``, or nothing: the file is checked whole
        (every problem listed, with ids already registered) before anything is signed; its
        entries then go in as few ``register_many`` calls as the transaction size allows."""
        if len(data) > MAX_UPLOAD_BYTES:
            raise TooLarge(f"the file is {len(data)} bytes; the limit is {MAX_UPLOAD_BYTES}")
        rows = parse_file(data, media_type)
        taken = [
            LineProblem(row.line, "id", f"{row.entry['id']} is already registered")
            for row in rows
            if self._read(ENTRY_PREFIX, row.entry["id"]) is not None
        ]
        if taken:
            raise refuse(taken)
        batches = chunks(rows, self._max_args_bytes())
        by_status: dict[str, int] = {}
        for row in rows:
            by_status[row.entry["status"]] = by_status.get(row.entry["status"], 0) + 1
        report = ImportReport(FORMATS[media_type], len(rows), by_status, dry_run, [])
        if dry_run:
            return report
        purpose = f"registry import ({len(rows)} entries)"
        txs = [
            self.casedesk.sign(
                dept,
                CONTRACT,
                "register_many",
                {"entries": [r.entry for r in batch]},
                actor,
                purpose=purpose,
            )
            for batch in batches
        ]
        outcomes = self.casedesk.commit(txs, self.timeout_s)
        done, failed = [], []
        for tx, batch, outcome in zip(txs, batches, outcomes, strict=True):
            if isinstance(outcome, GovchainError):
                failed.append({"tx_id": tx.tx_id.hex(), "error": outcome.message})
                continue
            done.append(
                {
                    "tx_id": tx.tx_id.hex(),
                    "count": len(batch),
                    "first": batch[0].entry["id"],
                    "last": batch[-1].entry["id"],
                    "height": outcome.get("height"),
                }
            )
        if failed:
            # The registry changed between the check and the block: say what did go in.
            raise Conflict(
                f"{len(failed)} of {len(txs)} transaction(s) of the import were refused: "
                f"{failed[0]['error']}",
                committed=done,
                refused=failed,
            )
        return ImportReport(report.format, report.count, by_status, False, done)

    def update(self, dept: str, actor: str, entry_id: str, changes: Any) -> dict[str, Any]:
        """Change fields of an entry kept by ``dept``."""
        old = self._keeper_copy(dept, entry_id)
        if not isinstance(changes, dict) or not changes:
            raise SchemaViolation("changes must be an object of fields", field="changes")
        merged = {**{k: old[k] for k in FIELDS}, **changes}
        validate_entry(merged, STATUSES)
        args = {"entry_id": entry_id, "changes": changes}
        return self._commit(self.casedesk.sign(dept, CONTRACT, "update", args, actor))

    def retire(self, dept: str, actor: str, entry_id: str, reason: str) -> dict[str, Any]:
        """Retire a system or project kept by ``dept``."""
        self._keeper_copy(dept, entry_id)
        args = {"entry_id": entry_id, "reason": reason}
        return self._commit(self.casedesk.sign(dept, CONTRACT, "retire", args, actor))

    def _keeper_copy(self, dept: str, entry_id: str) -> dict[str, Any]:
        old = self.entry(entry_id)
        if old["keeper"] != dept:
            raise Forbidden(f"only department {old['keeper']} changes {entry_id}", id=entry_id)
        return old

    def decide(
        self,
        dept: str,
        actor: str,
        application: str,
        recommendation: str,
        target: str | None,
        reason: str,
    ) -> dict[str, Any]:
        """Record ``dept``'s decision on a pending application, with the review of it against
        the committed registry as its evidence (the node computes it: the reviewer cannot
        bring their own)."""
        found = self.entry(application)
        target_entry = self._read(ENTRY_PREFIX, target) if target else None
        evidence = self.review(application)
        evidence.pop("height")
        code, message = decision_problem(
            found, dept, recommendation, target_entry, target, reason, evidence
        )
        if code:
            kind, field_name = _REFUSALS.get(code, (GovchainError, ""))
            raise kind(message, field=field_name)
        args = {
            "application": application,
            "recommendation": recommendation,
            "target": target,
            "reason": reason,
            "evidence": evidence,
        }
        doc = self._commit(self.casedesk.sign(dept, CONTRACT, "decide", args, actor))
        doc["decision"] = self.decision(application)
        return doc


_DESK_LOCK = threading.Lock()


def desk_for(app_state: Any) -> ProjectDesk:
    """Return the duplication review desk of an API application's state (``node`` and
    ``casedesk``; made on first use and kept there as ``projects``)."""
    desk: ProjectDesk | None = getattr(app_state, "projects", None)
    if desk is None:
        with _DESK_LOCK:
            desk = getattr(app_state, "projects", None)
            if desk is None:
                settings = getattr(app_state, "settings", None)
                timeout = getattr(settings, "wait_timeout_s", DEFAULT_TIMEOUT_S)
                desk = ProjectDesk(app_state.node, app_state.casedesk, float(timeout))
                app_state.projects = desk
    return desk
