"""Canonical encoding of signed data: sorted-key JSON, UTF-8, integers only.

The canonical bytes of a value equal its RFC 8785 (JCS) serialisation, which holds because the
accepted values are restricted to what both agree on: objects with string keys from the Basic
Multilingual Plane (so UTF-8 and UTF-16 key order coincide), arrays, strings, booleans, null and
integers within the IEEE-754 safe range (so JCS's number formatting is the plain decimal form).
Floats are rejected everywhere: money is carried in integer fen.
"""

from __future__ import annotations

from typing import Any

import orjson

from govchain.errors import MalformedEncoding

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer accepted in signed data (RFC 8785 / I-JSON interoperable range)."""

MAX_DEPTH = 32
"""Deepest nesting accepted in signed data."""

_SORT = orjson.OPT_SORT_KEYS


def check_value(value: Any, path: str = "$", depth: int = 0) -> None:
    """Raise ``MalformedEncoding`` unless ``value`` is acceptable in canonical data."""
    t = type(value)
    if t is str or t is bool or value is None:
        return
    if t is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return
        raise MalformedEncoding(f"integer at {path} is outside the safe range ±(2^53-1)", path=path)
    if depth >= MAX_DEPTH:
        raise MalformedEncoding(f"value at {path} is nested deeper than {MAX_DEPTH}", path=path)
    if t is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise MalformedEncoding(f"object key at {path} is not a string", path=path)
            if not k.isascii() and any(ord(c) > 0xFFFF for c in k):
                raise MalformedEncoding(
                    f"object key {k!r} at {path} has a character outside the Basic "
                    "Multilingual Plane",
                    path=path,
                )
            check_value(v, f"{path}.{k}", depth + 1)
        return
    if t is list:
        for i, v in enumerate(value):
            check_value(v, f"{path}[{i}]", depth + 1)
        return
    if t is float:
        raise MalformedEncoding(
            f"number at {path} is not an integer (floats are not allowed in signed data)",
            path=path,
        )
    raise MalformedEncoding(f"value at {path} has unsupported type {t.__name__}", path=path)


def canonical_bytes(value: Any) -> bytes:
    """Return the canonical encoding of ``value`` (checked; raises ``MalformedEncoding``)."""
    check_value(value)
    return _dumps(value)


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=_SORT)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise MalformedEncoding(f"value cannot be encoded: {exc}") from None


def canonical_unchecked(value: Any) -> bytes:
    """Encode a value already known to be valid (built by this program, not received)."""
    return orjson.dumps(value, option=_SORT)


def decode(data: bytes | str) -> Any:
    """Parse JSON received from outside and check it is acceptable canonical data."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedEncoding(f"not valid JSON: {exc}") from None
    check_value(value)
    return value
