"""A department's node in a network: etcd ordering, replication, checkpoint quorum, catch-up.

One ``Node`` (admission, committer, ledger) plus four threads:

- **election**: campaigns for the proposer lease and renews it; renews this node's peer entry;
- **sync**: woken by an etcd watch on the block log, applies blocks other nodes proposed
  (verified and re-executed by ``Ledger.apply_block``), fetching from peers when etcd no
  longer holds them or the node is far behind;
- **checkpoints** (same thread as sync): publishes this node's signed checkpoint of every
  height, merges the other departments' signatures of the same checkpoint, and advances the
  certified height once more than two thirds of the departments signed. If a quorum signed a
  *different* checkpoint, the node has diverged: it stops committing and serving, and says so
  (height, both state roots) in its health document and its log;
- **compaction** (proposer only): deletes blocks every department has persisted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from govchain.contracts.registry import builtin_registry
from govchain.crypto import get_suite, parallel
from govchain.errors import (
    IntegrityError,
    NotProposer,
    Unavailable,
)
from govchain.ledger.audit import check_integrity
from govchain.ledger.blocks import SignedHeader
from govchain.ledger.chain import CommittedBlock
from govchain.ledger.checkpoints import SignedCheckpoint
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.execution import decode_member, member_key
from govchain.ledger.membership import DEPARTMENTS_KEY, Membership
from govchain.ledger.transactions import Transaction, parse_transaction
from govchain.node.catchup import CatchUp
from govchain.node.lock import DataDirLock
from govchain.node.metrics import MetricFamily
from govchain.node.network import NetworkDir
from govchain.node.node import Node, NodeIdentity
from govchain.node.peers import Peers
from govchain.node.quorum import (
    MembershipHistory,
    check_divergence,
    holds_quorum,
    peer_certificates,
    tally,
)
from govchain.node.telemetry import ordering_families
from govchain.node.transport import PeerServer, TlsContexts, check_peer, issue_certificate
from govchain.node.wire import blocks_from, decode_block, encode_block, parse_sized
from govchain.ordering.etcd import LEASE_TTL_S, BlockLog, EtcdOrderer
from govchain.ordering.etcd_client import EtcdClient
from govchain.ordering.etcd_tls import EtcdTls
from govchain.storage.buffered import BufferedStore
from govchain.storage.factory import open_store
from govchain.types import DeptId

log = logging.getLogger("govchain.network")

PEER_CATCH_UP_BLOCKS = 20
"""Further behind than this many blocks, a node fetches from peers rather than etcd."""
FETCH_BLOCKS = 32
"""Blocks per fetch (from etcd or a peer)."""
QUEUE_POLL_S = 0.25
"""How often the proposer looks at the transaction queue without being told (a watch on the
queue's ``queued`` key wakes it as soon as a batch is queued)."""
PUBLISH_BATCH = 64
"""Checkpoint statements published per etcd transaction (etcd allows 128 operations)."""
COMPACT_EVERY_S = 5.0
"""How often the proposer compacts the block log."""
COMPACT_KEEP = 16
"""Blocks kept in etcd below the lowest persisted height of all departments."""

Progress = Callable[[int, int], None]


class NetworkNode:
    """One department's node of a network (open, ``catch_up``, ``start``, ``close``)."""

    def __init__(
        self,
        network: Path | str,
        dept: DeptId,
        etcd_endpoints: Sequence[str],
        *,
        data_dir: Path | str | None = None,
        address: str = "",
        check: bool = True,
        progress: Progress | None = None,
        etcd_tls: EtcdTls | None = None,
    ) -> None:
        net = NetworkDir(network)
        self.genesis = genesis = net.genesis()
        # A department that joined after genesis (``network`` contract) is not in genesis: its
        # node catches up first, and proposes and signs checkpoints once it is a member.
        self.suite = suite = get_suite(genesis.suite)
        key = net.node_key(dept)
        self.dept = dept
        self.address = address
        """This node's API URL (shown in the network status)."""
        path = Path(data_dir or net.data_dir(dept))
        # The verifier processes are forked before gRPC (the etcd client) starts its threads.
        parallel.warm_up()
        # Then: unusable TLS files are reported before anything is opened.
        self.client = EtcdClient(etcd_endpoints, tls=etcd_tls)
        try:
            self._lock = DataDirLock(path).acquire()
        except BaseException:
            self.client.close()
            raise
        try:
            store = open_store(str(path), node=True)
        except BaseException:
            self._lock.release()
            self.client.close()
            raise
        # Catch-up makes many blocks durable per storage commit (``BufferedStore``).
        self.store = store = BufferedStore(store)
        self.log = BlockLog(self.client, genesis.chain_id, dept)
        params = genesis.params
        h = suite.hash
        limit = params.max_tx_bytes
        self.orderer: EtcdOrderer[Transaction] = EtcdOrderer(
            self.log,
            encode=Transaction.encode,
            # Batches hold envelope objects (queued by an older node: envelope strings).
            decode=lambda obj: (
                parse_transaction(obj, h, limit)
                if isinstance(obj, str)
                else parse_sized(obj, h, limit)
            ),
            keep=self._keep,
            may_propose=self._may_propose,
            max_items=params.block_max_txs,
            max_wait_ms=params.block_max_ms,
            poll_s=QUEUE_POLL_S,
        )
        self.node = node = Node(
            store=store,
            genesis=genesis,
            suite=suite,
            host=builtin_registry(genesis, suite.hash),
            orderer=self.orderer,
            identity=NodeIdentity(
                proposer=dept,
                proposer_key=key.keypair.private,
                checkpoint_keys=((dept, key.keypair.private),),
            ),
        )
        node.on_close.append(self._lock.release)
        node.publish = self._publish
        node.certified_height = 0
        node.health_extra.append(self.network_health)
        node.listeners.append(self._on_block)
        self.members = MembershipHistory(node.ledger.height, node.ledger.membership())
        """Who signs checkpoints, per height range."""
        # Proved reads carry a checkpoint only once it holds a quorum of the departments in
        # force at its height (``Node.state_with_proof``).
        node.holds_quorum = lambda signed: holds_quorum(
            signed, self.members.at(signed.checkpoint.height)
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._signature_check: tuple[list[Transaction], Callable[[], list[tuple[bytes, bytes]]]] = (
            [],
            list,
        )
        """The batch last cut (``_keep``) and the check of its queued signatures under way."""
        self._badly_signed: set[tuple[bytes, bytes]] = set()
        """Queued transactions found badly signed, by id and signature (never ordered; a
        well-signed copy of the same body still is)."""
        self._published = 0
        self.etcd_height = 0
        self.etcd_ok = True
        self.etcd_error: str | None = None
        self.leader: str | None = None
        self._last_compact = time.monotonic()
        self.tls = TlsContexts(
            issue_certificate(suite, genesis.chain_id, dept, key.keypair.private), path
        )
        self.peer_server = PeerServer(
            self.tls, self.authorize_peer, lambda first, n: blocks_from(node.ledger, first, n)
        )
        self.peers = Peers(
            self.log,
            self.tls,
            api_address=address,
            peer_address=self.peer_server.url,
            authorize=self.authorize_peer,
        )
        if check:
            try:
                check_integrity(node.ledger, progress)
            except BaseException:
                self.close()
                raise
        self._published = node.ledger.height
        self.catch_up_pipeline = CatchUp(node, self.peers.fetch_blocks, store)
        """Fetches, verifies and applies blocks from peers (catch-up)."""
        node.metrics.registry.add_collector("ordering", self._ordering_metrics)

    # --- membership --------------------------------------------------------------------------

    def _on_block(self, block: CommittedBlock) -> None:
        if any(w.key == DEPARTMENTS_KEY for w in block.result.writes):
            # The departments in force before the change sign the checkpoint of the block that
            # made it (what offline verifiers follow, see ledger/bundles.py); the new ones sign
            # from the next block on.
            m = self.node.ledger.membership()
            start = block.header.header.height + 1
            self.members.record(start, m)
            log.info("membership from height %d: %s", start, m.ids())
        self._wake.set()

    @property
    def membership(self) -> Membership:
        """The departments in force now."""
        return self.members.current

    # --- lifecycle ---------------------------------------------------------------------------

    def authorize_peer(self, cert_der: bytes | None) -> str:
        """Return the member department a peer certificate was issued for (``Forbidden``)."""
        return check_peer(self.suite, self.genesis.chain_id, cert_der, self.membership.keys())

    def start(self) -> None:
        """Start committing, replicating, campaigning and exchanging checkpoints."""
        self._started = True
        self.peer_server.start()
        self.node.start()
        for name, target in (
            ("govchain-election", self._election_loop),
            ("govchain-sync", self._sync_loop),
            ("govchain-watch", self._watch_loop),
            ("govchain-queue-watch", self._queue_watch_loop),
        ):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        """Resign the proposer lease, stop every thread and close the node."""
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(10)
        self._threads.clear()
        self.log.resign()
        self.peers.unregister()
        self.peer_server.close()
        self.node.close()
        self.client.close()
        self.tls.close()

    # --- proposer ----------------------------------------------------------------------------

    def _may_propose(self) -> bool:
        # Only the lease holder, and only once it has every block the log holds: its block
        # must extend the log's head (the CAS would refuse it otherwise). The log height is
        # the one last read by the sync thread (woken by a watch) or appended by this node:
        # asking etcd on every look at the queue cost it more than the rest of the ordering.
        if not self.log.lease or self.node.failure is not None:
            return False
        return self.etcd_height == self.node.ledger.height

    def _keep(self, txs: list[Transaction]) -> list[Transaction]:
        # A transaction resubmitted through another node after a proposer change may be
        # queued twice: order it once (exactly-once), drop the copy. One found badly signed
        # when a block was about to be appended is dropped too.
        seen: set[bytes] = set()
        out = []
        committed = self.node.ledger.is_committed
        bad = self._badly_signed
        for t in txs:
            tid = t.tx_id
            if tid in seen or (tid, t.signature) in bad or committed(tid):
                continue
            seen.add(tid)
            out.append(t)
        self._signature_check = (out, self._start_signature_check(out))
        return out

    def _start_signature_check(
        self, txs: list[Transaction]
    ) -> Callable[[], list[tuple[bytes, bytes]]]:
        """Start verifying the transactions another node queued on the worker processes;
        return the function that waits and returns the badly signed ones (id, signature).

        Another node's admission is no guarantee: a block with a bad signature would stop
        every follower, so the proposer verifies what it did not admit itself, while it
        executes the block (see ``_publish``)."""
        state = self.node.ledger.state
        admitted = self.node.admission.verified_keys(txs)
        keys: dict[str, bytes | None] = {}
        checked: list[Transaction] = []
        triples: list[tuple[bytes, bytes, bytes]] = []
        for t, admitted_key in zip(txs, admitted, strict=True):
            if t.signer not in keys:
                v = state.get(member_key(t.signer))
                keys[t.signer] = (
                    None if v is None or v.value is None else (decode_member(v.value).public_key)
                )
            key = keys[t.signer]
            # An unknown signer gets a rejected receipt at execution; a transaction this node
            # admitted was verified then, under the key its signer still has.
            if key is not None and key != admitted_key:
                checked.append(t)
                triples.append((key, t.signing_message(), t.signature))
        verdicts = self.suite.verify_later(triples)
        return lambda: [
            (t.tx_id, t.signature) for t, ok in zip(checked, verdicts(), strict=True) if not ok
        ]

    def _publish(self, signed: SignedHeader, txs: Sequence[Transaction]) -> None:
        # Called by ``Ledger.commit_block`` after the block executed, before it is committed:
        # the signatures were verified meanwhile. A bad one: nothing is appended or committed,
        # the transaction is remembered as bad, and the next block is cut without it.
        checked, bad_ids = self._signature_check
        self._signature_check = ([], list)
        bad = bad_ids() if checked is txs else self._start_signature_check(list(txs))()
        if bad:
            self._badly_signed.update(bad)
            log.warning(
                "%s: dropped %d queued transactions with bad signatures", self.dept, len(bad)
            )
            raise Unavailable(
                f"block {signed.header.height} not appended: {len(bad)} queued transactions "
                "have bad signatures; cutting it again without them"
            )
        height = signed.header.height
        try:
            self.log.append(height, encode_block(signed, txs), self.orderer.taken)
        except NotProposer:
            self.etcd_height = -1  # unknown: no block is proposed before the sync reads it
            self._wake.set()
            raise
        self.etcd_height = max(self.etcd_height, height)

    # --- election ----------------------------------------------------------------------------

    def _election_loop(self) -> None:
        while not self._stop.is_set():
            try:
                leader = self.log.leader()
                if self.node.failure is not None or self.dept not in self.membership.ids():
                    self.log.resign()
                elif self.log.lease:
                    if not self.log.keepalive():
                        log.warning("%s lost the proposer lease", self.dept)
                elif (
                    self.dept in self.membership.ids()
                    and self.node.ledger.height >= self.etcd_height
                    # A campaign grants and revokes a lease: two Raft writes on every etcd
                    # member, every second, from every follower. Only when nobody leads.
                    and leader is None
                    and self.log.campaign()
                ):
                    log.info("%s is the proposer from height %d", self.dept, self.etcd_height + 1)
                    leader = self.dept
                self.peers.register()
                self.peers.trust_all()
                self.leader = leader
                self.etcd_ok, self.etcd_error = True, None
            except Unavailable as exc:
                self.etcd_ok, self.etcd_error = False, exc.message
                self.log.lease = 0 if not self.log.keepalive() else self.log.lease
            self._stop.wait(LEASE_TTL_S / 3)

    def _watch_loop(self) -> None:
        self.client.watch(self.log.k_height, self._wake.set, self._stop)

    def _queue_watch_loop(self) -> None:
        self.client.watch(self.log.k_queued, self.orderer.wake, self._stop)

    # --- replication -------------------------------------------------------------------------

    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            if self.node.failure is not None:
                continue
            try:
                self.sync_once()
            except Unavailable as exc:
                self.etcd_ok, self.etcd_error = False, exc.message
            except IntegrityError as exc:
                log.error("%s: %s", self.dept, exc.message)
                self.node.fail(exc)
            except Exception as exc:  # keep replicating; say what went wrong
                log.exception("%s: sync failed: %s", self.dept, exc)
                self._stop.wait(0.5)

    def sync_once(
        self, progress: Progress | None = None, prefer_peers: bool = False, defer: bool = False
    ) -> int:
        """Apply every block the log holds beyond this node's head (from peers if
        ``prefer_peers`` or far behind, else from etcd), publish this node's checkpoints and
        merge the others'; return the number of blocks applied. ``defer`` (a node that serves
        nothing yet) lets catch-up make many blocks durable per storage commit."""
        applied = 0
        target = self.etcd_height = self.log.height()
        self.etcd_ok, self.etcd_error = True, None
        ledger = self.node.ledger
        if prefer_peers or target - ledger.height > PEER_CATCH_UP_BLOCKS:
            applied += self._catch_up_from_peers(target, progress, defer)
            self._certify_from_peers(self.catch_up_pipeline.checkpoints)
        while ledger.height < target and not self._stop.is_set():
            first = ledger.height + 1
            blocks: list[Any] = []
            if prefer_peers or target - ledger.height > PEER_CATCH_UP_BLOCKS:
                blocks = self.peers.fetch_blocks(first, FETCH_BLOCKS)
            if not blocks:
                blocks = [v for _, v in self.log.blocks(first, FETCH_BLOCKS)]
            if not blocks:
                blocks = self.peers.fetch_blocks(first, FETCH_BLOCKS)
            if not blocks:
                raise Unavailable(
                    f"block {first} is neither in etcd (compacted) nor at any reachable peer"
                )
            for data in blocks:
                signed, txs = decode_block(data, self.suite.hash, self.genesis.params.max_tx_bytes)
                # Signatures this node verified when it admitted the transactions are not
                # verified again (unless the signer's key changed since).
                verified = self.node.admission.verified_keys(txs)
                if self.node.apply(signed, txs, verified) is not None:
                    applied += 1
                if progress is not None:
                    progress(ledger.height, target)
        self._exchange_checkpoints()
        self._maybe_compact()
        return applied

    def _catch_up_from_peers(self, target: int, progress: Progress | None, defer: bool) -> int:
        """Run the catch-up pipeline towards ``target``, measured (``node.telemetry``)."""
        pipeline = self.catch_up_pipeline
        before = self.node.ledger.height
        metrics = self.node.metrics if before < target else None
        if metrics is not None:
            metrics.catch_up_started(target)
        try:
            return pipeline.run(target, progress, self._stop, defer)
        finally:
            if metrics is not None:
                metrics.catch_up_ended(self.node.ledger.height - before, pipeline.transactions)

    def _ordering_metrics(self) -> Iterator[MetricFamily]:
        pipeline = self.catch_up_pipeline
        return ordering_families(
            self.etcd_height,
            self.etcd_ok,
            bool(self.log.lease),
            pipeline.fetch_cpu,
            pipeline.apply_cpu,
        )

    def prepare_catch_up(self) -> None:
        """Publish this node's peer entry before catching up."""
        try:
            # Publish this node's certificate first: peers load it within one election
            # period, after which they accept its catch-up requests.
            self.peers.register()
            self.peers.trust_all()
            if self.log.height() > self.node.ledger.height:
                time.sleep(LEASE_TTL_S / 3 + 0.3)
        except Unavailable:
            pass

    def catch_up(self, progress: Progress | None = None) -> int:
        """Before serving: apply everything up to the log's head (from peers when far behind);
        return the number of blocks applied."""
        total = 0
        while True:
            try:
                # Catch-up reads from peers, sparing etcd (the ordering path of everyone).
                # Many blocks per storage commit only while nothing else commits or serves.
                n = self.sync_once(progress, prefer_peers=True, defer=not self._started)
            except IntegrityError as exc:
                # Diverged or received a bad block: keep the process up to say so on the
                # health endpoint, but commit and serve nothing more.
                log.error("%s: %s", self.dept, exc.message)
                self.node.fail(exc)
                return total
            total += n
            if n == 0 or self.node.ledger.height >= self.etcd_height:
                return total

    # --- checkpoints -------------------------------------------------------------------------

    def _exchange_checkpoints(self) -> None:
        ledger = self.node.ledger
        top = ledger.height
        if self._published < top:
            # Published in a few etcd transactions, not one per height (catch-up).
            for lo in range(self._published + 1, top + 1, PUBLISH_BATCH):
                mine: list[tuple[int, bytes]] = []
                for h in range(lo, min(lo + PUBLISH_BATCH, top + 1)):
                    cp = ledger.checkpoint(h)
                    own = tuple((d, s) for d, s in cp.signatures if d == self.dept)
                    stmt = canonical_unchecked(SignedCheckpoint(cp.checkpoint, own).to_json())
                    mine.append((h, stmt))
                self.log.publish_checkpoints(mine)
                self._published = mine[-1][0]
        certified = self.node.certified_height or 0
        if certified >= top:
            return
        first = max(certified + 1, top - 256)
        # The merged signatures of all certified heights are written by one storage commit,
        # and the certified height moves only once they are durable.
        agreed: dict[int, list[tuple[DeptId, bytes]]] = {}
        for h, stmts in sorted(self.log.checkpoints(first, top).items()):
            if len(stmts) >= self.members.at(h).quorum():
                signatures = self._certify(h, stmts)
                if signatures is not None:
                    agreed[h] = signatures
        if agreed:
            self.node.ledger.add_checkpoints_signatures(agreed)
            self.node.certified_height = max(self.node.certified_height or 0, max(agreed))

    def _certify_from_peers(self, sent: dict[int, Any]) -> None:
        """Keep the quorum signatures that peers sent with caught-up blocks: a node that
        catches up past what etcd still holds (compacted) has no other source for the
        certificates of those heights, which receipts proving membership changes need."""
        ledger = self.node.ledger
        agreed = peer_certificates(
            self.suite, lambda h: ledger.checkpoint(h).checkpoint, self.members, sent
        )
        if agreed:
            # Stored, but the certified height still moves only through the statements in
            # etcd, which ``_exchange_checkpoints`` compares with this node's checkpoints
            # (divergence) for every height etcd still holds.
            ledger.add_checkpoints_signatures(agreed)
            log.info(
                "%s: quorum certificates of %d caught-up blocks from peers", self.dept, len(agreed)
            )

    def _certify(self, height: int, stmts: dict[str, bytes]) -> list[tuple[DeptId, bytes]] | None:
        """Compare the statements of ``height`` with this node's checkpoint (``IntegrityError``
        if a quorum signed another); return the agreeing signatures once they are a quorum."""
        ledger = self.node.ledger
        mine = ledger.checkpoint(height).checkpoint
        members = self.members.at(height)
        result = tally(self.suite, mine, stmts, members)
        check_divergence(mine, result, members.quorum())
        for depts in result.others.values():
            log.warning("block %d: departments %s signed a different checkpoint", height, depts)
        if len(result.agree) >= members.quorum():
            return list(result.agree)
        return None

    def _maybe_compact(self) -> None:
        if not self.log.lease or time.monotonic() - self._last_compact < COMPACT_EVERY_S:
            return
        self._last_compact = time.monotonic()
        persisted = self.log.persisted()
        if not set(self.membership.ids()) <= set(persisted):
            return  # a department's node never reported: keep everything for it
        below = min(persisted[d] for d in self.membership.ids()) - COMPACT_KEEP
        oldest = self.log.oldest_block()
        if below > 1 and oldest is not None and oldest < below:
            rev = self.log.compact(below)
            log.info("compacted the block log below height %d (etcd revision %d)", below, rev)

    # --- status ------------------------------------------------------------------------------

    def network_health(self) -> dict[str, Any]:
        """Network fields of the health document."""
        return {
            "department": self.dept,
            "proposer": self.leader,
            "is_proposer": bool(self.log.lease),
            "ordering": {
                "kind": "etcd",
                "available": self.etcd_ok,
                "error": self.etcd_error,
                "log_height": self.etcd_height,
            },
            "certified_height": self.node.certified_height,
            "quorum": self.membership.quorum(),
            "departments": self.membership.ids(),
        }
