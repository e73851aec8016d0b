"""What the analytics index reads from a committed block: one ``TxFacts`` per transaction, and
the extractors that turn facts into rows of their own tables.

A service declares extractors in ``govchain.apps.<name>.index`` as ``EXTRACTORS`` (a sequence of
``Extractor``); ``discover_extractors`` collects them. An extractor's ``rows`` is a pure function
of one successful transaction's facts: the index calls it for every committed ``ok``
transaction of its contract whose method it names, in commit order, and again, identically,
when the index is rebuilt or verified.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from govchain.errors import SchemaViolation
from govchain.ledger.chain import CommittedBlock
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.receipts import STATUS_OK
from govchain.sdk.app import discover_apps

_TABLE = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")
RESERVED_TABLES = frozenset({"blocks", "txs", "cases", "index_meta"})
"""Tables of the index itself; an extractor may not use these names."""


@dataclass(frozen=True, slots=True)
class TxFacts:
    """One committed transaction as the index sees it."""

    height: int
    """Block height."""
    position: int
    """Index of the transaction inside its block."""
    tx_id: str
    """Transaction id (hex)."""
    time_ms: int
    """Block time (milliseconds since the Unix epoch)."""
    contract: str
    """Contract called."""
    method: str
    """Method called."""
    sender: str
    """Member that signed the transaction (``<dept>/<name>``)."""
    department: str
    """Department of the signing member."""
    args: dict[str, Any]
    """Arguments of the call."""
    ok: bool
    """Whether the call succeeded (its writes are in the state)."""
    result: Any = None
    """Return value of the call (``None`` when it failed)."""
    events: tuple[dict[str, Any], ...] = ()
    """Events the call emitted, each ``{"type": str, "data": object}``."""
    actor: str = ""
    """Person (or service) the transaction says acted."""
    case: str = ""
    """Case number the transaction belongs to ('' if none)."""


@dataclass(frozen=True, slots=True)
class Extractor:
    """Rows of one table, drawn from one contract's transactions."""

    table: str
    """Table name (lower-case identifier, not one of ``RESERVED_TABLES``)."""
    ddl: str
    """``CREATE TABLE <table> (...)`` with a ``height BIGINT`` column."""
    contract: str
    """Contract whose transactions are read."""
    methods: frozenset[str]
    """Methods read (other methods of the contract are skipped)."""
    rows: Callable[[TxFacts], Iterable[tuple[Any, ...]]]
    """Rows of one successful transaction, in the table's column order."""


@dataclass(frozen=True, slots=True)
class LedgerBlock:
    """A committed block as the index reads it (from a commit or from the store)."""

    height: int
    """Block height."""
    hash: str
    """Block hash (hex)."""
    time_ms: int
    """Block time."""
    tx_ids: tuple[bytes, ...]
    """Transaction ids, in block order."""
    entries: tuple[bytes, ...]
    """Log entry bytes (transaction and receipt), in block order."""


def block_of(committed: CommittedBlock) -> LedgerBlock:
    """Return the index's view of a block the node just committed."""
    header = committed.header.header
    return LedgerBlock(
        height=header.height,
        hash=committed.block_hash.hex(),
        time_ms=header.timestamp_ms,
        tx_ids=tuple(committed.tx_ids),
        entries=tuple(committed.result.entries),
    )


def check_extractor(ex: Extractor) -> None:
    """Refuse an extractor whose table name or DDL cannot be an index table."""
    if not _TABLE.match(ex.table) or ex.table in RESERVED_TABLES:
        raise SchemaViolation(
            f"extractor table {ex.table!r} must be a lower-case identifier and not one of "
            f"{sorted(RESERVED_TABLES)}",
            field="table",
        )
    ddl = " ".join(ex.ddl.split()).lower()
    if not ddl.startswith(f"create table {ex.table} ("):
        raise SchemaViolation(
            f"extractor {ex.table}: ddl must start with 'CREATE TABLE {ex.table} ('", field="ddl"
        )
    if not re.search(r"[(,]\s*height\s+bigint\b", ddl):
        raise SchemaViolation(
            f"extractor {ex.table}: ddl needs a height BIGINT column", field="ddl"
        )


def discover_extractors() -> list[Extractor]:
    """Return the ``EXTRACTORS`` of every service's ``index`` module, checked, by table name
    (``SchemaViolation`` on a bad one or a table declared twice)."""
    found: dict[str, Extractor] = {}
    for app in discover_apps():
        module = app.module("index")
        if module is None:
            continue
        declared = getattr(module, "EXTRACTORS", None)
        if not isinstance(declared, Sequence) or not all(
            isinstance(e, Extractor) for e in declared
        ):
            raise SchemaViolation(
                f"apps/{app.name}/index.py must declare EXTRACTORS = [Extractor(...), ...]",
                field="EXTRACTORS",
            )
        for ex in declared:
            check_extractor(ex)
            if ex.table in found:
                raise SchemaViolation(f"table {ex.table!r} is declared twice", field="table")
            found[ex.table] = ex
    return [found[t] for t in sorted(found)]


def facts_from(height: int, position: int, tx_id: bytes, time_ms: int, doc: Any) -> TxFacts:
    """Return the facts of one decoded log entry (``{"tx", "receipt", ...}``)."""
    body = doc["tx"]["body"]
    receipt = doc["receipt"]
    signer: str = body["signer"]
    return TxFacts(
        height=height,
        position=position,
        tx_id=tx_id.hex(),
        time_ms=time_ms,
        contract=body["contract"],
        method=body["method"],
        sender=signer,
        department=signer.split("/", 1)[0],
        args=body["args"],
        ok=receipt["status"] == STATUS_OK,
        result=receipt["result"],
        events=tuple(receipt["events"]),
        actor=body["actor"],
        case=body["case"],
    )


def facts_of(block: LedgerBlock) -> list[TxFacts]:
    """Return the facts of every transaction of a block, in block order."""
    loads = orjson.loads
    return [
        facts_from(block.height, position, tx_id, block.time_ms, loads(entry))
        for position, (tx_id, entry) in enumerate(zip(block.tx_ids, block.entries, strict=True))
    ]


def tx_ids_of(hash_fn: Callable[[bytes], bytes], entries: Sequence[bytes]) -> tuple[bytes, ...]:
    """Return the transaction ids of stored log entries (the hash of each canonical body)."""
    loads = orjson.loads
    return tuple(hash_fn(canonical_unchecked(loads(e)["tx"]["body"])) for e in entries)
