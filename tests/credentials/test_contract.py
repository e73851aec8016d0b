"""The ``credentials`` system contract on an in-memory network: status indices allocated in
the contract, status bits flipped by the licence registry in the same transaction, issuance
records, status-list anchors, e-bill reimbursement once and red-letter reversal. Every refusal
leaves a failed receipt with a typed code and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.credentials import ledger_status as ls
from govchain.procedures.uscc import issue_uscc
from govchain.sdk.testing import NetworkHarness

DAY_MS = 86_400_000


@pytest.fixture
def h() -> NetworkHarness:
    return NetworkHarness()


def _import(h: NetworkHarness, uscc: str, name: str = "杭州瑞丰科技有限公司") -> None:
    ent = {
        "uscc": uscc,
        "name": name,
        "division": "330106",
        "legal_rep_name": "张敏",
        "legal_rep_ref": "cd" * 32,
        "industry": "65",
        "capital_fen": 5_000_000_00,
        "address": "杭州市西湖区天目山路1号",
        "scope": "软件开发；信息技术咨询服务",
        "agents": ["citizen/rep"],
        "established_ms": h.time_ms - 400 * DAY_MS,
    }
    h.must("registry", "import_enterprise", {"enterprise": ent})


def _credential_state(h: NetworkHarness) -> list[tuple[bytes, Any]]:
    return [(k, v.value) for k, v in h.ledger.state.iter_range(ls.PREFIX)]


def _bill(n: int, index: int, amount: int = 12_800, **extra: Any) -> dict[str, Any]:
    return {
        "hash": f"{n:064x}",
        "type": "EBill",
        "holder": "citizen/payer",
        "index": index,
        "bill": {"number": f"33010026{n:08d}", "seller": "tax", "amount_fen": amount},
        **extra,
    }


def test_a_licence_gets_a_status_index_and_revocation_flips_its_bit_in_the_same_tx(
    h: NetworkHarness,
) -> None:
    first, second = issue_uscc("330106", 9_100_001), issue_uscc("330106", 9_100_002)
    _import(h, first)
    _import(h, second, "杭州青禾餐饮有限公司")
    lic1 = h.view("registry", "licence", {"number": first})
    lic2 = h.view("registry", "licence", {"number": second})
    assert (lic1["status_index"], lic2["status_index"]) == (0, 1)
    status = h.view("credentials", "status", {"dept": "market", "purpose": "revocation"})
    assert status["set"] == [] and status["allocated"] == 2 and status["version"] == 0

    receipt = h.call("registry", "revoke", {"uscc": second, "reason": "虚假登记"})
    assert receipt.status == "ok"
    # The licence revocation and the status bit are written by the same transaction.
    kinds = [e["type"] for e in receipt.events]
    assert "registry.licence_revoked" in kinds and "credentials.status" in kinds
    status = h.view("credentials", "status", {"dept": "market", "purpose": "revocation"})
    assert status["set"] == [1] and status["version"] == 1
    assert not ls.is_set(lambda k: h.ledger.state.get_value(k), "market", "revocation", 0)


def test_allocation_is_sequential_per_department(h: NetworkHarness) -> None:
    assert h.must("credentials", "allocate", {"count": 5}, member="tax/admin")["first"] == 0
    assert h.must("credentials", "allocate", {"count": 2}, member="tax/admin")["first"] == 5
    assert h.must("credentials", "allocate", {"count": 1}, member="hrss/admin")["first"] == 0
    bad = h.call("credentials", "allocate", {"count": 0}, member="tax/admin")
    assert bad.status == "failed" and bad.error["code"] == "schema_violation"


def test_issue_records_each_credential_once_and_indexes_its_holder(h: NetworkHarness) -> None:
    h.must("credentials", "allocate", {"count": 3}, member="hrss/admin")
    entries = [
        {
            "hash": f"{i:064x}",
            "type": "SocialInsuranceCertificate",
            "holder": "citizen/a",
            "index": i,
        }
        for i in range(3)
    ]
    done = h.must("credentials", "issue", {"entries": entries}, member="hrss/admin")
    assert done["count"] == 3 and done["dept"] == "hrss"
    held = h.view("credentials", "held", {"holder": "citizen/a"})
    assert [c["index"] for c in held] == [0, 1, 2]
    assert {c["issuer"] for c in held} == {"hrss"}
    record = h.view("credentials", "credential", {"hash": f"{1:064x}"})
    assert record["height"] == done["height"] and record["time_ms"] == done["time_ms"]

    before = _credential_state(h)
    again = h.call("credentials", "issue", {"entries": entries[:1]}, member="hrss/admin")
    assert again.status == "failed" and again.error["code"] == "already_issued"
    unallocated = {**entries[0], "hash": "ee" * 32, "index": 3}
    beyond = h.call("credentials", "issue", {"entries": [unallocated]}, member="hrss/admin")
    assert beyond.status == "failed" and "index" in beyond.error["message"]
    # Another department's allocation does not cover this one's indices.
    other = h.call(
        "credentials", "issue", {"entries": [{**unallocated, "index": 0}]}, member="tax/admin"
    )
    assert other.status == "failed"
    assert _credential_state(h) == before


def test_status_suspension_toggles_and_revocation_is_final(h: NetworkHarness) -> None:
    h.must("credentials", "allocate", {"count": 2}, member="tax/admin")
    args = {"index": 1, "purpose": "suspension", "reason": "核查中"}
    assert h.must("credentials", "set_status", args, member="tax/admin")["changed"] is True
    view = h.view("credentials", "status", {"dept": "tax", "purpose": "suspension"})
    assert view["set"] == [1] and view["version"] == 1
    h.must("credentials", "set_status", {**args, "on": False}, member="tax/admin")
    view = h.view("credentials", "status", {"dept": "tax", "purpose": "suspension"})
    assert view["set"] == [] and view["version"] == 2

    revoke = {"index": 0, "purpose": "revocation", "reason": "依法撤销"}
    h.must("credentials", "set_status", revoke, member="tax/admin")
    twice = h.call("credentials", "set_status", revoke, member="tax/admin")
    assert twice.status == "failed" and twice.error["code"] == "already_revoked"
    undo = h.call("credentials", "set_status", {**revoke, "on": False}, member="tax/admin")
    assert undo.status == "failed" and undo.error["code"] == "conflict"
    foreign = h.call("credentials", "set_status", revoke | {"index": 1}, member="hrss/admin")
    assert foreign.status == "failed" and foreign.error["code"] == "schema_violation"


def test_publishing_a_list_anchors_the_version_it_shows(h: NetworkHarness) -> None:
    h.must("credentials", "allocate", {"count": 1}, member="tax/admin")
    pub = {"purpose": "revocation", "list": 0, "version": 0, "hash": "aa" * 32}
    record = h.must("credentials", "publish_status_list", pub, member="tax/admin")
    assert record["version"] == 0 and record["dept"] == "tax"
    h.must(
        "credentials",
        "set_status",
        {"index": 0, "purpose": "revocation", "reason": "x"},
        member="tax/admin",
    )
    stale = h.call("credentials", "publish_status_list", pub, member="tax/admin")
    assert stale.status == "failed" and stale.error["code"] == "conflict"
    h.must("credentials", "publish_status_list", pub | {"version": 1}, member="tax/admin")
    view = h.view("credentials", "status", {"dept": "tax", "purpose": "revocation"})
    assert view["published"]["version"] == 1 and view["published"]["hash"] == "aa" * 32


def test_a_bill_is_reimbursed_once(h: NetworkHarness) -> None:
    h.must("credentials", "allocate", {"count": 1}, member="tax/admin")
    h.must("credentials", "issue", {"entries": [_bill(1, 0)]}, member="tax/admin")
    digest = f"{1:064x}"
    done = h.must("credentials", "reimburse", {"hash": digest, "unit": "hrss"}, member="hrss/admin")
    assert done["status"] == "reimbursed" and done["reimbursed"]["unit"] == "hrss"
    before = _credential_state(h)
    again = h.call(
        "credentials", "reimburse", {"hash": digest, "unit": "customs"}, member="customs/admin"
    )
    assert again.status == "failed" and again.error["code"] == "already_reimbursed"
    assert "hrss" in again.error["message"]
    assert _credential_state(h) == before
    missing = h.call(
        "credentials", "reimburse", {"hash": "00" * 32, "unit": "x"}, member="hrss/admin"
    )
    assert missing.status == "failed" and missing.error["code"] == "not_found"


def test_bills_in_one_block_reimbursed_by_two_units_only_the_first_counts(
    h: NetworkHarness,
) -> None:
    h.must("credentials", "allocate", {"count": 1}, member="tax/admin")
    h.must("credentials", "issue", {"entries": [_bill(2, 0)]}, member="tax/admin")
    digest = f"{2:064x}"
    txs = [
        h.transaction("credentials", "reimburse", {"hash": digest, "unit": u}, member=f"{u}/admin")
        for u in ("hrss", "customs")
    ]
    first, second = h.commit(txs)
    assert first.status == "ok" and second.status == "failed"
    assert second.error["code"] == "already_reimbursed"


def test_red_letter_reversal_marks_the_original_and_blocks_reimbursement(
    h: NetworkHarness,
) -> None:
    h.must("credentials", "allocate", {"count": 2}, member="tax/admin")
    h.must("credentials", "issue", {"entries": [_bill(3, 0)]}, member="tax/admin")
    original = f"{3:064x}"
    reversing = _bill(4, 1, amount=-12_800)
    wrong_amount = h.call(
        "credentials",
        "reverse",
        {"hash": original, "reason": "开票错误", "entry": _bill(4, 1, amount=-100)},
        member="tax/admin",
    )
    assert wrong_amount.status == "failed" and wrong_amount.error["code"] == "schema_violation"
    not_issuer = h.call(
        "credentials",
        "reverse",
        {"hash": original, "reason": "开票错误", "entry": reversing},
        member="hrss/admin",
    )
    assert not_issuer.status == "failed" and not_issuer.error["code"] == "forbidden"
    done = h.must(
        "credentials",
        "reverse",
        {"hash": original, "reason": "开票错误", "entry": reversing},
        member="tax/admin",
    )
    assert done["reversed_by"] == f"{4:064x}"
    bill = h.view("credentials", "bill", {"hash": original})
    assert bill["status"] == "reversed" and bill["reversed"]["reason"] == "开票错误"
    red = h.view("credentials", "bill", {"hash": f"{4:064x}"})
    assert red["amount_fen"] == -12_800 and red["reverses"] == original
    status = h.view("credentials", "status", {"dept": "tax", "purpose": "revocation"})
    assert status["set"] == [0]
    refused = h.call(
        "credentials", "reimburse", {"hash": original, "unit": "hrss"}, member="hrss/admin"
    )
    assert refused.status == "failed" and refused.error["code"] == "bill_reversed"
    red_refused = h.call(
        "credentials", "reimburse", {"hash": f"{4:064x}", "unit": "hrss"}, member="hrss/admin"
    )
    assert red_refused.status == "failed"


def test_a_reimbursed_bill_is_not_reversed_and_numbers_are_unique(h: NetworkHarness) -> None:
    h.must("credentials", "allocate", {"count": 3}, member="tax/admin")
    h.must("credentials", "issue", {"entries": [_bill(5, 0)]}, member="tax/admin")
    same_number = {**_bill(5, 1), "hash": "bb" * 32}
    dup = h.call("credentials", "issue", {"entries": [same_number]}, member="tax/admin")
    assert dup.status == "failed" and "number" in dup.error["message"]
    negative = h.call(
        "credentials", "issue", {"entries": [_bill(6, 1, amount=-1)]}, member="tax/admin"
    )
    assert negative.status == "failed" and negative.error["code"] == "schema_violation"
    h.must("credentials", "reimburse", {"hash": f"{5:064x}", "unit": "hrss"}, member="hrss/admin")
    late = h.call(
        "credentials",
        "reverse",
        {"hash": f"{5:064x}", "reason": "错开", "entry": _bill(7, 2, amount=-12_800)},
        member="tax/admin",
    )
    assert late.status == "failed" and late.error["code"] == "conflict"


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.booleans()), max_size=30))
def test_suspension_bits_follow_a_reference_set(ops: list[tuple[int, bool]]) -> None:
    """Any sequence of suspend/reinstate calls leaves exactly the reference set of bits, and
    the version counts the calls that changed something."""
    h = NetworkHarness()
    h.must("credentials", "allocate", {"count": 8}, member="tax/admin")
    expected: set[int] = set()
    flips = 0
    txs = []
    for index, on in ops:
        args = {"index": index, "purpose": "suspension", "on": on, "reason": ""}
        txs.append(h.transaction("credentials", "set_status", args, member="tax/admin"))
        if on != (index in expected):
            flips += 1
        (expected.add if on else expected.discard)(index)
    if txs:
        assert all(r.status == "ok" for r in h.commit(txs))
    view = h.view("credentials", "status", {"dept": "tax", "purpose": "suspension"})
    assert view["set"] == sorted(expected) and view["version"] == flips
