"""The on-chain half of data sharing: native system contracts over ``c/sharing/`` state.

Each class satisfies the ``Contract`` protocol of ``govchain.contracts.registry`` (``name`` and
``call(ctx, method, args)``). The department is the signer's department; the acting person,
case and purpose are the transaction's ``actor``, ``case`` and ``purpose``. Every failure
raises a typed error, which fails only this transaction and leaves its code in the receipt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from govchain.contracts.errors import BadArguments, UnknownMethod
from govchain.errors import Conflict, Forbidden, GovchainError, NotFound
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.execution import CallContext, decode_member, member_key
from govchain.sharing import layout
from govchain.sharing.cache import once
from govchain.sharing.errors import (
    NotOwner,
    NotShared,
    RecordErased,
    ReplayedRequest,
    SecretResource,
)
from govchain.sharing.grants import Grant, GrantStatus, grant_from_bytes, parse_grant_request
from govchain.sharing.model import (
    Resource,
    Sensitivity,
    ShareLevel,
    only_fields,
    parse_resource,
    record_id,
    resource_from_bytes,
    resource_id,
)
from govchain.sharing.predicates import parse_predicate

DATA_ROLES = frozenset({"admin", "officer", "service"})
"""Roles that may act on data; an ``auditor`` reads the ledger only."""
HEX64 = re.compile(r"[0-9a-f]{64}\Z")


def load(ctx: CallContext, key: bytes) -> Any:
    """Return the JSON value of a state key, or ``None``."""
    raw = ctx.get(key)
    return None if raw is None else orjson.loads(raw)


def store(ctx: CallContext, key: bytes, value: Any) -> None:
    """Write a JSON value to a state key."""
    ctx.put(key, canonical_unchecked(value))


def load_resource(ctx: CallContext, rid: str) -> Resource:
    """Return a catalogue resource (``NotFound`` if unknown)."""
    raw = ctx.get(layout.resource_key(rid))
    if raw is None:
        raise NotFound(f"no resource {rid!r} in the catalogue", resource=rid)
    return resource_from_bytes(raw)


def load_grant(ctx: CallContext, gid: str) -> Grant:
    """Return a grant (``NotFound`` if unknown)."""
    if type(gid) is not str or not 1 <= len(gid) <= 80:
        raise BadArguments("grant must be a grant id")
    raw = ctx.get(layout.grant_key(gid))
    if raw is None:
        raise NotFound(f"no grant {gid!r}", grant=gid)
    return grant_from_bytes(raw)


class Lookups:
    """What the entries of one call share — member records, resources, grants — read and
    parsed once per call. Exact for calls that write none of these (the read log, attestation
    issuing: they write only their own entries, which they never read through here)."""

    __slots__ = ("_ctx", "_grants", "_raw", "_resources")

    def __init__(self, ctx: CallContext) -> None:
        self._ctx = ctx
        self._raw: dict[bytes, bytes | None] = {}
        self._resources: dict[str, Resource | GovchainError] = {}
        self._grants: dict[str, Grant | GovchainError] = {}

    def get(self, key: bytes) -> bytes | None:
        """Return a state value (a member record)."""
        if key not in self._raw:
            self._raw[key] = self._ctx.get(key)
        return self._raw[key]

    def resource(self, rid: str) -> Resource:
        """``load_resource``, once per resource."""
        return once(self._resources, rid, lambda r: load_resource(self._ctx, r))

    def grant(self, gid: str) -> Grant:
        """``load_grant``, once per grant."""
        return once(self._grants, gid, lambda g: load_grant(self._ctx, g))


def _data_role(ctx: CallContext) -> None:
    if ctx.signer_role not in DATA_ROLES:
        raise Forbidden(f"role {ctx.signer_role!r} may not act on shared data")


def owner_only(ctx: CallContext, resource: Resource) -> None:
    """Raise unless the signer is a data-role member of the resource's owner department."""
    _data_role(ctx)
    if ctx.signer_dept != resource.owner:
        raise NotOwner(
            f"only {resource.owner!r} may do this to resource {resource.id!r}",
            resource=resource.id,
        )


def _who(ctx: CallContext, args: Mapping[str, Any] | None = None) -> str:
    """Return ``member (person)``: the member who asked (``args.requester`` when the owner's
    node signs on someone's behalf, else the signer) and the acting person."""
    member = ctx.tx.signer if args is None else args.get("requester", ctx.tx.signer)
    if type(member) is not str or not 1 <= len(member) <= 128:
        raise BadArguments("requester must be a member id")
    return f"{member} ({ctx.tx.actor})"


def _text(args: Mapping[str, Any], name: str, max_len: int) -> str:
    value = args.get(name)
    if type(value) is not str or not value.strip() or len(value) > max_len:
        raise BadArguments(f"{name} must be a non-empty string of at most {max_len} characters")
    return value


def _hex64(args: Mapping[str, Any], name: str) -> str:
    value = args.get(name)
    if type(value) is not str or not HEX64.match(value):
        raise BadArguments(f"{name} must be 64 lower-case hex digits")
    return value


class KeysContract:
    """``publish(public)``: a department's agreement public key (its admin or node signs)."""

    name = "sharing.keys"

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        if method != "publish":
            raise UnknownMethod(f"contract {self.name} has no method {method!r}")
        only_fields(args, {"public"}, "args")
        if ctx.signer_role not in ("admin", "service"):
            raise Forbidden("only a department's admin or node publishes its agreement key")
        raw = ctx.get(member_key(ctx.tx.signer))
        assert raw is not None  # execution checked the signer is an active member
        size = len(decode_member(raw).public_key)  # agreement keys have the suite's key size
        public = args.get("public")
        try:
            key = bytes.fromhex(public) if type(public) is str else b""
        except ValueError:
            key = b""
        if len(key) != size:
            raise BadArguments(f"public must be a {size}-byte agreement key in hex")
        state_key = layout.agreement_key(ctx.signer_dept)
        old = load(ctx, state_key)
        if old is not None:
            if old["public"] == key.hex():
                return old
            raise Conflict(
                f"department {ctx.signer_dept!r} already published an agreement key; records "
                "wrapped under it would become unreadable, so it is not replaced"
            )
        entry = {"dept": ctx.signer_dept, "public": key.hex(), "published_ms": ctx.block_time_ms}
        store(ctx, state_key, entry)
        ctx.emit("sharing.key_published", {"dept": ctx.signer_dept})
        return entry


class CatalogueContract:
    """``register(resource)``: a department adds a data resource to the catalogue (目录链);
    ``update(resource)``: its owner changes the description, share level, sensitivity, update
    frequency or legal basis (the fields stay: a new schema is a new resource). A stricter
    level takes effect at once: every read checks the resource as it is now."""

    name = "sharing.catalogue"

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        if method not in ("register", "update"):
            raise UnknownMethod(f"contract {self.name} has no method {method!r}")
        _data_role(ctx)
        resource = parse_resource(dict(args), ctx.signer_dept, ctx.block_time_ms)
        key = layout.resource_key(resource.id)
        raw = ctx.get(key)
        if method == "register":
            if raw is not None:
                raise Conflict(
                    f"resource {resource.id!r} is already registered", resource=resource.id
                )
            store(ctx, key, resource.to_json())
            ctx.emit("sharing.registered", {"resource": resource.id, "owner": resource.owner})
            return resource.to_json()
        if raw is None:
            raise NotFound(f"no resource {resource.id!r} in the catalogue", resource=resource.id)
        old = resource_from_bytes(raw)
        owner_only(ctx, old)
        if resource.fields != old.fields:
            raise BadArguments("the fields of a resource cannot change; register a new resource")
        updated = replace(resource, registered_ms=old.registered_ms)
        store(ctx, key, updated.to_json())
        ctx.emit("sharing.updated", {"resource": resource.id, "owner": resource.owner})
        return updated.to_json()


class RecordsContract:
    """``publish`` a record's ciphertext hash, ``erase`` a record (crypto-shredding proof).

    Signed by the owner's node on behalf of the person named in the transaction."""

    name = "sharing.records"

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        if method == "publish":
            only_fields(
                args,
                {"resource", "record", "subject_ref", "hash", "request_id", "requester"},
                "args",
            )
            resource = load_resource(ctx, resource_id(args.get("resource")))
            owner_only(ctx, resource)
            rid = record_id(args.get("record"))
            key = layout.record_key(resource.id, rid)
            if ctx.get(key) is not None:
                raise Conflict(f"record {rid!r} of {resource.id!r} already exists", record=rid)
            entry = {
                "resource": resource.id,
                "record": rid,
                "subject_ref": _hex64(args, "subject_ref"),
                "hash": _hex64(args, "hash"),
                "request_id": _hex64(args, "request_id"),
                "published_by": _who(ctx, args),
                "published_ms": ctx.block_time_ms,
                "erased": None,
            }
            store(ctx, key, entry)
            ctx.emit("sharing.published", {"resource": resource.id, "record": rid})
            return {"resource": resource.id, "record": rid, "hash": entry["hash"]}
        if method == "erase":
            only_fields(args, {"resource", "record", "reason", "request_id", "requester"}, "args")
            resource = load_resource(ctx, resource_id(args.get("resource")))
            owner_only(ctx, resource)
            rid = record_id(args.get("record"))
            key = layout.record_key(resource.id, rid)
            entry = load(ctx, key)
            if entry is None:
                raise NotFound(f"no record {rid!r} of {resource.id!r}", record=rid)
            if entry["erased"] is not None:
                raise RecordErased(f"record {rid!r} was already erased", record=rid)
            entry["erased"] = {
                "by": _who(ctx, args),
                "case": ctx.tx.case,
                "reason": _text(args, "reason", 500),
                "request_id": _hex64(args, "request_id"),
                "erased_ms": ctx.block_time_ms,
            }
            store(ctx, key, entry)
            ctx.emit("sharing.erased", {"resource": resource.id, "record": rid})
            return entry
        raise UnknownMethod(f"contract {self.name} has no method {method!r}")


class GrantsContract:
    """``request``, ``approve``, ``reject`` and ``revoke`` grants."""

    name = "sharing.grants"

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        if method == "request":
            return self._request(ctx, args)
        if method not in ("approve", "reject", "revoke"):
            raise UnknownMethod(f"contract {self.name} has no method {method!r}")
        _data_role(ctx)
        only_fields(args, {"grant", "reason"} if method != "approve" else {"grant"}, "args")
        grant = load_grant(ctx, args.get("grant"))  # type: ignore[arg-type]
        if method == "revoke":
            if ctx.signer_dept not in (grant.owner, grant.grantee):
                raise NotOwner("only the owner or the grantee department may revoke a grant")
            if grant.status not in (GrantStatus.active, GrantStatus.pending):
                raise Conflict(f"grant {grant.id} is {grant.status.value}", grant=grant.id)
            status, reason = GrantStatus.revoked, _text(args, "reason", 500)
        else:
            if ctx.signer_dept != grant.owner:
                raise NotOwner(f"only {grant.owner!r} decides on grant {grant.id}")
            if grant.status is not GrantStatus.pending:
                raise Conflict(f"grant {grant.id} is {grant.status.value}", grant=grant.id)
            if method == "approve":
                status, reason = GrantStatus.active, ""
            else:
                status, reason = GrantStatus.rejected, _text(args, "reason", 500)
        obj = grant.to_json()
        obj.update(
            status=status.value, decided_by=_who(ctx), decided_ms=ctx.block_time_ms, reason=reason
        )
        store(ctx, layout.grant_key(grant.id), obj)
        ctx.emit(f"sharing.grant_{status.value}", {"grant": grant.id})
        return obj

    def _request(self, ctx: CallContext, args: Mapping[str, Any]) -> Any:
        _data_role(ctx)
        req = parse_grant_request(dict(args), ctx.block_time_ms)
        resource = load_resource(ctx, req.resource)
        if ctx.signer_dept == resource.owner:
            raise BadArguments("the owner department reads its own resources without a grant")
        unknown = sorted(set(req.fields) - set(resource.field_names()))
        if unknown:
            raise BadArguments(f"resource {resource.id!r} has no fields {unknown}")
        if resource.sensitivity is Sensitivity.secret:
            raise SecretResource(
                f"resource {resource.id!r} is secret: ask {resource.owner!r} for attestations"
            )
        if resource.share_level is ShareLevel.not_shared:
            raise NotShared(f"resource {resource.id!r} is not shared", resource=resource.id)
        auto = resource.share_level is ShareLevel.unconditional
        grant = Grant(
            id="g-" + ctx.tx.tx_id.hex()[:32],
            resource=resource.id,
            owner=resource.owner,
            grantee=ctx.signer_dept,
            fields=req.fields,
            purpose=req.purpose,
            legal_basis=req.legal_basis,
            case=req.case,
            expires_ms=req.expires_ms,
            status=GrantStatus.active if auto else GrantStatus.pending,
            requested_by=_who(ctx),
            requested_ms=ctx.block_time_ms,
            decided_by="unconditional share level" if auto else "",
            decided_ms=ctx.block_time_ms if auto else 0,
        )
        store(ctx, layout.grant_key(grant.id), grant.to_json())
        ctx.emit("sharing.grant_requested", {"grant": grant.id, "status": grant.status.value})
        return grant.to_json()


MAX_ATTESTATIONS = 512
"""Most attestations one transaction may issue."""
ATTESTATION_FIELDS = {
    "resource",
    "subject_ref",
    "predicate",
    "statement",
    "answer",
    "request_id",
    "requester",
    "actor",
    "case",
    "purpose",
}
"""Fields of one attestation to issue."""


def issue_attestation(
    ctx: CallContext, args: Any, lookups: Lookups | None = None
) -> dict[str, Any]:
    """Check and store one attestation; raise why it cannot be issued."""
    args = only_fields(args, ATTESTATION_FIELDS, "attestation")
    resource = (lookups or Lookups(ctx)).resource(resource_id(args.get("resource")))
    owner_only(ctx, resource)
    predicate = parse_predicate(args.get("predicate"), resource)
    answer = args.get("answer")
    if type(answer) is not bool:
        raise BadArguments("answer must be true or false")
    request_id = _hex64(args, "request_id")
    subject = _hex64(args, "subject_ref")
    who = {}
    for name in ("requester", "actor", "case", "purpose"):
        value = args.get(name, "")
        if type(value) is not str or len(value) > 256:
            raise BadArguments(f"{name} must be a string of at most 256 characters")
        who[name] = value
    if not who["requester"] or not who["actor"]:
        raise BadArguments("requester and actor name who asked")
    key = layout.attestation_key(subject, request_id)
    if ctx.get(key) is not None:
        raise ReplayedRequest(f"attestation {request_id} already exists")
    entry = {
        "id": request_id,
        "issuer": resource.owner,
        "resource": resource.id,
        "subject_ref": subject,
        "predicate": predicate.to_json(),
        "statement": _text(args, "statement", 300),
        "answer": answer,
        **who,
        "issued_ms": ctx.block_time_ms,
        "tx_id": ctx.tx.tx_id.hex(),
    }
    store(ctx, key, entry)
    ctx.emit("sharing.attested", {"id": request_id, "answer": answer})
    return {"id": request_id, "answer": answer}


class AttestationsContract:
    """``issue(entries)``: the owner department records signed yes/no answers to predicates
    about subjects, instead of handing over the records. The result holds, per entry,
    ``{id, answer}`` or ``{error: {code, message}}`` (a refused entry writes nothing)."""

    name = "sharing.attestations"

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        if method != "issue":
            raise UnknownMethod(f"contract {self.name} has no method {method!r}")
        only_fields(args, {"entries"}, "args")
        entries = args.get("entries")
        if type(entries) is not list or not 1 <= len(entries) <= MAX_ATTESTATIONS:
            raise BadArguments(f"entries must be a list of 1 to {MAX_ATTESTATIONS} attestations")
        results: list[dict[str, Any]] = []
        lookups = Lookups(ctx)
        for entry in entries:
            try:
                results.append(issue_attestation(ctx, entry, lookups))
            except GovchainError as exc:
                results.append({"error": {"code": exc.code, "message": exc.message}})
        return {"results": results}


def read_attestation(ctx: CallContext, att_id: str, subject_ref: str) -> dict[str, Any]:
    """For other contracts: return an attestation about ``subject_ref`` (``NotFound`` if there
    is none, or if it is about someone else)."""
    obj = load(ctx, layout.attestation_key(subject_ref, att_id))
    if obj is None:
        raise NotFound(f"no attestation {att_id!r} about this subject")
    result: dict[str, Any] = obj
    return result


def sharing_contracts() -> list[
    KeysContract | CatalogueContract | RecordsContract | GrantsContract | AttestationsContract
]:
    """Return one instance of each data-sharing contract (for the contract registry)."""
    return [
        KeysContract(),
        CatalogueContract(),
        RecordsContract(),
        GrantsContract(),
        AttestationsContract(),
    ]
