"""The rule language of policies: checking (``check_policy``), the lint that reasons over
ranges (``lint``), plain-text rendering (``describe``) and evaluation with a trace
(``explain``).

The language is a documented JSON Logic subset (docs/policies.md); its evaluator is the
contract's ``evaluate``, so the on-chain decision and every explanation use the same code.
The lint refuses what is well typed but wrong: a condition no enterprise can meet (``x > 10``
and ``x < 5``, or beyond the attribute's range), benefit tiers two of which can hold at once,
and integer expressions whose values could leave the bulk matcher's 64-bit range.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from govchain.apps.policies.attributes import BY_NAME
from govchain.apps.policies.contract import (
    assess,
    clauses_of,
    evaluate,
    gap_of,
    policy_problem,
    variables,
)
from govchain.errors import SchemaViolation
from govchain.sdk import Failed

INT64_LIMIT = 2**62
"""Largest magnitude an integer expression may reach (the matcher computes in int64)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason the lint refuses a policy."""

    path: str
    """Where, e.g. ``eligibility.and[2]`` or ``benefit.tiers[1]``."""
    message: str
    """What is wrong."""

    def to_json(self) -> dict[str, str]:
        """Return the JSON form."""
        return {"path": self.path, "message": self.message}


# --- ranges ------------------------------------------------------------------------------------

Domain = tuple[Any, ...]
"""What a condition allows of one attribute: an integer range ``(lo, hi)``, or allowed values
of an enum or yes/no attribute (``"true"`` / ``"false"``)."""


def _full(name: str) -> Domain:
    a = BY_NAME[name]
    if a.kind == "int":
        return (a.minimum, a.maximum)
    return a.values if a.kind == "enum" else ("false", "true")


def _var(node: Any) -> str | None:
    if isinstance(node, dict) and list(node) == ["var"] and node["var"] in BY_NAME:
        return str(node["var"])
    return None


def _simple(node: Any) -> tuple[str, Domain] | None:
    """The attribute and domain a simple condition allows (``None``: not simple)."""
    if not isinstance(node, dict) or len(node) != 1:
        return None
    op, args = next(iter(node.items()))
    name = _var(node)
    if name is not None and BY_NAME[name].kind == "bool":
        return name, ("true",)
    if op in ("!", "not"):
        inner = _simple(args[0] if isinstance(args, list) else args)
        if inner is not None and not isinstance(inner[1][0], int):
            return inner[0], tuple(v for v in _full(inner[0]) if v not in inner[1])
        return None
    if not isinstance(args, list):
        return None
    if op == "in" and len(args) == 2 and (name := _var(args[0])) is not None:
        if BY_NAME[name].kind == "enum":
            return name, tuple(v for v in _full(name) if v in args[1])
        return None
    if op in ("<", "<=") and len(args) == 3:
        name = _var(args[1])
        if name is None or not all(isinstance(args[i], int) for i in (0, 2)):
            return None
        strict = 1 if op == "<" else 0
        return name, (args[0] + strict, args[2] - strict)
    if len(args) != 2:
        return None
    left, right = _var(args[0]), _var(args[1])
    flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
    if left is not None and right is None:
        name, lit = left, args[1]
    elif right is not None and left is None:
        name, lit, op = right, args[0], flip.get(op, op)
    else:
        return None
    kind = BY_NAME[name].kind
    if kind != "int":
        if isinstance(lit, bool):
            lit = "true" if lit else "false"
        if op == "==":
            return name, (lit,)
        if op == "!=":
            return name, tuple(v for v in _full(name) if v != lit)
        return None
    if isinstance(lit, bool) or not isinstance(lit, int):
        return None
    ranges: dict[str, tuple[int | None, int | None]] = {
        "==": (lit, lit),
        ">": (lit + 1, None),
        ">=": (lit, None),
    }
    ranges.update({"<": (None, lit - 1), "<=": (None, lit)})
    if op not in ranges:
        return None
    lo, hi = ranges[op]
    full = _full(name)
    return name, (full[0] if lo is None else lo, full[1] if hi is None else hi)


def _meet(a: Domain, b: Domain) -> Domain:
    if a and isinstance(a[0], int):
        return (max(a[0], b[0]), min(a[1], b[1]))
    return tuple(v for v in a if v in b)


def _empty(d: Domain) -> bool:
    return not d or (isinstance(d[0], int) and d[0] > d[1])


def constraints(node: Any) -> tuple[dict[str, Domain], bool]:
    """The per-attribute domains a condition implies (each attribute's catalogue range at
    least), and whether they say all of it (every conjunct is a simple condition)."""
    parts = list(node["and"]) if isinstance(node, dict) and list(node) == ["and"] else [node]
    found: dict[str, Domain] = {}
    complete = True
    for part in parts:
        if isinstance(part, dict) and list(part) == ["and"]:
            inner, done = constraints(part)
            pairs = list(inner.items())
            complete = complete and done
        else:
            simple = _simple(part)
            if simple is None:
                complete = False
                continue
            pairs = [simple]
        for name, dom in pairs:
            found[name] = _meet(found.get(name, _full(name)), dom)
    return found, complete


def _impossible(node: Any, path: str, out: list[Finding]) -> None:
    """Add a finding for every ``and`` (or simple condition) in ``node`` that no enterprise
    can satisfy."""
    if not isinstance(node, dict) or len(node) != 1:
        return
    op, args = next(iter(node.items()))
    if op == "and" or _simple(node) is not None:
        found, _ = constraints(node)
        for name, dom in found.items():
            if _empty(dom):
                out.append(Finding(path, f"impossible: no value of {name} meets {describe(node)}"))
                return
    if isinstance(args, list):
        for i, a in enumerate(args):
            _impossible(a, f"{path}.{op}[{i}]", out)


def bounds(node: Any) -> tuple[int, int] | None:
    """The range an integer expression's values can take, from the attributes' ranges
    (``None`` for conditions and texts)."""
    if isinstance(node, bool) or not isinstance(node, int | dict):
        return None
    if isinstance(node, int):
        return (node, node)
    op, args = next(iter(node.items()))
    if op == "var":
        a = BY_NAME[args]
        return (a.minimum, a.maximum) if a.kind == "int" else None
    if op == "if":
        parts = [bounds(args[i]) for i in [*range(1, len(args) - 1, 2), len(args) - 1]]
        if any(p is None for p in parts):
            return None
        return (min(p[0] for p in parts if p), max(p[1] for p in parts if p))
    ranges = [bounds(a) for a in args] if isinstance(args, list) else []
    if not ranges or any(r is None for r in ranges):
        return None
    rs = [r for r in ranges if r is not None]
    if op == "+":
        return (sum(r[0] for r in rs), sum(r[1] for r in rs))
    if op == "-":
        if len(rs) == 1:
            return (-rs[0][1], -rs[0][0])
        return (rs[0][0] - rs[1][1], rs[0][1] - rs[1][0])
    if op in ("*", "bps"):
        lo, hi = rs[0]
        for r in rs[1:]:
            corners = [lo * r[0], lo * r[1], hi * r[0], hi * r[1]]
            lo, hi = min(corners), max(corners)
        return (lo // 10000, hi // 10000) if op == "bps" else (lo, hi)
    if op == "min":
        return (min(r[0] for r in rs), min(r[1] for r in rs))
    if op == "max":
        return (max(r[0] for r in rs), max(r[1] for r in rs))
    return None


def _overflow(node: Any, path: str, out: list[Finding]) -> None:
    if not isinstance(node, dict):
        return
    op, args = next(iter(node.items()))
    b = bounds(node)
    if b is not None and max(-b[0], b[1]) > INT64_LIMIT:
        out.append(Finding(path, f"{describe(node)} may reach {max(-b[0], b[1])}: over 2^62"))
        return
    if op == "bps" and isinstance(args, list):
        rate = bounds(args[1])
        if rate is not None and max(-rate[0], rate[1]) > INT64_LIMIT // 10000:
            out.append(Finding(path, "a bps rate must stay within ±2^62 / 10,000"))
    if isinstance(args, list):
        for i, a in enumerate(args):
            _overflow(a, f"{path}.{op}[{i}]", out)


def lint(policy: Any) -> list[Finding]:
    """Return every reason to refuse ``policy`` (empty: acceptable): its shape and types
    (the contract's check), impossible conditions, overlapping tiers, integer overflow."""
    try:
        bad = policy_problem(policy)
    except Failed as exc:
        bad = exc.message
    if bad:
        path, _, message = bad.partition(": ")
        return [Finding(path, message)]
    out: list[Finding] = []
    _impossible(policy["eligibility"], "eligibility", out)
    _overflow(policy["eligibility"], "eligibility", out)
    benefit = policy["benefit"]
    if "formula" in benefit:
        _overflow(benefit["formula"], "benefit.formula", out)
        return out
    tiers = benefit["tiers"]
    analysed = []
    for i, tier in enumerate(tiers):
        _impossible(tier["when"], f"benefit.tiers[{i}].when", out)
        _overflow(tier["amount"], f"benefit.tiers[{i}].amount", out)
        found, complete = constraints(tier["when"])
        if not complete:
            out.append(
                Finding(
                    f"benefit.tiers[{i}].when",
                    "write a tier as ranges and values of attributes joined by 'and', so "
                    "that tiers can be shown not to overlap",
                )
            )
        analysed.append(found)
    for i in range(len(analysed)):
        for j in range(i + 1, len(analysed)):
            names = [n for n in analysed[i] if n in analysed[j]]
            apart = any(_empty(_meet(analysed[i][n], analysed[j][n])) for n in names)
            if not apart:
                out.append(
                    Finding(
                        f"benefit.tiers[{j}]",
                        f"overlaps tier {i}: an enterprise can meet both "
                        f"({describe(tiers[i]['when'])}; {describe(tiers[j]['when'])})",
                    )
                )
    return out


def check_policy(policy: Any) -> dict[str, Any]:
    """Return ``policy`` if the lint finds nothing; otherwise raise ``SchemaViolation`` naming
    the first finding's place (and how many there are)."""
    found = lint(policy)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise SchemaViolation(
            f"{found[0].path}: {found[0].message}{more}",
            field=found[0].path,
            findings=[f.to_json() for f in found],
        )
    checked: dict[str, Any] = policy
    return checked


# --- rendering and the trace -------------------------------------------------------------------

_INFIX = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥", "+": "+", "*": "×"}


def describe(node: Any) -> str:
    """A rule expression as text (``employees ≥ 10 and rd_share_bps ≥ 300``)."""
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, int):
        return f"{node:,}".replace(",", "_") if abs(node) >= 100_000 else str(node)
    if isinstance(node, str):
        return repr(node)
    if isinstance(node, list):
        return "[" + ", ".join(describe(v) for v in node) + "]"
    op, args = next(iter(node.items()))
    if op == "var":
        return str(args)
    args = args if isinstance(args, list) else [args]
    parts = [describe(a) for a in args]
    if op in ("and", "or"):
        return f" {op} ".join(f"({p})" if " and " in p or " or " in p else p for p in parts)
    if op in ("!", "not"):
        return f"not ({parts[0]})"
    if op in ("<", "<=") and len(parts) == 3:
        return f"{parts[0]} {_INFIX[op]} {parts[1]} {_INFIX[op]} {parts[2]}"
    if op in _INFIX:
        return f" {_INFIX[op]} ".join(parts)
    if op == "-":
        return f"-{parts[0]}" if len(parts) == 1 else f"{parts[0]} - {parts[1]}"
    if op == "in":
        return f"{parts[0]} in {parts[1]}"
    if op == "if":
        pairs = [f"if {parts[i]} then {parts[i + 1]}" for i in range(0, len(parts) - 1, 2)]
        return ", ".join(pairs) + f", else {parts[-1]}"
    return f"{op}({', '.join(parts)})"


def _checks(node: Any, facts: Mapping[str, Any], sources: Mapping[str, Any]) -> list[Any]:
    """The conditions a clause is made of (comparisons and yes/no facts), each evaluated."""
    if not isinstance(node, dict):
        return []
    op, args = next(iter(node.items()))
    if op in ("and", "or", "!", "not", "if"):
        out: list[Any] = []
        for a in args if isinstance(args, list) else [args]:
            out += _checks(a, facts, sources)
        return out
    names = variables(node, [])
    return [
        {
            "condition": describe(node),
            "result": evaluate(node, dict(facts)) is True,
            "gap": gap_of(node, dict(facts)),
            "facts": [
                {
                    "attribute": n,
                    "value": facts.get(n),
                    "dept": sources.get(n, {}).get("dept", ""),
                    "attestation": sources.get(n, {}).get("attestation", ""),
                }
                for n in names
            ],
        }
    ]


def explain(
    policy: Mapping[str, Any], facts: Mapping[str, Any], sources: Mapping[str, Any]
) -> dict[str, Any]:
    """The outcome of a policy for an enterprise with its trace: each clause with its result
    and gap, the conditions it is made of with each fact's value, department and attestation
    (``sources``: attribute -> ``{dept, attestation}``)."""
    outcome = assess(dict(policy), dict(facts))
    clauses = []
    for i, clause in enumerate(clauses_of(policy["eligibility"])):
        ok = evaluate(clause, dict(facts)) is True
        clauses.append(
            {
                "index": i,
                "clause": describe(clause),
                "result": ok,
                "gap": None if ok else gap_of(clause, dict(facts)),
                "checks": _checks(clause, facts, sources),
            }
        )
    return {**outcome, "policy": policy["id"], "clauses": clauses}


def shipped_policies() -> list[dict[str, Any]]:
    """The demo policies shipped with the service (``data/policies/*.json``), by id."""
    folder = resources.files("govchain.apps.policies").joinpath("data/policies")
    found = [json.loads(f.read_text("utf-8")) for f in folder.iterdir() if f.name.endswith(".json")]
    return sorted(found, key=lambda p: str(p["id"]))
