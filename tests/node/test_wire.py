"""The node-to-node block forms: ``parse_sized`` accepts and refuses exactly what
``parse_transaction_object`` does (Hypothesis, at the size limit and one byte below it), and
both block forms decode to the same transactions."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.crypto import get_suite
from govchain.errors import TooLarge
from govchain.ledger.blocks import BlockHeader, SignedHeader
from govchain.ledger.encoding import MAX_SAFE_INTEGER, canonical_unchecked
from govchain.ledger.transactions import build_transaction, parse_transaction_object
from govchain.node.wire import decode_block, encode_block, parse_sized
from govchain.types import Hash32
from json_values import text, values

SUITE = get_suite("intl")
KEY = SUITE.generate_keypair()


def envelope(args: dict[str, Any], nonce: int) -> dict[str, Any]:
    tx = build_transaction(
        chain="wire-test",
        signer="tax/admin",
        nonce=nonce,
        contract="kv",
        method="put",
        args=args,
        actor="tax/officer-1",
        sign=lambda m: SUITE.sign(KEY.private, m),
        hash_fn=SUITE.hash,
    )
    env: dict[str, Any] = orjson.loads(tx.encode())
    return env


@settings(max_examples=60)
@given(args=st.dictionaries(text, values, max_size=4), nonce=st.integers(0, MAX_SAFE_INTEGER))
def test_parse_sized_equals_parse_transaction_object(args: dict[str, Any], nonce: int) -> None:
    env = envelope(args, nonce)
    size = len(canonical_unchecked(env))
    assert parse_sized(env, SUITE.hash, size) == parse_transaction_object(env, SUITE.hash, size)
    with pytest.raises(TooLarge):
        parse_transaction_object(env, SUITE.hash, size - 1)
    with pytest.raises(TooLarge):
        parse_sized(env, SUITE.hash, size - 1)


def test_both_block_forms_decode_to_the_same_transactions() -> None:
    txs = [parse_transaction_object(envelope({"key": f"k{i}"}, i), SUITE.hash) for i in range(3)]
    header = BlockHeader("wire-test", 1, Hash32(bytes(32)), 0, "tax", 3, Hash32(bytes(32)),
                         Hash32(bytes(32)), 3, Hash32(bytes(32)))  # fmt: skip
    signed = SignedHeader(header, bytes(64))
    log_form = encode_block(signed, txs)
    entries = [
        {"height": 1, "index": i, "receipt": {"status": "ok"}, "tx": orjson.loads(t.encode())}
        for i, t in enumerate(txs)
    ]
    peer_form = orjson.dumps({"header": orjson.loads(signed.encode()), "entries": entries})
    for data in (log_form, peer_form):
        got_signed, got = decode_block(data, SUITE.hash, 1 << 16)
        assert got_signed == signed
        assert got == txs
