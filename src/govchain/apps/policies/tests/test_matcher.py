"""The bulk matcher agrees with the contract's scalar evaluator on every enterprise x policy
pair: over the shipped policies with facts at every threshold they name (and one either side),
and over generated rules of the whole language with values packed around their literals."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govchain.apps.policies.attributes import CATALOGUE
from govchain.apps.policies.contract import assess
from govchain.apps.policies.matcher import Columns, columns_of, match_policy
from govchain.apps.policies.rules import lint, shipped_policies

POLICIES = shipped_policies()


def _literals(node: Any, found: dict[str, set[int]]) -> None:
    """Integer literals compared with each attribute, anywhere in a rule."""
    if isinstance(node, dict):
        _, args = next(iter(node.items()))
        if isinstance(args, list):
            names = [a["var"] for a in args if isinstance(a, dict) and list(a) == ["var"]]
            for name in names:
                for a in args:
                    if isinstance(a, int) and not isinstance(a, bool):
                        found.setdefault(name, set()).add(a)
            for a in args:
                _literals(a, found)
        else:
            _literals(args, found)


THRESHOLDS: dict[str, set[int]] = {}
for _p in POLICIES:
    _literals(_p["eligibility"], THRESHOLDS)
    for _t in _p["benefit"].get("tiers", []):
        _literals(_t["when"], THRESHOLDS)


def _edge_values(name: str, lo: int, hi: int) -> list[int]:
    near = {t + d for t in THRESHOLDS.get(name, set()) for d in (-1, 0, 1)}
    return sorted(v for v in near | {lo, hi} if lo <= v <= hi)


def _value(attr: Any, small: bool) -> st.SearchStrategy[Any]:
    if attr.kind == "bool":
        return st.booleans()
    if attr.kind == "enum":
        return st.sampled_from(attr.values)
    if small:
        return st.integers(max(attr.minimum, 0), min(attr.maximum, 12))
    return st.one_of(
        st.sampled_from(_edge_values(attr.name, attr.minimum, attr.maximum)),
        st.integers(attr.minimum, attr.maximum),
    )


def enterprises(small: bool) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Enterprises whose facts are each missing, or at a threshold or near it."""
    one = st.fixed_dictionaries(
        {a.name: st.one_of(st.none(), _value(a, small)) for a in CATALOGUE}
    ).map(lambda d: {k: v for k, v in d.items() if v is not None})
    return st.lists(one, min_size=1, max_size=25)


def _agree(policy: dict[str, Any], rows: list[dict[str, Any]], cols: Columns) -> None:
    got = match_policy(policy, cols)
    for i, facts in enumerate(rows):
        want = assess(policy, facts)
        have = got.outcome(i)
        assert have["status"] == want["status"], (policy["id"], facts)
        assert have["benefit_fen"] == want["benefit_fen"], (policy["id"], facts)
        assert have["gap"] == want["gap"], (policy["id"], facts)
        if want["failing"]:
            assert have["first_failing"] == want["failing"][0]


@settings(max_examples=150, deadline=None)
@given(enterprises(small=False))
def test_matcher_agrees_on_shipped_policies(rows: list[dict[str, Any]]) -> None:
    cols = columns_of([f"E{i}" for i in range(len(rows))], rows)
    for policy in POLICIES:
        _agree(policy, rows, cols)


# --- generated rules ---------------------------------------------------------------------------

INTS = [a.name for a in CATALOGUE if a.kind == "int"]
BOOLS = [a.name for a in CATALOGUE if a.kind == "bool"]
ENUMS = [a for a in CATALOGUE if a.kind == "enum"]
SMALL = st.integers(-2, 13)


def int_exprs() -> st.SearchStrategy[Any]:
    leaf = st.one_of(SMALL, st.sampled_from(INTS).map(lambda n: {"var": n}))

    def grow(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.tuples(st.sampled_from(["+", "-", "min", "max"]), inner, inner).map(
                lambda t: {t[0]: [t[1], t[2]]}
            ),
            inner.map(lambda a: {"-": [a]}),
            st.tuples(inner, SMALL).map(lambda t: {"*": [t[0], t[1]]}),
            st.tuples(inner, st.integers(0, 20_000)).map(lambda t: {"bps": [t[0], t[1]]}),
            st.tuples(conditions(1), inner, inner).map(lambda t: {"if": list(t)}),
        )

    return st.recursive(leaf, grow, max_leaves=4)


def comparisons() -> st.SearchStrategy[Any]:
    ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    enum_cmp = st.sampled_from(ENUMS).flatmap(
        lambda a: st.one_of(
            st.tuples(st.sampled_from(["==", "!="]), st.sampled_from(a.values)).map(
                lambda t: {t[0]: [{"var": a.name}, t[1]]}
            ),
            st.lists(st.sampled_from(a.values), min_size=1, max_size=3).map(
                lambda vs: {"in": [{"var": a.name}, vs]}
            ),
        )
    )
    leaf_int = st.one_of(SMALL, st.sampled_from(INTS).map(lambda n: {"var": n}))
    return st.one_of(
        st.tuples(ops, leaf_int, leaf_int).map(lambda t: {t[0]: [t[1], t[2]]}),
        st.tuples(st.sampled_from(["<", "<="]), SMALL, leaf_int, SMALL).map(
            lambda t: {t[0]: [t[1], t[2], t[3]]}
        ),
        st.tuples(leaf_int, st.lists(SMALL, min_size=1, max_size=4)).map(
            lambda t: {"in": [t[0], t[1]]}
        ),
        st.sampled_from(BOOLS).map(lambda n: {"var": n}),
        st.tuples(st.sampled_from(BOOLS), st.booleans()).map(
            lambda t: {"==": [{"var": t[0]}, t[1]]}
        ),
        enum_cmp,
    )


def conditions(depth: int = 2) -> st.SearchStrategy[Any]:
    def grow(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.tuples(st.sampled_from(["and", "or"]), st.lists(inner, min_size=1, max_size=3)).map(
                lambda t: {t[0]: t[1]}
            ),
            inner.map(lambda c: {"!": [c]}),
            st.tuples(inner, inner, inner).map(lambda t: {"if": list(t)}),
        )

    return st.recursive(comparisons(), grow, max_leaves=3 * depth)


def rule_with_ints() -> st.SearchStrategy[Any]:
    return st.tuples(st.sampled_from([">=", "<", "=="]), int_exprs(), SMALL).map(
        lambda t: {t[0]: [t[1], t[2]]}
    )


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    clauses = draw(st.lists(st.one_of(conditions(), rule_with_ints()), min_size=1, max_size=4))
    policy = dict(POLICIES[0])
    policy["id"] = "generated"
    policy["eligibility"] = {"and": clauses} if len(clauses) > 1 else clauses[0]
    policy["benefit"] = {"formula": draw(int_exprs()), "cap_fen": draw(st.integers(0, 50))}
    return policy


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), enterprises(small=True))
def test_matcher_agrees_on_generated_rules(
    policy: dict[str, Any], rows: list[dict[str, Any]]
) -> None:
    # Only shape and overflow matter here: an impossible condition is still evaluated alike.
    assert not [f for f in lint(policy) if "2^62" in f.message]
    _agree(policy, rows, columns_of([f"E{i}" for i in range(len(rows))], rows))


def test_edge_values_hit_every_threshold() -> None:
    """The first property really tests thresholds: each comparison's literal is in play."""
    assert THRESHOLDS["employees"] >= {1, 3, 10, 20, 50, 300, 500, 1000}
    assert 5_000_000_000 in THRESHOLDS["revenue_fen"]
    assert _edge_values("rd_share_bps", 0, 10000)[:3] == [0, 299, 300]


def test_columns_code_enums_by_position() -> None:
    cols = columns_of(["A", "B"], [{"size_class": "small", "high_tech": True}, {}])
    assert cols.values["size_class"].tolist() == [1, 0]
    assert cols.present["size_class"].tolist() == [True, False]
    assert cols.values["high_tech"].dtype == np.int64
