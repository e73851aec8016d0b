"""A batch of reads on the owner's node, after the owner's checks: what the reads of a batch
look up together, how their entries are grouped into log transactions and committed, and the
answer sealed for each reader once its entry is durable (and opened by the reader).

``SharingService.read_many`` authenticates the requests, checks each against the access rule
and opens its records (a ``PreparedRead``); this module does the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from govchain.crypto.suite import CryptoSuite
from govchain.errors import GovchainError
from govchain.ledger.encoding import canonical_unchecked
from govchain.sharing import envelope
from govchain.sharing.cache import once
from govchain.sharing.errors import error_of
from govchain.sharing.grants import Grant
from govchain.sharing.model import Resource
from govchain.sharing.requests import SignedRequest
from govchain.sharing.signer import NodeSigner
from govchain.sharing.view import LedgerPort, LedgerView
from govchain.types import DeptId

ReadOutcome = dict[str, Any] | GovchainError
"""A read's sealed answer, or why it was refused."""
Chunk = tuple[DeptId, list[tuple[int, dict[str, Any]]]]
"""Entries of one transaction: the owner, and ``(position in the batch, entry)`` pairs."""


@dataclass(frozen=True, slots=True)
class PreparedRead:
    """A read that passed the owner's checks, its records opened, waiting for its log entry."""

    request: SignedRequest
    """The reader's signed request (carried by the log entry)."""
    request_id: str
    """Its id."""
    subject: str
    """Subject whose records are read."""
    resource: str
    """Resource read."""
    owner: DeptId
    """Owner department (this node serves it)."""
    reader: DeptId
    """Reading department."""
    kek: bytes
    """Key-encryption key between owner and reader."""
    fields: tuple[str, ...]
    """Granted fields returned."""
    ids: list[str]
    """Ids of the records read (logged)."""
    records: list[dict[str, Any]]
    """``{record, data}`` with only the granted fields."""
    erased: list[str]
    """Ids of the subject's erased records."""


class ReadScope:
    """What the reads of one batch share, looked up once per batch (resources, grants)."""

    __slots__ = ("_grants", "_resources", "_view")

    def __init__(self, view: LedgerView) -> None:
        self._view = view
        self._resources: dict[str, Resource | GovchainError] = {}
        self._grants: dict[str, Grant | GovchainError] = {}

    def resource(self, rid: str) -> Resource:
        """``LedgerView.resource``, once per resource."""
        return once(self._resources, rid, self._view.resource)

    def grant(self, gid: str) -> Grant:
        """``LedgerView.grant``, once per grant."""
        return once(self._grants, gid, self._view.grant)


def chunk_entries(
    by_owner: Mapping[DeptId, list[tuple[int, dict[str, Any]]]], budget: int, limit: int
) -> list[Chunk]:
    """Split each owner's entries into transactions of at most ``budget`` bytes of entries
    and ``limit`` entries (an entry larger than the budget goes alone)."""
    out: list[Chunk] = []
    for owner, items in by_owner.items():
        chunk: list[tuple[int, dict[str, Any]]] = []
        size = 0
        for item in items:
            n = len(canonical_unchecked(item[1]))
            if chunk and (size + n > budget or len(chunk) >= limit):
                out.append((owner, chunk))
                chunk, size = [], 0
            chunk.append(item)
            size += n
        out.append((owner, chunk))
    return out


def log_reads(
    signer: NodeSigner,
    port: LedgerPort,
    chunks: list[Chunk],
    prepared: Mapping[int, PreparedRead],
    out: list[ReadOutcome | None],
) -> None:
    """Commit one log transaction per chunk and wait until they are durable; set each read's
    outcome in ``out``: its sealed answer, or the error its transaction or entry failed with."""
    try:
        submitted = signer.submit_logs([(owner, [e for _, e in items]) for owner, items in chunks])
        receipts = port.receipts([tx for tx, _ in submitted], [refused for _, refused in submitted])
    except GovchainError as exc:
        for i in prepared:
            out[i] = exc
        return
    # The read is on the ledger, durably, before anything is returned.
    for (_, items), receipt in zip(chunks, receipts, strict=True):
        for n, (i, _) in enumerate(items):
            if receipt["status"] != "ok":
                out[i] = error_of(receipt["error"] or {})
                continue
            logged = receipt["result"]["results"][n]
            if "error" in logged:
                out[i] = error_of(logged["error"])
                continue
            assert logged["request_id"] == prepared[i].request_id
            out[i] = seal_answer(port.suite, prepared[i], logged["tx_id"])


def seal_answer(suite: CryptoSuite, p: PreparedRead, tx_id: str) -> dict[str, Any]:
    """Seal a logged read's answer for the reading department."""
    plain = canonical_unchecked(
        {
            "request_id": p.request_id,
            "resource": p.resource,
            "subject": p.subject,
            "fields": list(p.fields),
            "records": p.records,
            "erased": p.erased,
            "read_tx": tx_id,
        }
    )
    aad = envelope.answer_aad(p.owner, p.reader, p.request_id)
    wrapped, sealed = envelope.seal_under_new_key(suite, p.kek, plain, aad)
    return {
        "request_id": p.request_id,
        "tx_id": tx_id,
        "resource": p.resource,
        "owner": p.owner,
        "reader": p.reader,
        "records": len(p.records),
        "wrapped_key": wrapped.hex(),
        "ciphertext": sealed.hex(),
    }


def open_answer(
    suite: CryptoSuite, reader_private: bytes, owner_public: bytes, answer: Mapping[str, Any]
) -> dict[str, Any]:
    """Decrypt a read answer with the reading department's agreement key (client side);
    ``IntegrityError`` if it was altered or is not for this department."""
    owner, reader, rid = answer["owner"], answer["reader"], answer["request_id"]
    kek = envelope.kek(suite, reader_private, owner_public, owner, reader)
    data_key = envelope.open_sealed(
        suite, kek, bytes.fromhex(answer["wrapped_key"]), envelope.answer_aad(owner, reader, rid)
    )
    plain = envelope.open_sealed(
        suite,
        data_key,
        bytes.fromhex(answer["ciphertext"]),
        envelope.answer_aad(owner, reader, rid),
    )
    result: dict[str, Any] = orjson.loads(plain)
    return result
