"""E-bills (电子票据) as credentials: a department's non-tax receipt (财政电子票据) or an
enterprise's invoice issued through the tax department's platform (the platform signs, the
enterprise is the payee), and red-letter reversal bills (红冲).

A bill is identified by its code (票据代码: region, bill type, year) and number (票据号码:
the issuer's status index, ten digits, so numbers never repeat for an issuer); its check code
(校验码) is the first six decimal digits of the suite hash over code, number, amount and date,
so a clerk typing a bill in by hand detects a typo. Amounts are integer fen.

On-chain the contract records the bill's number, payee and amount with the credential's hash
(``contract.py``): reimbursement is recorded once, and a reversed bill is refused. The
functions at the end issue, reimburse and reverse bills through a node's credential service.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from govchain.credentials import contract as cc
from govchain.credentials.contract import MAX_AMOUNT_FEN
from govchain.credentials.holder import BATCH_FORMAT
from govchain.credentials.issuance import Draft, china_date, iso_datetime, secure
from govchain.credentials.licence_terms import BILL_TYPE, CONTEXTS
from govchain.credentials.service import CredentialService, Issued
from govchain.errors import NotFound, SchemaViolation

KIND = "e_bill"
"""Kind recorded on-chain for every e-bill."""
REGION = "3301"
"""Region part of bill codes (Hangzhou)."""
BILL_TYPES = {"non_tax": ("01", "非税收入统一票据"), "invoice": ("02", "电子发票(普通发票)")}
"""Bill types: code digits and name. ``non_tax``: a department's receipt; ``invoice``: an
enterprise's, issued through the tax department's platform."""
MAX_ITEMS = 100
"""Most lines on one bill."""


@dataclass(frozen=True, slots=True)
class BillItem:
    """One line of a bill."""

    name: str
    """What was paid for."""
    quantity: int
    """How many."""
    amount_fen: int
    """Line amount in fen (negative on a reversal bill)."""

    def to_json(self) -> dict[str, Any]:
        """Return the ``billItems`` member of the line."""
        return {
            "type": "BillItem",
            "itemName": self.name,
            "quantity": self.quantity,
            "amountFen": self.amount_fen,
        }


def parse_items(items: Any) -> list[BillItem]:
    """Check bill lines given as JSON ``[{name, quantity, amount_fen}]``."""
    if type(items) is not list or not 0 < len(items) <= MAX_ITEMS:
        raise SchemaViolation(f"items must be a list of 1 to {MAX_ITEMS} lines", field="items")
    out = []
    for n, item in enumerate(items):
        where = f"items[{n}]"
        if not isinstance(item, dict):
            raise SchemaViolation(f"{where} must be an object", field=where)
        name, qty, amount = item.get("name"), item.get("quantity", 1), item.get("amount_fen")
        if type(name) is not str or not 0 < len(name) <= 100:
            raise SchemaViolation(f"{where}.name: 1 to 100 characters", field=f"{where}.name")
        if type(qty) is not int or not 0 < qty <= 1_000_000:
            raise SchemaViolation(f"{where}.quantity: a positive count", field=f"{where}.quantity")
        if type(amount) is not int or not 0 < amount <= MAX_AMOUNT_FEN:
            raise SchemaViolation(
                f"{where}.amount_fen: a positive integer (fen)", field=f"{where}.amount_fen"
            )
        out.append(BillItem(name, qty, amount))
    if sum(i.amount_fen for i in out) > MAX_AMOUNT_FEN:
        raise SchemaViolation("the bill's total is too large", field="items")
    return out


def bill_code(bill_type: str, issue_ms: int) -> str:
    """Return the 8-digit bill code: region, bill type, two-digit year."""
    if bill_type not in BILL_TYPES:
        raise SchemaViolation(f"bill_type must be one of {sorted(BILL_TYPES)}", field="bill_type")
    return f"{REGION}{BILL_TYPES[bill_type][0]}{china_date(issue_ms)[2:4]}"


def bill_number(index: int) -> str:
    """Return the bill number of an issuer's status index (ten digits)."""
    return f"{index:010d}"


def check_code(
    hash_fn: Callable[[bytes], bytes], code: str, number: str, total: int, day: str
) -> str:
    """Return the six-digit check code (校验码) of a bill."""
    digest = hash_fn(f"{code}|{number}|{total}|{day}".encode())
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"


def bill_id(network: str, code: str, number: str) -> str:
    """Return the credential id of a bill."""
    return f"urn:govchain:{network}:bill:{code}-{number}"


def bill_draft(
    *,
    network: str,
    issuer_did: str,
    hash_fn: Callable[[bytes], bytes],
    bill_type: str,
    index: int,
    payee: str,
    payee_id: str,
    payer: str,
    payer_id: str,
    holder: str,
    items: Sequence[BillItem],
    issue_ms: int,
    reverses: str | None = None,
) -> Draft:
    """Return the draft of an e-bill (a reversal bill when ``reverses`` names the original's
    credential id: its lines are the original's, negated)."""
    code = bill_code(bill_type, issue_ms)
    number = bill_number(index)
    sign = -1 if reverses is not None else 1
    lines = [BillItem(i.name, i.quantity, sign * abs(i.amount_fen)) for i in items]
    total = sum(i.amount_fen for i in lines)
    day = china_date(issue_ms)
    subject: dict[str, Any] = {
        "type": "ElectronicBill",
        "billCode": code,
        "billNumber": number,
        "checkCode": check_code(hash_fn, code, number, total, day),
        "billType": BILL_TYPES[bill_type][1],
        "issueDate": day,
        "payer": payer,
        "payerIdentifier": payer_id,
        "payee": payee,
        "payeeIdentifier": payee_id,
        "totalAmountFen": total,
        "currency": "CNY",
        "billItems": [i.to_json() for i in lines],
    }
    if reverses is not None:
        subject["reverses"] = reverses
    credential = {
        "@context": list(CONTEXTS),
        "id": bill_id(network, code, number),
        "type": ["VerifiableCredential", BILL_TYPE],
        "issuer": issuer_did,
        "name": ("红字" if reverses else "") + BILL_TYPES[bill_type][1],
        "validFrom": iso_datetime(issue_ms),
        "credentialSubject": subject,
    }
    return Draft(
        KIND,
        holder,
        credential,
        index,
        {"number": f"{code}-{number}", "seller": payee_id, "amount_fen": total},
    )


# --- on the ledger, through a node's credential service ---------------------------------------


def bill_record(svc: CredentialService, digest: str) -> dict[str, Any]:
    """Return an e-bill's on-chain record."""
    raw = svc.read(cc.bill_key(digest))
    if raw is None:
        raise NotFound(f"no e-bill with hash {digest}", hash=digest)
    found: dict[str, Any] = orjson.loads(raw)
    return found


def issue_bill(
    svc: CredentialService,
    dept: str,
    *,
    bill_type: str,
    payer: str,
    payer_id: str,
    holder: str,
    payee: str,
    payee_id: str,
    items: Sequence[BillItem],
    actor: str,
) -> Issued:
    """Issue one e-bill of ``dept`` (a department's receipt, or an enterprise's invoice
    through ``dept``'s platform when ``payee_id`` is the enterprise's USCC and ``actor``
    acts for it)."""
    index = svc.allocate(dept, 1, actor=actor)
    draft = bill_draft(
        network=svc.network, issuer_did=svc.did(dept), hash_fn=svc.suite.hash,
        bill_type=bill_type, index=index, payee=payee, payee_id=payee_id, payer=payer,
        payer_id=payer_id, holder=holder, items=items, issue_ms=svc.now_ms(),
    )  # fmt: skip
    (issued,) = svc.issue(dept, [draft], actor=actor)
    return issued


def reverse_bill(
    svc: CredentialService, digest: str, reason: str, *, actor: str
) -> tuple[dict[str, Any], Issued]:
    """Red-letter reversal of an issued bill: the reversing bill repeats the original's
    parties and lines with negated amounts."""
    original = svc.document(digest)
    if not isinstance(original, dict):
        raise SchemaViolation("only a JSON-LD e-bill can be reversed", field="hash")
    subject = original["credentialSubject"]
    record = svc.record(digest)
    dept = str(record["issuer"])
    index = svc.allocate(dept, 1, actor=actor)
    bill_type = next(
        (k for k, (_, name) in BILL_TYPES.items() if name == subject.get("billType")), ""
    )
    items = [
        BillItem(str(i["itemName"]), int(i["quantity"]), int(i["amountFen"]))
        for i in subject["billItems"]
    ]
    draft = bill_draft(
        network=svc.network, issuer_did=svc.did(dept), hash_fn=svc.suite.hash,
        bill_type=bill_type, index=index, payee=subject["payee"],
        payee_id=subject["payeeIdentifier"], payer=subject["payer"],
        payer_id=subject["payerIdentifier"], holder=str(record["holder"]), items=items,
        issue_ms=svc.now_ms(), reverses=str(original["id"]),
    )  # fmt: skip
    return record_reversal(svc, digest, draft, reason, actor=actor)


def reimburse(
    svc: CredentialService, dept: str, digest: str, unit: str, *, actor: str
) -> dict[str, Any]:
    """Record that ``unit`` reimbursed a bill, signed for ``dept`` (``AlreadyReimbursed``,
    ``BillReversed``)."""
    args = {"hash": digest, "unit": unit}
    ((_, result),) = svc.commit([svc.call(dept, "reimburse", args, actor=actor)])
    found: dict[str, Any] = result
    return found


def record_reversal(
    svc: CredentialService, digest: str, reversing: Draft, reason: str, *, actor: str
) -> tuple[dict[str, Any], Issued]:
    """Issue the red-letter bill ``reversing`` and mark the original reversed, in one
    transaction; return the contract's result and the issued reversal."""
    original = bill_record(svc, digest)
    dept = str(original["issuer"])
    if reversing.index is None or reversing.bill is None:
        raise SchemaViolation("a reversing bill needs its status index", field="index")
    signer, vm = svc.issuer(dept)
    s = secure(
        reversing,
        reversing.index,
        signer=signer,
        verification_method=vm,
        created_ms=svc.now_ms(),
    )
    data = orjson.dumps({"format": BATCH_FORMAT, "credentials": [s.credential]})
    entry = {**s.entry(), "batch": svc.content.put(data)}
    args = {"hash": digest, "reason": reason, "entry": entry}
    ((tx_id, result),) = svc.commit([svc.call(dept, "reverse", args, actor=actor)])
    issued = Issued(
        s.digest, s.index, s.draft.kind, s.draft.holder, tx_id, result["height"], s.credential
    )
    found: dict[str, Any] = result
    return found, issued
