"""The embedded node: admission, ordering, a committer thread, and the ledger.

Submitted transactions are admitted (``node.admission``), queued in the orderer, and cut into
blocks that a single committer thread executes and commits durably. A caller that asks to wait
is answered only after its transactions' block is durable: that is the acknowledgement.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from govchain.contracts.errors import UnknownMethod
from govchain.contracts.views import ViewRunner, run_view
from govchain.crypto.suite import CryptoSuite
from govchain.errors import GovchainError, IntegrityError, Unavailable
from govchain.ledger.blocks import SignedHeader
from govchain.ledger.chain import CommittedBlock, Ledger, Verified
from govchain.ledger.checkpoints import SignedCheckpoint
from govchain.ledger.execution import ContractHost
from govchain.ledger.genesis import Genesis
from govchain.ledger.state import VersionedValue
from govchain.ledger.state_proof import StateProof
from govchain.ledger.transactions import Transaction
from govchain.node.admission import Admission, Outcome
from govchain.node.content import ContentStore
from govchain.node.telemetry import NodeMetrics
from govchain.ordering.base import Orderer
from govchain.storage.base import KVStore
from govchain.types import DeptId

log = logging.getLogger("govchain.node")


GC_GEN0_THRESHOLD = 100_000
"""Allocations between two young-generation collections while a node runs (Python's default
is 700)."""


def tune_garbage_collector() -> None:
    """Make the cyclic garbage collector run rarely, once per process.

    A node allocates and frees millions of small, acyclic objects (transactions, receipts, byte
    strings), so the default threshold of 700 allocations triggers a collection every few
    transactions: measured at about 10 µs per transaction of a ~45 µs budget. Reference
    counting still frees everything at once; only the rare reference cycles wait longer.
    Objects alive at start-up (modules, genesis, caches) are frozen out of every later scan.
    """
    gen0, gen1, gen2 = gc.get_threshold()
    if gen0 < GC_GEN0_THRESHOLD:
        gc.freeze()
        gc.set_threshold(GC_GEN0_THRESHOLD, max(gen1, 50), max(gen2, 1000))


RECEIPT_QUORUM_WAIT_S = 5.0
"""How long a network node waits for a quorum checkpoint covering a receipt's transaction."""
READ_QUORUM_WAIT_S = 5.0
"""How long a network node waits for a quorum to certify the height a proved read is as of."""


@dataclass(slots=True)
class _Waiter:
    remaining: int
    event: threading.Event = field(default_factory=threading.Event)
    error: GovchainError | None = None


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """The keys a node signs with."""

    proposer: DeptId
    """Department whose node key signs block headers."""
    proposer_key: bytes
    """Private node key of ``proposer``."""
    checkpoint_keys: tuple[tuple[DeptId, bytes], ...]
    """``(department, private node key)`` pairs that sign each checkpoint (embedded: all)."""


class Node:
    """A running node over one ledger and one orderer."""

    def __init__(
        self,
        *,
        store: KVStore,
        genesis: Genesis,
        suite: CryptoSuite,
        host: ContractHost,
        orderer: Orderer[Transaction],
        identity: NodeIdentity,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        max_pending: int = 20_000,
        content: ContentStore | None = None,
    ) -> None:
        self.genesis = genesis
        self.content = content or ContentStore(None, suite.hash)
        """Off-chain files by hash (documents of notarisations, attachments)."""
        self.suite = suite
        self.ledger = Ledger(store, genesis, suite, host)
        self.orderer = orderer
        self.identity = identity
        self._clock_ms = clock_ms
        state = self.ledger.state
        self.admission = Admission(
            suite=suite,
            chain_id=genesis.chain_id,
            max_tx_bytes=genesis.params.max_tx_bytes,
            nonce_window=genesis.params.nonce_window,
            read_state=lambda k: v.value if (v := state.get(k)) is not None else None,
            is_committed=self.ledger.is_committed,
        )
        self.max_pending = max_pending
        self._in_flight = 0  # admitted (or being admitted) and not yet committed
        self._in_flight_lock = threading.Lock()
        self._waiters: dict[bytes, _Waiter] = {}
        self._waiters_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failure: GovchainError | None = None
        self.committed_txs = 0
        self.started_at = time.time()
        self.listeners: list[Callable[[CommittedBlock], None]] = []
        self.on_close: list[Callable[[], None]] = []
        self.before_close: list[Callable[[], None]] = []
        """Run (last added first) once the node stopped committing, before its store closes:
        the workers that read and write through the node stop here."""
        self.publish: Callable[[SignedHeader, Sequence[Transaction]], None] | None = None
        """Network proposer: appends each block to the ordering log before it is committed."""
        self._certified = threading.Condition()
        self._certified_height: int | None = None
        self.holds_quorum: Callable[[SignedCheckpoint], bool] = lambda signed: True
        """Network node (set by the replica): whether a stored checkpoint carries the
        signatures of a quorum of the departments in force at its height."""
        self.health_extra: list[Callable[[], dict[str, Any]]] = []
        self.metrics = NodeMetrics()
        """What the node measures (``/metrics``); its parts update it per block or batch."""
        self.metrics.observe_node(self)

    @property
    def certified_height(self) -> int | None:
        """Network node: highest height whose checkpoint a quorum signed (``None``: embedded,
        every checkpoint is signed by all local department keys)."""
        return self._certified_height

    @certified_height.setter
    def certified_height(self, height: int | None) -> None:
        with self._certified:
            self._certified_height = height
            self._certified.notify_all()

    def wait_certified(self, height: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until a quorum certified ``height`` (embedded: at
        once); return whether it did. A node that stops committing wakes its waiters."""
        deadline = time.monotonic() + timeout
        with self._certified:
            while self._certified_height is not None and self._certified_height < height:
                left = deadline - time.monotonic()
                if left <= 0 or self.failure is not None:
                    return False
                self._certified.wait(left)
        return True

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the committer thread."""
        if self._thread is not None:
            return
        tune_garbage_collector()
        self._thread = threading.Thread(target=self._run, name="govchain-committer", daemon=True)
        self._thread.start()

    def stop(self, drain: bool = True, timeout: float = 30.0) -> None:
        """Stop ordering; with ``drain`` commit what is already queued first."""
        self.orderer.close()
        if drain:
            deadline = time.monotonic() + timeout
            while self.orderer.pending() and time.monotonic() < deadline and self.failure is None:
                time.sleep(0.01)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def close(self) -> None:
        """Stop (committing what is queued), close the store and release what the node holds."""
        self.stop(drain=True)
        while self.before_close:
            self.before_close.pop()()
        self.ledger.store.close()
        while self.on_close:
            self.on_close.pop()()

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self.orderer.next_batch(0.05)
            if not batch:
                continue
            try:
                self.commit(batch)
            except Unavailable as exc:
                if self.publish is None:
                    self._fail(exc, batch)
                    return
                # A network proposer lost its lease or etcd its majority: the block was not
                # appended and nothing was committed; the batch stays queued in the ordering log.
                log.warning("block not appended: %s", exc.message)
                continue
            except GovchainError as exc:
                self._fail(exc, batch)
                return
            except Exception as exc:  # storage failure: stop committing, say why
                self._fail(IntegrityError(f"commit failed: {type(exc).__name__}: {exc}"), batch)
                return

    def fail(self, exc: GovchainError) -> None:
        """Stop committing and serving because of ``exc`` (e.g. a divergence from the quorum);
        waiters get ``Unavailable`` and health reports the error."""
        self._fail(exc, ())

    def _fail(self, exc: GovchainError, batch: Sequence[Transaction]) -> None:
        log.error("node stopped committing: %s", exc)
        self.failure = exc
        self.orderer.close()
        ids = [t.tx_id for t in batch]
        self.admission.dropped(ids)
        err = Unavailable(f"the node stopped committing: {exc.message}")
        with self._waiters_lock:
            waiters = list(self._waiters.values())
            self._waiters.clear()
        for w in waiters:
            w.error = err
            w.event.set()
        with self._certified:
            self._certified.notify_all()

    # --- committing -------------------------------------------------------------------------

    def commit(self, batch: Sequence[Transaction]) -> CommittedBlock:
        """Execute and durably commit one block made of ``batch`` (committer thread)."""
        ident = self.identity
        suite = self.suite
        publish = self.publish
        started = time.perf_counter()
        with self._commit_lock:
            block = self.ledger.commit_block(
                batch,
                timestamp_ms=self._clock_ms(),
                proposer=ident.proposer,
                sign_header=lambda msg: suite.sign(ident.proposer_key, msg),
                checkpoint_keys=ident.checkpoint_keys,
                publish=None if publish is None else (lambda signed: publish(signed, batch)),
            )
        self.metrics.block_committed(block.tx_ids, time.perf_counter() - started, proposed=True)
        self._committed(block)
        return block

    def apply(
        self,
        signed: SignedHeader,
        txs: Sequence[Transaction],
        verified: Verified = None,
    ) -> CommittedBlock | None:
        """Verify, re-execute and durably commit a block another node proposed (a follower,
        or catch-up); ``IntegrityError`` naming the height if any commitment differs. A block
        this node already holds (it proposed it) is compared with the stored one: ``None``.
        ``verified``: signatures already checked (``Ledger.check_signatures``)."""
        self._check_serving()
        started = time.perf_counter()
        with self._commit_lock:
            height = signed.header.height
            if height <= self.ledger.height:
                h = self.suite.hash
                if self.ledger.header(height).header.hash(h) != signed.header.hash(h):
                    raise IntegrityError(
                        f"block {height} of the ordering log differs from the block this node "
                        "committed",
                        height=height,
                    )
                return None
            block = self.ledger.apply_block(
                signed, txs, checkpoint_keys=self.identity.checkpoint_keys, verified=verified
            )
        self.metrics.block_committed(block.tx_ids, time.perf_counter() - started, proposed=False)
        self._committed(block)
        return block

    def _committed(self, block: CommittedBlock) -> None:
        mine = self.admission.committed(block.tx_ids, block.result.members_changed)
        self._release_capacity(mine)
        self.committed_txs += len(block.tx_ids)
        self._release(block.tx_ids)
        for listener in self.listeners:
            listener(block)

    def _release(self, tx_ids: Sequence[bytes]) -> None:
        waiters = self._waiters
        if not waiters:
            return
        done: list[_Waiter] = []
        with self._waiters_lock:
            for tid in tx_ids:
                w = waiters.pop(tid, None)
                if w is not None:
                    w.remaining -= 1
                    if w.remaining == 0:
                        done.append(w)
        for w in done:
            w.event.set()

    # --- submitting -------------------------------------------------------------------------

    def clock_ms(self) -> int:
        """Return the clock this node stamps the blocks it proposes with."""
        return self._clock_ms()

    def _check_serving(self) -> None:
        if self.failure is not None:
            raise Unavailable(f"the node stopped committing: {self.failure.message}")

    def submit(
        self,
        items: Sequence[bytes | str | Any],
        *,
        raw: bool = True,
        wait: bool = False,
        timeout: float = 30.0,
    ) -> list[Outcome]:
        """Admit and order a batch. With ``wait`` return only once every admitted transaction
        is durably committed (raises ``Unavailable`` on timeout or node failure)."""
        if self.failure is not None:
            self.metrics.refused("node_failed", len(items))
        self._check_serving()
        self._reserve_capacity(len(items))
        try:
            outcomes = self.admission.admit(items, raw=raw)
        except BaseException:
            self._release_capacity(len(items))
            raise
        accepted = [o for o in outcomes if isinstance(o, Transaction)]
        self._release_capacity(len(items) - len(accepted))
        if len(accepted) != len(outcomes):
            self.metrics.refused_each(outcomes)
        if not accepted:
            return outcomes
        waiter: _Waiter | None = None
        if wait:
            waiter = _Waiter(len(accepted))
            with self._waiters_lock:
                for t in accepted:
                    self._waiters[t.tx_id] = waiter
        self.metrics.sample(accepted[0].tx_id)
        try:
            self.orderer.submit(accepted)
        except GovchainError as exc:
            self.metrics.refused(exc.code, len(accepted))
            self.admission.dropped([t.tx_id for t in accepted])
            self._release_capacity(len(accepted))
            if waiter is not None:
                with self._waiters_lock:
                    for t in accepted:
                        self._waiters.pop(t.tx_id, None)
            raise
        self.metrics.admitted(len(accepted))
        if waiter is not None:
            if not waiter.event.wait(timeout):
                raise Unavailable(
                    f"transactions were accepted but not committed within {timeout} s; "
                    "query their status later",
                    tx_ids=[t.tx_id.hex() for t in accepted],
                )
            if waiter.error is not None:
                raise waiter.error
        return outcomes

    def _reserve_capacity(self, n: int) -> None:
        # Checked before admission, so a refused batch has used no nonce and can be resent.
        with self._in_flight_lock:
            if self._in_flight + n > self.max_pending:
                self.metrics.refused("at_capacity", n)
                raise Unavailable(
                    f"the node is at capacity ({self._in_flight} transactions pending, limit "
                    f"{self.max_pending}); retry shortly",
                    pending=self._in_flight,
                )
            self._in_flight += n

    def _release_capacity(self, n: int) -> None:
        with self._in_flight_lock:
            self._in_flight -= n

    def wait_committed(self, tx_ids: Sequence[bytes], timeout: float) -> bool:
        """Wait until the given admitted transactions are committed; return whether they are."""
        missing = [t for t in tx_ids if not self.ledger.is_committed(t)]
        if not missing:
            return True
        waiter = _Waiter(len(missing))
        with self._waiters_lock:
            for t in missing:
                self._waiters[t] = waiter
        # re-check after registering: the block may have committed in between
        still = [t for t in missing if not self.ledger.is_committed(t)]
        if len(still) < len(missing):
            with self._waiters_lock:
                for t in missing:
                    if t not in still and self._waiters.pop(t, None) is not None:
                        waiter.remaining -= 1
            if waiter.remaining <= 0:
                return True
        return waiter.event.wait(timeout) and waiter.error is None

    # --- consistent reads --------------------------------------------------------------------

    def state_with_proof(
        self, key: bytes, timeout: float = READ_QUORUM_WAIT_S
    ) -> tuple[VersionedValue | None, StateProof, SignedCheckpoint | None]:
        """Return a key's value, its proof and the checkpoint they are proven against, all as
        of one height (the checkpoint's; ``None`` before block 1).

        Embedded: the latest height, whose checkpoint every local department key signed. A
        network node answers as of its latest committed height once a quorum of departments
        certified it, waiting up to ``timeout`` seconds for their signatures (``Unavailable``
        after that): never with a checkpoint that fewer departments signed."""
        self._check_serving()
        deadline = time.monotonic() + timeout
        while True:
            # Value, proof and height are read together: the proof is against that height's
            # state root whatever commits while the quorum is awaited.
            with self._commit_lock:
                height = self.ledger.height
                value = self.ledger.state.get(key)
                proof = self.ledger.state.prove(key)
                if not height:
                    return value, proof, None
                if self.certified_height is None:
                    return value, proof, self.ledger.checkpoint()
            # The other departments' signatures of a height arrive a few tenths of a second
            # after its block; until then the stored checkpoint holds this node's alone.
            if self.wait_certified(height, deadline - time.monotonic()):
                cp = self.ledger.checkpoint(height)
                if self.holds_quorum(cp):
                    return value, proof, cp
                # Certified past ``height`` without a quorum of it stored (heights certified
                # before this node took part): read again after the next certification.
                with self._certified:
                    self._certified.wait(max(0.0, min(0.05, deadline - time.monotonic())))
            self._check_serving()
            if time.monotonic() >= deadline:
                certified = self.certified_height or 0
                raise Unavailable(
                    f"no quorum of department signatures on the checkpoint at height {height} "
                    f"within {timeout} s (certified height {certified}); retry shortly",
                    height=height,
                    certified_height=certified,
                )

    def query(self, contract: str, method: str, args: dict[str, Any]) -> Any:
        """Run a contract view against the committed state (consistent: between two blocks)."""
        host = self.ledger.host
        if not isinstance(host, ViewRunner):
            raise UnknownMethod("this node's contracts have no views")
        with self._commit_lock:
            head = self.ledger.head
            return run_view(
                host,
                self.ledger.state,
                contract,
                method,
                args,
                height=self.ledger.height,
                time_ms=head.header.timestamp_ms if head else self.genesis.created_ms,
            )

    def receipt_bundle(self, tx_id: bytes) -> dict[str, Any]:
        """Return the offline-verifiable receipt of a committed transaction (on a network
        node: with the latest quorum checkpoint; ``Unavailable`` until one covers it)."""
        self._check_serving()
        if self.certified_height is None:
            with self._commit_lock:
                return self.ledger.receipt_bundle(tx_id)
        height = self.ledger.locate(tx_id).height
        # Other departments' signatures arrive within a few tenths of a second of the commit.
        self.wait_certified(height, RECEIPT_QUORUM_WAIT_S)
        certified = self.certified_height or 0
        with self._commit_lock:
            loc = self.ledger.locate(tx_id)
            if loc.height > certified:
                raise Unavailable(
                    f"transaction is committed at height {loc.height}, but no checkpoint at or "
                    f"above it has a quorum of department signatures yet (certified height "
                    f"{certified}); retry shortly",
                    height=loc.height,
                    certified_height=certified,
                )
            return self.ledger.receipt_bundle(tx_id, checkpoint_height=certified)

    def membership_links(self, below: int) -> list[dict[str, Any]]:
        """Return the proved membership changes below height ``below`` (see
        ``Ledger.membership_links``; committed records only, read without the commit lock)."""
        return self.ledger.membership_links(below)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """Return a consistency proof between two log sizes."""
        with self._commit_lock:
            return self.ledger.log.consistency_proof(size1, size2)

    def is_pending(self, tx_id: bytes) -> bool:
        """Return whether a transaction was admitted and is not yet committed."""
        return self.admission.is_pending(tx_id)

    # --- status -----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Return the node's health summary."""
        head = self.ledger.head
        return {
            "status": "failed" if self.failure is not None else "ok",
            "chain_id": self.genesis.chain_id,
            "suite": self.genesis.suite,
            "height": self.ledger.height,
            "log_size": self.ledger.log.size,
            "state_root": self.ledger.state.root.hex(),
            "last_block_ms": head.header.timestamp_ms if head else None,
            "pending": self.orderer.pending(),
            "committer_running": self._thread is not None and self._thread.is_alive(),
            "error": None if self.failure is None else self.failure.to_dict(),
            **{k: v for extra in self.health_extra for k, v in extra().items()},
        }
