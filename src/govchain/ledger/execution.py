"""Deterministic execution of an ordered block against the world state.

``execute_block`` is a plain function: given the committed state (read-only), the contracts and
the block's transactions, it returns each transaction's receipt and the ordered state writes. A
failing call rolls back only its own writes and leaves a failed receipt; a transaction that is
invalid at execution (unknown or revoked signer, replayed nonce, wrong chain) leaves a rejected
receipt and changes nothing. The caller stages the writes and commits them with the block.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from govchain.errors import GovchainError, ReplayedNonce, UnknownSigner, WrongChain
from govchain.ledger.encoding import canonical_unchecked, decode
from govchain.ledger.receipts import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_REJECTED,
    Receipt,
    tx_entry_bytes,
)
from govchain.ledger.state import StateWrite
from govchain.ledger.transactions import Transaction, slot_setter
from govchain.types import Height

MEMBER_PREFIX = b"sys/member/"
"""State keys of member records: ``sys/member/<member id>`` -> member JSON."""
_MEMBER_PREFIX_LEN = len(MEMBER_PREFIX)
NONCE_PREFIX = b"sys/nonce/"
"""State keys of replay windows: ``sys/nonce/<member id>`` -> ``{"high": n, "mask": hex}``."""


class StateReader(Protocol):
    """Read access to committed state (``WorldState`` satisfies it)."""

    def get_value(self, key: bytes) -> bytes | None:
        """Return the committed value of ``key`` or ``None``."""
        ...

    def scan_values(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Iterate the committed ``(key, value)`` pairs whose key starts with ``prefix``, in
        key order."""
        ...


class CallContext(Protocol):
    """What a contract call sees: its state, events, the caller and the block."""

    tx: Transaction
    """The transaction being executed (signer, actor, case, purpose ...)."""
    signer_dept: str
    """Department of the signing member."""
    signer_role: str
    """Role of the signing member."""
    height: Height
    """Height of the block being executed."""
    block_time_ms: int
    """Timestamp of the block (the proposer's clock), the only clock a contract sees."""

    def get(self, key: bytes) -> bytes | None:
        """Return the value of a state key as of this point of the block."""
        ...

    def put(self, key: bytes, value: bytes) -> None:
        """Write a state key (undone if the call fails)."""
        ...

    def delete(self, key: bytes) -> None:
        """Delete a state key (undone if the call fails)."""
        ...

    def emit(self, event_type: str, data: Mapping[str, Any]) -> None:
        """Record an event in the receipt."""
        ...

    def scan(self, prefix: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        """Return up to ``limit`` live ``(key, value)`` pairs starting with ``prefix``, in key
        order, as of this point of the block."""
        ...


class ContractHost(Protocol):
    """Runs contract calls; implemented by ``govchain.contracts``."""

    def call(self, ctx: CallContext, contract: str, method: str, args: Mapping[str, Any]) -> Any:
        """Run one call; return its JSON result or raise a ``GovchainError``."""
        ...


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """A member as stored in state."""

    id: str
    """Member id ``<dept>/<name>``."""
    dept: str
    """Department."""
    role: str
    """Role."""
    public_key: bytes
    """Raw public key."""
    active: bool
    """False once suspended or revoked."""
    not_after_ms: int = 0
    """End of the member credential's validity (0: none, e.g. genesis members)."""


def decode_member(data: bytes) -> MemberRecord:
    """Parse a stored member record."""
    obj = decode(data)
    return MemberRecord(
        id=obj["id"],
        dept=obj["dept"],
        role=obj["role"],
        public_key=bytes.fromhex(obj["public_key"]),
        active=obj.get("status", "active") == "active",
        not_after_ms=obj.get("not_after_ms", 0),
    )


def member_key(member_id: str) -> bytes:
    """Return the state key of a member record."""
    return MEMBER_PREFIX + member_id.encode()


class NonceWindow:
    """A sliding replay window: the highest nonce used plus a bitmap of the ``size`` below it.

    A nonce is accepted once: above the highest seen, or within the window and not yet used.
    Clients count nonces up; the window lets concurrent submissions arrive slightly out of order.
    """

    __slots__ = ("high", "mask", "size")

    def __init__(self, size: int, high: int = -1, mask: int = 0) -> None:
        self.size = size
        self.high = high
        self.mask = mask

    def check(self, nonce: int) -> None:
        """Raise ``ReplayedNonce`` unless ``nonce`` would be accepted."""
        if nonce > self.high:
            return
        offset = self.high - nonce
        if offset >= self.size:
            raise ReplayedNonce(
                f"nonce {nonce} is below the replay window (highest used {self.high}, "
                f"window {self.size})",
                nonce=nonce,
            )
        if (self.mask >> offset) & 1:
            raise ReplayedNonce(f"nonce {nonce} was already used", nonce=nonce)

    def check_and_use(self, nonce: int) -> None:
        """``check`` then ``use`` in one call (raises ``ReplayedNonce``, changing nothing)."""
        high = self.high
        if nonce > high:
            # A jump past the whole window leaves only this nonce; shifting the old bits out
            # instead would build an integer of (nonce - high) bits first.
            shift = nonce - high
            self.mask = (
                1 if shift >= self.size else ((self.mask << shift) | 1) & ((1 << self.size) - 1)
            )
            self.high = nonce
            return
        offset = high - nonce
        if offset >= self.size or (self.mask >> offset) & 1:
            self.check(nonce)  # raises with the precise message
        self.mask |= 1 << offset

    def use(self, nonce: int) -> None:
        """Mark ``nonce`` used (after ``check``)."""
        if nonce > self.high:
            shift = nonce - self.high
            self.mask = (
                1 if shift >= self.size else ((self.mask << shift) | 1) & ((1 << self.size) - 1)
            )
            self.high = nonce
        else:
            self.mask |= 1 << (self.high - nonce)

    def copy(self) -> NonceWindow:
        """Return an independent copy."""
        return NonceWindow(self.size, self.high, self.mask)

    def encode(self) -> bytes:
        """Return the stored form."""
        return canonical_unchecked({"high": self.high, "mask": format(self.mask, "x")})

    @staticmethod
    def decode(data: bytes | None, size: int) -> NonceWindow:
        """Parse the stored form (``None`` = a signer that never transacted)."""
        if data is None:
            return NonceWindow(size)
        obj = decode(data)
        return NonceWindow(size, obj["high"], int(obj["mask"], 16))


class _Context:
    """The one ``CallContext`` implementation; reused across a block's transactions."""

    tx: Transaction

    __slots__ = (
        "_block",
        "_block_sorted",
        "_events",
        "_reader",
        "_writes",
        "block_time_ms",
        "height",
        "signer_dept",
        "signer_role",
        "tx",
    )

    def __init__(
        self, reader: StateReader, block: dict[bytes, bytes | None], height: int, time_ms: int
    ) -> None:
        self._reader = reader
        self._block = block
        self._writes: dict[bytes, bytes | None] = {}
        self._events: list[dict[str, Any]] = []
        self._block_sorted: list[bytes] = []
        self.height = height
        self.block_time_ms = time_ms
        self.signer_dept = ""
        self.signer_role = ""

    def get(self, key: bytes) -> bytes | None:
        w = self._writes
        if key in w:
            return w[key]
        b = self._block
        if key in b:
            return b[key]
        return self._reader.get_value(key)

    def put(self, key: bytes, value: bytes) -> None:
        self._writes[key] = value

    def delete(self, key: bytes) -> None:
        self._writes[key] = None

    def emit(self, event_type: str, data: Mapping[str, Any]) -> None:
        self._events.append(
            {"type": event_type, "data": data if type(data) is dict else dict(data)}
        )

    def scan(self, prefix: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        # Overlay of this block's and this call's writes (later wins) on the committed state.
        # The block's keys are kept sorted across calls: keys are only ever added to the block
        # (a delete is a None value) and a dict iterates in insertion order, so the keys after
        # the sorted count are the new ones.
        block = self._block
        ordered = self._block_sorted
        if len(ordered) != len(block):
            for key in itertools.islice(block, len(ordered), None):
                bisect.insort(ordered, key)
        overlay: dict[bytes, bytes | None] = {}
        for i in range(bisect.bisect_left(ordered, prefix), len(ordered)):
            key = ordered[i]
            if not key.startswith(prefix):
                break
            overlay[key] = block[key]
        overlay.update((k, v) for k, v in self._writes.items() if k.startswith(prefix))
        pending = sorted(overlay.items())
        committed = ((k, v) for k, v in self._reader.scan_values(prefix) if k not in overlay)
        out: list[tuple[bytes, bytes]] = []
        for key, value in heapq.merge(committed, pending, key=lambda kv: kv[0]):
            if value is None:
                continue
            out.append((key, value))
            if len(out) >= limit:
                break
        return out


# Slot setters of the frozen records built in the hot loop of ``execute_block``.
_set_status = slot_setter(Receipt, "status")
_set_result = slot_setter(Receipt, "result")
_set_events = slot_setter(Receipt, "events")
_set_error = slot_setter(Receipt, "error")
_set_w_key = slot_setter(StateWrite, "key")
_set_w_value = slot_setter(StateWrite, "value")
_set_w_index = slot_setter(StateWrite, "tx_index")
_set_w_tx_id = slot_setter(StateWrite, "tx_id")


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What executing one block produced."""

    receipts: tuple[Receipt, ...]
    """One receipt per transaction, in block order."""
    writes: tuple[StateWrite, ...]
    """State writes in execution order (successful transactions and replay windows)."""
    entries: tuple[bytes, ...]
    """Log entry bytes per transaction (leaf data of the transaction log)."""
    members_changed: bool = False
    """Whether the block wrote member records (caches of members must be dropped)."""


def execute_block(
    *,
    reader: StateReader,
    host: ContractHost,
    chain_id: str,
    height: Height,
    block_time_ms: int,
    txs: Sequence[Transaction],
    nonce_window: int,
) -> ExecutionResult:
    """Execute ``txs`` in order on top of the committed state read through ``reader``."""
    block: dict[bytes, bytes | None] = {}
    members: dict[str, MemberRecord | None] = {}
    windows: dict[str, NonceWindow] = {}
    last_tx_of: dict[str, int] = {}
    ctx = _Context(reader, block, height, block_time_ms)
    receipts: list[Receipt] = []
    writes: list[StateWrite] = []
    entries: list[bytes] = []
    members_changed = False

    # Hot loop (runs for every committed transaction): records are built through their slot
    # descriptors (same frozen types, no per-field ``object.__setattr__`` of the generated
    # ``__init__``), encodings call orjson directly, and the log entry is spliced in place (the
    # same bytes as ``tx_entry_bytes``).
    dumps = orjson.dumps
    sort = orjson.OPT_SORT_KEYS
    new = object.__new__
    call = host.call
    append_receipt = receipts.append
    append_entry = entries.append
    append_write = writes.append
    for index, tx in enumerate(txs):
        signer = tx.signer
        try:
            if tx.chain != chain_id:
                raise WrongChain(f"transaction is for chain {tx.chain!r}, not {chain_id!r}")
            member = members.get(signer, ...)
            if member is ...:
                raw = block.get(member_key(signer), ...)
                if raw is ...:
                    raw = reader.get_value(member_key(signer))
                member = decode_member(raw) if raw is not None else None
                members[signer] = member
            if member is None or not member.active:
                raise UnknownSigner(f"signer {signer!r} is not an active member")
            if member.not_after_ms and block_time_ms > member.not_after_ms:
                raise UnknownSigner(f"the credential of signer {signer!r} has expired")
            window = windows.get(signer)
            if window is None:
                window = NonceWindow.decode(
                    reader.get_value(NONCE_PREFIX + signer.encode()), nonce_window
                )
                windows[signer] = window
            window.check_and_use(tx.nonce)
        except GovchainError as exc:
            error: dict[str, Any] = {"code": exc.code, "message": str(exc)}
            status = STATUS_REJECTED
        else:
            last_tx_of[signer] = index
            ctx.tx = tx
            ctx.signer_dept = member.dept
            ctx.signer_role = member.role
            cw: dict[bytes, bytes | None] = {}
            ev: list[dict[str, Any]] = []
            ctx._writes = cw
            ctx._events = ev
            try:
                result = call(ctx, tx.contract, tx.method, tx.args)
                # Encoding checks the result and events are canonical JSON; done once here.
                receipt_json = dumps(
                    {"status": STATUS_OK, "result": result, "events": ev, "error": None},
                    option=sort,
                )
            except GovchainError as exc:
                error = {"code": exc.code, "message": str(exc)}
                status = STATUS_FAILED
            except Exception as exc:  # a contract bug must not stop the chain
                error = {"code": "contract_error", "message": f"{type(exc).__name__}: {exc}"}
                status = STATUS_FAILED
            else:
                receipt = new(Receipt)
                _set_status(receipt, STATUS_OK)
                _set_result(receipt, result)
                _set_events(receipt, tuple(ev))
                _set_error(receipt, None)
                append_receipt(receipt)
                append_entry(
                    b'{"height":%d,"index":%d,"receipt":%b,"tx":{"body":%b,"signature":"%b"}}'
                    % (height, index, receipt_json, tx.body_bytes, tx.signature.hex().encode())
                )
                tx_id = tx.tx_id
                for key, value in cw.items():
                    block[key] = value
                    w = new(StateWrite)
                    _set_w_key(w, key)
                    _set_w_value(w, value)
                    _set_w_index(w, index)
                    _set_w_tx_id(w, tx_id)
                    append_write(w)
                    if key[:_MEMBER_PREFIX_LEN] == MEMBER_PREFIX:
                        members.clear()
                        members_changed = True
                continue
        receipt = Receipt(status, None, (), error)
        append_receipt(receipt)
        append_entry(
            tx_entry_bytes(
                height, index, tx.body_bytes, tx.signature, canonical_unchecked(receipt.to_json())
            )
        )

    for signer, window in windows.items():
        last = last_tx_of.get(signer)
        if last is not None:
            writes.append(
                StateWrite(NONCE_PREFIX + signer.encode(), window.encode(), last, txs[last].tx_id)
            )
    return ExecutionResult(tuple(receipts), tuple(writes), tuple(entries), members_changed)
