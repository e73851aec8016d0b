"""The index's own tables: blocks, transactions and the case engine's cases.

``blocks`` and ``txs`` come from every block; ``cases`` is the built-in extractor of the
``cases`` system contract (one row per successful submission or transition, carrying the case's
state after it), which decision support reads. Services add their tables with extractors
(``extract.discover_extractors``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from govchain.analytics.extract import Extractor, TxFacts
from govchain.ledger.encoding import canonical_unchecked
from govchain.procedures.engine import TRANSITIONS

SCHEMA_VERSION = 2
"""Version of the index's own tables; a different one means the index is rebuilt."""

BLOCKS_DDL = """CREATE TABLE blocks (
    height BIGINT NOT NULL,
    hash VARCHAR NOT NULL,
    time_ms BIGINT NOT NULL,
    tx_count INTEGER NOT NULL
)"""
TXS_DDL = """CREATE TABLE txs (
    height BIGINT NOT NULL,
    position INTEGER NOT NULL,
    tx_id VARCHAR NOT NULL,
    contract VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    sender VARCHAR NOT NULL,
    department VARCHAR NOT NULL,
    time_ms BIGINT NOT NULL,
    ok BOOLEAN NOT NULL
)"""
CASES_DDL = """CREATE TABLE cases (
    height BIGINT NOT NULL,
    position INTEGER NOT NULL,
    case_no VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    event VARCHAR NOT NULL,
    service VARCHAR NOT NULL,
    department VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    submitted_ms BIGINT NOT NULL,
    decided_ms BIGINT NOT NULL,
    deadline_ms BIGINT NOT NULL,
    time_ms BIGINT NOT NULL
)"""
CASE_DAYS_DDL = """CREATE TABLE case_days (
    department VARCHAR NOT NULL,
    service VARCHAR NOT NULL,
    day INTEGER NOT NULL,
    month VARCHAR NOT NULL,
    opened BIGINT NOT NULL,
    decided BIGINT NOT NULL,
    approved BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    took_ms BIGINT NOT NULL,
    decided_late BIGINT NOT NULL,
    PRIMARY KEY (department, service, day)
)"""
"""Derived from ``cases``: per department, service and day (UTC+8) the cases opened and decided,
their total processing time and those decided late. Dashboards read it instead of scanning
every case row."""
OPEN_CASES_DDL = """CREATE TABLE open_cases (
    case_no VARCHAR PRIMARY KEY,
    department VARCHAR NOT NULL,
    service VARCHAR NOT NULL,
    deadline_ms BIGINT NOT NULL
)"""
"""Derived from ``cases``: the cases not ended (decided, withdrawn, expired or closed) at the
last indexed block, with their latest time limit."""
DERIVED_DDL = (CASE_DAYS_DDL, OPEN_CASES_DDL)
"""Tables kept from ``cases`` as blocks are indexed (compared with a recomputation by
``verify``)."""
DAY_EXPR = "CAST((time_ms + 28800000) // 86400000 AS INTEGER)"
"""A row's day number (days since 1970-01-01 in UTC+8)."""
CASE_DAYS_OF = f"""
SELECT
    department, service, {DAY_EXPR} AS day,
    strftime(epoch_ms(time_ms + 28800000), '%Y-%m') AS month,
    count(*) FILTER (WHERE kind = 'opened'),
    count(*) FILTER (WHERE kind = 'decided'),
    count(*) FILTER (WHERE kind = 'decided' AND outcome = 'approved'),
    count(*) FILTER (WHERE kind = 'decided' AND outcome = 'rejected'),
    coalesce(sum(decided_ms - submitted_ms) FILTER (WHERE kind = 'decided'), 0),
    count(*) FILTER (WHERE kind = 'decided' AND deadline_ms > 0 AND decided_ms > deadline_ms)
FROM cases
WHERE height BETWEEN ? AND ?
GROUP BY department, service, day, month
"""
"""``case_days`` rows of the ``cases`` rows of heights ``?..?``."""
UPDATE_CASE_DAYS = f"""
INSERT INTO case_days {CASE_DAYS_OF}
ON CONFLICT (department, service, day) DO UPDATE SET
    opened = case_days.opened + excluded.opened,
    decided = case_days.decided + excluded.decided,
    approved = case_days.approved + excluded.approved,
    rejected = case_days.rejected + excluded.rejected,
    took_ms = case_days.took_ms + excluded.took_ms,
    decided_late = case_days.decided_late + excluded.decided_late
"""
"""Add the ``cases`` rows of heights ``?..?`` to ``case_days``."""
_LAST = "height * 1000000 + position"
LATEST_CASES = f"""
SELECT
    case_no,
    arg_max(department, {_LAST}) AS department,
    arg_max(service, {_LAST}) AS service,
    arg_max(deadline_ms, {_LAST}) AS deadline_ms,
    arg_max(outcome <> '' OR status IN ('withdrawn', 'closed'), {_LAST}) AS ended
FROM cases
WHERE height BETWEEN ? AND ?
GROUP BY case_no
"""
"""Each case's state after its last row among heights ``?..?``."""
UPDATE_OPEN_CASES = (
    f"INSERT OR REPLACE INTO open_cases SELECT case_no, department, service, deadline_ms "
    f"FROM ({LATEST_CASES}) WHERE NOT ended",
    f"DELETE FROM open_cases WHERE case_no IN (SELECT case_no FROM ({LATEST_CASES}) WHERE ended)",
)
"""Bring ``open_cases`` up to date with the ``cases`` rows of heights ``?..?``."""
META_DDL = "CREATE TABLE index_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)"
"""Chain id, genesis hash and schema fingerprint the index was built for."""

DECIDED_EVENTS = frozenset({"approved", "rejected"})
"""Case history events that are a decision."""


def case_rows(facts: TxFacts) -> Iterable[tuple[Any, ...]]:
    """One ``cases`` row: the case as the transaction left it.

    ``kind`` is ``opened`` (submission), ``decided`` (approval or rejection) or ``transition``;
    ``department`` is the handling department (the one whose node signed the submission, the
    first entry of the case's history); ``deadline_ms`` is the latest time limit among the
    case's steps (0 while none has opened)."""
    doc = facts.result
    if type(doc) is not dict or "history" not in doc or not doc["history"]:
        return ()
    history = doc["history"]
    last = history[-1]["event"]
    if facts.method == "submit":
        kind = "opened"
    elif last in DECIDED_EVENTS:
        kind = "decided"
    else:
        kind = "transition"
    deadline = max((int(s["deadline_ms"]) for s in doc["steps"]), default=0)
    return (
        (
            facts.height,
            facts.position,
            doc["number"],
            kind,
            last,
            doc["service"],
            history[0]["dept"],
            doc["status"],
            doc["outcome"],
            doc["submitted_ms"],
            doc["decided_ms"],
            deadline,
            facts.time_ms,
        ),
    )


CASES = Extractor(
    table="cases",
    ddl=CASES_DDL,
    contract="cases",
    methods=frozenset({"submit", *TRANSITIONS}),
    rows=case_rows,
)
"""The built-in extractor of the case engine's contract."""

BUILTIN_DDL = (BLOCKS_DDL, TXS_DDL)
"""Tables filled from every block (not by an extractor)."""


def fingerprint(extractors: Sequence[Extractor]) -> str:
    """Return what identifies the index's layout: schema version and every table's DDL. An
    index built under another fingerprint is rebuilt, not extended."""
    doc = {
        "v": SCHEMA_VERSION,
        "tables": [" ".join(d.split()) for d in (*BUILTIN_DDL, *DERIVED_DDL)]
        + [
            f"{e.contract}:{','.join(sorted(e.methods))}:{' '.join(e.ddl.split())}"
            for e in extractors
        ],
    }
    return canonical_unchecked(doc).decode()
