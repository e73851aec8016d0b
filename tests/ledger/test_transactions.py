"""Transaction envelopes: the spliced ``Transaction.encode`` is exactly the canonical encoding
of the envelope (RFC 8785 / JCS, checked with the ``rfc8785`` reference), and bytes encoded
and parsed again give the same transaction; a tampered envelope no longer verifies."""

from __future__ import annotations

import tracemalloc
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.crypto import get_suite
from govchain.ledger.encoding import MAX_SAFE_INTEGER
from govchain.ledger.transactions import build_transaction, parse_transaction
from json_values import text, values

SUITE = get_suite("intl")
KEY = SUITE.generate_keypair()


@settings(max_examples=60)
@given(args=st.dictionaries(text, values, max_size=4), nonce=st.integers(0, MAX_SAFE_INTEGER))
def test_encode_is_the_canonical_envelope_and_round_trips(args: dict[str, Any], nonce: int) -> None:
    tx = build_transaction(
        chain="enc-test",
        signer="tax/admin",
        nonce=nonce,
        contract="kv",
        method="put",
        args=args,
        actor="tax/officer-1",
        case="case-1",
        purpose="test",
        sign=lambda m: SUITE.sign(KEY.private, m),
        hash_fn=SUITE.hash,
    )
    data = tx.encode()
    assert data == rfc8785.dumps(tx.envelope())
    again = parse_transaction(data, SUITE.hash)
    assert again == tx
    assert SUITE.verify(KEY.public, again.signing_message(), again.signature)
    # Generate -> verify -> tamper: a changed nonce is another body, under the same signature.
    forged = parse_transaction(
        data.replace(b'"nonce":%d' % nonce, b'"nonce":%d' % (nonce ^ 1)), SUITE.hash
    )
    assert forged.tx_id != tx.tx_id
    assert not SUITE.verify(KEY.public, forged.signing_message(), forged.signature)


def test_a_parsed_transaction_keeps_a_right_sized_body() -> None:
    """Its body bytes are kept for as long as it is pending or in a block: their size, not the
    4 KiB buffer orjson encoded them into."""
    data = build_transaction(
        chain="enc-test",
        signer="tax/admin",
        nonce=7,
        contract="kv",
        method="put",
        args={"key": "licence/1", "value": {"holder": "Example Co.", "fee_fen": 12_000}},
        actor="tax/officer-1",
        case="case-1",
        purpose="test",
        sign=lambda m: SUITE.sign(KEY.private, m),
        hash_fn=SUITE.hash,
    ).encode()
    kept = []
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100):
            kept.append(parse_transaction(data, SUITE.hash).body_bytes)
        per_body = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert per_body < 2 * len(kept[0]) + 64
