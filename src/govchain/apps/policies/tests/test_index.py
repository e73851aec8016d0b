"""The analytics extractors of enterprise policies: well-formed tables, and rows drawn from
real committed calls of the contract (on the SDK's in-memory network), one value per
column."""

from __future__ import annotations

import re
from typing import Any

import orjson

from govchain.analytics.extract import TxFacts, check_extractor
from govchain.apps.policies.app import APP
from govchain.apps.policies.index import EXTRACTORS
from govchain.apps.policies.rules import shipped_policies
from govchain.apps.policies.tests.test_contract import RD_FACTS, _enterprise, _open_case
from govchain.ledger.receipts import Receipt
from govchain.sdk.testing import ContractHarness

RD = next(p for p in shipped_policies() if p["id"] == "zj-rd-expense-support")


def _columns(ddl: str) -> int:
    inner = ddl[ddl.index("(") + 1 : ddl.rindex(")")]
    return len([c for c in re.split(r",\s*", inner) if c.strip()])


def _facts(method: str, args: dict[str, Any], receipt: Receipt, member: str, actor: str) -> TxFacts:
    return TxFacts(
        height=1, position=0, tx_id="ab" * 32, time_ms=0, contract="policies", method=method,
        sender=member, department=member.split("/")[0], args=args, ok=True,
        result=receipt.result, actor=actor,
    )  # fmt: skip


def test_the_tables_are_index_tables() -> None:
    for ex in EXTRACTORS:
        check_extractor(ex)
    assert len({ex.table for ex in EXTRACTORS}) == len(EXTRACTORS) == 6


def test_rows_of_real_calls_fill_every_column() -> None:
    h = ContractHarness.for_app(APP)
    uscc = _enterprise(h, 21)
    facts = [{"uscc": uscc, "attribute": k, "value": v} for k, v in RD_FACTS.items()]
    number = _open_case(h, RD, uscc)
    calls: list[tuple[str, dict[str, Any], str, str]] = [
        ("propose", {"policy": RD}, "tax/officer", "p1"),
        ("approve", {"policy_id": RD["id"], "version": 1}, "tax/admin", "p2"),
        ("attest", {"facts": facts}, "tax/officer", "p3"),
        ("grant", {"policy_id": RD["id"], "uscc": uscc, "case": number}, "tax/admin", "engine"),
        ("decline", {"policy_id": RD["id"], "uscc": uscc, "reason": "不需要"}, "tax/admin",
         "person/legal-rep-1"),
    ]  # fmt: skip
    by_method = {m: ex for ex in EXTRACTORS for m in ex.methods}
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for method, args, member, actor in calls:
        receipt = h.call(method, args, member=member, actor=actor)
        assert receipt.status == "ok", receipt.error
        ex = by_method[method]
        rows = list(ex.rows(_facts(method, args, receipt, member, actor)))
        assert all(len(r) == _columns(ex.ddl) for r in rows), ex.table
        tables[ex.table] = rows
    assert [r[:4] for r in tables["policy_attestations"]][1][1:] == (
        uscc, "rd_share_bps", "450",
    )  # fmt: skip
    grant = tables["policy_grants"][0]
    assert grant[:4] == (RD["id"], 1, uscc, 5_000_000)
    assert {f["attribute"] for f in orjson.loads(grant[4])} == set(RD_FACTS)
    assert grant[5] == number
    assert tables["policy_declines"][0][:4] == (RD["id"], uscc, "不需要", "person/legal-rep-1")
    assert tables["policy_proposals"][0][:4] == (RD["id"], 1, "tax", "automatic")
