"""The read log: the contract the owner's node commits every read with, before answering it.

``sharing.reads.log(entries)`` takes one or more reads (the node groups the reads that arrive
together into one transaction). For each entry the reader's signed request is checked again
(signature, member, clock) and so is the access rule at block time; the records must exist,
be unerased and belong to the request's subject. A failing entry is refused alone (its error is
in the result, and the node returns nothing for it); the others are logged. An entry is stored
under the subject reference and the request id, which also makes a replayed request fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govchain.contracts.errors import BadArguments, UnknownMethod
from govchain.errors import Forbidden, GovchainError, NotFound, SchemaViolation
from govchain.ledger.execution import CallContext, MemberRecord
from govchain.sharing import layout
from govchain.sharing.access import check_read
from govchain.sharing.contracts import (
    DATA_ROLES,
    Lookups,
    load,
    owner_only,
    store,
)
from govchain.sharing.errors import RecordErased, ReplayedRequest
from govchain.sharing.model import field_list, only_fields, record_id, resource_id
from govchain.sharing.requests import (
    REQUEST_DOMAIN,
    VERIFIED,
    SignedRequest,
    bad_signature,
    check_request,
    parse_request,
    suite_of_key,
)

MAX_RECORDS_PER_READ = 100
"""Most records one read may return."""
MAX_ENTRIES = 256
"""Most reads one log transaction may carry."""
READ_ARGS = {"resource", "subject", "fields", "grant", "records"}
"""Arguments of a read request."""


def read_args(args: Any) -> dict[str, Any]:
    """Validate a read request's arguments."""
    args = only_fields(args, READ_ARGS, "read request args")
    subject = args.get("subject")
    if type(subject) is not str or not 1 <= len(subject) <= 128:
        raise SchemaViolation("subject must be an id string of 1 to 128 characters")
    grant = args.get("grant", "")
    if type(grant) is not str or len(grant) > 80:
        raise SchemaViolation("grant must be a grant id (or empty for the owner)")
    records = args.get("records")
    if records is not None:
        if type(records) is not list or len(records) > MAX_RECORDS_PER_READ:
            raise SchemaViolation(f"records must be a list of at most {MAX_RECORDS_PER_READ}")
        records = [record_id(r) for r in records]
    return {
        "resource": resource_id(args.get("resource")),
        "subject": subject,
        "fields": field_list(args.get("fields")),
        "grant": grant,
        "records": records,
    }


def log_read(
    ctx: CallContext,
    args: Mapping[str, Any],
    request: SignedRequest,
    member: MemberRecord,
    lookups: Lookups | None = None,
) -> dict[str, Any]:
    """Check and store one read log entry whose request signature verified; raise the reason
    if it may not be logged."""
    if member.role not in DATA_ROLES:
        raise Forbidden(f"role {member.role!r} may not read shared data")
    shared = lookups or Lookups(ctx)
    ra = read_args(request.args)
    resource = shared.resource(ra["resource"])
    owner_only(ctx, resource)
    grant = shared.grant(ra["grant"]) if ra["grant"] else None
    check_read(
        resource,
        grant,
        reader=member.dept,
        purpose=request.purpose,
        fields=ra["fields"],
        now_ms=ctx.block_time_ms,
    )
    records = args.get("records")
    if type(records) is not list or len(records) > MAX_RECORDS_PER_READ:
        raise BadArguments(f"records must be a list of at most {MAX_RECORDS_PER_READ} ids")
    suite = suite_of_key(member.public_key)
    subject_ref = layout.subject_ref(suite, request.chain, ra["subject"])
    for rid in records:
        entry = load(ctx, layout.record_key(resource.id, record_id(rid)))
        if entry is None or entry["subject_ref"] != subject_ref:
            raise NotFound(f"no record {rid!r} of this subject in {resource.id!r}")
        if entry["erased"] is not None:
            raise RecordErased(f"record {rid!r} was erased", record=rid)
    request_id = request.request_id(suite)
    key = layout.read_key(subject_ref, request_id)
    if ctx.get(key) is not None:
        raise ReplayedRequest(f"read request {request_id} was already served")
    store(
        ctx,
        key,
        {
            "request_id": request_id,
            "resource": resource.id,
            "owner": resource.owner,
            "reader_dept": member.dept,
            "reader": request.signer,
            "actor": request.actor,
            "case": request.case,
            "purpose": request.purpose,
            "grant": ra["grant"],
            "records": list(records),
            "fields": list(ra["fields"]),
            "read_ms": ctx.block_time_ms,
            "tx_id": ctx.tx.tx_id.hex(),
        },
    )
    ctx.emit("sharing.read", {"resource": resource.id, "request_id": request_id})
    return {"request_id": request_id, "records": len(records), "tx_id": ctx.tx.tx_id.hex()}


class ReadsContract:
    """``log(entries)``: log reads; the result holds, per entry, ``{request_id, records}`` or
    ``{error: {code, message}}``."""

    name = "sharing.reads"

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        if method != "log":
            raise UnknownMethod(f"contract {self.name} has no method {method!r}")
        only_fields(args, {"entries"}, "args")
        entries = args.get("entries")
        if type(entries) is not list or not 1 <= len(entries) <= MAX_ENTRIES:
            raise BadArguments(f"entries must be a list of 1 to {MAX_ENTRIES} read log entries")
        # Every entry's request is parsed and its member looked up first, so that all the
        # signatures are verified in one batch (on every core when the group is large).
        prepared: list[tuple[Mapping[str, Any], SignedRequest, MemberRecord] | GovchainError] = []
        lookups = Lookups(ctx)
        for entry in entries:
            try:
                e = only_fields(entry, {"request", "records"}, "read log entry")
                request = parse_request(e.get("request"))
                member = check_request(
                    request,
                    chain=ctx.tx.chain,
                    read_state=lookups.get,
                    now_ms=ctx.block_time_ms,
                    kind="read",
                )
                prepared.append((e, request, member))
            except GovchainError as exc:
                prepared.append(exc)
        checked = [p for p in prepared if not isinstance(p, GovchainError)]
        valid = iter(
            VERIFIED.verify_many(
                suite_of_key(checked[0][2].public_key),
                [(m.public_key, REQUEST_DOMAIN + r.body_bytes, r.signature) for _, r, m in checked],
            )
            if checked
            else []
        )
        results: list[dict[str, Any]] = []
        for p in prepared:
            try:
                if isinstance(p, GovchainError):
                    raise p
                if not next(valid):
                    raise bad_signature(p[1])
                results.append(log_read(ctx, *p, lookups))
            except GovchainError as exc:  # refused alone: it wrote nothing
                results.append({"error": {"code": exc.code, "message": exc.message}})
        return {"results": results}
