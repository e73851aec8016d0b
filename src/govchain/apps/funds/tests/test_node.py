"""Fund supervision on an embedded node: the demo data committed through the contract, indexed
by the analytics follower, flagged from the index (each flag on-chain with its inputs), the
flags' precision and recall on the injected anomalies, and a flag handled to its close."""

from __future__ import annotations

import hashlib

import pytest

from govchain.analytics.follow import follower_for
from govchain.apps.funds.evaluation import evaluate
from govchain.apps.funds.flags import rule_findings
from govchain.apps.funds.generator import DemoSet, dataset
from govchain.apps.funds.index import load_data
from govchain.apps.funds.records import Finding
from govchain.apps.funds.service import FundsDesk
from govchain.errors import Conflict, Forbidden, SchemaViolation


@pytest.fixture(scope="module")
def scanned(loaded: FundsDesk) -> FundsDesk:
    """The loaded desk after one scan by the data bureau."""
    loaded.scan("data", "data/officer-1")
    return loaded


def test_index_holds_what_was_committed(loaded: FundsDesk, demo: DemoSet) -> None:
    follower = follower_for(loaded.node)
    assert follower.wait_caught_up(30)
    indexed = load_data(follower.index)
    expected = dataset(demo, lambda b: hashlib.sha256(b).digest())
    assert sorted(indexed.projects) == sorted(expected.projects)
    assert indexed.projects["FP-2025-001"] == expected.projects["FP-2025-001"]
    # The same disbursements (ids assigned by the contract) and evidence, in commit order.
    assert [(d.id, d.amount_fen, d.payee) for d in indexed.disbursements] == [
        (d.id, d.amount_fen, d.payee) for d in expected.disbursements
    ]
    assert [e.digest for e in indexed.evidence] == [e.digest for e in expected.evidence]
    # Heights differ (a block holds many calls on the node): the findings do not.
    assert [(f.rule, f.subject, f.projects) for f in rule_findings(indexed)] == [
        (f.rule, f.subject, f.projects) for f in rule_findings(expected)
    ]


def test_scan_raises_flags_with_their_inputs(scanned: FundsDesk, demo: DemoSet) -> None:
    flags = scanned.flags()
    assert flags, "the demo's anomalies raise flags"
    for f in flags:
        assert f["status"] == "open" and f["dept"] == "data"
        assert f["inputs"] and 0 < f["index_height"] <= scanned.node.ledger.height
    detector = [f for f in flags if f["rule"] == "isolation_forest"]
    assert detector and all(
        set(f["inputs"]["features"]) >= {"milestone_paid_milli", "days_since_previous"}
        and f["inputs"]["score_milli"] >= f["inputs"]["threshold_milli"]
        for f in detector
    )
    # The flags are recorded on-chain; their precision and recall on the injected anomalies.
    findings = [Finding(f["rule"], f["subject"], tuple(f["projects"]), f["inputs"]) for f in flags]
    for score in evaluate(findings, demo.labels):
        assert score.labels > 0
        assert score.precision >= 0.8 and score.recall >= 0.8, score.to_json()


def test_a_second_scan_raises_nothing_new(scanned: FundsDesk) -> None:
    before = len(scanned.flags())
    report = scanned.scan("data", "data/officer-1")
    assert report.raised == () and report.already == before
    assert len(scanned.flags()) == before


def test_owner_departments_are_notified(scanned: FundsDesk, notices: list[tuple[str, str]]) -> None:
    owners = {o for f in scanned.flags() for o in f["owners"]}
    assert {(f"dept:{o}", "funds.flag_raised") for o in owners} <= set(notices)


def test_evidence_is_kept_and_notarised(loaded: FundsDesk) -> None:
    items = loaded.evidence("FP-2025-001")
    assert items
    item = loaded.evidence_item(items[0]["digest"])
    assert item["in_store"] and item["stored"]
    data = loaded.node.content.get(item["digest"])
    assert hashlib.sha256(data).hexdigest() == item["digest"]


def test_a_flag_is_handled_through_to_closing(scanned: FundsDesk) -> None:
    flag = next(f for f in scanned.flags("open") if f["rule"] == "missing_evidence")
    owner = flag["owners"][0]
    with pytest.raises(Forbidden):
        scanned.assign(owner, f"{owner}/officer-1", flag["id"], f"{owner}/officer-1")
    with pytest.raises(SchemaViolation):
        scanned.assign("data", "data/officer-1", flag["id"], "fire/officer-9")
    with pytest.raises(Conflict):
        scanned.close("data", "data/officer-1", flag["id"], "dismissed", "没有说明不能关闭")
    scanned.assign("data", "data/officer-1", flag["id"], f"{owner}/officer-1", "请说明")
    with pytest.raises(Forbidden):
        scanned.explain(owner, f"{owner}/officer-2", flag["id"], "不是被指派的人")
    scanned.explain(owner, f"{owner}/officer-1", flag["id"], "验收报告迟交，已补录。")
    doc = scanned.close("data", "data/approver-1", flag["id"], "confirmed", "证据晚于拨付，属实。")
    closed = doc["flag"]
    assert closed["status"] == "closed" and closed["outcome"] == "confirmed"
    assert [h["event"] for h in closed["handling"]] == ["assign", "explain", "close"]
    assert closed["handling"][1]["actor"] == f"{owner}/officer-1"
    with pytest.raises(Conflict):
        scanned.assign("data", "data/officer-1", flag["id"], f"{owner}/officer-1")


def test_disbursements_over_budget_are_refused(loaded: FundsDesk) -> None:
    project = loaded.project("FP-2025-002")
    left = project["budget_fen"] - project["paid_fen"]
    args = {
        "milestone": project["milestones"][0]["id"],
        "payee": project["payees"][0]["id"],
        "amount_fen": left + 1,
        "paid_on": "2026-12-01",
        "purpose": "超预算拨付",
    }
    with pytest.raises(SchemaViolation) as caught:
        loaded.disburse(project["dept"], "x/officer-1", "FP-2025-002", **args)
    assert caught.value.fields.get("field") == "amount_fen"
