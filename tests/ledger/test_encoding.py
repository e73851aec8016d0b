"""Canonical encoding: equal to RFC 8785 (JCS) on the accepted domain; floats and other
non-interoperable values rejected."""

import tracemalloc
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from govchain.errors import MalformedEncoding
from govchain.ledger.encoding import MAX_SAFE_INTEGER, canonical_bytes, decode, right_sized

bmp_text = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]))
any_text = st.text(st.characters(exclude_categories=["Cs"]))
scalars = st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | any_text
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(bmp_text, children, max_size=5)
    ),
    max_leaves=30,
)


@given(values)
def test_canonical_bytes_equal_rfc8785(value: Any) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


@given(values)
def test_decode_round_trip(value: Any) -> None:
    data = canonical_bytes(value)
    assert decode(data) == value
    assert canonical_bytes(decode(data)) == data


def test_known_answer_sorted_keys_and_escapes() -> None:
    # RFC 8785 section 3.2.2/3.2.3 rules: keys sorted, minimal escapes, no whitespace.
    value = {"b": 1, "a": [True, None, 'é\u2028\x1f"'], "中": "文"}
    assert (
        canonical_bytes(value) == '{"a":[true,null,"é\u2028\\u001f\\""],"b":1,"中":"文"}'.encode()
    )
    assert canonical_bytes(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        {"a": 1.0},
        [1, 2, {"x": [0.1]}],
        MAX_SAFE_INTEGER + 1,
        {"a": -(MAX_SAFE_INTEGER + 1)},
        {"\U0001f600": 1},
        {1: "non-string key"},
        b"bytes",
        {"a": (1, 2)},
    ],
)
def test_rejects_non_canonical_values(value: Any) -> None:
    with pytest.raises(MalformedEncoding):
        canonical_bytes(value)


@pytest.mark.parametrize(
    "data",
    [b"{", b"[1,]", b'{"a":1.5}', b'{"a":1e3}', b"\xff", b'{"a":99999999999999999999}'],
)
def test_decode_rejects_bad_json_and_floats(data: bytes) -> None:
    with pytest.raises(MalformedEncoding):
        decode(data)


def test_deep_nesting_rejected() -> None:
    value: Any = 1
    for _ in range(40):
        value = [value]
    with pytest.raises(MalformedEncoding, match="nested deeper"):
        canonical_bytes(value)


def test_right_sized_copy_is_equal_and_small() -> None:
    """orjson writes into a buffer of at least 4 KiB; a kept encoding is copied to its size."""
    value = {"key": "k" * 150, "value": {"amount_fen": 120_000, "note": "right-sized"}}
    kept: list[bytes] = []
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            kept.append(right_sized(canonical_bytes(value)))
        per_item = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert all(k == canonical_bytes(value) for k in kept)
    assert per_item < 2 * len(kept[0]) + 64  # the text and the object header, not 4 KiB
