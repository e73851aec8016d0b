"""RFC 8785 JSON Canonicalization Scheme (JCS): the bytes the credential proofs hash.

Objects have their members sorted by the UTF-16 code units of the names, no whitespace is
written, strings use the shortest JSON escapes (only ``"``, ``\\`` and control characters are
escaped; ``\\b \\t \\n \\f \\r`` by name, the rest as lower-case ``\\u00xx``) and are UTF-8,
and numbers are written as ECMAScript's ``Number.prototype.toString`` writes an IEEE double.
Integers outside +-(2**53 - 1) cannot be represented exactly as a double and are refused
(``MalformedEncoding``), as are NaN, the infinities and strings with lone surrogates.

Most values are written by orjson (sorted members, in C) and checked to be JCS as they are
(``_is_jcs``); the rest (floats, characters above U+FFFF, anything orjson refuses) go through
the general writer here. The input is meant to be a JSON value (what ``json.loads`` returns);
of other Python objects, orjson writes ``uuid.UUID`` and enum members natively, as their text
and value, where the general writer would refuse them.
"""

from __future__ import annotations

from decimal import Decimal
from json.encoder import encode_basestring as _encode_string
from typing import Any

import orjson

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


_FAST = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_STRICT_INTEGER
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
"""orjson options of the fast path: sorted members, integers refused beyond +-(2**53 - 1), and
dates, dataclasses and subclasses of JSON types refused instead of converted."""

_DIGITS = frozenset(b"0123456789")
_BEFORE_VALUE = frozenset(b"[,:")
_MARKERS = (b".", b"e+", b"e-", b"null")
"""What a float (or NaN and the infinities, written ``null``) shows in orjson's output."""
_ASTRAL = bytes(b for b in range(256) if not 0xF0 <= b <= 0xF4)
"""Every byte but the UTF-8 lead bytes of characters above U+FFFF (deleted to find those)."""


def _number_or_null_token(out: bytes, marker: bytes) -> bool:
    """Whether some occurrence of ``marker`` (``.``, ``e+``, ``e-``, ``null``) in orjson output
    ``out`` is part of a number or ``null`` token rather than of a string: a token starts at
    the start or after ``[``, ``,`` or ``:``, and a number's marker follows its digits."""
    i = out.find(marker)
    while i >= 0:
        j = i
        if marker != b"null":
            while j and out[j - 1] in _DIGITS:
                j -= 1
            if j and j < i and out[j - 1] == 0x2D:  # "-"
                j -= 1
        if (j < i or marker == b"null") and (j == 0 or out[j - 1] in _BEFORE_VALUE):
            return True
        i = out.find(marker, i + 1)
    return False


def _is_jcs(out: bytes) -> bool:
    """Whether orjson's sorted compact output is also the JCS form of the value it wrote.

    It is unless the value holds a float (orjson writes a finite float with a ``.`` or an
    ``e+``/``e-`` after its leading digits, and NaN and the infinities as ``null``; JCS writes
    ES6 numbers and refuses the others) or a character above U+FFFF (orjson sorts member names
    by code point, JCS by UTF-16 code unit, and the orders differ only for such characters).
    The escapes of ``"``, ``\\`` and control characters, raw UTF-8 for everything else and
    the absence of whitespace are the same in both (the tests compare with ``rfc8785``). A
    marker inside a string that merely looks like a token costs time, never correctness.
    """
    if out.translate(None, _ASTRAL):
        return False
    return not any(marker in out and _number_or_null_token(out, marker) for marker in _MARKERS)


def _fast(obj: Any) -> bytes | None:
    """Return orjson's sorted compact bytes of ``obj`` when they are provably its JCS bytes,
    else ``None`` (non-string member names, big integers, lone surrogates, floats, ...)."""
    try:
        out = orjson.dumps(obj, option=_FAST)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None
    return out if _is_jcs(out) else None


def canonicalize(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of the JSON value ``obj``.

    Raises ``MalformedEncoding`` for values JSON cannot carry exactly (see the module docstring).
    """
    fast = _fast(obj)
    if fast is not None:
        # Written in C without a Python walk over the value: credentials are issued and
        # verified at a rate where this matters.
        return fast
    try:
        out: list[str] = []
        _write(obj, out)
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedEncoding("string contains a lone surrogate", field="jcs") from None
    except RecursionError:
        raise MalformedEncoding("value is nested too deeply", field="jcs") from None
