"""The owner node's data-sharing service: signed requests in, ledger transactions out.

Each data-plane request (publish, read, erase, attest) is signed by a member of the
requesting department (``requests``). The service checks it, does the off-chain part on the
owner's vault, and commits the on-chain part through a ``LedgerPort`` *before* it answers:
a read is answered only once its read-log transaction is durable, and only with the granted
fields, sealed for the reading department. The node's transactions are signed by a member key
of the owner department (``DeptCredentials``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from govchain.contracts.errors import BadArguments
from govchain.errors import Conflict, Forbidden, GovchainError, NotFound
from govchain.ledger.execution import MemberRecord
from govchain.sharing import envelope, layout
from govchain.sharing.access import check_read
from govchain.sharing.batching import TX_OVERHEAD, BatchQueue
from govchain.sharing.contracts import DATA_ROLES, MAX_ATTESTATIONS
from govchain.sharing.errors import NotOwner, RecordErased
from govchain.sharing.model import (
    Resource,
    check_record_data,
    only_fields,
    record_id,
    resource_id,
)
from govchain.sharing.predicates import parse_predicate
from govchain.sharing.reading import (
    PreparedRead,
    ReadOutcome,
    ReadScope,
    chunk_entries,
    log_reads,
)
from govchain.sharing.readlog import MAX_ENTRIES, read_args
from govchain.sharing.requests import (
    REQUEST_DOMAIN,
    VERIFIED,
    SignedRequest,
    bad_signature,
    check_request,
    parse_request,
    verify_request,
)
from govchain.sharing.signer import DeptCredentials, NodeCall, NodeSigner
from govchain.sharing.vault import Vault
from govchain.sharing.view import LedgerPort, LedgerView
from govchain.storage.base import KVStore
from govchain.types import DeptId

Observer = Callable[[str, Sequence[str | None]], None]
"""``observer(kind, outcomes)``: requests of ``kind`` (``read``, ``attest``) were answered; per
request ``None`` if served, else the code of the error it was refused with."""


class SharingService(LedgerView):
    """Serves the departments whose credentials it holds."""

    def __init__(
        self, port: LedgerPort, store: KVStore, credentials: Mapping[DeptId, DeptCredentials]
    ) -> None:
        super().__init__(port)
        self.signer = NodeSigner(port, credentials)
        self.credentials = self.signer.credentials
        self.vault = Vault(store, self.suite, {d: c.agreement for d, c in credentials.items()})
        self._keks: dict[tuple[DeptId, DeptId, bytes], bytes] = {}
        self._ready = False
        self._ready_lock = threading.Lock()
        self.observer: Observer | None = None
        """Told the outcome of every read and attestation request (the node's metrics)."""
        self._reads: BatchQueue[Any, dict[str, Any]] = BatchQueue(
            self.read_many, name="read", refused=lambda exc: self._observe("read", [exc.code])
        )

    def close(self) -> None:
        """Answer the reads already queued, then stop the read workers."""
        self._reads.close()

    def publish_keys(self) -> list[DeptId]:
        """Publish the agreement keys of served departments that are not on-chain yet;
        return those published. ``Conflict`` if the chain holds another key for one of them."""
        todo: list[NodeCall] = []
        for dept, cred in sorted(self.credentials.items()):
            on_chain = self._json(layout.agreement_key(dept))
            if on_chain is None:
                todo.append(
                    self.signer.call(
                        dept,
                        "sharing.keys",
                        "publish",
                        {"public": cred.agreement.public.hex()},
                        actor=cred.member,
                    )
                )
            elif on_chain["public"] != cred.agreement.public.hex():
                raise Conflict(
                    f"the agreement key of {dept!r} on-chain differs from this node's key file"
                )
        for call in todo:
            self.signer.commit_one(call)
        return [call.cred.dept for call in todo]

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if not self._ready:
                self.publish_keys()
                self._ready = True

    # --- signed requests --------------------------------------------------------------------

    def _authenticate(self, obj: Any, kind: str) -> tuple[SignedRequest, MemberRecord, str]:
        request = parse_request(obj)
        member = verify_request(
            request,
            chain=self.port.chain_id,
            read_state=self.port.read_state,
            now_ms=self.port.now_ms(),
            kind=kind,
            suite=self.suite,
        )
        if member.role not in DATA_ROLES:
            raise Forbidden(f"role {member.role!r} may not act on shared data")
        return request, member, request.request_id(self.suite)

    def _authenticate_many(
        self, objs: Sequence[Any], kind: str
    ) -> list[tuple[SignedRequest, MemberRecord, str]]:
        """``_authenticate`` for many requests, their signatures checked on every core; the
        first request that fails fails them all."""
        out = []
        for checked in self._authenticate_each(objs, kind, self.port.now_ms()):
            if isinstance(checked, GovchainError):
                raise checked
            out.append(checked)
        return out

    def _authenticate_each(
        self, objs: Sequence[Any], kind: str, now: int
    ) -> list[tuple[SignedRequest, MemberRecord, str] | GovchainError]:
        """``_authenticate`` for many requests, each alone (per request its error), their
        signatures checked together (on every core when there are many)."""
        out: list[tuple[SignedRequest, MemberRecord, str] | GovchainError | None] = []
        checked: list[tuple[int, SignedRequest, MemberRecord]] = []
        # A batch comes from a few members: read and decode each member record once.
        members: dict[bytes, bytes | None] = {}

        def read_member(key: bytes) -> bytes | None:
            if key not in members:
                members[key] = self.port.read_state(key)
            return members[key]

        for obj in objs:
            try:
                request = parse_request(obj)
                member = check_request(
                    request, chain=self.port.chain_id, read_state=read_member, now_ms=now, kind=kind
                )
                if member.role not in DATA_ROLES:
                    raise Forbidden(f"role {member.role!r} may not act on shared data")
            except GovchainError as exc:
                out.append(exc)
                continue
            checked.append((len(out), request, member))
            out.append(None)
        valid = VERIFIED.verify_many(
            self.suite,
            [(m.public_key, REQUEST_DOMAIN + r.body_bytes, r.signature) for _, r, m in checked],
        )
        for (i, request, member), ok in zip(checked, valid, strict=True):
            out[i] = (
                (request, member, request.request_id(self.suite)) if ok else bad_signature(request)
            )
        return [o for o in out if o is not None]

    def _owned(self, rid: Any, member: MemberRecord) -> Resource:
        resource = self.resource(resource_id(rid))
        if member.dept != resource.owner:
            raise NotOwner(f"only {resource.owner!r} may do this to {resource.id!r}")
        self.signer.local(resource.owner)
        return resource

    def publish(self, obj: Any) -> dict[str, Any]:
        """Store a record encrypted in the owner's vault, then put its hash on-chain."""
        self._ensure_ready()
        request, member, request_id = self._authenticate(obj, "publish")
        args = only_fields(request.args, {"resource", "record", "subject", "data"}, "args")
        resource = self._owned(args.get("resource"), member)
        rid = record_id(args.get("record"))
        subject = args.get("subject")
        if type(subject) is not str or not 1 <= len(subject) <= 128:
            raise BadArguments("subject must be an id string of 1 to 128 characters")
        data = check_record_data(resource, args.get("data"))
        if self.port.read_state(layout.record_key(resource.id, rid)) is not None:
            raise Conflict(f"record {rid!r} of {resource.id!r} already exists", record=rid)
        ref = self.subject_ref(subject)
        sealed = self.vault.put(resource.owner, resource.id, rid, ref, data)
        digest = self.suite.hash(sealed).hex()
        tx, _ = self.signer.commit_one(
            self.signer.call(
                resource.owner,
                "sharing.records",
                "publish",
                {
                    "resource": resource.id,
                    "record": rid,
                    "subject_ref": ref,
                    "hash": digest,
                    "request_id": request_id,
                    "requester": request.signer,
                },
                actor=request.actor,
                case=request.case,
                purpose=request.purpose,
            )
        )
        return {"resource": resource.id, "record": rid, "hash": digest, "tx_id": tx.tx_id.hex()}

    def _kek_for(self, owner: DeptId, reader: DeptId) -> bytes:
        public = self.agreement_public(reader)
        key = (owner, reader, public)
        kek = self._keks.get(key)
        if kek is None:
            private = self.signer.local(owner).agreement.private
            kek = envelope.kek(self.suite, private, public, owner, reader)
            self._keks[key] = kek
        return kek

    def _verified_open(
        self, resource: Resource, rid: str, ref: str, entry: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Open a record after checking its ledger entry (read here unless given) and that the
        stored ciphertext is the one whose hash the ledger holds."""
        if entry is None:
            entry = self.record_entry(resource.id, rid)
        if entry["subject_ref"] != ref:
            raise NotFound(f"no record {rid!r} of this subject in {resource.id!r}")
        if entry["erased"] is not None:
            raise RecordErased(f"record {rid!r} was erased", record=rid)
        sealed = self.vault.verified(resource.id, rid, entry["hash"], self._hash_hex)
        return self.vault.open(resource.owner, resource.id, rid, sealed)

    def _hash_hex(self, data: bytes) -> str:
        return self.suite.hash(data).hex()

    def _subject_records(
        self, resource: Resource, ref: str
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Return the ledger entries of a subject's readable records, by id, and the ids of
        its erased ones (records stored here whose publication never committed are left out)."""
        live: dict[str, dict[str, Any]] = {}
        erased: list[str] = []
        for rid in self.vault.records_of(resource.id, ref):
            entry = self._json(layout.record_key(resource.id, rid))
            if entry is None or entry["subject_ref"] != ref:
                continue  # stored but never committed (its publish failed)
            if entry["erased"] is not None:
                erased.append(rid)
            else:
                live[rid] = entry
        return live, erased

    def read(self, obj: Any) -> dict[str, Any]:
        """Serve a read: access rule, decryption, read log committed, granted fields sealed
        for the reading department. Reads that arrive together are served as one batch
        (``read_many``); each is checked, logged and answered on its own."""
        return self._reads.call(obj)

    def submit_read(self, obj: Any, done: Callable[[ReadOutcome], None]) -> None:
        """Queue a read; ``done`` receives its answer or error, on a worker thread, once its
        log entry is durable. ``Unavailable`` at once if too many reads are waiting."""
        self._reads.submit(obj, done)

    def read_many(self, objs: Sequence[Any]) -> list[ReadOutcome]:
        """Serve many reads at once: per read its sealed answer or its error, in order. The
        signatures are verified together, the entries logged in one transaction per owner
        (within the size limit), and no answer is made before its entry is durable."""
        try:
            done = self._read_many(objs)
        except GovchainError as exc:
            self._observe("read", [exc.code] * len(objs))
            raise
        self._observe("read", [o.code if isinstance(o, GovchainError) else None for o in done])
        return done

    def _read_many(self, objs: Sequence[Any]) -> list[ReadOutcome]:
        self._ensure_ready()
        now = self.port.now_ms()
        out: list[ReadOutcome | None] = [None] * len(objs)
        scope = ReadScope(self)
        by_owner: dict[DeptId, list[tuple[int, dict[str, Any]]]] = {}
        prepared: dict[int, PreparedRead] = {}
        for i, checked in enumerate(self._authenticate_each(objs, "read", now)):
            try:
                if isinstance(checked, GovchainError):
                    raise checked
                p = self._prepare_read(*checked, now, scope)
            except GovchainError as exc:
                out[i] = exc
                continue
            prepared[i] = p
            by_owner.setdefault(p.owner, []).append(
                (i, {"request": p.request.envelope(), "records": p.ids})
            )
        if by_owner:
            chunks = chunk_entries(by_owner, self.port.max_tx_bytes - TX_OVERHEAD, MAX_ENTRIES)
            log_reads(self.signer, self.port, chunks, prepared, out)
        done = [o for o in out if o is not None]
        assert len(done) == len(objs), "every read has an answer or an error"
        return done

    def _observe(self, kind: str, outcomes: Sequence[str | None]) -> None:
        if self.observer is not None:
            self.observer(kind, outcomes)

    def _prepare_read(
        self,
        request: SignedRequest,
        member: MemberRecord,
        request_id: str,
        now: int,
        scope: ReadScope,
    ) -> PreparedRead:
        """Check one authenticated read against the access rule and open its records."""
        ra = read_args(request.args)
        resource = scope.resource(ra["resource"])
        owner = self.signer.local(resource.owner).dept
        grant = scope.grant(ra["grant"]) if ra["grant"] else None
        fields: tuple[str, ...] = ra["fields"]
        check_read(
            resource, grant, reader=member.dept, purpose=request.purpose, fields=fields, now_ms=now
        )
        kek = self._kek_for(owner, member.dept)
        ref = self.subject_ref(ra["subject"])
        entries: dict[str, dict[str, Any]] = {}
        erased: list[str] = []
        if ra["records"] is not None:
            ids = list(ra["records"])
        else:
            entries, erased = self._subject_records(resource, ref)
            ids = list(entries)
        records = []
        for rid in ids:
            data = self._verified_open(resource, rid, ref, entries.get(rid))
            records.append({"record": rid, "data": {f: data[f] for f in fields}})
        return PreparedRead(
            request, request_id, ra["subject"], resource.id, owner, member.dept, kek, fields,
            ids, records, erased,
        )  # fmt: skip

    def erase(self, obj: Any) -> dict[str, Any]:
        """Erase a record: the erasure is committed on-chain, then its data key is destroyed."""
        self._ensure_ready()
        request, member, request_id = self._authenticate(obj, "erase")
        args = only_fields(request.args, {"resource", "record", "reason"}, "args")
        resource = self._owned(args.get("resource"), member)
        rid = record_id(args.get("record"))
        reason = args.get("reason")
        if type(reason) is not str or not reason.strip() or len(reason) > 500:
            raise BadArguments("reason must be a non-empty string of at most 500 characters")
        entry = self.record_entry(resource.id, rid)
        if entry["erased"] is not None:
            self.vault.shred(resource.id, rid)  # finish an erasure interrupted by a crash
            raise RecordErased(f"record {rid!r} was already erased", record=rid)
        tx, result = self.signer.commit_one(
            self.signer.call(
                resource.owner,
                "sharing.records",
                "erase",
                {
                    "resource": resource.id,
                    "record": rid,
                    "reason": reason,
                    "request_id": request_id,
                    "requester": request.signer,
                },
                actor=request.actor,
                case=request.case,
                purpose=request.purpose,
            )
        )
        self.vault.shred(resource.id, rid)
        return {**result, "tx_id": tx.tx_id.hex()}

    def shred_erased(self) -> int:
        """Destroy the data keys of records erased on-chain whose key is still stored (an
        erasure interrupted between its commit and the key deletion); return how many."""
        n = 0
        for _, v in self.port.scan_state(layout.PREFIX + b"rec/"):
            entry = orjson.loads(v)
            if entry["erased"] is not None and self.vault.shred(entry["resource"], entry["record"]):
                n += 1
        return n

    def attest(self, objs: Sequence[Any]) -> list[dict[str, Any]]:
        """Answer attestation requests (one or many): each predicate is evaluated over the
        subject's records in the owner's vault and the yes/no answers are committed on-chain,
        many per transaction. Every request is checked before anything is committed; the
        result is, per request, ``{id, answer, tx_id}`` or ``{error, tx_id}``."""
        try:
            out = self._attest(objs)
        except GovchainError as exc:
            self._observe("attest", [exc.code] * len(objs))
            raise
        self._observe("attest", [_refusal_code(o) for o in out])
        return out

    def _attest(self, objs: Sequence[Any]) -> list[dict[str, Any]]:
        self._ensure_ready()
        by_owner: dict[DeptId, list[tuple[int, dict[str, Any]]]] = {}
        resources: dict[str, Resource] = {}  # a batch asks about a few resources: read once
        for n, (request, _member, request_id) in enumerate(self._authenticate_many(objs, "attest")):
            args = only_fields(
                request.args, {"resource", "subject", "predicate", "statement"}, "args"
            )
            rid = resource_id(args.get("resource"))
            resource = resources.get(rid) or resources.setdefault(rid, self.resource(rid))
            self.signer.local(resource.owner)
            predicate = parse_predicate(args.get("predicate"), resource)
            subject = args.get("subject")
            if type(subject) is not str or not 1 <= len(subject) <= 128:
                raise BadArguments("subject must be an id string of 1 to 128 characters")
            statement = args.get("statement")
            if type(statement) is not str or not statement.strip() or len(statement) > 300:
                raise BadArguments("statement must be a non-empty string of at most 300")
            ref = self.subject_ref(subject)
            live, _ = self._subject_records(resource, ref)
            answer = predicate.answer(
                self._verified_open(resource, rid, ref, entry) for rid, entry in live.items()
            )
            by_owner.setdefault(resource.owner, []).append(
                (
                    n,
                    {
                        "resource": resource.id,
                        "subject_ref": ref,
                        "predicate": predicate.to_json(),
                        "statement": statement,
                        "answer": answer,
                        "request_id": request_id,
                        "requester": request.signer,
                        "actor": request.actor,
                        "case": request.case,
                        "purpose": request.purpose,
                    },
                )
            )
        chunks = chunk_entries(by_owner, self.port.max_tx_bytes - TX_OVERHEAD, MAX_ATTESTATIONS)
        calls = [
            self.signer.call(
                owner,
                "sharing.attestations",
                "issue",
                {"entries": [e for _, e in items]},
                actor=self.signer.local(owner).member,
            )
            for owner, items in chunks
        ]
        out: list[dict[str, Any]] = [{} for _ in objs]
        for (_, items), (tx, receipt) in zip(chunks, self.signer.commit(calls), strict=True):
            tx_id = tx.tx_id.hex()
            for i, (n, _) in enumerate(items):
                if receipt["status"] != "ok":
                    out[n] = {"error": receipt["error"], "tx_id": tx_id}
                else:
                    out[n] = {**receipt["result"]["results"][i], "tx_id": tx_id}
        return out


def _refusal_code(answer: Mapping[str, Any]) -> str | None:
    """The error code of an attestation answer whose transaction failed (``None``: answered)."""
    error = answer.get("error")
    if error is None:
        return None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else "failed"
