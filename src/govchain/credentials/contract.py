"""The ``credentials`` system contract: issuance notarised on-chain, status lists, e-bills.

Entry points (the signer's department is the issuer; any member role of it may call them, the
node signs with its department's service member):

- ``allocate(count)``: reserve ``count`` consecutive status indices of the department (a
  licence gets its index from the licence registry instead, in the transaction issuing it);
- ``issue(entries)``: notarise a batch of issued credentials, each ``{hash, type, holder,
  index}`` (plus ``bill`` for an e-bill, ``of`` for the SD-JWT form of an issued credential):
  one transaction records many credentials, each under
  its hash, so the issue time of every one is the block's and provable by the receipt;
- ``set_status(index, purpose, on, reason)``: revoke, suspend or reinstate;
- ``publish_status_list(purpose, list, version, hash)``: anchor the hash of the signed status
  list credential showing version ``version`` of the list (refused if the list has changed);
- ``reimburse(hash, unit)``: record that ``unit`` reimbursed an e-bill: once, ever;
- ``reverse(hash, reason, entry)``: red-letter reversal (红冲): record the reversing bill
  ``entry`` (negative amount, ``reverses`` the original), mark the original reversed and set
  its revocation bit.

Views: ``credential``, ``held``, ``status``, ``bill``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from govchain.contracts.errors import UnknownMethod
from govchain.credentials import ledger_status as ls
from govchain.errors import Conflict, Forbidden, NotFound, SchemaViolation
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.execution import CallContext
from govchain.procedures import layout

NAME = "credentials"
"""Name transactions use in ``body.contract``."""
MAX_BATCH = 1000
"""Most credentials one ``issue`` call records."""
MAX_HELD = 1000
"""Most credentials the ``held`` view returns."""
MAX_TYPE = 64
MAX_HOLDER = 80
MAX_BILL_NUMBER = 40
MAX_AMOUNT_FEN = 10**13
"""Largest e-bill amount (one hundred billion yuan)."""
HEX = "0123456789abcdef"

CREDENTIAL = ls.PREFIX + b"cred/"
"""``cred/<hash>``: an issued credential's record."""
HELD = ls.PREFIX + b"held/"
"""``held/<holder>/<hash>``: index of a holder's credentials."""
ALTERNATE = ls.PREFIX + b"sd/"
"""``sd/<hash>``: the hash of the SD-JWT VC issued as another form of that credential."""
BILL = ls.PREFIX + b"bill/"
"""``bill/<hash>``: an e-bill's record (status, reimbursement, reversal)."""
BILL_NUMBER = ls.PREFIX + b"billno/"
"""``billno/<issuer>/<number>``: the hash of the bill with that number."""

BILL_ISSUED = "issued"
BILL_REIMBURSED = "reimbursed"
BILL_REVERSED = "reversed"


class AlreadyReimbursed(Conflict):
    """The e-bill was already reimbursed (by ``by``, at ``height``)."""

    code = "already_reimbursed"


class BillReversed(Conflict):
    """The e-bill was reversed by a red-letter bill; it cannot be reimbursed."""

    code = "bill_reversed"


class AlreadyIssued(Conflict):
    """A credential with this hash is already recorded."""

    code = "already_issued"


def credential_key(digest: str) -> bytes:
    """State key of an issued credential's record."""
    return CREDENTIAL + digest.encode()


def alternate_key(digest: str) -> bytes:
    """State key of the hash of a credential's SD-JWT VC form."""
    return ALTERNATE + digest.encode()


def held_prefix(holder: str) -> bytes:
    """Prefix of a holder's credential index."""
    return HELD + holder.encode() + b"/"


def bill_key(digest: str) -> bytes:
    """State key of an e-bill's record."""
    return BILL + digest.encode()


def _load(ctx: CallContext, key: bytes) -> Any:
    raw = ctx.get(key)
    return None if raw is None else orjson.loads(raw)


def _store(ctx: CallContext, key: bytes, value: Any) -> None:
    ctx.put(key, canonical_unchecked(value))


def _digest(value: Any, field: str) -> str:
    if type(value) is not str or len(value) != 64 or value.strip(HEX):
        raise SchemaViolation(f"{field} must be 64 lower-case hex characters", field=field)
    return value


def _text(obj: Mapping[str, Any], key: str, limit: int, field: str) -> str:
    value = obj.get(key)
    if type(value) is not str or not 0 < len(value) <= limit:
        raise SchemaViolation(f"{field} must be text of 1 to {limit} characters", field=field)
    return value


def _bill(obj: Any, field: str, *, reversing: bool) -> dict[str, Any]:
    """Check the on-chain particulars of an e-bill (amounts in integer fen)."""
    if not isinstance(obj, Mapping):
        raise SchemaViolation(f"{field} must be an object", field=field)
    amount = obj.get("amount_fen")
    if type(amount) is not int or not 0 < abs(amount) <= MAX_AMOUNT_FEN:
        raise SchemaViolation(
            f"{field}.amount_fen must be a non-zero integer (fen)", field=f"{field}.amount_fen"
        )
    if (amount < 0) != reversing:
        raise SchemaViolation(
            f"{field}.amount_fen must be {'negative' if reversing else 'positive'}",
            field=f"{field}.amount_fen",
        )
    return {
        "number": _text(obj, "number", MAX_BILL_NUMBER, f"{field}.number"),
        "seller": _text(obj, "seller", MAX_HOLDER, f"{field}.seller"),
        "amount_fen": amount,
    }


class CredentialsContract:
    """Issuance records, status lists and e-bills (see the module)."""

    name = NAME

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Dispatch one call."""
        dept = ctx.signer_dept
        if method == "allocate":
            count = args.get("count", 1)
            first = ls.allocate(ctx, dept, count)
            return {"dept": dept, "first": first, "count": count}
        if method == "issue":
            entries = args.get("entries")
            if type(entries) is not list or not 0 < len(entries) <= MAX_BATCH:
                raise SchemaViolation(
                    f"entries must be a list of 1 to {MAX_BATCH} credentials", field="entries"
                )
            batch = args.get("batch", "")
            if batch != "":
                _digest(batch, "batch")
            limit = ls.allocated(ctx.get, dept)
            hashes = [self._record(ctx, e, n, limit, None, batch) for n, e in enumerate(entries)]
            ctx.emit("credentials.issued", {"dept": dept, "count": len(hashes)})
            return {
                "dept": dept,
                "count": len(hashes),
                "height": ctx.height,
                "time_ms": ctx.block_time_ms,
            }
        if method == "set_status":
            purpose = ls.check_purpose(args.get("purpose"))
            on = args.get("on", True)
            if type(on) is not bool:
                raise SchemaViolation("on must be true or false", field="on")
            index = args.get("index")
            reason = args.get("reason", "")
            if (
                on
                and purpose == ls.REVOCATION
                and type(index) is int
                and ls.is_set(ctx.get, dept, purpose, index)
            ):
                raise ls.AlreadyRevoked(f"status index {index} of {dept} is already revoked")
            changed = ls.set_status(ctx, dept, index, purpose, on=on, reason=reason)
            return {"dept": dept, "index": index, "purpose": purpose, "set": on, "changed": changed}
        if method == "publish_status_list":
            return self._publish(ctx, args)
        if method == "reimburse":
            return self._reimburse(ctx, args)
        if method == "reverse":
            return self._reverse(ctx, args)
        raise UnknownMethod(f"contract {self.name} has no method {method!r}")

    def _record(
        self,
        ctx: CallContext,
        entry: Any,
        n: int,
        limit: int,
        reverses: str | None,
        batch: str = "",
    ) -> str:
        """Record one issued credential (and its bill); return its hash."""
        where = f"entries[{n}]"
        if not isinstance(entry, Mapping):
            raise SchemaViolation(f"{where} must be an object", field=where)
        digest = _digest(entry.get("hash"), f"{where}.hash")
        kind = _text(entry, "type", MAX_TYPE, f"{where}.type")
        holder = _text(entry, "holder", MAX_HOLDER, f"{where}.holder")
        index = entry.get("index")
        if type(index) is not int or not 0 <= index < limit:
            raise SchemaViolation(
                f"{where}.index must be a status index allocated by {ctx.signer_dept}",
                field=f"{where}.index",
            )
        key = credential_key(digest)
        if ctx.get(key) is not None:
            raise AlreadyIssued(f"credential {digest} is already recorded", field=f"{where}.hash")
        record: dict[str, Any] = {
            "hash": digest,
            "issuer": ctx.signer_dept,
            "type": kind,
            "holder": holder,
            "index": index,
            "height": ctx.height,
            "time_ms": ctx.block_time_ms,
            "case": ctx.tx.case,
            "tx_id": ctx.tx.tx_id.hex(),
            # Where the issuing node keeps the signed documents: a content-store file of the
            # whole batch, and this credential's position in it.
            "batch": batch,
            "position": n,
        }
        of = entry.get("of")
        if of is not None:
            # Another form (an SD-JWT VC) of a credential this issuer issued to this holder.
            original = _load(ctx, credential_key(_digest(of, f"{where}.of")))
            if original is None or (original["issuer"], original["holder"]) != (
                ctx.signer_dept,
                holder,
            ):
                raise NotFound(f"{where}.of names no credential of this issuer and holder")
            record["of"] = of
            ctx.put(alternate_key(of), canonical_unchecked(digest))
        if "bill" in entry:
            bill = _bill(entry["bill"], f"{where}.bill", reversing=reverses is not None)
            number_key = BILL_NUMBER + ctx.signer_dept.encode() + b"/" + bill["number"].encode()
            if ctx.get(number_key) is not None:
                raise Conflict(
                    f"bill number {bill['number']} is already used by {ctx.signer_dept}",
                    field=f"{where}.bill.number",
                )
            ctx.put(number_key, canonical_unchecked(digest))
            self._check_seller(ctx, bill["seller"], f"{where}.bill.seller")
            _store(
                ctx,
                bill_key(digest),
                {
                    **bill,
                    "hash": digest,
                    "issuer": ctx.signer_dept,
                    "payer": holder,
                    "index": index,
                    "status": BILL_ISSUED,
                    "issued_height": ctx.height,
                    "reverses": reverses,
                    "reimbursed": None,
                    "reversed": None,
                },
            )
            record["bill"] = bill["number"]
        elif reverses is not None:
            raise SchemaViolation("a reversing entry must be a bill", field=f"{where}.bill")
        _store(ctx, key, record)
        ctx.put(held_prefix(holder) + digest.encode(), b"1")
        return digest

    def _check_seller(self, ctx: CallContext, seller: str, field: str) -> None:
        """A bill is sold by the issuing department itself, or by an enterprise whose agent is
        the transaction's actor: the department's platform issues it on the enterprise's behalf
        (as the tax bureau's platform does for 全电发票)."""
        if seller == ctx.signer_dept:
            return
        if ctx.get(layout.agent_key(ctx.tx.actor, seller)) is None:
            raise Forbidden(
                f"{ctx.tx.actor} does not act for {seller}; only its agents issue its bills",
                field=field,
            )

    def _publish(self, ctx: CallContext, args: Mapping[str, Any]) -> Any:
        dept = ctx.signer_dept
        purpose = ls.check_purpose(args.get("purpose"))
        list_no, version = args.get("list"), args.get("version")
        if type(list_no) is not int or not 0 <= list_no <= ls.MAX_ALLOCATE:
            raise SchemaViolation("list must be a list number", field="list")
        current = ls.list_version(ctx.get, dept, purpose, list_no)
        if version != current:
            raise Conflict(
                f"the {purpose} list {list_no} of {dept} is at version {current}, not {version}",
                field="version",
            )
        record = {
            "dept": dept,
            "purpose": purpose,
            "list": list_no,
            "version": current,
            "hash": _digest(args.get("hash"), "hash"),
            "height": ctx.height,
            "time_ms": ctx.block_time_ms,
        }
        _store(ctx, ls.published_key(dept, purpose, list_no), record)
        ctx.emit("credentials.status_list_published", record)
        return record

    def _bill_of(self, ctx: CallContext, args: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        digest = _digest(args.get("hash"), "hash")
        bill = _load(ctx, bill_key(digest))
        if bill is None:
            raise NotFound(f"no e-bill with hash {digest}", hash=digest)
        result: dict[str, Any] = bill
        return digest, result

    def _reimburse(self, ctx: CallContext, args: Mapping[str, Any]) -> Any:
        digest, bill = self._bill_of(ctx, args)
        unit = _text(args, "unit", MAX_HOLDER, "unit")
        if bill["reverses"] is not None:
            raise SchemaViolation("a red-letter (reversing) bill is not reimbursed", field="hash")
        if bill["status"] == BILL_REVERSED:
            raise BillReversed(
                f"bill {bill['number']} was reversed at height {bill['reversed']['height']}",
                hash=digest,
            )
        done = bill["reimbursed"]
        if done is not None:
            raise AlreadyReimbursed(
                f"bill {bill['number']} was already reimbursed by {done['unit']} "
                f"at height {done['height']}",
                hash=digest,
                by=done["unit"],
                height=done["height"],
            )
        bill["status"] = BILL_REIMBURSED
        bill["reimbursed"] = {
            "unit": unit,
            "by": ctx.tx.signer,
            "case": ctx.tx.case,
            "height": ctx.height,
            "time_ms": ctx.block_time_ms,
        }
        _store(ctx, bill_key(digest), bill)
        ctx.emit("credentials.bill_reimbursed", {"hash": digest, "unit": unit})
        return bill

    def _reverse(self, ctx: CallContext, args: Mapping[str, Any]) -> Any:
        digest, bill = self._bill_of(ctx, args)
        reason = _text(args, "reason", ls.MAX_REASON, "reason")
        if bill["issuer"] != ctx.signer_dept:
            raise Forbidden(f"only {bill['issuer']}, the bill's issuer, may reverse it")
        if bill["reverses"] is not None:
            raise SchemaViolation("a red-letter bill cannot itself be reversed", field="hash")
        if bill["status"] == BILL_REVERSED:
            raise Conflict(f"bill {bill['number']} is already reversed", field="hash")
        if bill["status"] == BILL_REIMBURSED:
            raise Conflict(
                f"bill {bill['number']} was reimbursed by {bill['reimbursed']['unit']}; "
                "it must be returned before it is reversed",
                field="hash",
            )
        entry = args.get("entry")
        limit = ls.allocated(ctx.get, ctx.signer_dept)
        if not isinstance(entry, Mapping) or not isinstance(entry.get("bill"), Mapping):
            raise SchemaViolation("entry must be the reversing bill", field="entry")
        if entry["bill"].get("amount_fen") != -bill["amount_fen"]:
            raise SchemaViolation(
                "the reversing bill's amount must be the original's, negated",
                field="entry.bill.amount_fen",
            )
        batch = entry.get("batch", "")
        if batch != "":
            _digest(batch, "entry.batch")
        reversing = self._record(ctx, entry, 0, limit, digest, batch)
        bill["status"] = BILL_REVERSED
        bill["reversed"] = {
            "by": reversing,
            "reason": reason,
            "height": ctx.height,
            "time_ms": ctx.block_time_ms,
        }
        _store(ctx, bill_key(digest), bill)
        ls.set_status(ctx, bill["issuer"], bill["index"], ls.REVOCATION, on=True, reason=reason)
        ctx.emit("credentials.bill_reversed", {"hash": digest, "by": reversing})
        return {"hash": digest, "reversed_by": reversing, "height": ctx.height}

    def view(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Run a read-only method."""
        if method == "credential":
            digest = _digest(args.get("hash"), "hash")
            record = _load(ctx, credential_key(digest))
            if record is None:
                raise NotFound(f"no credential with hash {digest} was issued", hash=digest)
            return record
        if method == "held":
            holder = _text(args, "holder", MAX_HOLDER, "holder")
            prefix = held_prefix(holder)
            return [
                _load(ctx, credential_key(key[len(prefix) :].decode()))
                for key, _ in ctx.scan(prefix, MAX_HELD)
            ]
        if method == "status":
            dept = _text(args, "dept", MAX_HOLDER, "dept")
            purpose = ls.check_purpose(args.get("purpose"))
            list_no = args.get("list", 0)
            if type(list_no) is not int or list_no < 0:
                raise SchemaViolation("list must be a list number", field="list")
            prefix = ls.bit_prefix(dept, purpose, list_no)
            return {
                "dept": dept,
                "purpose": purpose,
                "list": list_no,
                "version": ls.list_version(ctx.get, dept, purpose, list_no),
                "set": [int(k[len(prefix) :]) for k, _ in ctx.scan(prefix, ls.LIST_SIZE)],
                "published": ls.published(ctx.get, dept, purpose, list_no),
                "allocated": ls.allocated(ctx.get, dept),
            }
        if method == "bill":
            return self._bill_of(ctx, args)[1]
        raise UnknownMethod(f"contract {self.name} has no view {method!r}")
