"""The bulk matcher: a policy's rules compiled to numpy operations over attribute columns, for
every enterprise at once.

It computes what the contract's scalar ``assess`` computes, row by row, with the same
semantics (a comparison with a missing fact is false, a missing yes/no fact is false, integer
arithmetic floors like Python's ``//``); a Hypothesis property checks the two agree on every
enterprise x policy pair, at every threshold. Enums are coded as their index in the
attribute's value list; integers are int64, which the lint keeps rules inside (2^62).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from govchain.apps.policies.attributes import BY_NAME, CATALOGUE
from govchain.apps.policies.contract import CODES, benefit_expression, clauses_of, variables
from govchain.errors import SchemaViolation

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
NO_GAP = np.iinfo(np.int64).min
"""Gap of a row that has none (the scalar evaluator's ``None``)."""
STATUS_CODES = ("not", "nearly", "qualifies")
"""Status by code (0, 1, 2)."""


@dataclass(frozen=True, slots=True)
class Columns:
    """Every enterprise's attributes as columns."""

    usccs: tuple[str, ...]
    """Enterprise of each row."""
    values: Mapping[str, Ints]
    """Attribute -> value per row (enums as index into the attribute's values; yes/no 0/1)."""
    present: Mapping[str, Bools]
    """Attribute -> whether the row has the fact."""


def columns_of(usccs: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> Columns:
    """Build columns from per-enterprise fact dicts (attribute -> value, missing: absent)."""
    n = len(rows)
    values: dict[str, Ints] = {}
    present: dict[str, Bools] = {}
    for a in CATALOGUE:
        col = np.zeros(n, dtype=np.int64)
        has = np.zeros(n, dtype=np.bool_)
        index = {v: i for i, v in enumerate(a.values)}
        for i, row in enumerate(rows):
            v = row.get(a.name)
            if v is None:
                continue
            has[i] = True
            col[i] = index[v] if a.kind == "enum" else int(v)
        values[a.name] = col
        present[a.name] = has
    return Columns(tuple(usccs), values, present)


class _Compiler:
    """Evaluates expressions over columns: integers as ``(values, present)``, conditions as
    boolean arrays."""

    def __init__(self, cols: Columns) -> None:
        self.cols = cols
        self.n = len(cols.usccs)

    def cond(self, node: Any) -> Bools:
        if isinstance(node, bool):
            return np.full(self.n, node, dtype=np.bool_)
        op, args = next(iter(node.items()))
        if op == "var":
            found: Bools = (self.cols.values[args] != 0) & self.cols.present[args]
            return found
        if op in ("!", "not"):
            return ~self.cond(args[0] if isinstance(args, list) else args)
        if op in ("and", "or"):
            parts = [self.cond(a) for a in args]
            out = parts[0].copy()
            for p in parts[1:]:
                out = out & p if op == "and" else out | p
            return out
        if op == "if":
            conds = [self.cond(args[i]) for i in range(0, len(args) - 1, 2)]
            branches = [self.cond(args[i]) for i in range(1, len(args) - 1, 2)]
            return np.select(conds, branches, self.cond(args[-1]))
        if op == "in":
            v, has = self.value(args[0])
            name = _var_name(args[0])
            items = args[1]
            if name is not None and BY_NAME[name].kind == "enum":
                codes = [BY_NAME[name].values.index(x) for x in items]
                return np.isin(v, codes) & has
            return np.isin(v, np.array(items, dtype=np.int64)) & has
        if op in ("==", "!=") and any(isinstance(a, str) for a in args):
            name = _var_name(args[0]) or _var_name(args[1]) or ""
            args = [BY_NAME[name].values.index(a) if isinstance(a, str) else a for a in args]
        vals = [self.value(a) for a in args]
        has = vals[0][1]
        for _, h in vals[1:]:
            has = has & h
        a, b = vals[0][0], vals[1][0]
        if len(vals) == 3:
            c = vals[2][0]
            ok = (a < b) & (b < c) if op == "<" else (a <= b) & (b <= c)
        else:
            ok = _COMPARE[op](a, b)
        return ok & has

    def value(self, node: Any) -> tuple[Ints, Bools]:
        """An integer (or enum-coded) expression: values and whether each row has one."""
        if isinstance(node, bool):
            return np.full(self.n, int(node), np.int64), np.ones(self.n, np.bool_)
        if isinstance(node, int):
            return np.full(self.n, node, np.int64), np.ones(self.n, np.bool_)
        if isinstance(node, str):
            raise SchemaViolation("a text is compared with an enum attribute only", field="rule")
        op, args = next(iter(node.items()))
        if op == "var":
            if BY_NAME[args].kind == "bool":
                return self.cond(node).astype(np.int64), np.ones(self.n, np.bool_)
            return self.cols.values[args], self.cols.present[args]
        if op == "if":
            conds = [self.cond(args[i]) for i in range(0, len(args) - 1, 2)]
            branches = [self.value(args[i]) for i in range(1, len(args) - 1, 2)]
            last = self.value(args[-1])
            vals = np.select(conds, [b[0] for b in branches], last[0])
            has = np.select(conds, [b[1] for b in branches], last[1])
            return vals.astype(np.int64), has.astype(np.bool_)
        parts = [self.value(a) for a in args]
        has = parts[0][1]
        for _, h in parts[1:]:
            has = has & h
        vs = [p[0] for p in parts]
        if op == "+":
            out = vs[0].copy()
            for v in vs[1:]:
                out = out + v
        elif op == "-":
            out = -vs[0] if len(vs) == 1 else vs[0] - vs[1]
        elif op == "*":
            out = vs[0].copy()
            for v in vs[1:]:
                out = out * v
        elif op == "min":
            out = np.minimum.reduce(vs)
        elif op == "max":
            out = np.maximum.reduce(vs)
        elif op == "bps":
            # floor(x * r / 10,000) without forming x * r: x = 10,000 q + m with 0 <= m < 10,000.
            q, m = np.divmod(vs[0], 10000)
            out = q * vs[1] + (m * vs[1]) // 10000
        else:
            raise SchemaViolation(f"unknown operator {op!r}", field="rule")
        return out.astype(np.int64), has

    def gap(self, node: Any) -> Ints:
        """The scalar ``gap_of`` for every row (``NO_GAP`` where it is ``None``)."""
        out = np.full(self.n, NO_GAP, np.int64)
        if not isinstance(node, dict):
            return out
        op, args = next(iter(node.items()))
        if op not in ("<", "<=", ">", ">=", "==") or not isinstance(args, list):
            return out
        if any(_kind(a) != "int" for a in args) or any(n in CODES for n in variables(node, [])):
            return out
        reads = [len(variables(a, [])) > 0 for a in args]
        parts = [self.value(a) for a in args]
        has = parts[0][1]
        for _, h in parts[1:]:
            has = has & h
        failing = has & ~self.cond(node)
        vs = [p[0] for p in parts]
        if len(args) == 3:
            if reads[0] or reads[2] or not reads[1]:
                return out
            strict = 1 if op == "<" else 0
            lo, hi = vs[0] + strict, vs[2] - strict
            g = np.where(vs[1] < lo, lo - vs[1], hi - vs[1])
            return np.where(failing, g, out)
        if reads[0] == reads[1]:
            return out
        a, b = vs
        strict = 1 if op in ("<", ">") else 0
        if reads[1]:
            a, b = b, a
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "=="}[op]
        g = b - a + strict if op in (">", ">=", "==") else b - a - strict
        return np.where(failing, g, out)


def _var_name(node: Any) -> str | None:
    if isinstance(node, dict) and list(node) == ["var"]:
        return str(node["var"])
    return None


def _kind(node: Any) -> str:
    """``int`` for an integer expression, else ``other`` (enums, texts, conditions)."""
    if isinstance(node, bool | str):
        return "other"
    if isinstance(node, int):
        return "int"
    if isinstance(node, list):
        return "other"
    op, args = next(iter(node.items()))
    if op == "var":
        return "int" if BY_NAME[args].kind == "int" else "other"
    if op in ("+", "-", "*", "min", "max", "bps"):
        return "int"
    if op == "if":
        return _kind(args[1])
    return "other"


_COMPARE: dict[str, Any] = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


@dataclass(frozen=True, slots=True)
class PolicyMatch:
    """One policy against every enterprise."""

    policy: str
    """Policy id."""
    status: npt.NDArray[np.int8]
    """Per row: 2 qualifies, 1 nearly (one clause fails), 0 not."""
    failing: npt.NDArray[np.int16]
    """Per row: index of the first failing clause (-1 if none fails)."""
    gap: Ints
    """Per row: the failing clause's gap where the row nearly qualifies (``NO_GAP``: none)."""
    benefit_fen: Ints
    """Per row: the benefit in fen (0 to the cap)."""

    def outcome(self, row: int) -> dict[str, Any]:
        """Row ``row`` in the scalar ``assess`` form (``failing`` as the first index only)."""
        status = STATUS_CODES[int(self.status[row])]
        gap = int(self.gap[row])
        return {
            "status": status,
            "first_failing": int(self.failing[row]),
            "gap": None if gap == NO_GAP or status != "nearly" else gap,
            "benefit_fen": int(self.benefit_fen[row]),
        }


def match_policy(policy: Mapping[str, Any], cols: Columns) -> PolicyMatch:
    """Match one (linted) policy against every row of ``cols``."""
    c = _Compiler(cols)
    clauses = clauses_of(policy["eligibility"])
    fails = np.zeros(c.n, np.int16)
    first = np.full(c.n, -1, np.int16)
    gap = np.full(c.n, NO_GAP, np.int64)
    for i, clause in enumerate(clauses):
        bad = ~c.cond(clause)
        new = bad & (first < 0)
        first[new] = i
        fails += bad
        g = c.gap(clause)
        gap = np.where(new, g, gap)
    status = np.where(fails == 0, 2, np.where(fails == 1, 1, 0)).astype(np.int8)
    gap = np.where(status == 1, gap, NO_GAP)
    benefit = policy["benefit"]
    v, has = c.value(benefit_expression(benefit))
    amount = np.where(has & (v > 0), np.minimum(v, benefit["cap_fen"]), 0).astype(np.int64)
    return PolicyMatch(str(policy["id"]), status, first, gap, amount)


def match_all(policies: Sequence[Mapping[str, Any]], cols: Columns) -> list[PolicyMatch]:
    """Match every policy against every row."""
    return [match_policy(p, cols) for p in policies]
