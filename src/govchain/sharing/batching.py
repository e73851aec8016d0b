"""Group commit of read logs.

Every read is logged on-chain before it is answered. Reads that arrive while the node is
signing and admitting one log transaction are gathered into the next one (per owner
department, within the transaction size limit): no read waits for a timer, and under load one
transaction — one signature, one admission, one ledger entry — carries many reads. Each read
then waits for its own transaction to be durable and takes its own entry's result from the
receipt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from govchain.errors import GovchainError, Unavailable
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.transactions import Transaction
from govchain.sharing.errors import error_of
from govchain.sharing.readlog import MAX_ENTRIES
from govchain.types import DeptId

TX_OVERHEAD = 1024
"""Bytes kept free in a log transaction for its envelope around the entries."""

SubmitLogs = Callable[
    [Sequence[tuple[DeptId, list[dict[str, Any]]]]],
    list[tuple[Transaction, GovchainError | None]],
]
"""Signs one log transaction per ``(owner, entries)`` and admits them in order; per
transaction, ``None`` or why admission refused it."""
AwaitReceipt = Callable[[Transaction], dict[str, Any]]
"""Waits until a transaction is durable and returns its receipt JSON."""


class _TxWait:
    """The receipt of one submitted transaction, fetched once for all its reads."""

    __slots__ = ("_await", "_lock", "_receipt", "tx")

    def __init__(self, tx: Transaction, await_receipt: AwaitReceipt) -> None:
        self.tx = tx
        self._await = await_receipt
        self._lock = threading.Lock()
        self._receipt: dict[str, Any] | None = None

    def receipt(self) -> dict[str, Any]:
        with self._lock:
            if self._receipt is None:
                self._receipt = self._await(self.tx)
            return self._receipt


class _Pending:
    __slots__ = ("entry", "error", "index", "owner", "size", "submitted", "wait")

    def __init__(self, owner: DeptId, entry: dict[str, Any]) -> None:
        self.owner = owner
        self.entry = entry
        self.size = len(canonical_unchecked(entry))
        self.submitted = threading.Event()
        self.wait: _TxWait | None = None
        self.index = 0
        self.error: GovchainError | None = None


class ReadLogBatcher:
    """Logs reads on-chain in groups; ``log`` returns once the read's entry is durable."""

    def __init__(self, submit: SubmitLogs, await_receipt: AwaitReceipt, max_tx_bytes: int) -> None:
        self._submit = submit
        self._await = await_receipt
        self._budget = max(max_tx_bytes - TX_OVERHEAD, 1)
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._draining = False

    def log(self, owner: DeptId, entry: dict[str, Any]) -> dict[str, Any]:
        """Log one read (``{"request": ..., "records": [...]}``); return its entry result
        ``{"request_id", "records"}``, or raise the error the ledger refused it with."""
        pending = _Pending(owner, entry)
        with self._lock:
            self._queue.append(pending)
            lead = not self._draining
            self._draining = True
        if lead:
            try:
                self._drain()
            except BaseException:
                with self._lock:  # let the next reader lead (and fail queued ones itself)
                    self._draining = False
                raise
        pending.submitted.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.wait is not None
        receipt = pending.wait.receipt()
        if receipt["status"] != "ok":
            raise error_of(receipt["error"] or {})
        result: dict[str, Any] = receipt["result"]["results"][pending.index]
        if "error" in result:
            raise error_of(result["error"])
        return result

    def _drain(self) -> None:
        # The reader that found nobody draining submits everything queued, including what
        # arrives meanwhile, then goes back to waiting for its own transaction.
        while True:
            with self._lock:
                batch, self._queue = self._queue, []
                if not batch:
                    self._draining = False
                    return
            chunks = self._chunks(batch)
            try:
                submitted = self._submit([(c[0].owner, [p.entry for p in c]) for c in chunks])
                for chunk, (tx, refused) in zip(chunks, submitted, strict=True):
                    wait = _TxWait(tx, self._await)
                    for i, p in enumerate(chunk):
                        p.wait, p.index, p.error = wait, i, refused
            except GovchainError as exc:
                for p in batch:
                    p.error = exc
            except Exception as exc:  # never leave a reader waiting forever
                for p in batch:
                    p.error = Unavailable(f"the read could not be logged: {exc}")
            finally:
                for p in batch:
                    p.submitted.set()

    def _chunks(self, batch: list[_Pending]) -> list[list[_Pending]]:
        by_owner: dict[DeptId, list[list[_Pending]]] = {}
        sizes: dict[DeptId, int] = {}
        for p in batch:
            chunks = by_owner.setdefault(p.owner, [[]])
            if chunks[-1] and (
                sizes[p.owner] + p.size > self._budget or len(chunks[-1]) >= MAX_ENTRIES
            ):
                chunks.append([])
                sizes[p.owner] = 0
            chunks[-1].append(p)
            sizes[p.owner] = sizes.get(p.owner, 0) + p.size
        return [c for chunks in by_owner.values() for c in chunks]
