"""E-bills on an embedded node: a department's receipt and an enterprise's invoice issued as
credentials, reimbursement recorded once (the second unit gets a typed conflict, also when both
submit in the same block), red-letter reversal (红冲) that revokes the original."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_issuance_kit import Kit, open_kit

from govchain.credentials import ebills
from govchain.credentials.contract import AlreadyReimbursed, BillReversed
from govchain.credentials.ebills import BillItem, check_code, parse_items
from govchain.credentials.holder import verify_online
from govchain.errors import Forbidden, GovchainError, SchemaViolation

ITEMS = [BillItem("行政事业性收费", 1, 12_000), BillItem("工本费", 2, 800)]


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    yield from open_kit(tmp_path / "net")


def _receipt(kit: Kit, payer: str = "citizen/wang") -> str:
    issued = ebills.issue_bill(
        kit.service,
        "tax",
        bill_type="non_tax",
        payer="王芳",
        payer_id="330106199001011234",
        holder=payer,
        payee="税务局",
        payee_id="tax",
        items=ITEMS,
        actor="tax/sharing",
    )
    return issued.hash


def test_a_department_receipt_is_a_verifiable_bill(kit: Kit) -> None:
    digest = _receipt(kit)
    vc = kit.service.document(digest)
    assert isinstance(vc, dict)
    subject = vc["credentialSubject"]
    assert subject["totalAmountFen"] == 12_800 and subject["currency"] == "CNY"
    assert [i["amountFen"] for i in subject["billItems"]] == [12_000, 800]
    assert subject["billCode"].startswith("330101") and subject["billNumber"] == "0000000000"
    expected = check_code(
        lambda b: hashlib.sha256(b).digest(),  # the intl suite hash
        subject["billCode"],
        subject["billNumber"],
        12_800,
        subject["issueDate"],
    )
    assert subject["checkCode"] == expected and len(expected) == 6
    assert verify_online(kit.service, vc)["ok"] is True
    bill = ebills.bill_record(kit.service, digest)
    assert bill["status"] == "issued" and bill["amount_fen"] == 12_800
    assert [r["hash"] for r in kit.service.held(["citizen/wang"])] == [digest]


def test_bill_lines_are_checked() -> None:
    assert (
        parse_items([{"name": "餐费", "quantity": 1, "amount_fen": 5_000}])[0].amount_fen == 5_000
    )
    for bad in ([], [{"name": "x", "amount_fen": 1.5}], [{"name": "", "amount_fen": 1}]):
        with pytest.raises(SchemaViolation):
            parse_items(bad)


def test_an_enterprise_invoice_needs_an_agent_of_the_enterprise(kit: Kit) -> None:
    uscc = kit.import_enterprise(1, agent="citizen/rep")
    issued = ebills.issue_bill(
        kit.service,
        "tax",
        bill_type="invoice",
        payer="杭州某公司",
        payer_id="91330106MA2XXXXX0X",
        holder="citizen/buyer",
        payee="杭州青禾餐饮有限公司",
        payee_id=uscc,
        items=[BillItem("餐饮服务", 1, 36_500)],
        actor="citizen/rep",
    )
    assert ebills.bill_record(kit.service, issued.hash)["seller"] == uscc
    with pytest.raises(Forbidden):
        ebills.issue_bill(
            kit.service,
            "tax",
            bill_type="invoice",
            payer="x",
            payer_id="x",
            holder="citizen/buyer",
            payee="杭州青禾餐饮有限公司",
            payee_id=uscc,
            items=[BillItem("餐饮服务", 1, 100)],
            actor="citizen/stranger",
        )


def test_a_bill_is_reimbursed_once(kit: Kit) -> None:
    digest = _receipt(kit)
    done = ebills.reimburse(kit.service, "hrss", digest, "hrss", actor="hrss/sharing")
    assert done["reimbursed"]["unit"] == "hrss"
    with pytest.raises(AlreadyReimbursed) as caught:
        ebills.reimburse(kit.service, "customs", digest, "customs", actor="customs/sharing")
    assert "hrss" in caught.value.message


def test_two_units_at_once_exactly_one_succeeds(kit: Kit) -> None:
    digest = _receipt(kit)

    def claim(unit: str) -> str:
        try:
            ebills.reimburse(kit.service, unit, digest, unit, actor=f"{unit}/sharing")
        except GovchainError as exc:
            return exc.code
        return "ok"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(claim, ["hrss", "customs"]))
    assert outcomes == ["already_reimbursed", "ok"]


def test_red_letter_reversal(kit: Kit) -> None:
    digest = _receipt(kit)
    original = kit.service.document(digest)
    assert isinstance(original, dict)
    result, red = ebills.reverse_bill(kit.service, digest, "开票信息有误", actor="tax/sharing")
    assert result["reversed_by"] == red.hash
    subject = red.credential["credentialSubject"]
    assert subject["totalAmountFen"] == -12_800 and subject["reverses"] == original["id"]
    assert red.credential["name"].startswith("红字")
    assert verify_online(kit.service, red.credential)["ok"] is True
    refused = verify_online(kit.service, original)
    assert refused["failed"] == "status"
    assert ebills.bill_record(kit.service, digest)["status"] == "reversed"
    with pytest.raises(BillReversed):
        ebills.reimburse(kit.service, "hrss", digest, "hrss", actor="hrss/sharing")
    with pytest.raises(GovchainError):
        ebills.reverse_bill(kit.service, digest, "again", actor="tax/sharing")
