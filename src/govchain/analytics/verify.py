"""Verification of the analytics index against the ledger: compute, then compare.

For every indexed height, each table's row count and the sum of its rows' hashes are computed
twice: from the index, and from the ledger's blocks extracted afresh (into a scratch in-memory
database with the same tables, so both hashes are DuckDB's over the same types). A height whose
figures differ is then compared row by row, and the rows that are missing from the index or
that it should not hold (a changed row is both) are named.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from govchain.analytics.index import RowBuffers, chain_batches, create_tables, insert_rows
from govchain.analytics.schema import CASE_DAYS_OF, LATEST_CASES
from govchain.ledger.chain import Ledger

if TYPE_CHECKING:
    from govchain.analytics.index import AnalyticsIndex

MAX_NAMED = 50
"""Most differing rows named in one verification."""


@dataclass(frozen=True, slots=True)
class RowMismatch:
    """One way the index differs from the ledger."""

    table: str
    """Index table."""
    height: int
    """Block height of the row (0 for a table derived from ``cases``)."""
    kind: str
    """``missing`` (the ledger gives it, the index lacks it) or ``unexpected`` (the index holds
    it, the ledger does not give it); a changed row is one of each."""
    row: tuple[Any, ...]
    """The row."""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (values as JSON scalars)."""
        return {
            "table": self.table,
            "height": self.height,
            "kind": self.kind,
            "row": [
                v if v is None or isinstance(v, (bool, int, str)) else str(v) for v in self.row
            ],
        }


@dataclass(frozen=True, slots=True)
class IndexVerification:
    """The outcome of comparing the index with the ledger."""

    index_height: int
    """Height of the last indexed block."""
    ledger_height: int
    """Height of the ledger's last block."""
    blocks_checked: int
    """Blocks compared (1..min of both heights)."""
    rows_checked: int
    """Index rows compared."""
    mismatches: tuple[RowMismatch, ...]
    """Rows that differ (at most ``MAX_NAMED``)."""
    heights_differing: tuple[tuple[str, int], ...]
    """``(table, height)`` of every height whose rows differ."""
    ahead: bool
    """Whether the index holds blocks past the ledger's head (it belongs to another history)."""

    @property
    def ok(self) -> bool:
        """Whether the index is exactly what the ledger gives."""
        return not self.heights_differing and not self.ahead

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "ok": self.ok,
            "index_height": self.index_height,
            "ledger_height": self.ledger_height,
            "blocks_checked": self.blocks_checked,
            "rows_checked": self.rows_checked,
            "ahead": self.ahead,
            "heights_differing": [{"table": t, "height": h} for t, h in self.heights_differing],
            "mismatches": [m.to_json() for m in self.mismatches],
        }


def _digests(cur: Any, table: str, lo: int, hi: int) -> dict[int, tuple[int, int]]:
    """Per height in ``lo..hi``: (row count, sum of row hashes)."""
    rows = cur.execute(
        f"SELECT height, count(*), sum(hash({table})::HUGEINT) FROM {table} "
        "WHERE height BETWEEN ? AND ? GROUP BY height",
        [lo, hi],
    ).fetchall()
    return {int(h): (int(n), int(s)) for h, n, s in rows}


def _rows_at(cur: Any, table: str, height: int) -> Counter[tuple[Any, ...]]:
    return Counter(
        tuple(r)
        for r in cur.execute(f"SELECT * FROM {table} WHERE height = ?", [height]).fetchall()
    )


def derived_mismatches(cur: Any, top: int) -> list[tuple[str, str, tuple[Any, ...]]]:
    """Compare the tables derived from ``cases`` with a recomputation from it: ``(table,
    kind, row)`` of each differing row (``missing``: the recomputation has it)."""
    out: list[tuple[str, str, tuple[Any, ...]]] = []
    checks = (
        ("case_days", "SELECT * FROM case_days", CASE_DAYS_OF),
        (
            "open_cases",
            "SELECT * FROM open_cases",
            f"SELECT case_no, department, service, deadline_ms FROM ({LATEST_CASES}) "
            "WHERE NOT ended",
        ),
    )
    for table, stored, recomputed in checks:
        want = Counter(tuple(r) for r in cur.execute(recomputed, [1, top]).fetchall())
        have = Counter(tuple(r) for r in cur.execute(stored).fetchall())
        out += [(table, "missing", r) for r in sorted((want - have).elements(), key=repr)]
        out += [(table, "unexpected", r) for r in sorted((have - want).elements(), key=repr)]
    return out


def verify_index(index: AnalyticsIndex, chain: Ledger) -> IndexVerification:
    """Compare every indexed height with the ledger's blocks (see the module)."""
    import duckdb

    top = min(index.height, chain.height)
    tables = list(index.table_widths())
    cur = index.cursor()
    mismatches: list[RowMismatch] = []
    differing: list[tuple[str, int]] = []
    rows_checked = 0
    try:
        for batch in chain_batches(chain, 1, top):
            lo, hi = batch[0].height, batch[-1].height
            buffers = RowBuffers(index.extractors, index.table_widths())
            for block in batch:
                buffers.add(block)
            scratch = duckdb.connect(":memory:", config={"enable_external_access": False})
            try:
                create_tables(scratch, index.extractors, derived=False)
                for table, rows in buffers.tables.items():
                    insert_rows(scratch, table, rows)
                for table in tables:
                    have = _digests(cur, table, lo, hi)
                    want = _digests(scratch, table, lo, hi)
                    rows_checked += sum(n for n, _ in have.values())
                    for height in sorted(set(have) | set(want)):
                        if have.get(height) == want.get(height):
                            continue
                        differing.append((table, height))
                        indexed = _rows_at(cur, table, height)
                        expected = _rows_at(scratch, table, height)
                        for row in sorted((expected - indexed).elements(), key=repr):
                            mismatches.append(RowMismatch(table, height, "missing", row))
                        for row in sorted((indexed - expected).elements(), key=repr):
                            mismatches.append(RowMismatch(table, height, "unexpected", row))
            finally:
                scratch.close()
        # Rows past the compared heights (the index ahead, or stray rows) are all unexpected.
        for table in tables:
            stray = cur.execute(
                f"SELECT DISTINCT height FROM {table} WHERE height > ? OR height < 1 "
                "ORDER BY height",
                [top],
            ).fetchall()
            for (height,) in stray:
                differing.append((table, int(height)))
                for row in _rows_at(cur, table, int(height)).elements():
                    mismatches.append(RowMismatch(table, int(height), "unexpected", row))
        if "cases" in tables:
            for table, kind, row in derived_mismatches(cur, max(index.height, chain.height)):
                if (table, 0) not in differing:
                    differing.append((table, 0))
                mismatches.append(RowMismatch(table, 0, kind, row))
    finally:
        cur.close()
    return IndexVerification(
        index_height=index.height,
        ledger_height=chain.height,
        blocks_checked=top,
        rows_checked=rows_checked,
        mismatches=tuple(mismatches[:MAX_NAMED]),
        heights_differing=tuple(differing),
        ahead=index.height > chain.height,
    )
