"""The node's credential service: issue, notarise, change status, publish status lists, and
serve documents with their evidence (e-bills: ``ebills.py``; the SD-JWT form and online
verification: ``holder.py``, both over this service).

A node issues for the departments it serves: the department's service member key (the one
its node signs data-sharing transactions with, ``sharing.signer``) signs both the credential
proof and the transactions, so the credential's verification method is a member key of the
department in the ledger's key history (``keyhistory.py``).

Issuing many credentials is batched: one ``allocate`` transaction for the status indices the
drafts lack, then the credentials are signed, each batch of them is stored as one file in the
node's content store, and one ``issue`` transaction per batch (as many entries as fit the
network's transaction size) records every hash with its issuer, kind, holder and index. All
of a call's transactions are submitted together, so they share blocks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from govchain.credentials import contract as cc
from govchain.credentials import ledger_status as ls
from govchain.credentials import statuslist
from govchain.credentials.dids import (
    StaticKeyHistory,
    department_did,
    method_id,
    network_id,
    parse_did,
)
from govchain.credentials.holder import BATCH_FORMAT, credential_hash
from govchain.credentials.issuance import Draft, Secured, licence_draft, secure, status_list_draft
from govchain.credentials.jcs import canonicalize
from govchain.credentials.keyhistory import current_key, ledger_key_history
from govchain.credentials.proofs import CredentialSigner, sign_credential
from govchain.crypto.suite import CryptoSuite, KeyPair
from govchain.errors import IntegrityError, NotFound, SchemaViolation
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.genesis import Genesis
from govchain.ledger.state import VersionedValue
from govchain.procedures import layout
from govchain.sharing.errors import error_of
from govchain.sharing.signer import NodeCall, NodeSigner

TX_OVERHEAD = 1024
"""Bytes of a transaction besides its ``entries`` (envelope, signature, other arguments)."""
PURPOSE = "电子证照签发 / credential issuance"
"""Declared purpose of the service's transactions."""
COMMITTERS = 4
"""Batches of one issuance waiting for their blocks at once."""


class ContentPort(Protocol):
    """Files by hash (the node's content store)."""

    def put(self, data: bytes, expected: str | None = None) -> str:
        """Store ``data``; return its digest."""
        ...

    def get(self, digest: str) -> bytes:
        """Return a stored file (``NotFound`` if absent)."""
        ...


class LedgerAccess(Protocol):
    """What the service reads of the node's ledger (``ledger.chain.Ledger`` satisfies it)."""

    genesis: Genesis
    """The network's genesis."""

    @property
    def state(self) -> Any:
        """Committed state with history (``iter_range``, ``history``, ``get_value``)."""
        ...

    @property
    def height(self) -> int:
        """Height of the last committed block."""
        ...

    def receipt_bundle(self, tx_id: bytes, checkpoint_height: int | None = None) -> dict[str, Any]:
        """Return the offline-verifiable receipt of a committed transaction."""
        ...


class DeptSigner:
    """A ``proofs.CredentialSigner`` over a department member's key pair."""

    def __init__(self, suite: CryptoSuite, keypair: KeyPair) -> None:
        self.suite = suite.name
        self.public_key = keypair.public
        self._sign = suite.sign
        self._private = keypair.private

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` with the member's private key."""
        return self._sign(self._private, data)


@dataclass(frozen=True, slots=True)
class Issued:
    """A credential issued and notarised."""

    hash: str
    """Notarised hash (hex)."""
    index: int
    """Status index."""
    kind: str
    """Kind recorded on-chain."""
    holder: str
    """Holder reference."""
    tx_id: str
    """Id of the ``issue`` transaction (its receipt proves the issue time)."""
    height: int
    """Block height of the issuance."""
    credential: dict[str, Any]
    """The secured credential."""


class CredentialService:
    """Issuance, status and e-bills for the departments a node serves (see the module)."""

    def __init__(
        self,
        *,
        ledger: LedgerAccess,
        signer: NodeSigner,
        content: ContentPort,
        clock_ms: Callable[[], int],
    ) -> None:
        self.ledger = ledger
        self.genesis = ledger.genesis
        self.suite = signer.suite
        self.network = network_id(self.genesis)
        self._signer = signer
        self.content = content
        """The node's content store (issued batches, signed status lists)."""
        self._clock = clock_ms
        self._history: tuple[int, StaticKeyHistory] | None = None
        self._history_lock = threading.Lock()
        self._publish_lock = threading.Lock()
        # Held while a registry record's credential is looked for and issued, so the automatic
        # feed and a staff member's request never issue the same record twice.
        self._registry_lock = threading.Lock()

    # --- reading -------------------------------------------------------------------------------

    def read(self, key: bytes) -> bytes | None:
        """Return the committed value of a state key."""
        value: bytes | None = self.ledger.state.get_value(key)
        return value

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Iterate committed live ``(key, value)`` pairs under ``prefix``."""
        item: tuple[bytes, VersionedValue]
        for item in self.ledger.state.iter_range(prefix):
            if item[1].value is not None:
                yield item[0], item[1].value

    def now_ms(self) -> int:
        """Return the node's clock (the one blocks are stamped with)."""
        return self._clock()

    def did(self, dept: str) -> str:
        """Return a department's DID."""
        return department_did(self.network, dept)

    def key_history(self) -> StaticKeyHistory:
        """Return the key history as of the last committed block (rebuilt once per block)."""
        height = self.ledger.height
        with self._history_lock:
            if self._history is None or self._history[0] != height:
                self._history = (height, ledger_key_history(self.ledger.state, self.genesis))
            return self._history[1]

    def served(self) -> list[str]:
        """Return the departments this node issues for."""
        return sorted(self._signer.credentials)

    def record(self, digest: str) -> dict[str, Any]:
        """Return the on-chain record of an issued credential (``NotFound``)."""
        raw = self.read(cc.credential_key(digest))
        if raw is None:
            raise NotFound(f"no credential with hash {digest} was issued", hash=digest)
        found: dict[str, Any] = orjson.loads(raw)
        return found

    def held(self, holders: Sequence[str]) -> list[dict[str, Any]]:
        """Return the records of every credential held by any of ``holders``."""
        out = []
        for holder in holders:
            prefix = cc.held_prefix(holder)
            for key, _ in self.scan(prefix):
                record = self.record(key[len(prefix) :].decode())
                if "of" not in record:  # an SD-JWT form is listed with its credential
                    out.append(record)
        return out

    def document(self, digest: str) -> dict[str, Any] | str:
        """Return an issued credential as the issuing node stored it (``NotFound`` on a node
        that did not issue it); the stored bytes must hash to the notarised hash."""
        record = self.record(digest)
        if not record.get("batch"):
            raise NotFound(f"credential {digest} was not issued through a node", hash=digest)
        batch = orjson.loads(self.content.get(record["batch"]))
        credential: dict[str, Any] | str = batch["credentials"][record["position"]]
        if credential_hash(credential, self.suite.name) != digest:
            raise IntegrityError(
                f"stored credential {digest} does not hash to its notarised hash", hash=digest
            )
        return credential

    def evidence(self, digest: str) -> dict[str, Any]:
        """Return the receipt bundle of the transaction that notarised a credential."""
        record = self.record(digest)
        return self.ledger.receipt_bundle(bytes.fromhex(record["tx_id"]))

    # --- signing and transactions -------------------------------------------------------------

    def issuer(self, dept: str) -> tuple[CredentialSigner, str]:
        """Return the signer and verification method id a served department issues with."""
        cred = self._signer.local(dept)
        record = current_key(self.key_history(), cred.member)
        keypair = self.suite.keypair_from_private(cred.member_private)
        if keypair.public != record.public_key:
            raise IntegrityError(f"the key of {cred.member} here is not the one on the ledger")
        return DeptSigner(self.suite, keypair), method_id(self.did(dept), record.n)

    def call(
        self, dept: str, method: str, args: Mapping[str, Any], *, actor: str, case: str = ""
    ) -> NodeCall:
        """Describe a ``credentials`` transaction signed for a served department."""
        return self._signer.call(
            dept, cc.NAME, method, args, actor=actor, case=case, purpose=PURPOSE
        )

    def commit(self, calls: Sequence[NodeCall]) -> list[tuple[str, Any]]:
        """Commit transactions; return each one's ``(tx id, result)`` or raise the first
        failure as its typed error."""
        out = []
        for tx, receipt in self._signer.commit(calls):
            if receipt["status"] != "ok":
                raise error_of(receipt.get("error") or {})
            out.append((tx.tx_id.hex(), receipt["result"]))
        return out

    def allocate(self, dept: str, count: int, *, actor: str) -> int:
        """Allocate ``count`` status indices of ``dept``; return the first."""
        ((_, result),) = self.commit([self.call(dept, "allocate", {"count": count}, actor=actor)])
        first: int = result["first"]
        return first

    # --- issuing -------------------------------------------------------------------------------

    def issue(
        self, dept: str, drafts: Sequence[Draft], *, actor: str, case: str = ""
    ) -> list[Issued]:
        """Sign, store and notarise drafts issued by ``dept`` (see the module)."""
        if not drafts:
            return []
        missing = sum(1 for d in drafts if d.index is None)
        first = self.allocate(dept, missing, actor=actor) if missing else 0
        signer, vm = self.issuer(dept)
        now = self._clock()

        def secured() -> Iterator[Secured]:
            nonlocal first
            for d in drafts:
                index = d.index
                if index is None:
                    index, first = first, first + 1
                yield secure(d, index, signer=signer, verification_method=vm, created_ms=now)

        return self.notarise(dept, secured(), actor=actor, case=case)

    def notarise(
        self, dept: str, secured: Iterable[Secured], *, actor: str, case: str = ""
    ) -> list[Issued]:
        """Store and notarise secured credentials in batches, one ``issue`` transaction per
        batch (as many entries as fit the network's transaction size). Each batch is handed
        to a committing thread as soon as it is full, so the ledger works on one batch while
        the next is signed; the transactions keep their nonce order (``NodeSigner``)."""
        room = self._signer.port.max_tx_bytes - TX_OVERHEAD
        pending: list[tuple[list[Secured], Future[tuple[str, Any]]]] = []
        with ThreadPoolExecutor(COMMITTERS, thread_name_prefix="credential-issue") as pool:
            batch: list[Secured] = []
            size = 0
            for s in secured:
                n = len(canonical_unchecked(s.entry())) + 1
                if batch and (size + n > room or len(batch) >= cc.MAX_BATCH):
                    pending.append((batch, pool.submit(self._notarise, dept, batch, actor, case)))
                    batch, size = [], 0
                batch.append(s)
                size += n
            if batch:
                pending.append((batch, pool.submit(self._notarise, dept, batch, actor, case)))
            done = [(b, f.result()) for b, f in pending]
        return [
            Issued(
                s.digest,
                s.index,
                s.draft.kind,
                s.draft.holder,
                tx_id,
                result["height"],
                s.credential,
            )
            for b, (tx_id, result) in done
            for s in b
        ]

    def _notarise(self, dept: str, batch: list[Secured], actor: str, case: str) -> tuple[str, Any]:
        data = orjson.dumps({"format": BATCH_FORMAT, "credentials": [s.credential for s in batch]})
        args = {"entries": [s.entry() for s in batch], "batch": self.content.put(data)}
        ((tx_id, result),) = self.commit([self.call(dept, "issue", args, actor=actor, case=case)])
        return tx_id, result

    def licences_of(self, uscc: str) -> list[dict[str, Any]]:
        """Return the licence registry records of an enterprise."""
        prefix = layout.holder_key(uscc, "")
        out = []
        for key, _ in self.scan(prefix):
            raw = self.read(layout.licence_key(key[len(prefix) :].decode()))
            if raw is not None:
                out.append(orjson.loads(raw))
        return out

    def issue_licences(
        self, licences: Sequence[Mapping[str, Any]], *, actor: str | None = None
    ) -> list[Issued | dict[str, Any]]:
        """Issue the credential of each active licence record of a served department that has
        none yet; return the new ``Issued`` or, for a licence already issued, its on-chain
        record (``actor``: who asked; the department's service member by default)."""
        names = {d.id: d.name for d in self.genesis.departments}
        served = set(self._signer.credentials)
        drafts = [
            licence_draft(
                lic,
                network=self.network,
                issuer_did=self.did(str(lic["issuer"])),
                authority=names.get(str(lic["issuer"]), str(lic["issuer"])),
            )
            for lic in licences
            if lic.get("status_index") is not None
            and lic.get("status") == "active"
            and lic.get("issuer") in served
        ]
        return self.issue_registered(drafts, actor=actor)

    def issue_registered(
        self, drafts: Sequence[Draft], *, actor: str | None = None
    ) -> list[Issued | dict[str, Any]]:
        """Issue drafts of registry records (licences, certificates: each keeps its record's
        status index), each once ever: a draft whose issuer already issued a credential at its
        index for its holder gives that credential's on-chain record instead. Drafts are
        grouped by issuer, one ``issue`` call each (batched into transactions by size)."""
        done: list[Issued | dict[str, Any]] = []
        with self._registry_lock:
            by_dept: dict[str, dict[int, Draft]] = {}
            for d in drafts:
                if d.index is None:
                    raise SchemaViolation(
                        "a registry record's draft carries its status index", field="index"
                    )
                dept = parse_did(statuslist.issuer_of(d.credential))[1]
                existing = self.issued_at(d.holder, dept, d.index)
                if existing is not None:
                    done.append(existing)
                else:
                    by_dept.setdefault(dept, {})[d.index] = d
            for dept, found in sorted(by_dept.items()):
                who = actor or self._signer.local(dept).member
                done.extend(self.issue(dept, list(found.values()), actor=who))
        return done

    def issued_at(self, holder: str, issuer: str, index: int) -> dict[str, Any] | None:
        """Return the record of the credential ``issuer`` issued to ``holder`` at status index
        ``index`` (``None`` if there is none)."""
        for record in self.held([holder]):
            if record["issuer"] == issuer and record["index"] == index:
                return record
        return None

    # --- status --------------------------------------------------------------------------------

    def set_status(
        self, dept: str, index: int, purpose: str, *, on: bool, reason: str, actor: str
    ) -> dict[str, Any]:
        """Revoke, suspend or reinstate a status index of a served department."""
        args = {"index": index, "purpose": purpose, "on": on, "reason": reason}
        ((_, result),) = self.commit([self.call(dept, "set_status", args, actor=actor)])
        found: dict[str, Any] = result
        return found

    def status_list(self, dept: str, purpose: str, list_no: int) -> dict[str, Any]:
        """Return the latest signed status list of ``dept`` with the receipt of its anchor.

        A node serving ``dept`` publishes a new one first when the list changed since the last
        publication; any other node returns the last one published (``NotFound`` if the list
        was never published or its file is not here)."""
        ls.check_purpose(purpose)
        if list_no > max(ls.allocated(self.read, dept) - 1, 0) // ls.LIST_SIZE:
            raise NotFound(f"{dept} has no status list {list_no}", dept=dept, list=list_no)
        if dept in self._signer.credentials:
            with self._publish_lock:
                anchor = ls.published(self.read, dept, purpose, list_no)
                if anchor is None or anchor["version"] != ls.list_version(
                    self.read, dept, purpose, list_no
                ):
                    self._publish(dept, purpose, list_no)
        anchor = ls.published(self.read, dept, purpose, list_no)
        if anchor is None:
            raise NotFound(f"the {purpose} list {list_no} of {dept} was never published")
        credential = orjson.loads(self.content.get(anchor["hash"]))
        versions = self.ledger.state.history(ls.published_key(dept, purpose, list_no), 1)
        receipt = self.ledger.receipt_bundle(versions[0].tx_id)
        return {"credential": credential, "anchor": dict(anchor), "receipt": receipt}

    def _publish(self, dept: str, purpose: str, list_no: int) -> None:
        version = ls.list_version(self.read, dept, purpose, list_no)
        positions = ls.set_positions(self.scan, dept, purpose, list_no)
        signer, vm = self.issuer(dept)
        now = self._clock()
        draft = status_list_draft(self.did(dept), purpose, list_no, positions, now)
        signed = sign_credential(draft, signer, vm, draft["validFrom"], self.suite.name)
        # Stored as its JCS bytes: the anchored hash is then the list's credential digest,
        # which a verifier recomputes from the list however it was re-serialised.
        digest = self.content.put(canonicalize(signed))
        args = {"purpose": purpose, "list": list_no, "version": version, "hash": digest}
        member = self._signer.local(dept).member
        self.commit([self.call(dept, "publish_status_list", args, actor=member)])
