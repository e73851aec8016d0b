"""The class-based contract model: a contract is a Python class whose ``@entry`` methods are
transaction entry points and whose ``@view`` methods are read-only queries.

Arguments are declared with type annotations (``str``, ``int``, ``bool``, ``list[...]``,
``dict[str, ...]``, ``X | None``, ``Any``) and checked before the method runs, so a wrong
argument type fails the call with ``bad_arguments`` and writes nothing. ``ClassContract`` adapts
such a class to the ``Contract`` protocol the host dispatches to; a method sees the chain only
through ``self.ctx`` (a ``ContractContext``): its own state namespace, events, the caller, the
block, and other contracts' views.
"""

from __future__ import annotations

import inspect
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import orjson

from govchain.contracts.errors import (
    BadArguments,
    BudgetExhausted,
    ContractError,
    ContractFailed,
    ReadOnlyCall,
    UnknownMethod,
)
from govchain.errors import GovchainError, SchemaViolation
from govchain.ledger.execution import CallContext

ENTRY = "entry"
VIEW = "view"
MIGRATION = "migration"
_KIND_ATTR = "_govchain_kind"

STATE_OP_STEPS = 10
"""Steps charged for each state read, write or delete (what a call costs is deterministic)."""
SCAN_ITEM_STEPS = 2
"""Steps charged per key returned by a range scan."""
MAX_DEPTH = 64
"""Deepest nesting of contract functions (and cross-contract views) in one call."""
_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")
_SORT = orjson.OPT_SORT_KEYS

F = TypeVar("F", bound=Callable[..., Any])


def entry(fn: F) -> F:
    """Mark a method as a transaction entry point (it may write state)."""
    setattr(fn, _KIND_ATTR, ENTRY)
    return fn


def view(fn: F) -> F:
    """Mark a method as a read-only view (callable by queries and by other contracts)."""
    setattr(fn, _KIND_ATTR, VIEW)
    return fn


def migration(fn: F) -> F:
    """Mark the method run once when this version is committed: ``(self, from_version: int)``."""
    setattr(fn, _KIND_ATTR, MIGRATION)
    return fn


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
MAX_ERROR_CHARS = 1000
"""Longest error text a contract puts into a receipt."""


class Failed(ContractFailed):
    """Raised by contract code to refuse a call with a stable reason code.

    ``raise Failed("already_notarised", "this document was notarised at height 12")`` gives a
    failed receipt with code ``<contract>.already_notarised``; nothing the call wrote is kept.
    """

    def __init__(self, code: str, message: str) -> None:
        if type(code) is not str or not _CODE.match(code):
            code, message = "failed", f"{message} (invalid reason code)"
        super().__init__(_ADDRESS.sub("", str(message))[:MAX_ERROR_CHARS])
        self.reason = code


class OutOfSteps(BaseException):
    """Internal signal of an exhausted budget: a ``BaseException`` so contract code cannot
    catch it with ``except Exception`` (the static check refuses bare ``except``)."""


class Meter:
    """Counts the steps (function entries, loop iterations, state operations) of one call."""

    __slots__ = ("budget", "depth", "left")

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.left = budget
        self.depth = 0

    def step(self) -> bool:
        """Charge one step (called at every loop iteration of contract code)."""
        self.left -= 1
        if self.left < 0:
            raise OutOfSteps
        return True

    def enter(self) -> None:
        """Charge a function entry and check the nesting depth."""
        self.left -= 1
        self.depth += 1
        if self.left < 0 or self.depth > MAX_DEPTH:
            raise OutOfSteps

    def leave(self) -> None:
        """Leave a function."""
        self.depth -= 1

    def charge(self, steps: int) -> None:
        """Charge ``steps`` at once (state operations, ``range``)."""
        self.left -= steps
        if self.left < 0:
            raise OutOfSteps


UNMETERED = 1 << 62
"""Budget of native (trusted, uninstrumented) contracts."""


# --- argument types ---------------------------------------------------------------------------

Check = Callable[[Any], bool]


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def parse_type(text: str) -> Check:
    """Return the checker of an annotation (``SchemaViolation`` for an unsupported one)."""
    text = text.strip().removeprefix("typing.")
    alts = _split_top(text, "|")
    if len(alts) > 1:
        checks = [parse_type(a) for a in alts]
        return lambda v: any(c(v) for c in checks)
    if text in ("Any", "object"):
        return lambda v: True
    simple: dict[str, Check] = {
        "str": lambda v: type(v) is str,
        "int": lambda v: type(v) is int,
        "bool": lambda v: type(v) is bool,
        "None": lambda v: v is None,
        "list": lambda v: type(v) is list,
        "dict": lambda v: type(v) is dict,
    }
    if text in simple:
        return simple[text]
    m = re.fullmatch(r"(list|dict)\[(.*)\]", text)
    if m:
        inner = _split_top(m.group(2), ",")
        if m.group(1) == "list" and len(inner) == 1:
            item = parse_type(inner[0])
            return lambda v: type(v) is list and all(item(x) for x in v)
        if m.group(1) == "dict" and len(inner) == 2 and inner[0] == "str":
            value = parse_type(inner[1])
            return lambda v: type(v) is dict and all(value(x) for x in v.values())
    raise SchemaViolation(f"unsupported argument type {text!r}")


def annotation_text(annotation: Any) -> str:
    """Return an annotation as text (string annotations are kept as written)."""
    if isinstance(annotation, str):
        return annotation
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        return annotation.__name__
    return str(annotation).replace("NoneType", "None")


def json_type(value: Any) -> str:
    """Return the JSON type name of a value, for error messages."""
    return {
        str: "string",
        int: "integer",
        bool: "boolean",
        list: "array",
        dict: "object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


@dataclass(frozen=True, slots=True)
class Param:
    """One declared argument of a method."""

    name: str
    """Argument name."""
    type_text: str
    """Annotation as written."""
    check: Check
    """Returns whether a JSON value is acceptable."""
    required: bool
    """False when the method gives a default."""


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """A callable method of a contract class."""

    name: str
    """Method name."""
    kind: str
    """``entry``, ``view`` or ``migration``."""
    fn: Callable[..., Any]
    """The function (called with the contract instance first)."""
    params: tuple[Param, ...]
    """Declared arguments."""
    names: frozenset[str]
    """Names of the declared arguments."""
    doc: str
    """First line of the docstring."""

    def describe(self) -> dict[str, Any]:
        """Return the JSON description (for listings and the API)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "doc": self.doc,
            "args": [
                {"name": p.name, "type": p.type_text, "required": p.required} for p in self.params
            ],
        }


def method_specs(cls: type) -> dict[str, MethodSpec]:
    """Read the ``@entry`` / ``@view`` / ``@migration`` methods of a contract class."""
    specs: dict[str, MethodSpec] = {}
    members: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass not in (object, Contract):
            members.update(vars(klass))
    for name, fn in members.items():
        kind = getattr(fn, _KIND_ATTR, None)
        if kind is None or not callable(fn):
            continue
        if name.startswith("_"):
            raise SchemaViolation(f"method {name}: entry points must have public names")
        sig = inspect.signature(fn)
        params: list[Param] = []
        for i, p in enumerate(sig.parameters.values()):
            if i == 0:
                continue  # self
            if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                raise SchemaViolation(f"method {name}: *args / **kwargs are not supported")
            if p.annotation is p.empty:
                raise SchemaViolation(f"method {name}: argument {p.name!r} has no type")
            text = annotation_text(p.annotation)
            try:
                check = parse_type(text)
            except SchemaViolation as exc:
                raise SchemaViolation(
                    f"method {name}: argument {p.name!r}: {exc.message}"
                ) from None
            params.append(Param(p.name, text, check, p.default is p.empty))
        doc = (inspect.getdoc(fn) or "").split("\n", 1)[0]
        specs[name] = MethodSpec(name, kind, fn, tuple(params), frozenset(sig.parameters), doc)
    return specs


def check_args(contract: str, spec: MethodSpec, args: Mapping[str, Any]) -> None:
    """Raise ``BadArguments`` unless ``args`` match the method's declared arguments."""
    if type(args) is not dict:
        raise BadArguments(f"{contract}.{spec.name}: args must be a JSON object")
    given = 0
    for p in spec.params:
        if p.name in args:
            given += 1
            value = args[p.name]
            if not p.check(value):
                raise BadArguments(
                    f"{contract}.{spec.name}: argument {p.name!r} must be {p.type_text}, "
                    f"got {json_type(value)}",
                    argument=p.name,
                )
        elif p.required:
            raise BadArguments(
                f"{contract}.{spec.name}: argument {p.name!r} is missing", argument=p.name
            )
    if len(args) > given:
        unknown = sorted(set(args) - {p.name for p in spec.params})
        raise BadArguments(f"{contract}.{spec.name}: unknown arguments {unknown}")


# --- what contract code sees ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the signing member and the person and case they act for."""

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
            data = orjson.dumps(value, option=_SORT)
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


class Contract:
    """Base class of class-based contracts (see the module docstring)."""

    ctx: ContractContext
    """The call's context, set before each call."""

    def __repr__(self) -> str:
        # A fixed text: the default one holds a memory address, which differs between nodes.
        return f"<contract {type(self).__name__}>"


# --- the adapter the host dispatches to -------------------------------------------------------


class ClassContract:
    """A ``Contract`` (protocol of the registry) made from a contract class.

    Each call gets a fresh instance, so nothing survives from one call to the next except
    state. ``meter`` is shared with the instrumented code of an installed contract (a lock makes
    calls of one contract take turns: the committer thread and API view queries).
    """

    def __init__(
        self,
        name: str,
        cls: type,
        *,
        namespace: bytes | None = None,
        budget: int = UNMETERED,
        meter: Meter | None = None,
        host: ViewHost | None = None,
    ) -> None:
        self.name = name
        self.cls = cls
        self.namespace = namespace if namespace is not None else f"c/{name}/".encode()
        self.budget = budget
        self.meter = meter or Meter(budget)
        self.host = host
        self.specs = method_specs(cls)
        self._entries = {n: s for n, s in self.specs.items() if s.kind == ENTRY}
        self._views = {n: s for n, s in self.specs.items() if s.kind == VIEW}
        self._lock = threading.RLock()

    def describe(self) -> list[dict[str, Any]]:
        """Return the JSON description of every method."""
        return [self.specs[n].describe() for n in sorted(self.specs)]

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Run an entry point."""
        spec = self._entries.get(method)
        if spec is None:
            raise UnknownMethod(self._no_method(method, ENTRY))
        return self._run(ctx, spec, args, read_only=False)

    def view(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Run a view (writes refused)."""
        spec = self._views.get(method)
        if spec is None:
            raise UnknownMethod(self._no_method(method, VIEW))
        return self._run(ctx, spec, args, read_only=True)

    def migrate(self, ctx: CallContext, from_version: int) -> Any:
        """Run the ``@migration`` method, if the class has one."""
        for spec in self.specs.values():
            if spec.kind == MIGRATION:
                return self._run(ctx, spec, {"from_version": from_version}, read_only=False)
        return None

    def _no_method(self, method: str, kind: str) -> str:
        names = sorted(n for n, s in self.specs.items() if s.kind == kind)
        return f"contract {self.name} has no {kind} method {method!r} (it has {names})"

    def _run(
        self, ctx: CallContext, spec: MethodSpec, args: Mapping[str, Any], read_only: bool
    ) -> Any:
        check_args(self.name, spec, args)
        meter = self.meter
        with self._lock:
            outer = meter.left if meter.depth else None
            if outer is None:
                meter.left = self.budget
            inst: Any = object.__new__(self.cls)
            inst.ctx = ContractContext(ctx, self.name, self.namespace, meter, self.host, read_only)
            try:
                result = spec.fn(inst, **args)
                if meter.left < 0:  # a ``finally: return`` swallowed the signal
                    raise OutOfSteps
            except OutOfSteps:
                if outer is not None:
                    raise
                meter.depth = 0
                raise BudgetExhausted(
                    f"{self.name}.{spec.name} used up its budget of {self.budget} steps "
                    f"(or nested calls deeper than {MAX_DEPTH})",
                    budget=self.budget,
                ) from None
            except Failed as exc:
                exc.code = f"{self.name}.{exc.reason}"
                raise
            except RecursionError:
                meter.depth = 0
                raise BudgetExhausted(f"{self.name}.{spec.name}: calls nested too deeply") from None
            except GovchainError:
                raise
            except Exception as exc:
                # The text goes into the receipt, which every node must produce byte for byte:
                # drop the memory addresses that default object texts carry.
                text = _ADDRESS.sub("", f"{type(exc).__name__}: {exc}")[:MAX_ERROR_CHARS]
                raise ContractError(f"{self.name}.{spec.name}: {text}") from None
            finally:
                if outer is None:
                    meter.depth = 0
            return result
