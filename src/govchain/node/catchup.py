"""Catch-up from peers: fetch, verify and apply blocks as a pipeline.

A node that was down, or a new department's node, gets the blocks it misses from other nodes.
Every block is checked exactly as a follower checks it (``Node.apply``: chain link, proposer
signature, every transaction signature, re-execution, transaction, log and state roots), but
the stages overlap instead of running one after the other:

1. a **fetch thread** asks a peer for the next range (up to ``RANGE_BLOCKS`` blocks, cut by
   size by the peer) while earlier blocks are being applied, decodes its blocks and
   transactions, and hands each block's signature checks to the verifier worker processes
   (``crypto.parallel.verify_later``) under the signers' keys known at that moment;
2. the **worker processes** verify the signatures, on the other cores;
3. the **calling thread** applies the blocks in order — executing a block while its checks
   may still be running — and passes the keys each signature was found valid under:
   ``Ledger.start_signature_check`` awaits them before the block is committed and skips a
   transaction only if that key is still its signer's key at the start of its block,
   verifying it again otherwise (a key changed by a block of the same range).

The fetch thread stays at most ``BLOCKS_AHEAD`` blocks or ``TXS_AHEAD`` transactions ahead.

With a ``BufferedStore`` and ``defer``, many blocks are made durable by one store commit
(every ``FLUSH_TXS`` transactions and at the end): the node serves nothing and acknowledges
nothing while it catches up, and the blocks are durable at the quorum that certified them.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from govchain.crypto import parallel
from govchain.errors import GovchainError, IntegrityError
from govchain.ledger.blocks import SignedHeader
from govchain.ledger.execution import decode_member, member_key
from govchain.ledger.transactions import Transaction
from govchain.node.node import Node, tune_garbage_collector
from govchain.node.wire import decode_block
from govchain.storage.buffered import BufferedStore

log = logging.getLogger("govchain.network")

RANGE_BLOCKS = 1024
"""Blocks asked for per catch-up request (a peer also cuts its answer by size)."""
BLOCKS_AHEAD = 64
"""Decoded blocks waiting to be applied: the fetch thread stops this far ahead ..."""
TXS_AHEAD = 5_000
"""... or this many transactions ahead (but always holds one block), which bounds memory."""
FLUSH_TXS = 10_000
"""With ``defer``, the deferred blocks are written to storage every this many transactions.

Both bounds are the catching-up node's working set, and a fresh process pays a page fault for
every page it grows into (several microseconds each on a virtual machine). In alternating
runs of ``bench/network_bench.py`` (a 60,000-transaction catch-up), 20,000 for both made
16,043 and 17,442 tx/s, these 17,857 and 18,809: the fetch thread's CPU per transaction fell
from 17-18 to 11-14 µs (``docs/performance.md``)."""
COLLECT_TXS = 200_000
"""While catching up, the cyclic garbage collector runs only every this many transactions."""

Fetch = Callable[[int, int], Sequence[Any]]
"""``fetch(first, limit)``: up to ``limit`` blocks from height ``first`` (decoded JSON of the
catch-up form, unverified) from some peer, ``[]`` if no reachable peer has them."""
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class _Decoded:
    """A fetched block, decoded, its signature checks under way."""

    signed: SignedHeader
    """The header as received."""
    txs: list[Transaction]
    """Its transactions."""
    keys: list[bytes | None]
    """Per transaction, the key its signature is being checked under (``None``: its signer is
    not a member now; the check happens when the block is applied)."""
    verdicts: Callable[[], list[bool]]
    """Waits for the signature checks of the transactions with a key, in order."""
    checkpoint: Any
    """The peer's signed checkpoint of the block as sent (decoded JSON, unverified), if any."""

    def verified(self) -> list[bytes | None]:
        """Return per transaction the key its signature was found valid under, or ``None``."""
        verdicts = iter(self.verdicts())
        return [None if k is None or not next(verdicts) else k for k in self.keys]


_END = object()


class _Budget:
    """Transactions decoded and not yet applied, at most ``limit`` (or one block's worth)."""

    def __init__(self, limit: int) -> None:
        self._cond = threading.Condition()
        self._used = 0
        self._limit = limit

    def take(self, n: int, halt: threading.Event) -> None:
        with self._cond:
            while self._used and self._used + n > self._limit and not halt.is_set():
                self._cond.wait(0.1)
            self._used += n

    def give(self, n: int) -> None:
        with self._cond:
            self._used -= n
            self._cond.notify_all()


class CatchUp:
    """Applies blocks fetched from peers to a node, as a pipeline (see the module doc)."""

    def __init__(self, node: Node, fetch: Fetch, store: BufferedStore | None = None) -> None:
        self.node = node
        self.fetch = fetch
        self.store = store
        self.transactions = 0
        """Transactions applied by the last ``run``."""
        self.fetch_cpu = 0.0
        """CPU seconds of every ``run``'s fetch thread so far (fetching, parsing, decoding)."""
        self.apply_cpu = 0.0
        """CPU seconds of every ``run``'s calling thread so far (executing, committing)."""
        self.checkpoints: dict[int, Any] = {}
        """The peers' signed checkpoints (decoded JSON, unverified) of the blocks applied by
        the last ``run``, by height: the caller checks their signatures against its own
        checkpoints (``node/quorum.py``) and keeps those of a quorum."""

    def run(
        self,
        target: int,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        defer: bool = False,
    ) -> int:
        """Apply blocks from peers up to height ``target`` (or as far as peers have them);
        return the number applied. ``IntegrityError`` naming the height of the first block
        that fails a check; everything before it is applied (and, with ``defer``, durable)."""
        ledger = self.node.ledger
        self.transactions = 0
        self.checkpoints = {}
        if ledger.height >= target:
            return 0
        # A node catches up before it starts its committer, whose start tunes the garbage
        # collector: tune it now, for after the catch-up. During it, the collector is paused
        # and run every ``COLLECT_TXS`` transactions instead: what a catch-up allocates (some
        # thirty objects per transaction, parsed from the peers' answers) has no reference
        # cycles, reference counting frees all of it, and each automatic collection walked the
        # tens of thousands of transactions decoded ahead while holding the interpreter lock
        # (a 60,000-transaction catch-up collected 146 objects, in 8 collections of ~38 ms).
        tune_garbage_collector()
        thread_cpu = time.thread_time()
        stop = stop or threading.Event()
        halt = threading.Event()
        ahead: queue.Queue[object] = queue.Queue(BLOCKS_AHEAD)
        budget = _Budget(TXS_AHEAD)
        fetcher = threading.Thread(
            target=self._fetch_loop,
            args=(ledger.height + 1, target, ahead, budget, halt),
            name="govchain-catch-up-fetch",
            daemon=True,
        )
        fetcher.start()
        applied = 0
        collecting = gc.isenabled()
        gc.disable()
        try:
            with self._deferred(defer):
                since_flush = since_collect = 0
                while not stop.is_set():
                    try:
                        item = ahead.get(timeout=0.5)
                    except queue.Empty:
                        continue  # a slow peer: look at ``stop`` again
                    if item is _END:
                        break
                    if isinstance(item, BaseException):
                        raise item
                    assert isinstance(item, _Decoded)
                    # The block executes while its signatures are still being checked
                    # ahead; it is committed only once they are (``start_signature_check``).
                    result = self.node.apply(item.signed, item.txs, item.verified)
                    budget.give(len(item.txs))
                    if result is not None:
                        applied += 1
                        self.transactions += len(item.txs)
                        if item.checkpoint is not None:
                            self.checkpoints[item.signed.header.height] = item.checkpoint
                        since_flush += len(item.txs)
                        since_collect += len(item.txs)
                    if progress is not None:
                        progress(ledger.height, target)
                    if defer and self.store is not None and since_flush >= FLUSH_TXS:
                        self.store.flush()
                        since_flush = 0
                    if since_collect >= COLLECT_TXS:
                        gc.collect(0)
                        since_collect = 0
        finally:
            halt.set()
            with contextlib.suppress(queue.Empty):
                while True:  # unblock a fetch thread waiting to put a block
                    ahead.get_nowait()
            fetcher.join(30)
            if collecting:
                gc.enable()
            self.apply_cpu += time.thread_time() - thread_cpu
        return applied

    @contextlib.contextmanager
    def _deferred(self, defer: bool) -> Iterator[None]:
        if defer and self.store is not None:
            with self.store.deferred():
                yield
        else:
            yield

    def _fetch_loop(
        self,
        first: int,
        target: int,
        ahead: queue.Queue[object],
        budget: _Budget,
        halt: threading.Event,
    ) -> None:
        keys: dict[str, bytes | None] = {}
        start = first
        thread_cpu = time.thread_time()
        try:
            while first <= target and not halt.is_set():
                # The first answer is one block, so that applying starts as soon as it is
                # decoded; later ones are whole ranges, fetched while earlier blocks apply.
                limit = 1 if first == start else RANGE_BLOCKS
                blocks = list(self.fetch(first, min(limit, target - first + 1)))
                if not blocks:
                    break
                # Each block's parsed answer is let go once it is decoded: what its
                # transactions do not keep (receipts, envelopes) is freed a block at a time.
                blocks.reverse()
                while blocks:
                    block = self._decode(blocks.pop(), keys)
                    if block.signed.header.height != first:
                        raise IntegrityError(
                            f"block {first}: a peer sent block {block.signed.header.height} "
                            "in its place",
                            height=first,
                        )
                    budget.take(len(block.txs), halt)
                    self._put(ahead, block, halt)
                    first += 1
                    if first > target or halt.is_set():
                        break
        except GovchainError as exc:
            self._put(ahead, exc, halt)
        except Exception as exc:  # report it to the applying thread rather than die silently
            log.exception("catch-up fetch failed")
            self._put(ahead, IntegrityError(f"catch-up fetch failed: {exc}"), halt)
        self.fetch_cpu += time.thread_time() - thread_cpu
        self._put(ahead, _END, halt)

    @staticmethod
    def _put(ahead: queue.Queue[object], item: object, halt: threading.Event) -> None:
        while not halt.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _decode(self, data: Any, keys: dict[str, bytes | None]) -> _Decoded:
        node = self.node
        suite = node.suite
        signed, txs = decode_block(data, suite.hash, node.genesis.params.max_tx_bytes)
        state = node.ledger.state
        tx_keys: list[bytes | None] = []
        triples: list[tuple[bytes, bytes, bytes]] = []
        for tx in txs:
            signer = tx.signer
            if signer in keys:
                key = keys[signer]
            else:
                v = state.get(member_key(signer))
                key = keys[signer] = (
                    None if v is None or v.value is None else decode_member(v.value).public_key
                )
            tx_keys.append(key)
            if key is not None:
                triples.append((key, tx.signing_message(), tx.signature))
        verdicts = parallel.verify_later(suite.name, suite.verify, triples)
        checkpoint = data.get("checkpoint") if isinstance(data, dict) else None
        return _Decoded(signed, txs, tx_keys, verdicts, checkpoint)
