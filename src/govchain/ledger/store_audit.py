"""``govchain verify``: every table of a node's store checked against what the chain commits to.

The chain is replayed from the stored blocks into an empty scratch ledger: every header's link
and proposer signature, every transaction's signature, and the re-execution of each block
against its transaction root, its stored log entries, its log root and its state root. The
replay writes, from nothing but the blocks' transactions, exactly the records a node writes;
so each table of the audited store is then compared with the scratch's, record by record, and
every difference is a fault named by table, key and block:

==============  ==================================================================================
meta            genesis hash (checked first: another network's store is not replayed), chain id,
                head, state layout
blocks          the replayed headers, byte for byte (a header the replay could not take is the
                fault that stops it)
entries         the re-executed log entries (transaction and receipt)
txindex         where each transaction is (height, index, log index); no stray ids
log             every tile of the recomputed Merkle tree (leaves and every interior node) and the
                log size
state           every current value, tombstone and back-pointer
history         every version of every key
buckets         every state bucket, which the state root commits to
checkpoints     not byte for byte (the replay cannot sign): each must be the statement its header
                commits to, in canonical form, and every department signature on it must verify
                under that department's node key (any key it has had)
extra           not checked: node-local records (identity accounts, sealed materials, click
                logs) that the ledger commits to nothing about
==============  ==================================================================================

Replay stops at the first block it cannot take (later blocks build on it); the comparison lists
every fault, up to a limit.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice

from govchain.errors import GovchainError, IntegrityError
from govchain.ledger.blocks import height_key
from govchain.ledger.chain import META_GENESIS_HASH, Ledger
from govchain.ledger.integrity import (
    checkpoint_fault,
    decode_header,
    expected_checkpoint,
    parse_checkpoint,
    signature_faults,
)
from govchain.ledger.log import SIZE_KEY, TILE_WIDTH
from govchain.ledger.receipts import LogEntry
from govchain.ledger.transactions import Transaction, parse_envelope
from govchain.storage.base import KVStore
from govchain.types import Height

Progress = Callable[[int, int], None]
"""``progress(done, total)`` callback, called after each block."""

MAX_FAULTS = 50
"""Most faults one audit lists (a damaged disk could otherwise list every record)."""

COMPARED_TABLES = ("meta", "blocks", "entries", "txindex", "log", "state", "history", "buckets")
"""Tables compared record by record with the replayed chain's (checkpoints are checked apart)."""

_CHUNK = 2048
_PTR = 12  # a state record ends with the 12-byte history key of its version


@dataclass(frozen=True, slots=True)
class Fault:
    """One stored record that is not what the chain commits to."""

    table: str
    """Storage table of the record (``storage.base.TABLES``)."""
    key: bytes
    """Its key in that table."""
    height: Height | None
    """The block the record belongs to (``None``: a stray record no block wrote)."""
    reason: str
    """What is wrong with it."""

    def describe(self) -> str:
        """Return one line: block, table, key and reason."""
        where = "" if self.height is None else f"block {self.height}: "
        return f"{where}table {self.table}, key {self.key.hex()}: {self.reason.removeprefix(where)}"


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Outcome of an audit."""

    ok: bool
    """Whether every check passed."""
    height: Height
    """Height of the audited chain's head."""
    transactions: int
    """Number of transactions checked."""
    bad_height: Height | None
    """First bad block, if any."""
    error: str | None
    """What was wrong, if anything (the first fault)."""
    faults: tuple[Fault, ...] = ()
    """Every stored record found at fault (up to ``MAX_FAULTS``), first one first."""


def _report(top: Height, count: int, faults: list[Fault]) -> AuditReport:
    if not faults:
        return AuditReport(True, top, count, None, None)
    first = faults[0]
    return AuditReport(False, top, count, first.height, first.describe(), tuple(faults))


def audit_store(
    store: KVStore,
    scratch: Ledger,
    progress: Progress | None = None,
    *,
    max_faults: int = MAX_FAULTS,
) -> AuditReport:
    """Check every table of ``store`` against the chain it holds, replayed into the empty
    ``scratch`` ledger (same genesis, its own store); see the module docstring."""
    if scratch.height != 0:
        raise ValueError("scratch ledger must be empty")
    stored = store.get("meta", META_GENESIS_HASH)
    if stored != scratch.genesis_hash:
        found = "no genesis hash" if stored is None else f"genesis hash {stored.hex()}"
        reason = (
            f"this store holds {found}, the network's is {scratch.genesis_hash.hex()}: it "
            "belongs to another network, or the record is corrupt"
        )
        return _report(0, 0, [Fault("meta", META_GENESIS_HASH, 0, reason)])
    top = count = 0
    try:
        last = next(store.scan("blocks", reverse=True), None)
        top = 0 if last is None else int.from_bytes(last[0], "big")
        sizes = [0]
        count, fault = _replay(store, scratch, top, sizes, progress)
        if fault is not None:
            return _report(top, count, [fault])
        audit = _Comparison(store, scratch, sizes, max_faults)
        for table in COMPARED_TABLES:
            audit.compare(table)
        audit.check_checkpoints()
    except IntegrityError as exc:
        # The store could not be read: LMDB's own structure is damaged (``storage/lmdb.py``).
        key = exc.fields.get("key")
        height = exc.fields.get("height")
        fault = Fault(
            str(exc.fields.get("table", "?")),
            bytes.fromhex(key) if isinstance(key, str) else b"",
            height if isinstance(height, int) else None,
            exc.message,
        )
        return _report(top, count, [fault])
    return _report(top, count, audit.faults)


def _replay(
    store: KVStore, scratch: Ledger, top: Height, sizes: list[int], progress: Progress | None
) -> tuple[int, Fault | None]:
    """Apply stored blocks 1..``top`` to ``scratch``; return the transactions applied and the
    fault that stopped the replay, if any. ``sizes`` gets the log size after each block."""
    count = 0
    h = scratch.h
    for height in range(1, top + 1):
        key = height_key(height)
        raw = store.get("blocks", key)
        if raw is None:
            return count, Fault("blocks", key, height, f"missing (blocks are stored up to {top})")
        try:
            signed = decode_header(raw, height)
            scratch.check_header(signed)
        except IntegrityError as exc:
            return count, Fault("blocks", key, height, exc.message)
        hd = signed.header
        first = hd.first_log_index
        items = list(
            store.scan("entries", first.to_bytes(8, "big"), hd.log_size.to_bytes(8, "big"))
        )
        entries: list[bytes] = []
        txs: list[Transaction] = []
        for i in range(hd.tx_count):
            ekey = (first + i).to_bytes(8, "big")
            if i >= len(items) or items[i][0] != ekey:
                return count, Fault("entries", ekey, height, f"log entry {first + i} is missing")
            try:
                txs.append(parse_envelope(LogEntry.decode(items[i][1]).tx, h))
            except GovchainError as exc:
                return count, Fault(
                    "entries", ekey, height, f"log entry {first + i} is corrupt ({exc.message})"
                )
            entries.append(items[i][1])
        try:
            scratch.apply_block(signed, txs, expected_entries=entries)
        except IntegrityError as exc:
            index = exc.fields.get("tx_index")
            if type(index) is int:
                return count, Fault(
                    "entries", (first + index).to_bytes(8, "big"), height, exc.message
                )
            return count, Fault("blocks", key, height, exc.message)
        count += len(txs)
        sizes.append(hd.log_size)
        if progress is not None:
            progress(height, top)
    return count, None


def _differences(
    mine: Iterator[tuple[bytes, bytes]], theirs: Iterator[tuple[bytes, bytes]]
) -> Iterator[tuple[bytes, bytes | None, bytes | None]]:
    """Yield ``(key, mine, theirs)`` for every key whose value differs between two sorted
    scans (``None``: absent on that side)."""
    while True:
        a, b = list(islice(mine, _CHUNK)), list(islice(theirs, _CHUNK))
        if a == b:  # the common case: whole chunks equal, compared in C
            if not a:
                return
            continue
        yield from _merge(iter(a), iter(b), mine, theirs)
        return


def _merge(
    a_head: Iterator[tuple[bytes, bytes]],
    b_head: Iterator[tuple[bytes, bytes]],
    a_rest: Iterator[tuple[bytes, bytes]],
    b_rest: Iterator[tuple[bytes, bytes]],
) -> Iterator[tuple[bytes, bytes | None, bytes | None]]:
    a_it, b_it = _chain(a_head, a_rest), _chain(b_head, b_rest)
    a, b = next(a_it, None), next(b_it, None)
    while a is not None or b is not None:
        if a is not None and b is not None and a[0] == b[0]:
            if a[1] != b[1]:
                yield a[0], a[1], b[1]
            a, b = next(a_it, None), next(b_it, None)
        elif b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            yield a[0], a[1], None
            a = next(a_it, None)
        else:
            yield b[0], None, b[1]
            b = next(b_it, None)


def _chain(*its: Iterator[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, bytes]]:
    for it in its:
        yield from it


class _Comparison:
    """The table-by-table comparison of an audited store with the replayed one."""

    def __init__(self, store: KVStore, scratch: Ledger, sizes: list[int], limit: int) -> None:
        self.store = store
        self.scratch = scratch
        self.sizes = sizes
        self.top = len(sizes) - 1
        self.limit = limit
        self.faults: list[Fault] = []

    def _add(self, fault: Fault) -> bool:
        """Record a fault; return whether there is room for more."""
        if len(self.faults) < self.limit:
            self.faults.append(fault)
        return len(self.faults) < self.limit

    def _block_of(self, log_index: int) -> Height | None:
        if not 0 <= log_index < self.sizes[-1]:
            return None
        return bisect.bisect_right(self.sizes, log_index)

    def compare(self, table: str) -> None:
        """Compare ``table`` record by record with the replayed chain's."""
        if len(self.faults) >= self.limit:
            return
        diffs = _differences(self.store.scan(table), self.scratch.store.scan(table))
        for key, mine, theirs in diffs:
            height, detail = self._locate(table, key, mine, theirs)
            if theirs is None:
                reason = "a stray record: the chain writes no such key"
            elif mine is None:
                reason = "missing: the chain writes this record"
            else:
                reason = "differs from what the chain writes"
            if not self._add(Fault(table, key, height, reason + detail)):
                return

    def _locate(
        self, table: str, key: bytes, mine: bytes | None, theirs: bytes | None
    ) -> tuple[Height | None, str]:
        """The block a record belongs to, and a detail of where it differs."""
        value = theirs if theirs is not None else mine
        assert value is not None
        if table == "meta":
            return self.top, ""
        if table == "blocks":
            height = int.from_bytes(key, "big")
            return (height if len(key) == 8 and height <= self.top else None), ""
        if table == "entries":
            index = int.from_bytes(key, "big")
            return (self._block_of(index) if len(key) == 8 else None), f" (log index {index})"
        if table == "txindex":
            return (int.from_bytes(value[:8], "big") if len(value) == 20 else None), ""
        if table == "log":
            return self._locate_tile(key, mine, theirs)
        if table == "state":
            return (int.from_bytes(value[-_PTR:][:8], "big") if len(value) >= _PTR else None), ""
        if table == "history":
            return (int.from_bytes(key[:8], "big") if len(key) == _PTR else None), ""
        # buckets
        bucket = int.from_bytes(key, "big")
        last = self.scratch.state.bucket_height(bucket) if theirs is not None else None
        return last, f" (state bucket {bucket})"

    def _locate_tile(
        self, key: bytes, mine: bytes | None, theirs: bytes | None
    ) -> tuple[Height | None, str]:
        if key == SIZE_KEY:
            return self.top, " (the log size)"
        if len(key) != 9:
            return None, ""
        level, row = key[0], int.from_bytes(key[1:], "big")
        hs = len(self.scratch.log.root)
        col = 0
        if mine is not None and theirs is not None:
            while mine[col * hs : (col + 1) * hs] == theirs[col * hs : (col + 1) * hs]:
                col += 1
        index = row * TILE_WIDTH + col
        last_leaf = min(((index + 1) << level) - 1, self.sizes[-1] - 1)
        detail = f" (tile ({level}, {row}): node {index} of level {level})"
        return (self._block_of(last_leaf) if theirs is not None else None), detail

    def check_checkpoints(self) -> None:
        """Check each stored checkpoint against its replayed header and verify every
        department signature on it."""
        scratch = self.scratch
        suite = scratch.suite
        keys = scratch.department_keys()
        chain_id = scratch.genesis.chain_id
        # Signatures are verified together, on every core: per signature its triples (one per
        # key its department has had) and where it is.
        pending: list[tuple[Height, str, int]] = []
        triples: list[tuple[bytes, bytes, bytes]] = []
        expected_keys = {height_key(h) for h in range(1, self.top + 1)}
        seen: set[bytes] = set()
        for key, raw in self.store.scan("checkpoints"):
            seen.add(key)
            if key not in expected_keys:
                if not self._add(
                    Fault("checkpoints", key, None, "a stray record: the chain has no such block")
                ):
                    return
                continue
            height = int.from_bytes(key, "big")
            try:
                signed = parse_checkpoint(raw, height)
            except IntegrityError as exc:
                if not self._add(Fault("checkpoints", key, height, exc.message)):
                    return
                continue
            header = scratch.stored_header(height)
            problems = [
                p
                for p in (
                    checkpoint_fault(
                        signed.checkpoint, expected_checkpoint(chain_id, header, scratch.h)
                    ),
                )
                if p is not None
            ]
            problems += signature_faults(signed, keys)
            for problem in problems:
                if not self._add(Fault("checkpoints", key, height, problem)):
                    return
            if problems:
                continue
            message = signed.checkpoint.signing_message()
            for dept, sig in signed.signatures:
                pending.append((height, dept, len(triples)))
                triples.extend((k, message, sig) for k in keys[dept])
        for key in sorted(expected_keys - seen):
            if not self._add(
                Fault(
                    "checkpoints",
                    key,
                    int.from_bytes(key, "big"),
                    "missing: every block has a checkpoint",
                )
            ):
                return
        verdicts = suite.verify_many(triples) if triples else []
        ends = [start for _, _, start in pending[1:]] + [len(triples)] * bool(pending)
        for (height, dept, start), end in zip(pending, ends, strict=True):
            if not any(verdicts[start:end]):
                reason = f"the signature of {dept!r} does not verify"
                if not self._add(Fault("checkpoints", height_key(height), height, reason)):
                    return
