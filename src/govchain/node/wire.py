"""The node-to-node forms of a block.

- In the etcd block log: ``{"header": <signed header>, "txs": [<envelope>, ...]}``, written by
  the proposer.
- In a peer's catch-up answer: ``{"header": <signed header>, "checkpoint": <signed
  checkpoint>, "entries": [<log entry>, ...]}``: the stored log entries (transaction and
  receipt) as they are, so that serving a range costs the peer a storage scan and no decoding
  or re-encoding, and the peer's stored checkpoint of the block with the department signatures
  it holds (a node that catches up past what etcd still holds gets its quorum certificates
  from there).

A receiver trusts nothing in them: it takes only the transactions (``entry["tx"]``) and
``Ledger.apply_block`` checks the proposer signature, the chain link, every transaction
signature and every root after re-executing (the receipts it computes must give the header's
log root, so a peer's receipts are never believed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from govchain.errors import GovchainError, IntegrityError, TooLarge
from govchain.ledger.blocks import BlockHeader, SignedHeader
from govchain.ledger.chain import Ledger
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.transactions import Transaction, parse_envelope
from govchain.types import Height


def encode_block(signed: SignedHeader, txs: Sequence[Transaction]) -> bytes:
    """Return the wire bytes of a block."""
    return b'{"header":%b,"txs":[%b]}' % (signed.encode(), b",".join(t.encode() for t in txs))


_ENVELOPE_OVERHEAD = len(b'{"body":,"signature":""}')
"""Bytes of a canonical envelope besides its body and its signature's hex string."""


def parse_sized(obj: Any, hash_fn: Any, max_tx_bytes: int) -> Transaction:
    """``parse_transaction_object`` for the transactions of a block: the same checks and the
    same transaction, with the size limit checked from the parts of the parsed envelope (a
    valid envelope's canonical size is body + signature + the fixed rest) instead of by
    encoding the whole envelope once more."""
    tx = parse_envelope(obj, hash_fn)
    size = len(tx.body_bytes) + len(obj["signature"]) + _ENVELOPE_OVERHEAD
    if size > max_tx_bytes:
        raise TooLarge(
            f"transaction is {size} bytes; the limit is {max_tx_bytes}",
            size=size,
            limit=max_tx_bytes,
        )
    return tx


MAX_RANGE_BYTES = 1 << 20
"""A peer's catch-up answer stops after the block that takes it past this many bytes. The
receiver parses a whole answer at once: with 4 MiB, a 60,000-transaction catch-up in
``bench/catchup_bench.py`` grew the node by 54,000 fresh pages, with 1 MiB by 29,000."""


def decode_block(
    data: bytes | Any, hash_fn: Any, max_tx_bytes: int
) -> tuple[SignedHeader, list[Transaction]]:
    """Parse either form (bytes or their decoded JSON) into a signed header and its
    transactions; ``IntegrityError`` if they are malformed (a peer or the log sent garbage)."""
    obj: Any = None
    try:
        obj = orjson.loads(data) if isinstance(data, bytes | str) else data
        hd = obj["header"]
        signed = SignedHeader(BlockHeader.from_json(hd["header"]), bytes.fromhex(hd["signature"]))
        # The catch-up form carries log entries: only their transactions are used.
        envelopes = [e["tx"] for e in obj["entries"]] if "entries" in obj else obj["txs"]
        txs = [parse_sized(t, hash_fn, max_tx_bytes) for t in envelopes]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, GovchainError) as exc:
        where = ""
        if isinstance(obj, dict) and isinstance(obj.get("header"), dict):
            height = obj["header"].get("header", {}).get("height")
            if type(height) is int:
                where = f"block {height}: "
        raise IntegrityError(f"{where}received block is malformed: {exc}") from None
    return signed, txs


def stored_block(ledger: Ledger, height: Height) -> bytes:
    """Return the catch-up form of a committed block: its stored header, signed checkpoint and
    log entries as they are (``NotFound`` beyond the head)."""
    signed = ledger.header(height)
    entries = ledger.entries_of(signed.header)
    checkpoint = canonical_unchecked(ledger.checkpoint(height).to_json())
    return b'{"header":%b,"checkpoint":%b,"entries":[%b]}' % (
        signed.encode(),
        checkpoint,
        b",".join(entries),
    )


def blocks_from(
    ledger: Ledger, first: Height, limit: int, max_bytes: int = MAX_RANGE_BYTES
) -> bytes:
    """Return ``{"blocks": [...]}``: up to ``limit`` committed blocks from height ``first``,
    stopping after the block that takes the answer past ``max_bytes``."""
    out: list[bytes] = []
    size = 0
    for h in range(first, min(first + limit, ledger.height + 1)):
        block = stored_block(ledger, h)
        out.append(block)
        size += len(block)
        if size >= max_bytes:
            break
    return b'{"blocks":[%b]}' % b",".join(out)
