"""Group commit of read logs with a fake ledger: reads that arrive together share a transaction
(per owner, within the size limit), each gets its own entry's result, an entry's error reaches
only its reader, and a refused submission reaches every reader in it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from govchain.errors import GovchainError, Unavailable
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.transactions import Transaction
from govchain.sharing.batching import TX_OVERHEAD, ReadLogBatcher
from govchain.sharing.errors import GrantRevoked


class FakeLedger:
    """Records each submitted group; answers each entry with its request id, or an error for
    requests named ``revoked``; can refuse whole submissions."""

    def __init__(self, refuse: bool = False) -> None:
        self.groups: list[tuple[str, list[dict[str, Any]]]] = []
        self.refuse = refuse
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()

    def submit(
        self, groups: Sequence[tuple[str, list[dict[str, Any]]]]
    ) -> list[tuple[Transaction, GovchainError | None]]:
        self.gate.wait()
        if self.refuse:
            raise Unavailable("the node is at capacity")
        out: list[tuple[Transaction, GovchainError | None]] = []
        with self._lock:
            for owner, entries in groups:
                self.groups.append((owner, entries))
                tx = object.__new__(Transaction)
                object.__setattr__(tx, "tx_id", len(self.groups).to_bytes(32, "big"))
                out.append((tx, None))
        return out

    def receipt(self, tx: Transaction) -> dict[str, Any]:
        owner, entries = self.groups[int.from_bytes(tx.tx_id, "big") - 1]
        results = [
            {"error": {"code": "grant_revoked", "message": "revoked"}}
            if e["request"] == "revoked"
            else {"request_id": e["request"], "owner": owner}
            for e in entries
        ]
        return {"status": "ok", "result": {"results": results}, "error": None}


def test_reads_that_arrive_together_share_transactions() -> None:
    ledger = FakeLedger()
    batcher = ReadLogBatcher(ledger.submit, ledger.receipt, max_tx_bytes=TX_OVERHEAD + 400)
    ledger.gate.clear()  # the first reader holds the lead while the others queue up
    names = [(("tax", "market")[i % 2], f"r{i:03d}") for i in range(60)]
    with ThreadPoolExecutor(60) as pool:
        futures = [
            pool.submit(batcher.log, owner, {"request": name, "records": []})
            for owner, name in names
        ]
        threading.Timer(0.2, ledger.gate.set).start()
        results = [f.result(timeout=10) for f in futures]
    assert [r["request_id"] for r in results] == [n for _, n in names]
    assert all(r["owner"] == owner for r, (owner, _) in zip(results, names, strict=True))
    assert len(ledger.groups) < len(names)  # grouped
    for owner, entries in ledger.groups:
        assert {e["request"] for e in entries} <= {n for o, n in names if o == owner}
        size = sum(len(canonical_unchecked(e)) for e in entries)
        assert size <= 400 or len(entries) == 1  # within the size budget


def test_an_entry_error_reaches_only_its_reader() -> None:
    ledger = FakeLedger()
    batcher = ReadLogBatcher(ledger.submit, ledger.receipt, max_tx_bytes=64 * 1024)
    assert batcher.log("tax", {"request": "ok-1", "records": []})["request_id"] == "ok-1"
    with pytest.raises(GrantRevoked):
        batcher.log("tax", {"request": "revoked", "records": []})
    assert batcher.log("tax", {"request": "ok-2", "records": []})["request_id"] == "ok-2"


def test_a_refused_submission_reaches_every_reader_and_the_next_can_lead() -> None:
    ledger = FakeLedger(refuse=True)
    batcher = ReadLogBatcher(ledger.submit, ledger.receipt, max_tx_bytes=64 * 1024)
    with ThreadPoolExecutor(8) as pool:
        futures = [
            pool.submit(batcher.log, "tax", {"request": f"r{i}", "records": []}) for i in range(8)
        ]
        for f in futures:
            with pytest.raises(Unavailable):
                f.result(timeout=10)
    ledger.refuse = False
    assert batcher.log("tax", {"request": "later", "records": []})["request_id"] == "later"
