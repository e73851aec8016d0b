"""``self.ctx`` of a contract method: its state namespace, events, the caller, the block and
other contracts' views — everything a contract can reach, each state operation charged to the
call's budget."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import orjson

from govchain.contracts.budget import Meter
from govchain.contracts.errors import BadArguments, ReadOnlyCall, UnknownMethod
from govchain.ledger.encoding import right_sized
from govchain.ledger.execution import CallContext

STATE_OP_STEPS = 10
"""Steps charged for each state read, write or delete (what a call costs is deterministic)."""
SCAN_ITEM_STEPS = 2
"""Steps charged per key returned by a range scan."""
_SORT = orjson.OPT_SORT_KEYS


class Caller(NamedTuple):
    """Who is calling: the signing member and the person and case they act for (immutable; a
    named tuple is built several times faster than a frozen dataclass, once per call)."""

    member: str
    """Member id that signed, e.g. ``tax/admin``."""
    dept: str
    """Department of the member."""
    role: str
    """Role of the member."""
    actor: str
    """Person acting (the transaction's actor)."""
    case: str
    """Case (办件) id, may be empty."""
    purpose: str
    """Declared purpose, may be empty."""


class ViewHost(Protocol):
    """Dispatches read-only calls to other contracts (the registry)."""

    def view(self, ctx: CallContext, contract: str, method: str, args: Mapping[str, Any]) -> Any:
        """Run a view of a contract."""
        ...


class ContractContext:
    """``self.ctx`` of a contract method: its namespace of state, events, caller and block."""

    __slots__ = ("_ctx", "_host", "_meter", "_name", "_ns", "_ns_len", "_read_only")

    def __init__(
        self,
        ctx: CallContext,
        name: str,
        namespace: bytes,
        meter: Meter,
        host: ViewHost | None,
        read_only: bool,
    ) -> None:
        self._ctx = ctx
        self._name = name
        self._ns = namespace
        self._ns_len = len(namespace)
        self._meter = meter
        self._host = host
        self._read_only = read_only

    # block and caller
    @property
    def height(self) -> int:
        """Height of the block being executed."""
        return self._ctx.height

    @property
    def time_ms(self) -> int:
        """Block time in milliseconds since the Unix epoch (the only clock a contract has)."""
        return self._ctx.block_time_ms

    @property
    def caller(self) -> Caller:
        """The signing member, acting person and case."""
        tx = self._ctx.tx
        c = self._ctx
        if tx is None:  # a query: nobody signed
            return Caller("", "", "", "", "", "")
        return Caller(tx.signer, c.signer_dept, c.signer_role, tx.actor, tx.case, tx.purpose)

    @property
    def tx_id(self) -> str:
        """Id of the transaction being executed (hex; empty in a query)."""
        tx = self._ctx.tx
        return "" if tx is None else tx.tx_id.hex()

    # state
    def _key(self, key: str) -> bytes:
        if type(key) is not str or not key or len(key) > 512:
            raise BadArguments(f"{self._name}: state keys are strings of 1 to 512 characters")
        return self._ns + key.encode()

    def get(self, key: str) -> Any:
        """Return the JSON value stored at ``key`` (``None`` if absent)."""
        self._meter.charge(STATE_OP_STEPS)
        raw = self._ctx.get(self._key(key))
        return None if raw is None else orjson.loads(raw)

    def exists(self, key: str) -> bool:
        """Return whether ``key`` holds a value."""
        self._meter.charge(STATE_OP_STEPS)
        return self._ctx.get(self._key(key)) is not None

    def put(self, key: str, value: Any) -> None:
        """Store a JSON value at ``key`` (undone if the call fails)."""
        if self._read_only:
            raise ReadOnlyCall(f"{self._name}: a view cannot write state")
        self._meter.charge(STATE_OP_STEPS)
        try:
            data = right_sized(orjson.dumps(value, option=_SORT))
        except TypeError as exc:
            raise BadArguments(f"{self._name}: value of {key!r} is not JSON: {exc}") from None
        if b"." in data and _has_float(value):
            raise BadArguments(f"{self._name}: value of {key!r} holds a float (integers only)")
        self._ctx.put(self._key(key), data)

    def delete(self, key: str) -> None:
        """Delete ``key`` (undone if the call fails)."""
        if self._read_only:
            raise ReadOnlyCall(f"{self._name}: a view cannot write state")
        self._meter.charge(STATE_OP_STEPS)
        self._ctx.delete(self._key(key))

    def scan(self, prefix: str = "", limit: int = 100) -> list[tuple[str, Any]]:
        """Return up to ``limit`` ``(key, value)`` pairs whose key starts with ``prefix``, in
        key order, as of this point of the block."""
        if type(limit) is not int or not 1 <= limit <= 10_000:
            raise BadArguments(f"{self._name}: scan limit must be 1 to 10000")
        self._meter.charge(STATE_OP_STEPS)
        base = self._ns + prefix.encode()
        out: list[tuple[str, Any]] = []
        n = self._ns_len
        for key, raw in self._ctx.scan(base, limit):
            self._meter.charge(SCAN_ITEM_STEPS)
            out.append((key[n:].decode(), orjson.loads(raw)))
        return out

    # events and other contracts
    def emit(self, event_type: str, data: Mapping[str, Any]) -> None:
        """Record an event ``<contract>.<event_type>`` in the receipt."""
        if self._read_only:
            return
        self._meter.charge(1)
        self._ctx.emit(f"{self._name}.{event_type}", data)

    def read(self, contract: str, method: str, args: Mapping[str, Any] | None = None) -> Any:
        """Call a view of another contract (it sees this block's writes so far)."""
        if self._host is None:
            raise UnknownMethod(f"{self._name}: no other contracts are reachable here")
        self._meter.charge(STATE_OP_STEPS)
        return self._host.view(self._ctx, contract, method, dict(args or {}))


def _has_float(value: Any) -> bool:
    if type(value) is float:
        return True
    if type(value) is list:
        return any(_has_float(v) for v in value)
    if type(value) is dict:
        return any(_has_float(v) for v in value.values())
    return False
