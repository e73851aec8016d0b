"""The portal's click log (点击记录): page views, searches and clicks of logged-in people, under
a pseudonym, batched, hash-chained and anchored on-chain.

- **Pseudonym.** ``who`` is HMAC-SHA256 of the user id under a key kept in the network directory
  (``<network>/portal/click.key``, 0600, made on first use): stable for a person, and without
  the key it cannot be linked back to them. No query string is logged except a search's own
  words, and nothing personal.
- **Request path.** ``record`` takes a timestamp and appends a tuple to a list in memory (a few
  µs); a background thread writes what has gathered as one batch every ``FLUSH_S`` (sooner when
  ``BATCH_MAX`` are waiting).
- **Batches.** Events ``{seq, time_ms, who, kind, path, detail}``; the batch's hash is
  ``H(previous batch's hash ‖ canonical JSON of its events)`` and its root the RFC 6962 Merkle
  root of the events (``H`` the network's hash). Each batch is one commit of the node's store
  (table ``extra``, prefix ``clicks/``), and its ``{root, count, prev, first_ms, last_ms}`` is
  anchored on-chain with the built-in ``kv`` contract under ``clicklog/<batch number>``.
- **Retention.** ``purge`` drops the events of batches older than the retention period
  (``RETENTION_DAYS``, run at start and daily) and keeps each batch's header (hash, prev, root),
  so that ``verify_chain`` still checks the whole chain and every anchor.
- **The person's rights.** ``export`` gives a person all their events; ``set_personalised``
  switches logging (and personalised recommendations) off or on for them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import orjson

from govchain.contracts.kv import state_key
from govchain.errors import GovchainError, IntegrityError, SchemaViolation
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.merkle import HashFn, leaf_hash, root_of
from govchain.node.casedesk import CaseDesk
from govchain.node.node import Node
from govchain.storage.base import KVStore, WriteBatch

RETENTION_DAYS = 180
"""Events are kept this long (the documented default)."""
DAY_MS = 86_400_000
FLUSH_S = 10.0
"""The writer writes what has gathered at least this often."""
BATCH_MAX = 2000
"""The writer is woken when this many events wait."""
PENDING_MAX = 200_000
"""Events kept waiting at most: past this (a writer that cannot write) new ones are dropped,
so that the log never takes the portal's memory."""
RESEND_MS = 60_000
"""An anchor not on-chain this long after it was sent is sent again."""
KINDS = ("view", "search", "click")
"""Kinds of event."""
MAX_PATH = 200
MAX_DETAIL = 200
KEY_FILE = Path("portal") / "click.key"
"""The pseudonym key, under the network directory."""
TABLE = "extra"
PREFIX = b"clicks/"
ANCHOR_PREFIX = "clicklog/"
"""Key of a batch's anchor in the ``kv`` contract: ``clicklog/<batch number>``."""
GENESIS_PREV = "00" * 32
"""``prev`` of the first batch."""
_HEAD = PREFIX + b"head"
_OPTOUT = PREFIX + b"optout/"
_log = logging.getLogger(__name__)


def batch_key(number: int) -> bytes:
    """Store key of a batch's header."""
    return PREFIX + b"batch/%012d" % number


def events_key(number: int) -> bytes:
    """Store key of a batch's events (canonical JSON)."""
    return PREFIX + b"events/%012d" % number


def _who_key(who: str, number: int) -> bytes:
    return PREFIX + b"who/" + who.encode() + b"/%012d" % number


def now_ms() -> int:
    """Wall-clock time in milliseconds (the log's default clock)."""
    return time.time_ns() // 1_000_000


def load_or_create_key(network_dir: Path | str) -> bytes:
    """The pseudonym key of ``<network>/portal/click.key`` (32 random bytes, 0600), made the
    first time it is needed."""
    path = Path(network_dir) / KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it in between: use theirs
            return load_or_create_key(network_dir)
        key = os.urandom(32)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        return key
    if len(key) != 32:
        raise SchemaViolation(f"click log key {path} is not 32 bytes", field="click.key")
    return key


@dataclass(frozen=True, slots=True)
class BatchHead:
    """What the store keeps of a batch, after its events are purged too."""

    number: int
    """Batch number, from 0."""
    hash: str
    """``H(prev ‖ canonical JSON of the events)``, hex."""
    prev: str
    """The previous batch's hash (``GENESIS_PREV`` for batch 0)."""
    root: str
    """RFC 6962 Merkle root of the events' canonical JSON, hex."""
    count: int
    """Number of events."""
    first_seq: int
    """``seq`` of its first event."""
    first_ms: int
    """Time of its earliest event."""
    last_ms: int
    """Time of its latest event."""
    purged: bool = False
    """Whether its events were dropped after the retention period."""

    def anchor_value(self) -> dict[str, Any]:
        """The value anchored on-chain for it."""
        return {
            "root": self.root,
            "count": self.count,
            "prev": self.prev,
            "first_ms": self.first_ms,
            "last_ms": self.last_ms,
        }


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What ``verify_chain`` checked."""

    batches: int
    """Batch headers whose hash chain was followed."""
    events: int
    """Events whose batch hash and Merkle root were recomputed."""
    first_kept: int
    """First batch whose events are kept (the earlier ones were purged)."""
    anchored: int
    """Batches whose on-chain anchor matched."""
    pending: tuple[int, ...]
    """Batches whose anchor is not on-chain yet (sent, or to be sent again)."""


class Anchor(Protocol):
    """Where batch roots are anchored."""

    def put(self, number: int, value: Mapping[str, Any]) -> str:
        """Send the anchor of batch ``number``; return its transaction id (hex)."""
        ...

    def get(self, number: int) -> dict[str, Any] | None:
        """The anchored value of batch ``number``, if committed."""
        ...


class KvAnchor:
    """Anchors in the built-in ``kv`` contract, signed by the department running the portal."""

    def __init__(self, node: Node, desk: CaseDesk, dept: str) -> None:
        self.node = node
        self.desk = desk
        self.dept = dept

    def put(self, number: int, value: Mapping[str, Any]) -> str:
        """Sign ``kv.put clicklog/<number>`` and submit it without waiting."""
        args = {"key": f"{ANCHOR_PREFIX}{number}", "value": dict(value)}
        tx = self.desk.sign(self.dept, "kv", "put", args, actor=f"{self.dept}/portal")
        outcome = self.node.submit([tx.envelope()], raw=False, wait=False)[0]
        if isinstance(outcome, GovchainError):
            raise outcome
        return tx.tx_id.hex()

    def get(self, number: int) -> dict[str, Any] | None:
        """Read ``clicklog/<number>`` from the committed state."""
        found, _proof, _cp = self.node.state_with_proof(state_key(f"{ANCHOR_PREFIX}{number}"))
        if found is None or found.value is None:
            return None
        value: dict[str, Any] = orjson.loads(found.value)
        return value


class ClickLog:
    """The click log of one portal (see the module docstring). Thread-safe."""

    def __init__(
        self,
        store: KVStore,
        hash_fn: HashFn,
        key: bytes,
        *,
        anchor: Anchor | None = None,
        clock: Callable[[], int] = now_ms,
        flush_s: float = FLUSH_S,
        batch_max: int = BATCH_MAX,
        max_pending: int = PENDING_MAX,
        retention_ms: int = RETENTION_DAYS * DAY_MS,
    ) -> None:
        self._store = store
        self._h = hash_fn
        self._key = key
        self.anchor = anchor
        self._clock = clock
        self.flush_s = flush_s
        self._batch_max = batch_max
        self._max_pending = max_pending
        self.retention_ms = retention_ms
        self.dropped = 0
        """Events dropped because too many were waiting."""
        self.listeners: list[Callable[[list[dict[str, Any]]], None]] = []
        """Called with each batch's events once it is written (in the writer's thread)."""
        self._lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._pending: list[tuple[int, str, str, str, str]] = []
        self._names: dict[str, str] = {}
        self._optout = {
            k[len(_OPTOUT) :].decode() for k, _ in store.scan(TABLE, _OPTOUT, _end(_OPTOUT))
        }
        head = orjson.loads(store.get(TABLE, _HEAD) or b"{}")
        self._next: int = head.get("next", 0)
        self._hash: str = head.get("hash", GENESIS_PREV)
        self._seq: int = head.get("seq", 0)
        self._first_kept: int = head.get("first_kept", 0)
        # Batch number -> (anchor transaction, when sent); stored as numbers only.
        self._unanchored: dict[int, tuple[str, int]] = {
            n: ("", 0) for n in head.get("unanchored", [])
        }
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the request path -------------------------------------------------------------------

    def pseudonym(self, user: str) -> str:
        """The person's pseudonym: HMAC-SHA256 of the user id, 128 bits, hex."""
        found = self._names.get(user)
        if found is None:
            found = hmac.new(self._key, user.encode(), hashlib.sha256).hexdigest()[:32]
            if len(self._names) >= 100_000:
                self._names.clear()
            self._names[user] = found
        return found

    def record(self, user: str, kind: str, path: str, detail: str = "") -> bool:
        """Log one event of a logged-in person; ``False`` when they opted out (or too many
        events wait). ``detail`` is a search's words or the page a click came from."""
        if kind not in KINDS:
            raise SchemaViolation(f"an event is one of {', '.join(KINDS)}", field="kind")
        who = self._names.get(user) or self.pseudonym(user)
        if who in self._optout:
            return False
        event = (self._clock(), who, kind, path[:MAX_PATH], detail[:MAX_DETAIL])
        with self._lock:
            if len(self._pending) >= self._max_pending:
                self.dropped += 1
                return False
            self._pending.append(event)
            waiting = len(self._pending)
        if waiting >= self._batch_max:
            self._wake.set()
        return True

    def pending(self) -> int:
        """Events recorded and not yet written."""
        return len(self._pending)

    # --- personalisation --------------------------------------------------------------------

    def personalised(self, user: str) -> bool:
        """Whether the person lets the portal log and use what they do."""
        return self.pseudonym(user) not in self._optout

    def set_personalised(self, user: str, on: bool) -> None:
        """Switch logging and personalised recommendations on or off for the person."""
        who = self.pseudonym(user)
        batch = WriteBatch()
        if on:
            batch.delete(TABLE, _OPTOUT + who.encode())
        else:
            batch.put(TABLE, _OPTOUT + who.encode(), b"1")
        with self._write_lock:
            self._store.commit(batch)
            (self._optout.discard if on else self._optout.add)(who)

    # --- batches ----------------------------------------------------------------------------

    def flush(self) -> BatchHead | None:
        """Write the events waiting as one batch and send its anchor; return its header (or
        ``None`` if nothing waited). Anchors not on-chain yet are checked and sent again."""
        with self._write_lock:
            with self._lock:
                items, self._pending = self._pending, []
            head = self._write(items) if items else None
            self._reconcile()
        return head

    def _write(self, items: list[tuple[int, str, str, str, str]]) -> BatchHead:
        number, prev, first = self._next, self._hash, self._seq
        events: list[dict[str, Any]] = [
            {"seq": first + i, "time_ms": t, "who": w, "kind": k, "path": p, "detail": d}
            for i, (t, w, k, p, d) in enumerate(items)
        ]
        root, digest = self._digest(prev, events)
        times = [t for t, *_ in items]
        head = BatchHead(number, digest, prev, root, len(events), first, min(times), max(times))
        batch = WriteBatch()
        batch.put(TABLE, events_key(number), canonical_unchecked(events))
        batch.put(TABLE, batch_key(number), canonical_unchecked(asdict(head)))
        for who in {w for _, w, *_ in items}:
            batch.put(TABLE, _who_key(who, number), b"")
        kept = (self._next, self._hash, self._seq, dict(self._unanchored))
        self._unanchored[number] = ("", 0)
        self._next, self._hash, self._seq = number + 1, digest, first + len(events)
        batch.put(TABLE, _HEAD, self._head_bytes())
        try:
            self._store.commit(batch)  # one commit per batch: events, header, index, chain head
        except BaseException:
            # Nothing was written: the chain stays where it was and the events wait again.
            self._next, self._hash, self._seq, self._unanchored = kept
            with self._lock:
                self._pending[:0] = items
            raise
        self._send(head)
        for listener in self.listeners:
            listener(events)
        return head

    def _digest(self, prev: str, events: list[dict[str, Any]]) -> tuple[str, str]:
        """(Merkle root, batch hash) of a batch's events, hex."""
        leaves = [leaf_hash(self._h, canonical_unchecked(e)) for e in events]
        body = canonical_unchecked(events)
        return root_of(self._h, leaves).hex(), self._h(bytes.fromhex(prev) + body).hex()

    def _head_bytes(self) -> bytes:
        return canonical_unchecked(
            {
                "next": self._next,
                "hash": self._hash,
                "seq": self._seq,
                "first_kept": self._first_kept,
                "unanchored": sorted(self._unanchored),
            }
        )

    def _send(self, head: BatchHead) -> None:
        if self.anchor is None:
            return
        try:
            tx = self.anchor.put(head.number, head.anchor_value())
        except GovchainError as exc:  # the node is busy or stopping: sent again later
            _log.warning("click log batch %d: anchor not sent: %s", head.number, exc)
            tx = ""
        self._unanchored[head.number] = (tx, self._clock())

    def _reconcile(self) -> None:
        """Forget anchors that are on-chain; send again those lost on the way."""
        if self.anchor is None or not self._unanchored:
            return
        done = []
        for number, (_tx, sent) in sorted(self._unanchored.items()):
            try:
                found = self.anchor.get(number)
            except GovchainError:  # the node is stopping: checked again on the next start
                return
            if found is not None:
                done.append(number)  # a differing value is verify_chain's to report
            elif self._clock() - sent > RESEND_MS:
                self._send(self.batch(number))
        if done:
            for number in done:
                del self._unanchored[number]
            batch = WriteBatch()
            batch.put(TABLE, _HEAD, self._head_bytes())
            self._store.commit(batch)

    def batch(self, number: int) -> BatchHead:
        """A batch's header (``IntegrityError`` if the store lost it)."""
        raw = self._store.get(TABLE, batch_key(number))
        if raw is None:
            raise IntegrityError(f"click log batch {number} is missing", batch=number)
        return BatchHead(**orjson.loads(raw))

    def events_of(self, number: int) -> list[dict[str, Any]]:
        """A batch's events ([] once purged)."""
        raw = self._store.get(TABLE, events_key(number))
        return [] if raw is None else list(orjson.loads(raw))

    @property
    def size(self) -> int:
        """Batches written."""
        return self._next

    @property
    def first_kept(self) -> int:
        """First batch whose events are kept."""
        return self._first_kept

    # --- retention --------------------------------------------------------------------------

    def purge(self, older_than_ms: int) -> int:
        """Drop the events of the batches whose every event is older than ``older_than_ms``
        (headers stay, so the chain still verifies); return how many batches were purged."""
        with self._write_lock:
            batch = WriteBatch()
            number = self._first_kept
            while number < self._next:
                head = self.batch(number)
                if head.last_ms >= older_than_ms:
                    break
                for who in {e["who"] for e in self.events_of(number)}:
                    batch.delete(TABLE, _who_key(who, number))
                batch.delete(TABLE, events_key(number))
                batch.put(
                    TABLE,
                    batch_key(number),
                    canonical_unchecked(asdict(replace(head, purged=True))),
                )
                number += 1
            purged = number - self._first_kept
            if purged:
                self._first_kept = number
                batch.put(TABLE, _HEAD, self._head_bytes())
                self._store.commit(batch)
            return purged

    # --- verification -----------------------------------------------------------------------

    def verify_chain(self) -> ChainCheck:
        """Follow the chain from batch 0: each ``prev`` is the previous hash; each kept batch's
        hash, root, count and times are recomputed from its events; each anchor on-chain
        equals the header. Raise ``IntegrityError`` naming the first batch that differs."""
        with self._write_lock:
            prev, events, anchored, pending = GENESIS_PREV, 0, 0, []
            for number in range(self._next):
                head = self.batch(number)
                if head.prev != prev:
                    raise _broken(
                        number, "its prev is not the previous batch's hash", prev, head.prev
                    )
                if not head.purged:
                    events += self._check_events(head)
                if self.anchor is not None:
                    found = self.anchor.get(number)
                    if found is None and number in self._unanchored:
                        pending.append(number)
                    elif found != head.anchor_value():
                        raise _broken(
                            number, "the anchor on-chain differs", head.anchor_value(), found
                        )
                    else:
                        anchored += 1
                prev = head.hash
            if prev != self._hash:
                raise _broken(self._next - 1, "the chain head differs", self._hash, prev)
            return ChainCheck(self._next, events, self._first_kept, anchored, tuple(pending))

    def _check_events(self, head: BatchHead) -> int:
        raw = self._store.get(TABLE, events_key(head.number))
        if raw is None:
            raise _broken(head.number, "its events are missing", head.count, 0)
        try:
            events = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _broken(head.number, "its events are not JSON", head.count, None) from None
        root, digest = self._digest(head.prev, events)
        if root != head.root:
            raise _broken(head.number, "its events do not give its Merkle root", head.root, root)
        if digest != head.hash:
            raise _broken(head.number, "its events do not give its hash", head.hash, digest)
        times = [e.get("time_ms") for e in events]
        if (len(events), min(times), max(times)) != (head.count, head.first_ms, head.last_ms):
            raise _broken(head.number, "its count or times differ", head.count, len(events))
        return len(events)

    # --- a person's events ------------------------------------------------------------------

    def export(self, user: str) -> list[dict[str, Any]]:
        """Every kept event of the person, oldest first, each with its batch number."""
        self.flush()
        return list(reversed(list(self._mine(self.pseudonym(user), None))))

    def latest(self, user: str, limit: int = 200) -> list[dict[str, Any]]:
        """The person's latest ``limit`` events, newest first."""
        self.flush()
        return list(self._mine(self.pseudonym(user), limit))

    def _mine(self, who: str, limit: int | None) -> Iterator[dict[str, Any]]:
        prefix = PREFIX + b"who/" + who.encode() + b"/"
        given = 0
        for key, _ in self._store.scan(TABLE, prefix, _end(prefix), reverse=True):
            number = int(key[len(prefix) :])
            for event in reversed(self.events_of(number)):
                if event["who"] == who:
                    yield {**event, "batch": number}
                    given += 1
                    if limit is not None and given >= limit:
                        return

    # --- the writer thread ------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer: purge past the retention period, then write every ``flush_s``
        and purge daily."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="govchain-clicklog", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        next_purge = 0
        while not self._stop.is_set():
            try:
                if self._clock() >= next_purge:
                    self.purge(self._clock() - self.retention_ms)
                    next_purge = self._clock() + DAY_MS
                self.flush()
            except Exception:  # the writer must outlive a bad moment of the store or node
                _log.exception("click log writer")
            self._wake.wait(self.flush_s)
            self._wake.clear()

    def close(self) -> None:
        """Stop the writer and write what waits (its anchor is sent on the next start if the
        node no longer takes transactions)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self.flush()


def _end(prefix: bytes) -> bytes:
    return prefix[:-1] + bytes([prefix[-1] + 1])


def _broken(number: int, what: str, expected: object, found: object) -> IntegrityError:
    return IntegrityError(
        f"click log batch {number}: {what}", batch=number, expected=expected, found=found
    )
