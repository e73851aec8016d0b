"""Checking, instrumenting and loading contract source code.

Contract code must be deterministic: every node runs it and must get the same result. Three
layers keep it so:

1. ``checks.check_source`` (at install): an AST walk that refuses imports outside an allow-list, the
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
from typing import Any

from govchain.contracts import model
from govchain.contracts.budget import Meter, OutOfSteps
from govchain.contracts.checks import (
    ALLOWED_IMPORTS,
    Finding,
    check_source,
    dunder,
    refused,
)

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


SAFE_BUILTINS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in _words(
        "abs all any bool chr dict divmod enumerate filter int isinstance len list map max "
        "min next ord reversed round slice sorted str sum tuple zip ArithmeticError "
        "AssertionError Exception IndexError KeyError LookupError OverflowError RuntimeError "
        "StopIteration TypeError ValueError ZeroDivisionError NotImplementedError True False "
        "None __build_class__ "
    )
}
"""Builtins contract code runs with (``range`` is added per contract, metered)."""

MAX_SEQUENCE = 1_000_000
"""Longest sequence ``*`` may build, and the largest exponent ``**`` / ``<<`` may use."""


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
                if dunder(attr) or isinstance(member, types.FunctionType):
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
        if not dunder(name):
            yield name, value


def _line_of(exc: BaseException, file: str) -> int:
    tb = exc.__traceback__
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == file:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


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
