"""RFC 8785 canonicalisation: the RFC's examples and a Hypothesis comparison with ``rfc8785``."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from govchain.credentials.jcs import canonicalize
from govchain.errors import MalformedEncoding

# RFC 8785 appendix B: IEEE 754 bit patterns and their ES6 serialisations.
RFC8785_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), RFC8785_NUMBERS)
def test_rfc8785_number_examples(bits: str, expected: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonicalize(value) == expected.encode()


def test_rfc8785_section_3_2_3_sorting_example() -> None:
    # RFC 8785 section 3.2.3: members sorted by UTF-16 code units.
    obj = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    names = [k for k in json.loads(canonicalize(obj))]
    assert names == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_rfc8785_section_3_2_2_example() -> None:
    # RFC 8785 section 3.2.2 input and its canonical output.
    obj = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonicalize(obj) == expected.encode("utf-8")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 2**53, -(2**53), "\ud800", {1: 2}])
def test_refuses_values_json_cannot_carry_exactly(bad: object) -> None:
    with pytest.raises(MalformedEncoding):
        canonicalize(bad)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_matches_the_rfc8785_package(value: Any) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


@given(json_values)
def test_canonical_form_is_a_fixed_point(value: object) -> None:
    once = canonicalize(value)
    # Every JSON number is an IEEE double in JCS; read them back as floats.
    assert canonicalize(json.loads(once, parse_int=float)) == once


# Values where orjson's sorted output and JCS differ, or look as if they might: each must come
# out as the rfc8785 package writes it.
LOOKALIKES = [
    {"a": 1.0, "b": [2.5, -0.0, 1e16, 5e-324]},
    {"n": None, "s": "x:1.5", "t": ",2e+3", "u": "[null", "v": "-1.5"},
    {"\ue000": 1, "\U0001f600": 2, "a": "\U0001f600"},
    ["1.2.156.3005", "w3.org", "e-2", "1e-7", 7],
    -7.25,
    12,
    "null",
    [[[[[[1.5]]]]]],
    {"deep": {"x": [1, {"y": 2.0}]}},
]


@pytest.mark.parametrize("value", LOOKALIKES)
def test_float_and_astral_lookalikes_match_the_rfc8785_package(value: Any) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


@given(
    st.recursive(
        st.floats(allow_nan=False, allow_infinity=False)
        | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
        | st.text(alphabet=st.sampled_from(list(':,[-.e+0123456789null"\\\ue000\U0001f600')))
        | st.none(),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=3), children, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_number_lookalikes_in_strings_match_the_rfc8785_package(value: Any) -> None:
    # Strings built from the characters of number and null tokens and astral characters:
    # the fast path must never mistake a string for a token nor miss a real one.
    assert canonicalize(value) == rfc8785.dumps(value)


def test_tuples_and_nested_subclasses_are_refused_or_written_alike() -> None:
    assert canonicalize(("a", 1)) == rfc8785.dumps(["a", 1])
    with pytest.raises(MalformedEncoding):
        canonicalize({"when": object()})
