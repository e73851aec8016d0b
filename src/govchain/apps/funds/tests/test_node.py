"""Fund supervision on an embedded node: the demo data committed through the contract, indexed
by the analytics follower, flagged from the index (each flag on-chain with its inputs), the
flags' precision and recall on the injected anomalies, and a flag handled in its case (opened
by the raising department) to its close."""

from __future__ import annotations

import hashlib

import pytest

from govchain.analytics.follow import follower_for
from govchain.apps.funds.evaluation import evaluate
from govchain.apps.funds.flags import rule_findings
from govchain.apps.funds.generator import DemoSet, dataset
from govchain.apps.funds.index import load_data
from govchain.apps.funds.records import Finding
from govchain.apps.funds.service import FLAG_SERVICES, FundsDesk
from govchain.errors import Conflict, SchemaViolation
from govchain.procedures.engine import WrongActor


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


def test_every_raised_flag_has_its_case(scanned: FundsDesk) -> None:
    flags = scanned.flags()
    assert flags and all(f["case"] for f in flags)
    for f in flags[:5]:
        case = scanned.casedesk.case(f["case"])
        assert (case["subject"], case["applicant_kind"], case["status"]) == (
            f["id"], "department", "accepted",
        )  # fmt: skip
        assert case["service"] == FLAG_SERVICES[("data", f["owners"][0])]
        assert case["particulars"]["flag"] == f["id"] and case["applicant"] == "data/funds-scan"
        explain = next(s for s in case["steps"] if s["id"] == "explain")
        assert explain["status"] == "open" and f["status"] == "open"


def test_a_flag_is_handled_through_to_closing_in_its_case(scanned: FundsDesk) -> None:
    flag = next(f for f in scanned.flags("open") if f["rule"] == "missing_evidence")
    owner, fid = flag["owners"][0], flag["id"]
    officer, other = f"{owner}/officer-1", f"{owner}/officer-2"
    assert scanned.next_steps(flag, owner, officer, "officer") == ["assign", "explain"]
    assert scanned.next_steps(flag, "data", "data/approver-1", "approver") == []
    with pytest.raises(WrongActor):  # the supervising department does not take the step
        scanned.assign("data", "data/officer-1", fid, "data/officer-1", role="officer")
    with pytest.raises(WrongActor):  # an officer claims for themself; an admin reassigns
        scanned.assign(owner, officer, fid, other, role="officer")
    with pytest.raises(Conflict):
        scanned.close(
            "data", "data/approver-1", fid, "dismissed", "没有说明不能关闭", role="approver"
        )
    doc = scanned.assign(owner, officer, fid, officer, "由本人说明", role="officer")
    assert doc["flag"]["status"] == "assigned" and doc["flag"]["assignee"] == officer
    with pytest.raises(WrongActor):
        scanned.explain(owner, other, fid, "不是认领的人", role="officer")
    scanned.explain(owner, officer, fid, "验收报告迟交，已补录。", role="officer")
    with pytest.raises(WrongActor):  # the decision is the approver's
        scanned.close(
            "data", "data/officer-1", fid, "confirmed", "证据晚于拨付，属实。", role="officer"
        )
    doc = scanned.close(
        "data", "data/approver-1", fid, "confirmed", "证据晚于拨付，属实。", role="approver"
    )
    closed = doc["flag"]
    assert closed["status"] == "closed" and closed["outcome"] == "confirmed"
    assert [h["event"] for h in closed["handling"]] == ["assign", "explain", "close"]
    assert closed["handling"][1]["actor"] == officer
    assert closed["handling"][1]["explanation"] == "验收报告迟交，已补录。"
    assert closed["handling"][2]["reason"] == "证据晚于拨付，属实。"
    case = scanned.casedesk.case(closed["case"])
    assert (case["status"], case["outcome"]) == ("closed", "approved")
    events = [h["event"] for h in case["history"]]
    assert events == ["submitted", "accepted", "claimed", "step_pass", "approved", "closed"]
    with pytest.raises(Conflict):
        scanned.assign(owner, officer, fid, officer, role="officer")


def test_a_dismissed_flag_rejects_its_case(scanned: FundsDesk) -> None:
    flag = next(f for f in scanned.flags("open") if f["rule"] != "missing_evidence")
    owner, fid = flag["owners"][0], flag["id"]
    scanned.assign(owner, f"{owner}/chief", fid, f"{owner}/officer-3", "请说明", role="admin")
    scanned.explain(owner, f"{owner}/officer-3", fid, "单价含征地费用。", role="officer")
    assert scanned.flag(fid)["status"] == "explained"
    doc = scanned.close("data", "data/approver-1", fid, "dismissed", "说明合理。", role="approver")
    case = scanned.casedesk.case(doc["case"])
    assert (case["outcome"], case["reason"]) == ("rejected", "说明合理。")
    assert doc["flag"]["outcome"] == "dismissed"
    assert doc["flag"]["handling"][0]["to"] == f"{owner}/officer-3"


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
