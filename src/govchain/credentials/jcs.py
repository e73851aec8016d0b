"""RFC 8785 JSON Canonicalization Scheme (JCS): the bytes the credential proofs hash.

Objects have their members sorted by the UTF-16 code units of the names, no whitespace is
written, strings use the shortest JSON escapes (only ``"``, ``\\`` and control characters are
escaped; ``\\b \\t \\n \\f \\r`` by name, the rest as lower-case ``\\u00xx``) and are UTF-8,
and numbers are written as ECMAScript's ``Number.prototype.toString`` writes an IEEE double.
Integers outside +-(2**53 - 1) cannot be represented exactly as a double and are refused
(``MalformedEncoding``), as are NaN, the infinities and strings with lone surrogates.
"""

from __future__ import annotations

import json
from decimal import Decimal
from json.encoder import encode_basestring as _encode_string
from typing import Any

from govchain.errors import MalformedEncoding

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer a JSON number carries exactly through an IEEE double."""


def _string(value: str) -> str:
    # The standard library's JSON string writer (C-accelerated) escapes exactly the characters
    # RFC 8785 escapes, the same way: '"', '\\', \b \t \n \f \r by name and the other
    # control characters as lower-case \u00xx. Lone surrogates pass it; ``canonicalize``
    # refuses them when encoding to UTF-8.
    return _encode_string(value)


def _number(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        raise MalformedEncoding("NaN and infinities are not JSON numbers", field="jcs")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, which is what ECMAScript requires.
    _, digit_tuple, exp = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(str(d) for d in digit_tuple)
    k = len(digits)
    n = k + int(exp)  # value = 0.d1...dk * 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
        e = n - 1
        text = f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"
    return sign + text


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise MalformedEncoding(
                f"integer {value} is outside the exactly representable range", field="jcs"
            )
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise MalformedEncoding("object member names must be strings", field="jcs")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise MalformedEncoding(f"{type(value).__name__} is not a JSON value", field="jcs")


def _plain(value: Any) -> bool:
    """Whether the standard library's sorted compact JSON is already the JCS form of ``value``:
    no floats (ES6 and Python print them differently), integers in the safe range, and member
    names whose code-point order is their UTF-16 order (no characters above U+FFFF)."""
    t = type(value)
    if t is str or t is bool or value is None:
        return True
    if t is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    if t is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or max(key) < "\U00010000"):
                return False
            if not _plain(item):
                return False
        return True
    if t is list:
        return all(_plain(item) for item in value)
    return False


def canonicalize(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of the JSON value ``obj``.

    Raises ``MalformedEncoding`` for values JSON cannot carry exactly (see the module docstring).
    """
    try:
        if _plain(obj):
            # Same bytes as the general writer (checked by the tests), written in C: credentials
            # are verified at a rate where this matters.
            return _dumps(obj).encode("utf-8")
        out: list[str] = []
        _write(obj, out)
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedEncoding("string contains a lone surrogate", field="jcs") from None
    except RecursionError:
        raise MalformedEncoding("value is nested too deeply", field="jcs") from None


_dumps = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
).encode
