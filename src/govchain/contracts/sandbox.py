"""Checking, instrumenting and loading contract source code.

Contract code must be deterministic: every node runs it and must get the same result. Three
layers keep it so:

1. ``check_source`` (at install): an AST walk that refuses imports outside an allow-list, the
   builtins that reach the outside world (``open``, ``eval``, ``__import__``, ``getattr`` ...),
   dunder names and attributes (``__class__``, ``__globals__`` ...), frame and generator
   internals, ``global``, ``async``, bare ``except``, and set displays (their iteration order
   follows string hashing, which differs between processes). Each finding names file and line.
2. ``instrument``: a budget of steps, counted by calls inserted at every function entry, loop
   iteration and comprehension item; ``*``, ``**`` and ``<<`` go through a size guard. The count
   is a property of the code and its inputs, identical on every node.
3. ``load_module``: executes the instrumented code with restricted builtins and an import
   function that hands out only allow-listed names (never a module object), then refuses
   mutable module or class attributes (state must live in the ledger, not in the process).
"""

from __future__ import annotations

import ast
import builtins
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from govchain.contracts import model
from govchain.contracts.errors import ContractRefused
from govchain.contracts.model import Meter, OutOfSteps


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason a contract source is refused."""

    file: str
    """File name inside the package."""
    line: int
    """Line number (1-based)."""
    reason: str
    """What is wrong and what to do instead."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"file": self.file, "line": self.line, "reason": self.reason}


ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    "govchain.sdk": frozenset({"Contract", "Failed", "entry", "view", "migration"}),
    "typing": frozenset({"Any"}),
    "__future__": frozenset({"annotations"}),
}
"""Modules contract code may import from, and the names it may take from each."""

_EXPORTS: dict[str, dict[str, Any]] = {
    "govchain.sdk": {
        "Contract": model.Contract,
        "Failed": model.Failed,
        "entry": model.entry,
        "view": model.view,
        "migration": model.migration,
    },
    "typing": {"Any": Any},
    "__future__": {"annotations": __import__("__future__").annotations},
}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FORBIDDEN_NAMES: dict[str, str] = {
    name: "reaches outside the contract"
    for name in [
        "open",
        "__import__",
        "eval",
        "exec",
        "compile",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "dir",
        "id",
        "hash",
        "input",
        "print",
        "breakpoint",
        "memoryview",
        "type",
        "object",
        "super",
        "help",
        "exit",
        "quit",
        "classmethod",
        "property",
        "staticmethod",
        "bytearray",
        "set",
        "frozenset",
        "repr",
        "ascii",
        "format",
        "iter",
        "aiter",
        "anext",
        "callable",
        "issubclass",
    ]
}
FORBIDDEN_NAMES.update(
    time="wall-clock time is not deterministic: use self.ctx.time_ms (the block time)",
    random="randomness is not deterministic",
    os="the operating system is out of reach",
    sys="the interpreter is out of reach",
    socket="the network is out of reach",
    set="set iteration order differs between nodes: use a dict or a sorted list",
    frozenset="set iteration order differs between nodes: use a tuple",
    hash="hash() of strings differs between processes",
    id="object ids differ between nodes",
    repr="repr() of objects holds memory addresses",
)

FORBIDDEN_ATTRS: frozenset[str] = frozenset(
    [
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "ag_frame",
        "ag_code",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "tb_frame",
        "tb_next",
        "mro",
        "format",
        "format_map",
        "ljust",
        "rjust",
        "center",
        "zfill",
        "expandtabs",
        "with_traceback",
    ]
)
"""Attributes that lead to frames, globals or unbounded allocations."""

SAFE_BUILTINS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in [
        "abs",
        "all",
        "any",
        "bool",
        "chr",
        "dict",
        "divmod",
        "enumerate",
        "filter",
        "int",
        "isinstance",
        "len",
        "list",
        "map",
        "max",
        "min",
        "next",
        "ord",
        "reversed",
        "round",
        "slice",
        "sorted",
        "str",
        "sum",
        "tuple",
        "zip",
        "ArithmeticError",
        "AssertionError",
        "Exception",
        "IndexError",
        "KeyError",
        "LookupError",
        "OverflowError",
        "RuntimeError",
        "StopIteration",
        "TypeError",
        "ValueError",
        "ZeroDivisionError",
        "NotImplementedError",
        "True",
        "False",
        "None",
        "__build_class__",
    ]
}
"""Builtins contract code runs with (``range`` is added per contract, metered)."""

MAX_SEQUENCE = 1_000_000
"""Longest sequence ``*`` may build, and the largest exponent ``**`` / ``<<`` may use."""


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


class _Checker(ast.NodeVisitor):
    def __init__(self, file: str) -> None:
        self.file = file
        self.findings: list[Finding] = []

    def bad(self, node: ast.AST, reason: str) -> None:
        self.findings.append(Finding(self.file, getattr(node, "lineno", 0), reason))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            reason = FORBIDDEN_NAMES.get(alias.name.split(".")[0])
            if alias.name in ALLOWED_IMPORTS:
                reason = f"use 'from {alias.name} import ...' (module objects are not reachable)"
            self.bad(
                node,
                f"import {alias.name}: "
                + (reason or f"only {sorted(ALLOWED_IMPORTS)} may be imported"),
            )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        allowed = ALLOWED_IMPORTS.get(module)
        if allowed is None:
            reason = FORBIDDEN_NAMES.get(module.split(".")[0])
            self.bad(
                node,
                f"from {module} import: "
                + (reason or f"only {sorted(ALLOWED_IMPORTS)} may be imported"),
            )
            return
        for alias in node.names:
            if alias.name not in allowed:
                self.bad(
                    node, f"from {module} import {alias.name}: not allowed ({sorted(allowed)})"
                )

    def visit_Name(self, node: ast.Name) -> None:
        if _dunder(node.id):
            self.bad(node, f"name {node.id}: dunder names are not reachable")
        elif node.id in FORBIDDEN_NAMES:
            self.bad(node, f"name {node.id}: {FORBIDDEN_NAMES[node.id]}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if _dunder(attr):
            self.bad(node, f"attribute .{attr}: dunder attributes are not reachable")
        elif attr.startswith("_") and not (
            isinstance(node.value, ast.Name) and node.value.id == "self"
        ):
            self.bad(node, f"attribute .{attr}: private attributes only on self")
        elif attr in FORBIDDEN_ATTRS:
            self.bad(node, f"attribute .{attr}: not allowed in contracts")
        self.generic_visit(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if isinstance(node, ast.AsyncFunctionDef):
            self.bad(node, f"async def {node.name}: contracts are synchronous")
        if _dunder(node.name):
            self.bad(node, f"def {node.name}: contracts may not define dunder methods")
        self.generic_visit(node)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if node.keywords:
            self.bad(node, f"class {node.name}: metaclasses and class keywords are not allowed")
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        self.bad(node, "global: module state does not survive between calls; use self.ctx")

    def _async(self, node: ast.AST) -> None:
        self.bad(node, "async: contracts are synchronous")
        self.generic_visit(node)

    visit_Await = visit_AsyncFor = visit_AsyncWith = _async

    def _set(self, node: ast.AST) -> None:
        self.bad(node, "set: iteration order differs between nodes; use a dict or a list")
        self.generic_visit(node)

    visit_Set = visit_SetComp = _set

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is None:
            self.bad(node, "bare except: name the exceptions to catch (e.g. except ValueError)")
        elif isinstance(node.type, ast.Name) and node.type.id in (
            "BaseException",
            "GeneratorExit",
            "SystemExit",
            "KeyboardInterrupt",
        ):
            self.bad(node, f"except {node.type.id}: catch Exception or narrower")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.op, ast.Mult | ast.Pow | ast.LShift) and not isinstance(
            node.target, ast.Name
        ):
            self.bad(node, "augmented *, ** or << on an item or attribute: write x = x * y")
        self.generic_visit(node)


def check_source(file: str, source: str) -> list[Finding]:
    """Return every reason ``source`` is refused (empty list: acceptable)."""
    try:
        tree = ast.parse(source, filename=file)
    except SyntaxError as exc:
        return [Finding(file, exc.lineno or 0, f"syntax error: {exc.msg}")]
    checker = _Checker(file)
    checker.visit(tree)
    return sorted(checker.findings, key=lambda f: (f.file, f.line, f.reason))


# --- instrumentation --------------------------------------------------------------------------

_STEP = "__gc_step__"
_ENTER = "__gc_enter__"
_LEAVE = "__gc_leave__"
_ARITH = "__gc_arith__"
_OPS = {ast.Mult: "mul", ast.Pow: "pow", ast.LShift: "lshift"}


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


class _Instrumenter(ast.NodeTransformer):
    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        return [ast.Expr(_call(_STEP)), *body]

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        self.generic_visit(node)
        docstring: list[ast.stmt] = []
        body = node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            docstring, body = body[:1], body[1:]
        guarded = ast.Try(
            body=body or [ast.Pass()],
            handlers=[],
            orelse=[],
            finalbody=[ast.Expr(_call(_LEAVE))],
        )
        node.body = [*docstring, ast.Expr(_call(_ENTER)), guarded]
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.expr:
        self.generic_visit(node)
        node.body = ast.Subscript(
            value=ast.Tuple(elts=[_call(_STEP), node.body], ctx=ast.Load()),
            slice=ast.Constant(1),
            ctx=ast.Load(),
        )
        return node

    def visit_For(self, node: ast.For) -> ast.For:
        self.generic_visit(node)
        node.body = self._body(node.body)
        return node

    def visit_While(self, node: ast.While) -> ast.While:
        self.generic_visit(node)
        node.body = self._body(node.body)
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.comprehension:
        self.generic_visit(node)
        node.ifs = [_call(_STEP), *node.ifs]
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        op = _OPS.get(type(node.op))
        if op is None:
            return node
        return _call(_ARITH, ast.Constant(op), node.left, node.right)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:
        self.generic_visit(node)
        op = _OPS.get(type(node.op))
        if op is None or not isinstance(node.target, ast.Name):
            return node
        load = ast.Name(id=node.target.id, ctx=ast.Load())
        return ast.Assign(
            targets=[node.target], value=_call(_ARITH, ast.Constant(op), load, node.value)
        )


def instrument(tree: ast.Module) -> ast.Module:
    """Insert the step counting and size guards into a checked module's AST."""
    out = _Instrumenter().visit(tree)
    assert isinstance(out, ast.Module)
    return ast.fix_missing_locations(out)


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _arith(meter: Meter) -> Callable[[str, Any, Any], Any]:
    def arith(op: str, a: Any, b: Any) -> Any:
        if op == "mul":
            for seq, n in ((a, b), (b, a)):
                size = _size(seq)
                if size is not None and isinstance(n, int) and size * n > MAX_SEQUENCE:
                    raise ValueError(f"sequence of {size * n} items is over {MAX_SEQUENCE}")
            if isinstance(a, int) and isinstance(b, int):
                meter.charge((a.bit_length() + b.bit_length()) // 64)
            return a * b
        if isinstance(b, int) and isinstance(a, int) and abs(b) > MAX_SEQUENCE and abs(a) > 1:
            raise ValueError(f"exponent or shift {b} is over {MAX_SEQUENCE}")
        if isinstance(b, int) and isinstance(a, int) and b > 64:
            meter.charge(b // 64)
        return a**b if op == "pow" else a << b

    return arith


def _metered_range(meter: Meter) -> Callable[..., range]:
    def metered_range(*args: int) -> range:
        r = range(*args)
        meter.charge(len(r) // 8)
        return r

    return metered_range


def _importer(file: str) -> Callable[..., Any]:
    def restricted_import(
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: tuple[str, ...] = (),
        level: int = 0,
    ) -> Any:
        allowed = ALLOWED_IMPORTS.get(name)
        if level or allowed is None or not fromlist or not set(fromlist) <= allowed:
            raise ImportError(f"{file}: import of {name!r} {fromlist!r} is not allowed")
        exports = _EXPORTS[name]
        return types.SimpleNamespace(**{n: exports[n] for n in fromlist})

    return restricted_import


_EXPORTED_IDS = frozenset(id(v) for names in _EXPORTS.values() for v in names.values())


def _immutable(value: Any, module: str, depth: int = 0) -> bool:
    if id(value) in _EXPORTED_IDS:
        return True
    if value is None or type(value) in (int, str, bytes, bool, float):
        return True
    if type(value) is tuple:
        return depth < 8 and all(_immutable(v, module, depth + 1) for v in value)
    if isinstance(value, types.FunctionType):
        return True
    if isinstance(value, type):
        return value.__module__ == module
    return False


def load_module(file: str, source: str, meter: Meter, module_name: str) -> dict[str, Any]:
    """Check, instrument and execute one contract source; return its namespace.

    Raises ``ContractRefused`` (with ``findings``) when the source fails the static check, when
    executing the module body fails or exhausts the budget, or when a module or class attribute
    is mutable.
    """
    findings = check_source(file, source)
    if findings:
        raise refused(findings)
    tree = instrument(ast.parse(source, filename=file))
    code = compile(tree, file, "exec")
    safe = dict(SAFE_BUILTINS)
    safe["range"] = _metered_range(meter)
    safe["__import__"] = _importer(file)
    namespace: dict[str, Any] = {
        "__builtins__": safe,
        "__name__": module_name,
        _STEP: meter.step,
        _ENTER: meter.enter,
        _LEAVE: meter.leave,
        _ARITH: _arith(meter),
    }
    meter.left = meter.budget
    meter.depth = 0
    try:
        exec(code, namespace)
    except OutOfSteps:
        raise refused([Finding(file, 0, "module body used up its budget")]) from None
    except Exception as exc:
        line = _line_of(exc, file)
        raise refused(
            [Finding(file, line, f"module body failed: {type(exc).__name__}: {exc}")]
        ) from None
    finally:
        meter.depth = 0
    problems: list[Finding] = []
    for name, value in _user_items(namespace):
        if not _immutable(value, module_name):
            problems.append(
                Finding(
                    file,
                    0,
                    f"module attribute {name} is mutable ({type(value).__name__}): "
                    "state lives in the ledger; use a tuple or a constant",
                )
            )
        if isinstance(value, type) and value.__module__ == module_name:
            if "__repr__" not in vars(value) and not issubclass(value, BaseException):
                # The default repr (and so str() and f-strings) holds a memory address.
                value.__repr__ = _fixed_repr  # type: ignore[method-assign]
            for attr, member in vars(value).items():
                if _dunder(attr) or isinstance(member, types.FunctionType):
                    continue
                if not _immutable(member, module_name):
                    problems.append(
                        Finding(
                            file,
                            0,
                            f"class attribute {name}.{attr} is mutable "
                            f"({type(member).__name__}): use a tuple or a constant",
                        )
                    )
    if problems:
        raise refused(problems)
    return namespace


def _fixed_repr(self: object) -> str:
    return f"<{type(self).__name__}>"


def _user_items(namespace: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, value in namespace.items():
        if not _dunder(name):
            yield name, value


def _line_of(exc: BaseException, file: str) -> int:
    tb = exc.__traceback__
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == file:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def refused(findings: list[Finding]) -> ContractRefused:
    """Return the error listing ``findings``."""
    text = "; ".join(str(f) for f in findings[:20])
    more = f" (and {len(findings) - 20} more)" if len(findings) > 20 else ""
    return ContractRefused(
        f"contract refused: {text}{more}", findings=[f.to_json() for f in findings]
    )


def contract_class(namespace: dict[str, Any], file: str, module_name: str) -> type:
    """Return the one ``Contract`` subclass a loaded module defines."""
    found = [
        v
        for v in namespace.values()
        if isinstance(v, type)
        and issubclass(v, model.Contract)
        and v is not model.Contract
        and v.__module__ == module_name
    ]
    if len(found) != 1:
        raise refused(
            [Finding(file, 0, f"must define exactly one Contract subclass, found {len(found)}")]
        )
    return found[0]
