"""The analytics index: committed blocks, in commit order, in an embedded DuckDB database.

The index is a pure function of the committed blocks (ARCHITECTURE.md, "Analytics"): it can be
dropped and rebuilt from the ledger at any time (``rebuild``), and ``verify`` compares it with
what the ledger gives, height by height. It holds the generic tables ``blocks`` and ``txs``, the
case engine's ``cases`` and every service extractor's table (``extract``); each is filled in one
DuckDB transaction per batch of blocks, from column arrays (a row-at-a-time insert costs about a
millisecond per row; a registered array costs about two microseconds).

Readers (``query``, ``frame``) run SELECT statements only, each on its own cursor, and see
whole batches: a reader never sees half of a block.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import orjson

from govchain.analytics.extract import (
    Extractor,
    LedgerBlock,
    TxFacts,
    block_of,
    discover_extractors,
    facts_from,
    tx_ids_of,
)
from govchain.analytics.schema import (
    BUILTIN_DDL,
    CASES,
    DERIVED_DDL,
    META_DDL,
    UPDATE_CASE_DAYS,
    UPDATE_OPEN_CASES,
    fingerprint,
)
from govchain.errors import Conflict, IntegrityError, NotFound, SchemaViolation
from govchain.ledger.chain import CommittedBlock, Ledger
from govchain.ledger.receipts import STATUS_OK

if TYPE_CHECKING:
    from govchain.analytics.verify import IndexVerification

log = logging.getLogger("govchain.analytics")

READ_BATCH_TXS = 20_000
"""Transactions read from the ledger and written to the index in one DuckDB transaction."""
READ_BATCH_BLOCKS = 512
"""Most blocks in one such batch (blocks of few transactions)."""
_READABLE = frozenset({"SELECT", "EXPLAIN"})


class OutOfOrder(Conflict):
    """A block offered to the index is not the next one (a gap, or a height indexed already)."""

    code = "analytics_out_of_order"


class IndexDiverged(IntegrityError):
    """The index's last block is not the ledger's block at that height: rebuild the index."""

    code = "analytics_index_diverged"


def chain_blocks(chain: Ledger, first: int, last: int) -> Iterator[LedgerBlock]:
    """Yield the committed blocks ``first..last`` of a ledger as the index reads them, each
    entry checked against the transaction log (``IntegrityError`` naming the one at fault)."""
    h = chain.h
    for height in range(first, last + 1):
        header = chain.stored_header(height).header
        entries = tuple(chain.entries_of(header))
        yield LedgerBlock(
            height=height,
            hash=header.hash(h).hex(),
            time_ms=header.timestamp_ms,
            tx_ids=tx_ids_of(h, entries),
            entries=entries,
        )


def chain_batches(chain: Ledger, first: int, last: int) -> Iterator[list[LedgerBlock]]:
    """Yield the blocks ``first..last`` in batches of about ``READ_BATCH_TXS`` transactions."""
    batch: list[LedgerBlock] = []
    txs = 0
    for block in chain_blocks(chain, first, last):
        batch.append(block)
        txs += len(block.entries)
        if txs >= READ_BATCH_TXS or len(batch) >= READ_BATCH_BLOCKS:
            yield batch
            batch, txs = [], 0
    if batch:
        yield batch


class RowBuffers:
    """Rows of every index table for a run of blocks, gathered before one write."""

    def __init__(self, extractors: Sequence[Extractor], widths: dict[str, int]) -> None:
        self._by_contract: dict[str, list[Extractor]] = {}
        for ex in extractors:
            self._by_contract.setdefault(ex.contract, []).append(ex)
        self._widths = widths
        self.tables: dict[str, list[tuple[Any, ...]]] = {t: [] for t in widths}
        self.extractor_errors = 0

    def add(self, block: LedgerBlock) -> None:
        """Add the rows of one block."""
        self.tables["blocks"].append((block.height, block.hash, block.time_ms, len(block.entries)))
        append = self.tables["txs"].append
        by_contract = self._by_contract
        height, time_ms = block.height, block.time_ms
        loads = orjson.loads
        # The generic rows are built straight from the decoded entry (this runs for every
        # committed transaction); facts are made only for the transactions an extractor reads.
        for position, (tx_id, entry) in enumerate(zip(block.tx_ids, block.entries, strict=True)):
            doc = loads(entry)
            body = doc["tx"]["body"]
            signer: str = body["signer"]
            contract: str = body["contract"]
            ok = doc["receipt"]["status"] == STATUS_OK
            append(
                (
                    height,
                    position,
                    tx_id.hex(),
                    contract,
                    body["method"],
                    signer,
                    signer.split("/", 1)[0],
                    time_ms,
                    ok,
                )
            )
            if ok and contract in by_contract:
                facts = facts_from(height, position, tx_id, time_ms, doc)
                for ex in by_contract[contract]:
                    if facts.method in ex.methods:
                        self._extract(ex, facts)

    def _extract(self, ex: Extractor, facts: TxFacts) -> None:
        try:
            rows = [tuple(r) for r in ex.rows(facts)]
        except Exception as exc:  # a service's bug must not stop the index of every service
            # The same facts give the same exception on a rebuild: the index stays a function
            # of the blocks, and the log names what was skipped.
            self.extractor_errors += 1
            log.warning(
                "analytics: extractor %s skipped tx %s at height %d: %r",
                ex.table,
                facts.tx_id,
                facts.height,
                exc,
            )
            return
        width = self._widths[ex.table]
        if any(len(r) != width for r in rows):
            self.extractor_errors += 1
            log.warning(
                "analytics: extractor %s gave a row of the wrong width for tx %s (table has %d "
                "columns)",
                ex.table,
                facts.tx_id,
                width,
            )
            return
        self.tables[ex.table].extend(rows)


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Append rows to a table through registered column arrays (the bulk path)."""
    if not rows:
        return
    columns = {
        f"c{i}": np.array(col, dtype=object) for i, col in enumerate(zip(*rows, strict=True))
    }
    name = f"_rows_{table}"
    con.register(name, columns)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM {name}")
    finally:
        con.unregister(name)


def open_database(path: Path | None) -> duckdb.DuckDBPyConnection:
    """Open the index database (in memory for ``None``) without access to other files."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    # One thread: the index shares the node's cores, and its dashboards read small rollups.
    return duckdb.connect(
        ":memory:" if path is None else str(path),
        config={"enable_external_access": False, "threads": 1},
    )


def create_tables(
    con: duckdb.DuckDBPyConnection, extractors: Sequence[Extractor], derived: bool = True
) -> None:
    """Create the index tables (they must not exist); ``derived``: with the tables kept from
    ``cases``."""
    for ddl in (*BUILTIN_DDL, *(e.ddl for e in extractors)):
        con.execute(ddl)
    if derived and any(e.table == "cases" for e in extractors):
        for ddl in DERIVED_DDL:
            con.execute(ddl)


def update_derived(con: duckdb.DuckDBPyConnection, first: int, last: int) -> None:
    """Bring the tables derived from ``cases`` up to date with heights ``first..last``."""
    con.execute(UPDATE_CASE_DAYS, [first, last])
    for sql in UPDATE_OPEN_CASES:
        con.execute(sql, [first, last])


def table_widths(con: duckdb.DuckDBPyConnection, extractors: Sequence[Extractor]) -> dict[str, int]:
    """Return the number of columns of each index table."""
    names = ["blocks", "txs", *(e.table for e in extractors)]
    return {t: len(con.execute(f"DESCRIBE {t}").fetchall()) for t in names}


class AnalyticsIndex:
    """The index of one ledger (see the module); ``path`` ``None`` keeps it in memory."""

    def __init__(self, path: Path | None, extractors: Sequence[Extractor] | None = None) -> None:
        self.path = path
        self.extractors: tuple[Extractor, ...] = (
            (CASES, *discover_extractors()) if extractors is None else tuple(extractors)
        )
        self.extractor_errors = 0
        """Transactions an extractor failed on (logged, skipped) since this index opened."""
        self._fingerprint = hashlib.sha256(fingerprint(self.extractors).encode()).hexdigest()
        self._write = threading.Lock()
        self._con = open_database(path)
        self._height = 0
        self._hash = ""
        self._open()

    # --- opening ---------------------------------------------------------------------------

    def _tables(self) -> list[str]:
        return ["blocks", "txs", *(e.table for e in self.extractors)]

    def _open(self) -> None:
        con = self._con
        existing = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        meta: dict[str, str] = {}
        if "index_meta" in existing:
            meta = dict(con.execute("SELECT key, value FROM index_meta").fetchall())
        if meta.get("fingerprint") != self._fingerprint:
            # Another layout (a service added a table, the schema changed): start again; the
            # follower refills it from the ledger.
            self._reset(existing, meta.get("chain", ""), meta.get("genesis", ""))
        self._widths = table_widths(con, self.extractors)
        row = con.execute("SELECT height, hash FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
        if row is not None:
            self._height, self._hash = int(row[0]), str(row[1])

    def _reset(self, existing: Iterable[str], chain: str, genesis: str) -> None:
        con = self._con
        con.execute("BEGIN")
        try:
            for table in existing:
                con.execute(f'DROP TABLE "{table}"')
            con.execute(META_DDL)
            create_tables(con, self.extractors)
            con.executemany(
                "INSERT INTO index_meta VALUES (?, ?)",
                [("fingerprint", self._fingerprint), ("chain", chain), ("genesis", genesis)],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._height, self._hash = 0, ""

    def close(self) -> None:
        """Close the database."""
        with self._write:
            self._con.close()

    # --- state -----------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Height of the last indexed block (0 when empty)."""
        return self._height

    @property
    def head_hash(self) -> str:
        """Hash (hex) of the last indexed block ('' when empty)."""
        return self._hash

    def lag(self, chain: Ledger) -> int:
        """Return how many committed blocks the index has not indexed yet."""
        return max(0, chain.height - self._height)

    # --- writing ---------------------------------------------------------------------------

    def ingest(self, blocks: Iterable[LedgerBlock | CommittedBlock]) -> int:
        """Index blocks that follow the last indexed one, in commit order, in one transaction;
        return how many. ``OutOfOrder`` (nothing written) on a gap or a height indexed
        already."""
        with self._write:
            return self._ingest(blocks)

    def _ingest(self, blocks: Iterable[LedgerBlock | CommittedBlock]) -> int:
        buffers = RowBuffers(self.extractors, self._widths)
        height, head = self._height, self._hash
        count = 0
        for item in blocks:
            block = block_of(item) if isinstance(item, CommittedBlock) else item
            if block.height != height + 1:
                kind = "gap" if block.height > height + 1 else "replay"
                raise OutOfOrder(
                    f"block {block.height} offered to the index after block {height} ({kind})",
                    expected=height + 1,
                    got=block.height,
                )
            buffers.add(block)
            height, head = block.height, block.hash
            count += 1
        if count == 0:
            return 0
        con = self._con
        con.execute("BEGIN")
        try:
            for table, rows in buffers.tables.items():
                insert_rows(con, table, rows)
            if buffers.tables.get("cases"):
                update_derived(con, self._height + 1, height)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._height, self._hash = height, head
        self.extractor_errors += buffers.extractor_errors
        return count

    def _bind(self, chain: Ledger) -> None:
        """Refuse a ledger of another chain; record the chain of an empty index."""
        chain_id, genesis = chain.genesis.chain_id, chain.genesis_hash.hex()
        meta = dict(self._con.execute("SELECT key, value FROM index_meta").fetchall())
        if meta.get("genesis") == genesis:
            return
        if self._height > 0 and meta.get("genesis"):
            raise IndexDiverged(
                f"the index belongs to chain {meta.get('chain')!r}, not {chain_id!r}",
                chain=chain_id,
            )
        self._con.executemany(
            "UPDATE index_meta SET value = ? WHERE key = ?",
            [(chain_id, "chain"), (genesis, "genesis")],
        )

    def catch_up(self, chain: Ledger, limit: int | None = None) -> int:
        """Index the ledger's blocks after the last indexed one (at most ``limit``); return how
        many. ``IndexDiverged`` if the last indexed block is not the ledger's."""
        with self._write:
            self._bind(chain)
            self._check_head(chain)
            last = chain.height if limit is None else min(chain.height, self._height + limit)
            done = 0
            for batch in chain_batches(chain, self._height + 1, last):
                done += self._ingest(batch)
            return done

    def _check_head(self, chain: Ledger) -> None:
        if self._height == 0:
            return
        if self._height > chain.height:
            raise IndexDiverged(
                f"the index is at height {self._height}, past the ledger's {chain.height}",
                height=self._height,
            )
        expected = chain.stored_header(self._height).header.hash(chain.h).hex()
        if expected != self._hash:
            raise IndexDiverged(
                f"indexed block {self._height} is {self._hash}, the ledger's is {expected}",
                height=self._height,
            )

    def rebuild(self, chain: Ledger) -> int:
        """Drop every table and index the whole ledger again; return the blocks indexed."""
        with self._write:
            existing = [
                r[0] for r in self._con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            ]
            self._reset(existing, chain.genesis.chain_id, chain.genesis_hash.hex())
            self._widths = table_widths(self._con, self.extractors)
            done = 0
            for batch in chain_batches(chain, 1, chain.height):
                done += self._ingest(batch)
            return done

    # --- reading ---------------------------------------------------------------------------

    def frame(
        self, sql: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one read-only statement; return its column names and rows
        (``SchemaViolation`` for anything but one SELECT)."""
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise SchemaViolation(f"query failed: {exc}", field="sql") from None
        if len(statements) != 1 or statements[0].type.name not in _READABLE:
            raise SchemaViolation("the index answers one SELECT statement", field="sql")
        cur = self._con.cursor()
        try:
            cur.execute(sql, list(params))
            columns = [d[0] for d in cur.description or ()]
            return columns, cur.fetchall()
        except duckdb.Error as exc:
            raise SchemaViolation(f"query failed: {exc}", field="sql") from None
        finally:
            cur.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read-only statement; return its rows."""
        return self.frame(sql, params)[1]

    def tables(self) -> dict[str, int]:
        """Return each index table with its number of rows."""
        cur = self._con.cursor()
        try:
            return {
                t: int(cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
                for t in self._tables()
            }
        finally:
            cur.close()

    def verify(self, chain: Ledger) -> IndexVerification:
        """Compare the index with the ledger, height by height (see ``verify``)."""
        from govchain.analytics.verify import verify_index  # verify builds on this module

        with self._write:
            return verify_index(self, chain)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Return a new cursor on the index database (reads only, by convention)."""
        return self._con.cursor()

    def table_widths(self) -> dict[str, int]:
        """Return the number of columns of each index table."""
        return dict(self._widths)


def query_file(path: Path, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[Any]]:
    """Run one SELECT on an index file opened read-only (a stopped node's; a running node's
    follower holds it, and ``Conflict`` says so)."""
    if not path.exists():
        raise NotFound(f"no analytics index at {path}", path=str(path))
    try:
        con = duckdb.connect(str(path), read_only=True, config={"enable_external_access": False})
    except duckdb.IOException as exc:
        raise Conflict(
            f"the index at {path} is in use (is the node running? ask its API): {exc}",
            path=str(path),
        ) from None
    try:
        statements = duckdb.extract_statements(sql)
        if len(statements) != 1 or statements[0].type.name not in _READABLE:
            raise SchemaViolation("the index answers one SELECT statement", field="sql")
        cur = con.execute(sql, list(params))
        return [d[0] for d in cur.description or ()], cur.fetchall()
    except duckdb.Error as exc:
        raise SchemaViolation(f"query failed: {exc}", field="sql") from None
    finally:
        con.close()
