"""The analytics index: commit order, rebuild equals incremental, verification names rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from analytics_helpers import KV_PUTS, Committer

from govchain.analytics.extract import block_of
from govchain.analytics.index import AnalyticsIndex, IndexDiverged, OutOfOrder, chain_blocks
from govchain.analytics.schema import CASES
from govchain.errors import SchemaViolation
from govchain.node.node import Node

EXTRACTORS = (CASES, KV_PUTS)
TABLES = ("blocks", "txs", "cases", "kv_puts")


def _fill(committer: Committer, blocks: int) -> None:
    members = ("market/admin", "tax/admin", "hrss/admin", "customs/admin")
    for b in range(blocks):
        committer.block(
            [(members[(b + i) % 4], f"k{b}-{i}", b * 10 + i if i % 3 else "text") for i in range(5)]
        )


def _dump(index: AnalyticsIndex) -> dict[str, list[tuple[object, ...]]]:
    return {t: index.query(f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}


def test_rebuilt_index_equals_incremental_one(committer: Committer, node: Node) -> None:
    incremental = AnalyticsIndex(None, EXTRACTORS)
    _fill(committer, 3)
    assert incremental.catch_up(node.ledger) == 3
    _fill(committer, 4)
    # Blocks handed over one by one, as the follower does with fresh commits.
    for block in chain_blocks(node.ledger, 4, node.ledger.height):
        assert incremental.ingest([block]) == 1
    rebuilt = AnalyticsIndex(None, EXTRACTORS)
    assert rebuilt.rebuild(node.ledger) == 7
    assert incremental.height == rebuilt.height == 7
    assert _dump(incremental) == _dump(rebuilt)
    assert incremental.tables() == {"blocks": 7, "txs": 35, "cases": 0, "kv_puts": 21}
    # The generic rows say who sent what.
    row = incremental.query(
        "SELECT contract, method, sender, department, ok FROM txs WHERE height = 1 AND position = 0"
    )
    assert row == [("kv", "put", "market/admin", "market", True)]


def test_a_committed_block_is_indexed_like_a_stored_one(committer: Committer, node: Node) -> None:
    seen = []
    node.listeners.append(seen.append)
    _fill(committer, 2)
    live = AnalyticsIndex(None, EXTRACTORS)
    live.ingest(seen)
    stored = AnalyticsIndex(None, EXTRACTORS)
    stored.catch_up(node.ledger)
    assert _dump(live) == _dump(stored)
    assert block_of(seen[0]) == next(chain_blocks(node.ledger, 1, 1))


def test_gaps_and_replays_are_refused_and_write_nothing(committer: Committer, node: Node) -> None:
    _fill(committer, 3)
    index = AnalyticsIndex(None, EXTRACTORS)
    b1, b2, b3 = chain_blocks(node.ledger, 1, 3)
    with pytest.raises(OutOfOrder) as gap:
        index.ingest([b1, b3])
    assert gap.value.fields == {"expected": 2, "got": 3}
    assert index.height == 0 and index.tables()["txs"] == 0
    index.ingest([b1, b2])
    with pytest.raises(OutOfOrder) as replay:
        index.ingest([b2])
    assert replay.value.fields == {"expected": 3, "got": 2}
    assert index.ingest([]) == 0
    assert index.ingest([b3]) == 1 and index.lag(node.ledger) == 0


def test_verify_names_a_deleted_and_a_changed_row(committer: Committer, node: Node) -> None:
    _fill(committer, 4)
    index = AnalyticsIndex(None, EXTRACTORS)
    index.catch_up(node.ledger)
    clean = index.verify(node.ledger)
    assert clean.ok and clean.blocks_checked == 4 and clean.rows_checked == 4 + 20 + 12
    con = index.cursor()
    con.execute("DELETE FROM txs WHERE height = 2 AND position = 3")
    con.execute("UPDATE kv_puts SET value = value + 1 WHERE height = 3 AND position = 1")
    con.close()
    report = index.verify(node.ledger)
    assert not report.ok
    assert report.heights_differing == (("txs", 2), ("kv_puts", 3))
    kinds = [(m.table, m.height, m.kind) for m in report.mismatches]
    assert kinds == [("txs", 2, "missing"), ("kv_puts", 3, "missing"), ("kv_puts", 3, "unexpected")]
    missing, changed_from, changed_to = report.mismatches
    assert missing.row[:2] == (2, 3)
    assert changed_to.row[3] == changed_from.row[3] + 1
    assert report.to_json()["ok"] is False
    # A rebuild repairs it.
    index.rebuild(node.ledger)
    assert index.verify(node.ledger).ok


def test_reads_are_select_only(committer: Committer, node: Node) -> None:
    _fill(committer, 1)
    index = AnalyticsIndex(None, EXTRACTORS)
    index.catch_up(node.ledger)
    for sql in ("DELETE FROM txs", "SELECT 1; SELECT 2", "COPY txs TO 'x.csv'", "SELEC"):
        with pytest.raises(SchemaViolation):
            index.query(sql)
    columns, rows = index.frame("SELECT count(*) AS n FROM txs WHERE ok = ?", [True])
    assert columns == ["n"] and rows == [(5,)]


def test_a_file_index_resumes_and_detects_another_history(
    committer: Committer, node: Node, tmp_path: Path
) -> None:
    _fill(committer, 2)
    path = tmp_path / "idx" / "index.duckdb"
    index = AnalyticsIndex(path, EXTRACTORS)
    index.catch_up(node.ledger)
    index.close()
    _fill(committer, 1)
    again = AnalyticsIndex(path, EXTRACTORS)
    assert again.height == 2
    assert again.catch_up(node.ledger) == 1
    # Another layout (a service's table added) starts the index again.
    again.close()
    other = AnalyticsIndex(path, (CASES,))
    assert other.height == 0 and other.catch_up(node.ledger) == 3
    # An index of another history is refused, not extended.
    con = other.cursor()
    con.execute("UPDATE blocks SET hash = 'ff' WHERE height = 3")
    con.close()
    other.close()
    diverged = AnalyticsIndex(path, (CASES,))
    _fill(committer, 1)
    with pytest.raises(IndexDiverged):
        diverged.catch_up(node.ledger)
    diverged.close()
