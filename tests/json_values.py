"""Hypothesis strategies for small JSON values as signed data allows them (integers within
±2^53-1, no floats, BMP text): transaction arguments in property tests."""

from __future__ import annotations

from hypothesis import strategies as st

from govchain.ledger.encoding import MAX_SAFE_INTEGER

text = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]), max_size=12)
scalars = st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | text
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)
