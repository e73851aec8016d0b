"""Entry points of contract classes: the ``@entry`` / ``@view`` / ``@migration`` marks, the
argument types read from annotations, and the check of a call's arguments before it runs."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from govchain.contracts.errors import BadArguments
from govchain.errors import SchemaViolation

ENTRY = "entry"
VIEW = "view"
MIGRATION = "migration"
_KIND_ATTR = "_govchain_kind"


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
        if klass is not object:
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
