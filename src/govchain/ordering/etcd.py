"""``etcd`` ordering: a lease-elected proposer and an ordered block log in an etcd cluster (Raft).

Keys, all under ``/govchain/<chain id>/``::

    leader                        department id of the proposer, attached to its lease
    height                        height of the last appended block (decimal)
    blocks/<height:020d>          one block: signed header + transactions (opaque bytes here)
    queue/<dept>/<seq:020d>/<n>   a batch of n admitted transactions waiting for a block
    queued                        department that queued the latest batch (watched by the
                                  proposer, so that it need not poll the queue)
    cp/<height:020d>/<dept>       a department's signed checkpoint statement for a height
    persisted/<dept>              highest height a department's node has durably committed
    nodes/<dept>                  the department node's peer address (attached to its lease)

Safety does not rest on the lease: a block is appended with one etcd transaction that compares
the height key with the proposer's height **and** the leader key's lease with the proposer's
lease, and in the same transaction deletes the queue batches it used. Two proposers can never
both write a height, and a queued transaction is in exactly one block or still queued.
Ordering is trusted for order and liveness only: nodes re-verify and re-execute every block.

Blocks and queued batches are stored zlib-compressed (level 1): transactions are JSON with the
same field names over and over, and every byte stored passes etcd's Raft log on every member.
Values that do not start with a zlib header are read as they are.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import orjson

from govchain.errors import GovchainError, NotProposer, OrderingUnavailable, Unavailable
from govchain.ordering.etcd_client import (
    EtcdClient,
    if_absent,
    if_lease,
    if_value,
    op_delete,
    op_get,
    op_put,
    prefix_end,
    range_values,
)

T = TypeVar("T")

log = logging.getLogger("govchain.network")

LEASE_TTL_S = 3
"""Proposer lease: a dead proposer is replaced within about this many seconds."""


def _h(height: int) -> bytes:
    return b"%020d" % height


COMPRESS_LEVEL = 1
"""zlib level of stored blocks and batches: level 1 already shrinks them about fourfold."""


def pack(data: bytes) -> bytes:
    """Return the stored form of a block or batch (zlib-compressed)."""
    return zlib.compress(data, COMPRESS_LEVEL)


def unpack(stored: bytes) -> bytes:
    """Return the bytes of a stored block or batch (``pack``'s inverse; JSON, which starts with
    ``{`` or ``[``, is returned as it is)."""
    if stored[:1] == b"\x78":  # zlib header (deflate, 32 KiB window)
        try:
            return zlib.decompress(stored)
        except zlib.error:
            return stored  # not compressed after all: the decoder reports what is wrong
    return stored


class BlockLog:
    """The shared ordering state of one chain in etcd, seen by one department's node."""

    def __init__(self, client: EtcdClient, chain_id: str, dept: str) -> None:
        self.client = client
        self.dept = dept
        self.prefix = f"/govchain/{chain_id}/".encode()
        self.k_leader = self.prefix + b"leader"
        self.k_height = self.prefix + b"height"
        self.k_blocks = self.prefix + b"blocks/"
        self.k_queue = self.prefix + b"queue/"
        self.k_cp = self.prefix + b"cp/"
        self.k_persisted = self.prefix + b"persisted/"
        self.k_nodes = self.prefix + b"nodes/"
        self.k_queued = self.prefix + b"queued"
        self.lease = 0
        """Lease held while this node is the proposer (0: not the proposer)."""
        self._seq = time.time_ns()
        self._seq_lock = threading.Lock()

    # --- proposer election -------------------------------------------------------------------

    def campaign(self, ttl: int = LEASE_TTL_S) -> bool:
        """Try to become the proposer; return whether this node holds the lease now."""
        if self.lease and self.keepalive():
            return True
        lease = self.client.lease_grant(ttl)
        ok, _ = self.client.txn(
            [if_absent(self.k_leader)], [op_put(self.k_leader, self.dept.encode(), lease)]
        )
        if ok:
            self.lease = lease
            return True
        self.client.lease_revoke(lease)
        return False

    def keepalive(self) -> bool:
        """Renew the proposer lease; return False (and forget it) once it has expired."""
        if not self.lease:
            return False
        try:
            ttl = self.client.lease_keepalive(self.lease)
        except OrderingUnavailable:
            ttl = 0
        if ttl <= 0:
            self.lease = 0
            return False
        return True

    def resign(self) -> None:
        """Give up the proposer lease (others may take over at once)."""
        lease, self.lease = self.lease, 0
        if lease:
            with contextlib.suppress(Unavailable):  # otherwise it expires by itself
                self.client.lease_revoke(lease)

    def leader(self) -> str | None:
        """Return the current proposer's department, or ``None`` between two leases."""
        v = self.client.get(self.k_leader)
        return None if v is None else v.decode()

    # --- block log ---------------------------------------------------------------------------

    def height(self) -> int:
        """Return the height of the last appended block (0: none)."""
        v = self.client.get(self.k_height)
        return 0 if v is None else int(v)

    def blocks(self, first: int, limit: int) -> list[tuple[int, bytes]]:
        """Return up to ``limit`` consecutive blocks from height ``first`` that etcd still holds."""
        r = self.client.range(self.k_blocks + _h(first), prefix_end(self.k_blocks), limit=limit)
        out: list[tuple[int, bytes]] = []
        expect = first
        for kv in r.kvs:
            h = int(kv.key[len(self.k_blocks) :])
            if h != expect:
                break
            out.append((h, unpack(kv.value)))
            expect += 1
        return out

    def oldest_block(self) -> int | None:
        """Return the lowest height etcd still holds (older ones were compacted away)."""
        r = self.client.range(self.k_blocks, prefix_end(self.k_blocks), limit=1, keys_only=True)
        return int(r.kvs[0].key[len(self.k_blocks) :]) if r.kvs else None

    def append(self, height: int, block: bytes, used: Sequence[bytes]) -> None:
        """Append ``block`` at ``height`` and delete the queue batches it holds, atomically,
        only if this node still holds the proposer lease and the log ends at ``height - 1``.
        ``NotProposer`` otherwise; ``OrderingUnavailable`` if etcd cannot decide now."""
        if not self.lease:
            raise NotProposer("this node is not the proposer")
        at_height = (
            if_absent(self.k_height)
            if height == 1
            else if_value(self.k_height, str(height - 1).encode())
        )
        compare = [at_height, if_lease(self.k_leader, self.lease)]
        ops = [
            op_put(self.k_blocks + _h(height), pack(block)),
            op_put(self.k_height, str(height).encode()),
        ]
        ops.extend(op_delete(k) for k in used)
        ok, _ = self.client.txn(compare, ops)
        if not ok:
            raise NotProposer(
                f"block {height} was not appended: the proposer lease or the log height changed",
                height=height,
            )

    # --- transaction queue ------------------------------------------------------------------

    def enqueue(self, batches: Sequence[tuple[int, bytes]]) -> None:
        """Queue ``(count, encoded batch)`` pairs durably, in one etcd transaction."""
        if not batches:
            return
        ops = []
        with self._seq_lock:
            for count, data in batches:
                self._seq += 1
                key = self.k_queue + b"%s/%020d/%d" % (self.dept.encode(), self._seq, count)
                ops.append(op_put(key, pack(data)))
        ops.append(op_put(self.k_queued, self.dept.encode()))
        self.client.txn([], ops)

    def queued(self, max_items: int) -> tuple[list[bytes], int]:
        """Return the oldest queued batch keys, in queue order, holding at most ``max_items``
        transactions (at least one batch), and the number of transactions queued in all."""
        r = self.client.range(
            self.k_queue, prefix_end(self.k_queue), sort_by_create=True, keys_only=True
        )
        keys: list[bytes] = []
        taken = total = 0
        full = False
        for kv in r.kvs:
            n = int(kv.key.rsplit(b"/", 1)[1])
            total += n
            # Strictly oldest first: a later (smaller) batch that would still fit must not
            # overtake one that does not, or one client's nonces reach a block out of order
            # (and those more than the replay window behind are rejected).
            if not full and (not keys or taken + n <= max_items):
                keys.append(kv.key)
                taken += n
            else:
                full = True
        return keys, total

    def read(self, keys: Sequence[bytes]) -> list[bytes]:
        """Return the values of ``keys`` (read together; missing keys are skipped)."""
        if not keys:
            return []
        _, responses = self.client.txn([], [op_get(k) for k in keys])
        return [unpack(v) for v in range_values(responses)]

    def drop(self, keys: Sequence[bytes]) -> None:
        """Delete queue batches that hold nothing to order (all already committed)."""
        if keys:
            self.client.txn([], [op_delete(k) for k in keys])

    # --- checkpoints, persisted heights, peers -----------------------------------------------

    def publish_checkpoint(self, height: int, statement: bytes) -> None:
        """Publish this department's signed checkpoint at ``height``, and that its node has
        durably committed up to it."""
        self.publish_checkpoints([(height, statement)])

    def publish_checkpoints(self, statements: Sequence[tuple[int, bytes]]) -> None:
        """Publish this department's signed checkpoints of several heights (ascending), and
        that its node has durably committed up to the last, in one etcd transaction."""
        if not statements:
            return
        ops = [
            op_put(self.k_cp + _h(height) + b"/" + self.dept.encode(), statement)
            for height, statement in statements
        ]
        ops.append(op_put(self.k_persisted + self.dept.encode(), str(statements[-1][0]).encode()))
        self.client.txn([], ops)

    def checkpoints(self, first: int, last: int) -> dict[int, dict[str, bytes]]:
        """Return the published statements of heights ``first..last``, by height and dept."""
        r = self.client.range(self.k_cp + _h(first), self.k_cp + _h(last + 1))
        out: dict[int, dict[str, bytes]] = {}
        for kv in r.kvs:
            rest = kv.key[len(self.k_cp) :]
            h, _, dept = rest.partition(b"/")
            out.setdefault(int(h), {})[dept.decode()] = kv.value
        return out

    def persisted(self) -> dict[str, int]:
        """Return each department's highest durably committed height."""
        r = self.client.range(self.k_persisted, prefix_end(self.k_persisted))
        return {kv.key[len(self.k_persisted) :].decode(): int(kv.value) for kv in r.kvs}

    def register(self, address: str, lease: int) -> None:
        """Publish this node's peer address while ``lease`` lives."""
        self.client.put(self.k_nodes + self.dept.encode(), address.encode(), lease)

    def nodes(self) -> dict[str, str]:
        """Return the peer addresses of the nodes that are up."""
        r = self.client.range(self.k_nodes, prefix_end(self.k_nodes))
        return {kv.key[len(self.k_nodes) :].decode(): kv.value.decode() for kv in r.kvs}

    def compact(self, below: int) -> int:
        """Delete blocks and checkpoint statements below height ``below`` (every node has
        persisted them) and compact etcd's history; return the etcd revision compacted to."""
        self.client.delete_range(self.k_blocks, self.k_blocks + _h(below))
        self.client.delete_range(self.k_cp, self.k_cp + _h(below))
        rev = self.client.range(self.k_height).revision
        self.client.compact(rev)
        return rev


class EtcdOrderer(Generic[T]):
    """The ``Orderer`` of a network node: ``submit`` queues admitted transactions in etcd;
    ``next_batch`` hands the proposer (only) the oldest queued ones, cut by size and time.

    A queued batch is a JSON array of the items' encodings (``encode`` returns one JSON value
    per item; ``decode`` gets that value back, parsed). The proposer looks at the queue when
    ``wake`` is called (a watch on the ``queued`` key) and every ``poll_s`` seconds besides."""

    def __init__(
        self,
        log: BlockLog,
        *,
        encode: Callable[[T], bytes],
        decode: Callable[[Any], T],
        keep: Callable[[list[T]], list[T]],
        may_propose: Callable[[], bool],
        max_items: int,
        max_wait_ms: int,
        poll_s: float = 0.01,
    ) -> None:
        self.log = log
        self._encode = encode
        self._decode = decode
        self._keep = keep
        self._may_propose = may_propose
        self.max_items = max_items
        self.max_wait = max_wait_ms / 1000.0
        self.poll_s = poll_s
        self.taken: list[bytes] = []
        """Queue keys of the batch last handed out (deleted when its block is appended)."""
        self._first_seen: float | None = None
        self._closed = False
        self._woken = threading.Event()
        self._last_look = 0.0

    def wake(self) -> None:
        """Say that a batch was queued (the proposer looks at the queue at once). The first
        call after a cut starts the block's ``max_wait``: a batch queued while the previous
        block was being committed has waited since then, not since the proposer looked."""
        if self._first_seen is None:
            self._first_seen = time.monotonic()
        self._woken.set()

    def submit(self, items: Sequence[T]) -> None:
        """Queue items durably in etcd (``OrderingUnavailable`` when etcd has no majority)."""
        if self._closed:
            raise Unavailable("ordering is stopped")
        batches = []
        for i in range(0, len(items), self.max_items):
            chunk = items[i : i + self.max_items]
            data = b"[" + b",".join([self._encode(t) for t in chunk]) + b"]"
            batches.append((len(chunk), data))
        self.log.enqueue(batches)

    def next_batch(self, timeout: float) -> list[T]:
        """Proposer only: wait up to ``timeout`` s for a cut batch of queued transactions.

        The queue is read when ``wake`` was called, when a partial batch is due, or ``poll_s``
        after the last look, however often this is called (the committer calls it with short
        timeouts, which must not turn into reads of etcd every few milliseconds)."""
        deadline = time.monotonic() + timeout
        while not self._closed:
            now = time.monotonic()
            first = self._first_seen
            if (
                self._woken.is_set()
                or now - self._last_look >= self.poll_s
                or (first is not None and now >= first + self.max_wait)
            ):
                self._woken.clear()
                self._last_look = now
                try:
                    if self._may_propose():
                        batch = self._cut()
                        if batch:
                            return batch
                    else:
                        self._first_seen = None  # timed again by whoever proposes
                except Unavailable:
                    pass  # etcd has no majority: nothing can be ordered; try again
            now = time.monotonic()
            if now >= deadline:
                return []
            pause = self._last_look + self.poll_s - now
            first = self._first_seen
            if first is not None:  # cut a partial batch when it is due
                pause = min(pause, first + self.max_wait - now)
            self._woken.wait(max(0.0, min(pause, deadline - now)))
        return []

    def _cut(self) -> list[T]:
        keys, total = self.log.queued(self.max_items)
        if not keys:
            self._first_seen = None
            return []
        now = time.monotonic()
        if self._first_seen is None:
            self._first_seen = now
        if total < self.max_items and now - self._first_seen < self.max_wait:
            return []
        self._first_seen = None
        items: list[T] = []
        bad = 0
        for v in self.log.read(keys):
            try:
                values = orjson.loads(v)
            except orjson.JSONDecodeError:
                values = [v]  # counted as one bad item below
            for t in values if type(values) is list else [values]:
                try:
                    items.append(self._decode(t))
                except (GovchainError, ValueError, TypeError, KeyError):
                    bad += 1
        if bad:
            # Another node queued something that is not a transaction: it is never ordered
            # (left in the queue, it would stop this proposer on every look).
            log.warning("dropped %d queued items that do not decode", bad)
        kept = self._keep(items)
        if not kept:
            self.log.drop(keys)
            return []
        self.taken = keys
        return kept

    def pending(self) -> int:
        """Queued transactions live in etcd, durably, for whichever node proposes next: a
        stopping node has nothing of its own to drain."""
        return 0

    def close(self) -> None:
        """Stop: later ``submit`` calls raise ``Unavailable``."""
        self._closed = True
