"""The ledger of one node: executes ordered blocks and commits each one atomically and durably.

``Ledger`` joins the world state, the transaction log and the block store on one ``KVStore``:
a block, its log entries (transactions + receipts), its state changes, the log tiles and the
head pointer go into one ``WriteBatch``; nothing is visible or acknowledged before it is durable.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govchain.crypto.suite import CryptoSuite
from govchain.errors import IntegrityError, NotFound, SchemaViolation, Unavailable
from govchain.ledger import merkle
from govchain.ledger.blocks import BlockHeader, SignedHeader, height_key, tx_root
from govchain.ledger.checkpoints import Checkpoint, SignedCheckpoint
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.execution import (
    ContractHost,
    ExecutionResult,
    decode_member,
    execute_block,
    member_key,
)
from govchain.ledger.genesis import Genesis
from govchain.ledger.integrity import (
    CheckedCache,
    DepartmentKeys,
    check_checkpoint,
    check_header,
    check_located,
    decode_header,
    department_keys,
    stored_fault,
)
from govchain.ledger.log import LogHead, MerkleLog
from govchain.ledger.membership import DEPARTMENTS_KEY, Membership, current_membership
from govchain.ledger.receipts import BUNDLE_FORMAT, LogEntry, hex_list
from govchain.ledger.state import StateWrite, WorldState
from govchain.ledger.transactions import Transaction
from govchain.storage.base import KVStore, WriteBatch
from govchain.types import DeptId, Hash32, Height, TxId

_LOC = struct.Struct(">QIQ")  # height, index in block, log index

MAX_MEMBERSHIP_CHANGES = 10_000
"""Most membership changes a receipt proves its way through (departments join and leave
rarely)."""

META_GENESIS_HASH = b"genesis_hash"
META_CHAIN_ID = b"chain_id"
META_HEAD = b"head"

CHECKED_CACHE = 1024
"""Headers and checkpoints whose stored bytes were checked (signatures included) and are
remembered with those bytes: a read that finds the same bytes again skips the signature checks;
different bytes (a merge of signatures, or corruption) are checked again."""


@dataclass(frozen=True, slots=True)
class TxLocation:
    """Where a committed transaction is."""

    height: Height
    """Block height."""
    index: int
    """Index in the block."""
    log_index: int
    """Index in the transaction log."""


@dataclass(frozen=True, slots=True)
class CommittedBlock:
    """A block that is durably committed."""

    header: SignedHeader
    """The signed header."""
    block_hash: Hash32
    """Hash of the header."""
    result: ExecutionResult
    """Receipts, writes and log entries of the block."""
    tx_ids: tuple[TxId, ...]
    """Transaction ids in block order."""


Verified = Sequence[bytes | None] | Callable[[], Sequence[bytes | None]] | None
"""Signatures a caller checked already: per transaction, the key it was found valid under (or
``None``), or a function returning that list once its checks are done."""


class _Reader:
    """Adapts ``WorldState`` to the ``StateReader`` protocol of execution."""

    __slots__ = ("_state",)

    def __init__(self, state: WorldState) -> None:
        self._state = state

    def get_value(self, key: bytes) -> bytes | None:
        return self._state.get_value(key)

    def scan_values(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key, v in self._state.iter_range(prefix):
            if v.value is not None:
                yield key, v.value


def genesis_writes(genesis: Genesis, genesis_hash: bytes) -> list[StateWrite]:
    """Return the state written at height 0: the member records of genesis."""
    return [
        StateWrite(
            member_key(m.id),
            canonical_unchecked({**m.to_json(), "status": "active"}),
            0,
            TxId(genesis_hash),
        )
        for m in genesis.members
    ]


class Ledger:
    """One node's ledger over a ``KVStore`` (opened, initialised from genesis if empty)."""

    def __init__(
        self,
        store: KVStore,
        genesis: Genesis,
        suite: CryptoSuite,
        host: ContractHost,
    ) -> None:
        if suite.name != genesis.suite:
            raise SchemaViolation(f"genesis uses suite {genesis.suite!r}, not {suite.name!r}")
        self.store = store
        self.genesis = genesis
        self.suite = suite
        self.host = host
        self.h: Callable[[bytes], bytes] = suite.hash
        self.genesis_hash = Hash32(self.h(genesis.canonical()))
        self.state = WorldState(store, self.h, genesis.params.state_buckets)
        self.log = MerkleLog(store, self.h, height_of=self.height_of, leaf_of=self._stored_leaf)
        self._reader = _Reader(self.state)
        self._checked_headers: CheckedCache[SignedHeader] = CheckedCache(CHECKED_CACHE)
        self._checked_checkpoints: CheckedCache[SignedCheckpoint] = CheckedCache(CHECKED_CACHE)
        self._keys: tuple[int, DepartmentKeys] | None = None
        stored = store.get("meta", META_GENESIS_HASH)
        if stored is None:
            self._init_genesis()
        elif stored != self.genesis_hash:
            raise IntegrityError(
                "this data directory belongs to another network (genesis hash "
                f"{stored.hex()}, expected {self.genesis_hash.hex()})"
            )
        self._head: SignedHeader | None = self._load_head()

    # --- initialisation -------------------------------------------------------------------

    def _init_genesis(self) -> None:
        batch = WriteBatch()
        self.state.stage(batch, genesis_writes(self.genesis, self.genesis_hash), 0)
        batch.put("meta", META_GENESIS_HASH, self.genesis_hash)
        batch.put("meta", META_CHAIN_ID, self.genesis.chain_id.encode())
        batch.put("meta", META_HEAD, (0).to_bytes(8, "big"))
        try:
            self.store.commit(batch)
        except BaseException:
            self.state.discard_staged()
            raise
        self.state.commit_staged()

    def _load_head(self) -> SignedHeader | None:
        raw = self.store.get("meta", META_HEAD)
        height = 0 if raw is None else int.from_bytes(raw, "big")
        if height == 0:
            return None
        try:
            return self.header(height)
        except NotFound:
            raise IntegrityError(
                f"the stored head says height {height}, and there is no block at that height",
                table="meta",
                key=META_HEAD.hex(),
                height=height,
            ) from None

    # --- checked reads: what is served is first checked against what it commits to ----------

    def department_keys(self) -> DepartmentKeys:
        """Return the node keys of every department that was ever a member (genesis's and
        each membership since): the keys a stored header or checkpoint signature may be under."""
        current = self.state.get(DEPARTMENTS_KEY)
        version = 0 if current is None else current.version
        cached = self._keys
        if cached is not None and cached[0] == version:
            return cached[1]
        versions = (
            [] if current is None else self.state.history(DEPARTMENTS_KEY, MAX_MEMBERSHIP_CHANGES)
        )
        try:
            keys = department_keys(self.genesis, [v.value for v in versions if v.value is not None])
        except SchemaViolation as exc:
            raise IntegrityError(
                f"a stored membership is corrupt ({exc.message})",
                table="state",
                key=DEPARTMENTS_KEY.hex(),
                height=None if current is None else current.height,
            ) from None
        self._keys = (version, keys)
        return keys

    def stored_header(self, height: Height) -> SignedHeader:
        """Return the header stored at ``height``, parsed but with its signature unchecked
        (for the node's own bookkeeping; ``header`` is what may be served)."""
        raw = self.store.get("blocks", height_key(height))
        if raw is None:
            raise NotFound(f"no block at height {height}", height=height)
        cached = self._checked_headers.get(height, raw)
        return cached if cached is not None else decode_header(raw, height)

    def _stored_leaf(self, log_index: int) -> bytes | None:
        """The leaf hash of the stored log entry ``log_index`` (``None`` if there is none)."""
        raw = self.store.get("entries", log_index.to_bytes(8, "big"))
        return None if raw is None else merkle.leaf_hash(self.h, raw)

    def height_of(self, log_index: int) -> Height:
        """Return the height of the block that holds log entry ``log_index`` (``NotFound`` past
        the log's end)."""
        if not 0 <= log_index < self.log.size:
            raise NotFound(f"no log entry {log_index}", log_index=log_index)
        sizes = _LogSizes(self)
        return Height(bisect.bisect_right(sizes, log_index, 1, self.height + 1))

    # --- reads ------------------------------------------------------------------------------

    @property
    def height(self) -> Height:
        """Height of the last committed block (0 before the first block)."""
        return 0 if self._head is None else self._head.header.height

    @property
    def head(self) -> SignedHeader | None:
        """The last committed header, if any."""
        return self._head

    def head_hash(self) -> Hash32:
        """Hash of the last header, or the genesis hash before the first block."""
        return self.genesis_hash if self._head is None else self._head.header.hash(self.h)

    def header(self, height: Height) -> SignedHeader:
        """Return the signed header at ``height`` (``NotFound`` beyond the head), checked: its
        chain, canonical form and proposer signature (``IntegrityError`` naming it if not)."""
        raw = self.store.get("blocks", height_key(height))
        if raw is None:
            raise NotFound(f"no block at height {height}", height=height)
        cached = self._checked_headers.get(height, raw)
        if cached is not None:
            return cached
        signed = check_header(
            self.suite, self.department_keys(), self.genesis.chain_id, raw, height
        )
        self._checked_headers.put(height, raw, signed)
        return signed

    def entry_bytes(self, log_index: int) -> bytes:
        """Return the stored log entry at ``log_index``, checked against the transaction log's
        leaf hash (``IntegrityError`` naming the entry or the log tile at fault)."""
        key = log_index.to_bytes(8, "big")
        raw = self.store.get("entries", key)
        if raw is None:
            if log_index < self.log.size:
                raise stored_fault(
                    f"log entry {log_index} is missing", "entries", key, self.height_of(log_index)
                )
            raise NotFound(f"no log entry {log_index}", log_index=log_index)
        if self.h(b"\x00" + raw) != self.log.leaf_hash_at(log_index):
            raise self.entry_fault(log_index)
        return raw

    def entry_fault(self, log_index: int) -> IntegrityError:
        """Return the error of a stored entry whose hash is not the log's leaf: the log tile
        at fault if the leaf does not prove into the log's head (raised), else the entry."""
        height = self.height_of(log_index)
        self.log.check_leaf(log_index)
        return stored_fault(
            f"block {height}: log entry {log_index} does not match the transaction log",
            "entries",
            log_index.to_bytes(8, "big"),
            height,
        )

    def entries_of(self, header: BlockHeader) -> list[bytes]:
        """Return the stored log entries of a block, in order, each checked against the
        transaction log's leaf hash (``IntegrityError`` naming the one at fault)."""
        first, end = header.first_log_index, header.log_size
        items = list(self.store.scan("entries", first.to_bytes(8, "big"), end.to_bytes(8, "big")))
        # Keys are unique, sorted and inside [first, end): the right count is every one.
        if len(items) != header.tx_count:
            have = {k for k, _ in items}
            i = next(i for i in range(first, end) if i.to_bytes(8, "big") not in have)
            raise stored_fault(
                f"block {header.height}: log entry {i} is missing",
                "entries",
                i.to_bytes(8, "big"),
                header.height,
            )
        entries = [v for _, v in items]
        h = self.h
        hashed = [h(b"\x00" + e) for e in entries]
        leaves = self.log.leaf_hashes(first, end)
        if hashed != leaves:
            raise self.entry_fault(
                first
                + next(i for i, (a, b) in enumerate(zip(hashed, leaves, strict=True)) if a != b)
            )
        return entries

    def locate(self, tx_id: bytes) -> TxLocation:
        """Return where a committed transaction is (``NotFound`` if it is not committed),
        checked against the log entry it points to (``IntegrityError`` if it is another's)."""
        raw = self.store.get("txindex", tx_id)
        if raw is None:
            raise NotFound(f"transaction {tx_id.hex()} is not committed", tx_id=tx_id.hex())
        try:
            h, i, li = _LOC.unpack(raw)
        except struct.error:
            raise stored_fault(
                f"the index record of transaction {tx_id.hex()} is corrupt", "txindex", tx_id, None
            ) from None
        # The store runs ahead of the in-memory log while a block is being committed; read
        # what is pending before the size, so that a commit finishing in between is seen.
        pending = self.log.staged_size()
        if li >= self.log.size:
            if pending is not None and li < pending:
                raise NotFound(f"transaction {tx_id.hex()} is being committed", tx_id=tx_id.hex())
            raise stored_fault(
                f"the index of transaction {tx_id.hex()} points past the log's end ({li})",
                "txindex",
                tx_id,
                h if h <= self.height else None,
            )
        check_located(self.h, tx_id, h, i, self.entry_bytes(li), li)
        return TxLocation(h, i, li)

    def is_committed(self, tx_id: bytes) -> bool:
        """Return whether a transaction id is committed."""
        return self.store.get("txindex", tx_id) is not None

    def checkpoint(self, height: Height | None = None) -> SignedCheckpoint:
        """Return the signed checkpoint at ``height`` (default: the latest), checked: the same
        statement as its header, canonical form, every department signature valid
        (``IntegrityError`` naming table, key and height if not)."""
        h = self.height if height is None else height
        raw = self.store.get("checkpoints", height_key(h))
        if raw is None:
            raise NotFound(f"no checkpoint at height {h}", height=h)
        cached = self._checked_checkpoints.get(h, raw)
        if cached is not None:
            return cached
        signed = check_checkpoint(
            self.suite, self.department_keys(), raw, self.header(h), self.genesis.chain_id
        )
        self._checked_checkpoints.put(h, raw, signed)
        return signed

    def receipt_bundle(
        self, tx_id: bytes, checkpoint_height: Height | None = None
    ) -> dict[str, Any]:
        """Return the offline-verifiable receipt of a committed transaction, proved against
        the checkpoint at ``checkpoint_height`` (default: the latest)."""
        loc = self.locate(tx_id)
        cp = self.checkpoint(checkpoint_height)
        if cp.checkpoint.height < loc.height:
            raise NotFound(
                f"checkpoint {cp.checkpoint.height} is below the transaction's block {loc.height}",
                height=loc.height,
            )
        bundle: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "chain_id": self.genesis.chain_id,
            "tx_id": tx_id.hex(),
            **self._proved_entry(loc.log_index, cp),
        }
        links = self.membership_links(cp.checkpoint.height)
        if links:
            bundle["membership"] = links
        return bundle

    def _proved_entry(self, log_index: int, cp: SignedCheckpoint) -> dict[str, Any]:
        """A log entry with its inclusion proof against ``cp`` (the fields of a receipt)."""
        raw = self.entry_bytes(log_index)
        entry = LogEntry.decode(raw)
        proof = self.log.inclusion_proof(log_index, cp.checkpoint.log_size)
        # The proof is read from the log's tiles: check it leads to the signed root.
        self.log.check_inclusion(
            log_index,
            cp.checkpoint.log_size,
            merkle.leaf_hash(self.h, raw),
            proof,
            cp.checkpoint.log_root,
        )
        return {
            "log_index": log_index,
            "entry": {
                "height": entry.height,
                "index": entry.index,
                "tx": entry.tx,
                "receipt": entry.receipt.to_json(),
            },
            "inclusion_proof": hex_list(proof),
            "checkpoint": cp.to_json(),
        }

    def membership_links(self, below: Height) -> list[dict[str, Any]]:
        """Return the proof of every membership change at a height below ``below``, oldest
        first: the changing transaction's log entry, proved against the checkpoint of its own
        block, which the departments in force before the change signed (see ``bundles.py``).
        ``Unavailable`` if this node holds no quorum of signatures for such a checkpoint."""
        versions = self.state.history(DEPARTMENTS_KEY, limit=MAX_MEMBERSHIP_CHANGES)
        # Several changes in one block: its last one states the membership after the block.
        last_of_block = {v.height: v for v in reversed(versions)}
        links: list[dict[str, Any]] = []
        departments = self.genesis.departments
        for v in last_of_block.values():
            if v.height >= below:
                break
            cp = self.checkpoint(v.height)
            signers = {d for d, _ in cp.signatures}
            present = sum(1 for d in departments if d.id in signers)
            if present < len(departments) * 2 // 3 + 1:
                raise Unavailable(
                    f"this node holds no quorum certificate for block {v.height}, where the "
                    "membership changed; ask another department's node for the receipt",
                    height=v.height,
                )
            links.append(self._proved_entry(self.locate(v.tx_id).log_index, cp))
            if v.value is not None:
                departments = Membership.decode(v.value).departments
        return links

    # --- writes -----------------------------------------------------------------------------

    def _stage(
        self, txs: Sequence[Transaction], height: Height, timestamp_ms: int, batch: WriteBatch
    ) -> tuple[ExecutionResult, bytes, LogHead, tuple[TxId, ...]]:
        """Execute ``txs`` as block ``height`` and stage everything but header and checkpoint."""
        result = execute_block(
            reader=self._reader,
            host=self.host,
            chain_id=self.genesis.chain_id,
            height=height,
            block_time_ms=timestamp_ms,
            txs=txs,
            nonce_window=self.genesis.params.nonce_window,
        )
        tx_ids = tuple(t.tx_id for t in txs)
        h = self.h
        state_root = self.state.stage(batch, result.writes, height)
        first = self.log.size
        log_head = self.log.stage(batch, [h(b"\x00" + e) for e in result.entries])
        entries = batch.ops.setdefault("entries", {})
        txindex = batch.ops.setdefault("txindex", {})
        pack = _LOC.pack
        for i, (tid, e) in enumerate(zip(tx_ids, result.entries, strict=True)):
            entries[(first + i).to_bytes(8, "big")] = e
            txindex[tid] = pack(height, i, first + i)
        return result, state_root, log_head, tx_ids

    def _finish(
        self,
        batch: WriteBatch,
        signed: SignedHeader,
        checkpoint_keys: Iterable[tuple[DeptId, bytes]],
    ) -> Hash32:
        header = signed.header
        block_hash = header.hash(self.h)
        cp = Checkpoint(
            chain=self.genesis.chain_id,
            height=header.height,
            block_hash=block_hash,
            state_root=header.state_root,
            log_size=header.log_size,
            log_root=header.log_root,
        )
        msg = cp.signing_message()
        sigs = tuple(sorted((d, self.suite.sign(k, msg)) for d, k in checkpoint_keys))
        signed_cp = SignedCheckpoint(cp, sigs)
        raw_cp = canonical_unchecked(signed_cp.to_json())
        raw_header = signed.encode()
        batch.put("blocks", height_key(header.height), raw_header)
        batch.put("checkpoints", height_key(header.height), raw_cp)
        batch.put("meta", META_HEAD, header.height.to_bytes(8, "big"))
        self.store.commit(batch)
        # Made (or re-verified) and signed here: what a read finds is known good while its
        # bytes stay the same.
        self._checked_headers.put(header.height, raw_header, signed)
        self._checked_checkpoints.put(header.height, raw_cp, signed_cp)
        return block_hash

    def _discard(self) -> None:
        self.state.discard_staged()
        self.log.discard_staged()

    def _committed(self, signed: SignedHeader) -> None:
        self.state.commit_staged()
        self.log.commit_staged()
        self._head = signed

    def commit_block(
        self,
        txs: Sequence[Transaction],
        *,
        timestamp_ms: int,
        proposer: DeptId,
        sign_header: Callable[[bytes], bytes],
        checkpoint_keys: Iterable[tuple[DeptId, bytes]] = (),
        publish: Callable[[SignedHeader], None] | None = None,
    ) -> CommittedBlock:
        """Execute ``txs`` as the next block (proposer side), sign it and commit it durably.

        ``publish`` (a network proposer appending the block to the ordering log) is called with
        the signed header before anything is written; if it raises, nothing is committed."""
        height = self.height + 1
        if self._head is not None:
            timestamp_ms = max(timestamp_ms, self._head.header.timestamp_ms)
        batch = WriteBatch()
        try:
            result, state_root, log_head, tx_ids = self._stage(txs, height, timestamp_ms, batch)
            header = BlockHeader(
                chain=self.genesis.chain_id,
                height=height,
                prev_hash=self.head_hash(),
                timestamp_ms=timestamp_ms,
                proposer=proposer,
                tx_count=len(txs),
                tx_root=tx_root(self.h, tx_ids),
                state_root=Hash32(state_root),
                log_size=log_head.size,
                log_root=Hash32(log_head.root),
            )
            signed = SignedHeader(header, sign_header(header.signing_message()))
            if publish is not None:
                publish(signed)
            block_hash = self._finish(batch, signed, checkpoint_keys)
        except BaseException:
            self._discard()
            raise
        self._committed(signed)
        return CommittedBlock(signed, block_hash, result, tx_ids)

    def check_header(self, signed: SignedHeader) -> None:
        """Check that a header can follow the current head: chain, height, link, proposer
        signature. Raises ``IntegrityError`` naming the height and the defect."""
        hd = signed.header
        height = self.height + 1
        if hd.chain != self.genesis.chain_id:
            raise IntegrityError(f"block {hd.height}: chain {hd.chain!r} is wrong", height=height)
        if hd.height != height:
            raise IntegrityError(f"block {height}: header says height {hd.height}", height=height)
        if hd.prev_hash != self.head_hash():
            raise IntegrityError(
                f"block {height}: previous hash {hd.prev_hash.hex()} does not match "
                f"{self.head_hash().hex()}",
                height=height,
            )
        key = self.membership().keys().get(hd.proposer)
        if key is None:
            raise IntegrityError(
                f"block {height}: proposer {hd.proposer!r} is not a department", height=height
            )
        if not self.suite.verify(key, hd.signing_message(), signed.signature):
            raise IntegrityError(
                f"block {height}: proposer signature does not verify", height=height
            )

    def membership(self) -> Membership:
        """Return the departments in force now (genesis, changed by the ``network`` contract)."""
        return current_membership(self.genesis, self._reader.get_value)

    def check_signatures(
        self,
        height: Height,
        txs: Sequence[Transaction],
        verified: Verified = None,
    ) -> None:
        """Verify the signature of every transaction whose signer is a member at the start of
        the block (others are rejected by execution anyway); ``IntegrityError`` if one fails.

        ``verified`` (catch-up, which checks signatures ahead on other cores) gives per
        transaction the public key its signature was already found valid under, or ``None``;
        a transaction is skipped only if that is its signer's key now. It may be a function
        returning that list once the checks ahead are done (see ``start_signature_check``)."""
        self.start_signature_check(height, txs, verified)()

    def start_signature_check(
        self,
        height: Height,
        txs: Sequence[Transaction],
        verified: Verified = None,
    ) -> Callable[[], None]:
        """Start ``check_signatures`` on the suite's worker processes, under the signers' keys
        now; return the function that waits for the verdicts and raises its ``IntegrityError``.
        With ``verified`` a function (checks started ahead by the caller and still under way),
        that function is awaited in the returned one, and only the transactions it does not
        vouch for under their signer's key now are verified then."""
        keys: dict[str, bytes | None] = {}
        signer_keys: list[bytes | None] = []
        for tx in txs:
            if tx.signer not in keys:
                v = self.state.get(member_key(tx.signer))
                keys[tx.signer] = (
                    None if v is None or v.value is None else (decode_member(v.value).public_key)
                )
            signer_keys.append(keys[tx.signer])

        def check(vouched: Sequence[bytes | None] | None) -> Callable[[], None]:
            positions: list[int] = []
            triples: list[tuple[bytes, bytes, bytes]] = []
            for i, (tx, key) in enumerate(zip(txs, signer_keys, strict=True)):
                if key is not None and (vouched is None or vouched[i] != key):
                    positions.append(i)
                    triples.append((key, tx.signing_message(), tx.signature))
            verdicts = self.suite.verify_later(triples)

            def finish() -> None:
                for i, ok in zip(positions, verdicts(), strict=True):
                    if not ok:
                        raise IntegrityError(
                            f"block {height}: transaction {i} ({txs[i].tx_id.hex()}) has an "
                            "invalid signature",
                            height=height,
                            tx_index=i,
                        )

            return finish

        if callable(verified):
            ahead = verified
            return lambda: check(ahead())()
        return check(verified)

    def apply_block(
        self,
        signed: SignedHeader,
        txs: Sequence[Transaction],
        *,
        expected_entries: Sequence[bytes] | None = None,
        checkpoint_keys: Iterable[tuple[DeptId, bytes]] = (),
        verified: Verified = None,
    ) -> CommittedBlock:
        """Re-execute a block made elsewhere (a stored or a received one), check every
        commitment of its header, and commit it. Raises ``IntegrityError`` naming the height
        and the first mismatch; nothing is written then. ``verified``: see
        ``check_signatures``."""
        self.check_header(signed)
        hd = signed.header
        height = hd.height

        def bad(what: str, expected: bytes, got: bytes) -> IntegrityError:
            return IntegrityError(
                f"block {height}: {what} mismatch (header {expected.hex()}, "
                f"recomputed {got.hex()})",
                height=height,
            )

        if hd.tx_count != len(txs):
            raise IntegrityError(
                f"block {height}: header counts {hd.tx_count} transactions, {len(txs)} present",
                height=height,
            )
        # The signatures are checked on the worker processes while this thread executes the
        # block; nothing is committed before every verdict is in.
        signatures_valid = self.start_signature_check(height, txs, verified)
        batch = WriteBatch()
        try:
            result, state_root, log_head, tx_ids = self._stage(txs, height, hd.timestamp_ms, batch)
            signatures_valid()
            troot = tx_root(self.h, tx_ids)
            if troot != hd.tx_root:
                raise bad("transaction root", hd.tx_root, troot)
            if expected_entries is not None:
                for i, (mine, theirs) in enumerate(
                    zip(result.entries, expected_entries, strict=True)
                ):
                    if mine != theirs:
                        raise IntegrityError(
                            f"block {height}: stored log entry {i} (log index "
                            f"{hd.first_log_index + i}) differs from re-execution",
                            height=height,
                            tx_index=i,
                        )
            if log_head.size != hd.log_size:
                raise IntegrityError(
                    f"block {height}: log size {hd.log_size} in header, {log_head.size} recomputed",
                    height=height,
                )
            if log_head.root != hd.log_root:
                raise bad("log root", hd.log_root, log_head.root)
            if state_root != hd.state_root:
                raise bad("state root", hd.state_root, state_root)
            block_hash = self._finish(batch, signed, checkpoint_keys)
        except BaseException:
            self._discard()
            raise
        self._committed(signed)
        return CommittedBlock(signed, block_hash, result, tx_ids)

    def add_checkpoint_signatures(
        self, height: Height, signatures: Iterable[tuple[DeptId, bytes]]
    ) -> SignedCheckpoint:
        """Merge more department signatures into the stored checkpoint at ``height``."""
        return self.add_checkpoints_signatures({height: signatures})[height]

    def add_checkpoints_signatures(
        self, signatures: Mapping[Height, Iterable[tuple[DeptId, bytes]]]
    ) -> dict[Height, SignedCheckpoint]:
        """Merge more department signatures into the stored checkpoints of several heights,
        durably, with one storage commit (a node certifying many heights at once)."""
        batch = WriteBatch()
        out: dict[Height, SignedCheckpoint] = {}
        for height, sigs in signatures.items():
            merged = out[height] = self.checkpoint(height).merged(sigs)
            batch.put("checkpoints", height_key(height), canonical_unchecked(merged.to_json()))
        if out:
            self.store.commit(batch)
        return out


def leaf_hashes(h: Callable[[bytes], bytes], entries: Sequence[bytes]) -> list[bytes]:
    """Return the log leaf hashes of entry bytes."""
    return [merkle.leaf_hash(h, e) for e in entries]


class _LogSizes:
    """The log size after each block, read from the stored headers on demand: a sequence for
    ``bisect`` (index = height)."""

    __slots__ = ("_ledger",)

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def __len__(self) -> int:
        return self._ledger.height + 1

    def __getitem__(self, height: int) -> int:
        return 0 if height == 0 else self._ledger.stored_header(height).header.log_size
