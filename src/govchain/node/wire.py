"""The node-to-node form of a block: ``{"header": <signed header>, "txs": [<envelope>, ...]}``.

The same bytes go into the etcd block log and answer a peer's catch-up request. A receiver
trusts nothing in them: ``Ledger.apply_block`` checks the proposer signature, the chain link,
every transaction signature and every root after re-executing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from govchain.errors import IntegrityError, SchemaViolation
from govchain.ledger.blocks import BlockHeader, SignedHeader
from govchain.ledger.chain import Ledger
from govchain.ledger.receipts import LogEntry
from govchain.ledger.transactions import Transaction, parse_transaction_object
from govchain.types import Height


def encode_block(signed: SignedHeader, txs: Sequence[Transaction]) -> bytes:
    """Return the wire bytes of a block."""
    return b'{"header":%b,"txs":[%b]}' % (signed.encode(), b",".join(t.encode() for t in txs))


def decode_block(
    data: bytes | Any, hash_fn: Any, max_tx_bytes: int
) -> tuple[SignedHeader, list[Transaction]]:
    """Parse wire bytes (or their decoded JSON) into a signed header and its transactions;
    ``IntegrityError`` if they are malformed (a peer or the log sent garbage)."""
    try:
        obj = orjson.loads(data) if isinstance(data, bytes | str) else data
        hd = obj["header"]
        signed = SignedHeader(BlockHeader.from_json(hd["header"]), bytes.fromhex(hd["signature"]))
        txs = [parse_transaction_object(t, hash_fn, max_tx_bytes) for t in obj["txs"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, SchemaViolation) as exc:
        raise IntegrityError(f"received block is malformed: {exc}") from None
    return signed, txs


def stored_block(ledger: Ledger, height: Height) -> bytes:
    """Return the wire bytes of a committed block, rebuilt from the stored header and log
    entries (``NotFound`` beyond the head)."""
    signed = ledger.header(height)
    envelopes = [
        orjson.dumps(LogEntry.decode(e).tx, option=orjson.OPT_SORT_KEYS)
        for e in ledger.entries_of(signed.header)
    ]
    return b'{"header":%b,"txs":[%b]}' % (signed.encode(), b",".join(envelopes))


def blocks_from(ledger: Ledger, first: Height, limit: int) -> bytes:
    """Return ``{"blocks": [...]}``: up to ``limit`` committed blocks from height ``first``."""
    out: list[bytes] = []
    for h in range(first, min(first + limit, ledger.height + 1)):
        out.append(stored_block(ledger, h))
    return b'{"blocks":[%b]}' % b",".join(out)
