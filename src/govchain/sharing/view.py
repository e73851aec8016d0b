"""Read-only views of data sharing on the ledger: the catalogue, grants, record entries,
agreement keys, attestations and access receipts, read through a ``LedgerPort``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import orjson

from govchain.contracts.errors import BadArguments
from govchain.crypto.suite import CryptoSuite
from govchain.errors import GovchainError, NotFound
from govchain.ledger.transactions import Transaction
from govchain.sharing import layout
from govchain.sharing.grants import Grant, grant_from_bytes
from govchain.sharing.model import Resource, record_id, resource_from_bytes, resource_id
from govchain.sharing.search import MAX_QUERY, search
from govchain.types import DeptId


class LedgerPort(Protocol):
    """What the service needs of a node."""

    chain_id: str
    """Chain id."""
    suite: CryptoSuite
    """The network's suite."""
    max_tx_bytes: int
    """Largest transaction the network accepts."""

    def read_state(self, key: bytes) -> bytes | None:
        """Return the committed value of a state key."""
        ...

    def scan_state(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Iterate committed ``(key, value)`` pairs under ``prefix``."""
        ...

    def submit(self, txs: Sequence[Transaction]) -> list[GovchainError | None]:
        """Admit transactions for ordering without waiting; per transaction ``None`` (admitted)
        or why admission refused it. Raises ``Unavailable`` if the node takes nothing now."""
        ...

    def receipts(
        self, txs: Sequence[Transaction], admitted: Sequence[GovchainError | None]
    ) -> list[dict[str, Any]]:
        """Wait until the admitted transactions are durable; return each one's receipt JSON
        (``{"status": "rejected", "error": {...}}`` for those admission refused)."""
        ...

    def commit(self, txs: Sequence[Transaction]) -> list[dict[str, Any]]:
        """``submit`` then ``receipts``."""
        ...

    def now_ms(self) -> int:
        """Return the node's clock (the one blocks are stamped with)."""
        ...


class LedgerView:
    """Queries over the committed state of one node."""

    def __init__(self, port: LedgerPort) -> None:
        self.port = port
        self.suite = port.suite

    def _json(self, key: bytes) -> Any:
        raw = self.port.read_state(key)
        return None if raw is None else orjson.loads(raw)

    def resource(self, rid: str) -> Resource:
        """Return a catalogue resource."""
        raw = self.port.read_state(layout.resource_key(resource_id(rid)))
        if raw is None:
            raise NotFound(f"no resource {rid!r} in the catalogue", resource=rid)
        return resource_from_bytes(raw)

    def resources(self) -> list[Resource]:
        """Return the whole catalogue in id order."""
        return [resource_from_bytes(v) for _, v in self.port.scan_state(layout.RESOURCES)]

    def search(self, query: str) -> list[tuple[int, Resource]]:
        """Search the catalogue (Chinese and English)."""
        if not query.strip() or len(query) > MAX_QUERY:
            raise BadArguments(f"a query must be 1 to {MAX_QUERY} characters")
        return search(self.resources(), query)

    def grant(self, gid: str) -> Grant:
        """Return a grant."""
        raw = self.port.read_state(layout.grant_key(gid)) if gid else None
        if raw is None:
            raise NotFound(f"no grant {gid!r}", grant=gid)
        return grant_from_bytes(raw)

    def grants(self, *, dept: DeptId | None = None, resource: str | None = None) -> list[Grant]:
        """Return grants where ``dept`` is owner or grantee and/or of ``resource``."""
        out = []
        for _, v in self.port.scan_state(layout.GRANTS):
            g = grant_from_bytes(v)
            if dept is not None and dept not in (g.owner, g.grantee):
                continue
            if resource is not None and g.resource != resource:
                continue
            out.append(g)
        return out

    def agreement_public(self, dept: DeptId) -> bytes:
        """Return a department's published agreement key."""
        obj = self._json(layout.agreement_key(dept))
        if obj is None:
            raise NotFound(f"department {dept!r} has not published an agreement key", dept=dept)
        return bytes.fromhex(obj["public"])

    def record_entry(self, resource: str, record: str) -> dict[str, Any]:
        """Return a record's on-chain entry (hash, subject reference, erasure proof)."""
        obj = self._json(layout.record_key(resource_id(resource), record_id(record)))
        if obj is None:
            raise NotFound(f"no record {record!r} of {resource!r}", record=record)
        result: dict[str, Any] = obj
        return result

    def subject_ref(self, subject: str) -> str:
        """Return the on-chain reference of a subject id."""
        return layout.subject_ref(self.suite, self.port.chain_id, subject)

    def access_receipts(self, subject: str) -> dict[str, Any]:
        """Return who read a subject's data, when and why, and which attestations were issued
        about them ("access receipts")."""
        ref = self.subject_ref(subject)
        reads = [orjson.loads(v) for _, v in self.port.scan_state(layout.reads_of(ref))]
        reads.sort(key=lambda r: (r["read_ms"], r["request_id"]))
        atts = [orjson.loads(v) for _, v in self.port.scan_state(layout.attestations_of(ref))]
        atts.sort(key=lambda a: (a["issued_ms"], a["id"]))
        return {"subject_ref": ref, "reads": reads, "attestations": atts}

    def attestation(self, att_id: str, subject: str) -> dict[str, Any]:
        """Return an attestation about ``subject`` (``NotFound`` if there is none about them):
        verifying one needs the subject it is about."""
        obj = self._json(layout.attestation_key(self.subject_ref(subject), att_id))
        if obj is None:
            raise NotFound(f"no attestation {att_id!r} about this subject", attestation=att_id)
        result: dict[str, Any] = obj
        return result
