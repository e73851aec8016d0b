"""Fast JSON responses (orjson), used on the hot paths and for problem documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

JSON = "application/json"
"""Media type of every successful response."""


def _default(value: Any) -> Any:
    """Encode what orjson does not know: bytes as hex, anything else as its string form."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def dump_json(content: Any) -> bytes:
    """Return the JSON bytes of ``content`` (non-JSON values become hex or strings)."""
    return orjson.dumps(content, default=_default)


def json_response(
    content: Any,
    status_code: int = 200,
    *,
    media_type: str = JSON,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Return ``content`` as a JSON response without any model validation."""
    return Response(dump_json(content), status_code, headers=headers, media_type=media_type)
