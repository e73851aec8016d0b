"""The built-in key/value contract: the genesis contract of the embedded default network.

State keys live in the contract's namespace ``c/kv/<key>``; values are canonical JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from govchain.contracts.errors import BadArguments, UnknownMethod
from govchain.ledger.encoding import decode, right_sized
from govchain.ledger.execution import CallContext

NAMESPACE = b"c/kv/"
"""State-key prefix of this contract."""
MAX_KEY_CHARS = 256
"""Longest accepted key."""
_SORT = orjson.OPT_SORT_KEYS


def state_key(key: str) -> bytes:
    """Return the state key that holds ``key``."""
    return NAMESPACE + key.encode()


def _key_arg(args: Mapping[str, Any]) -> str:
    key = args.get("key")
    if type(key) is not str or not 1 <= len(key) <= MAX_KEY_CHARS:
        raise BadArguments(f"args.key must be a string of 1 to {MAX_KEY_CHARS} characters")
    return key


class KvContract:
    """``put(key, value)``, ``delete(key)``; reads go through queries."""

    name = "kv"

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        if method == "put":
            if len(args) != 2 or "key" not in args or "value" not in args:
                raise BadArguments("kv.put takes exactly the arguments key and value")
            key = args["key"]
            if type(key) is not str or not 1 <= len(key) <= MAX_KEY_CHARS:
                key = _key_arg(args)  # raises
            value = right_sized(orjson.dumps(args["value"], option=_SORT))
            ctx.put(NAMESPACE + key.encode(), value)
            ctx.emit("kv.put", {"key": key})
            return {"key": key}
        if method == "delete":
            if len(args) != 1 or "key" not in args:
                raise BadArguments("kv.delete takes exactly the argument key")
            key = _key_arg(args)
            existed = ctx.get(state_key(key)) is not None
            ctx.delete(state_key(key))
            ctx.emit("kv.delete", {"key": key})
            return {"key": key, "existed": existed}
        raise UnknownMethod(f"contract kv has no method {method!r}")


def decode_value(raw: bytes) -> Any:
    """Decode a stored kv value."""
    return decode(raw)
