"""Supervision on an embedded node: facts reported by their holders and indexed, a plan whose
draw anyone recomputes from the ledger alone and which cannot be drawn twice, published
results, and alerts recorded with their inputs and delivered to a notice board and a signed,
retried webhook on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from govchain.apps.supervision.alerts import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    Webhook,
    check_signature,
    post_notices,
    post_webhook,
)
from govchain.apps.supervision.demodata import batch_id, generate
from govchain.apps.supervision.indicators import default_indicators
from govchain.apps.supervision.inspections import draw
from govchain.apps.supervision.service import SupervisionDesk
from govchain.errors import Conflict, Forbidden, SchemaViolation, Unavailable
from govchain.node.casedesk import CaseDesk
from govchain.node.notifications import NoticeBoard

N = 300
"""Enterprises of the reduced data set."""
HOLDERS = {
    "tax": "tax",
    "social": "hrss",
    "complaint": "market",
    "abnormal": "market",
    "penalty": "market",
    "inspection": "market",
}


@pytest.fixture(scope="module")
def reported(desk: SupervisionDesk) -> Any:
    """The reduced demo data set, reported by the departments that hold it."""
    data = generate(N)
    for (kind, period), rows in sorted(data.rows.items()):
        dept = HOLDERS[kind]
        desk.report_many(
            dept, f"{dept}/officer", kind, period, rows, batch_id(kind, period, 0)[:-4]
        )
    return data


def plan_doc(plan_id: str, **changes: Any) -> dict[str, Any]:
    inspectors = [
        {"id": f"insp-{i:02d}", "name": f"检查员{i}", "division": d, "related": []}
        for i, d in enumerate(["330102", "330105", "330106", "330108", "330110", "330127"])
    ]
    doc = {
        "id": plan_id,
        "title": "测试抽查计划",
        "filter": {},
        "targets": 12,
        "per_target": 2,
        "delay": 1,
        "weights": {"low": 1, "medium": 2, "high": 4},
        "inspectors": inspectors,
    }
    return {**doc, **changes}


def population(desk: SupervisionDesk, data: Any, risk: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "uscc": p.uscc,
            "division": p.division,
            "industry": p.industry,
            "risk": risk.get(p.uscc, "low"),
            "last": desk.last_inspectors(p.uscc),
        }
        for p in data.profiles[:120]
    ]


def nudge(desk: SupervisionDesk, n: int) -> None:
    """Commit a block (a small report) so the chain moves on."""
    desk.report("tax", "tax/officer", f"nudge-{n:04d}", "tax", "2020-01",
                [["91330100MA0000000X"[:18], "52", "330102", 0]])  # fmt: skip


def test_a_fact_is_reported_by_its_holder_only(desk: SupervisionDesk) -> None:
    row = [["91330102MA2H000001", "5211", "330102", 100]]
    with pytest.raises(Forbidden):
        desk.report("market", "market/officer", "wrong-holder", "tax", "2026-01", row)
    with pytest.raises(SchemaViolation):
        desk.report("tax", "tax/officer", "too-big", "tax", "2026-01", row * 501)


def test_facts_reach_the_index(desk: SupervisionDesk, reported: Any) -> None:
    book = desk.book()
    assert len(book.enterprises()) == N
    assert book.latest("tax") == reported.last
    assert len(book.inputs("tax", [reported.last])) == 1  # 300 rows: one batch


def test_a_score_lists_its_inputs(desk: SupervisionDesk, reported: Any) -> None:
    risky = reported.risky[0]
    doc = desk.score_of(risky)
    assert doc["risk"] == "high"
    facts = [c["fact"] for c in doc["contributions"]]
    assert facts == [f.fact for f in desk.model.factors]
    assert doc["score"] == sum(c["points"] for c in doc["contributions"])
    tax = next(c for c in doc["contributions"] if c["fact"] == "tax_drop_pct")
    assert tax["value"] >= 70 and tax["points"] == tax["weight"]


def test_draw_recomputed_from_the_ledger_and_never_repeated(
    desk: SupervisionDesk, casedesk: CaseDesk, reported: Any
) -> None:
    risk = {s.uscc: s.risk for s in desk.scores()}
    members = population(desk, reported, risk)
    desk.open_plan("market", "market/officer", plan_doc("PLAN-A"), members)
    with pytest.raises(Unavailable):
        desk.draw("market", "market/officer", "PLAN-A")  # the seed block does not exist yet
    nudge(desk, 1)
    done = desk.draw("market", "market/officer", "PLAN-A")
    targets = done["draw"]["targets"]
    assert len(targets) == 12
    # Recomputed from nothing but ledger data: the plan and population in state, the seed
    # block's header.
    plan = desk.plan("PLAN-A")
    header = desk.node.ledger.header(plan["sealed_height"] + plan["delay"]).header
    seed = header.hash(desk.node.ledger.h)
    again = draw(plan, desk.population("PLAN-A"), seed)
    assert list(again.targets) == targets
    assert desk.verify("PLAN-A").ok
    # Conflicts of interest: nobody inspects an enterprise of their own division.
    divisions = {m["uscc"]: m["division"] for m in members}
    pool = {i["id"]: i["division"] for i in plan["inspectors"]}
    assert all(pool[i] != divisions[t["uscc"]] for t in targets for i in t["inspectors"])
    # A second draw is refused, by the service and by the contract.
    with pytest.raises(Conflict):
        desk.draw("market", "market/officer", "PLAN-A")
    args = {"plan_id": "PLAN-A", "seed": "00" * 32, "targets": [], "excluded": []}
    with pytest.raises(Conflict, match="never repeated"):
        casedesk.commit_one(casedesk.sign("market", "supervision", "draw", args, "m"), 30)


def test_a_forged_draw_is_refused_or_detected(
    desk: SupervisionDesk, casedesk: CaseDesk, reported: Any
) -> None:
    members = population(desk, reported, {})
    desk.open_plan("market", "market/officer", plan_doc("PLAN-B", targets=4), members)
    nudge(desk, 2)
    plan, seed, honest = desk.compute_draw("PLAN-B")
    # A target the planner would rather inspect, with an inspector of its own division.
    member = members[0]
    local = next(i["id"] for i in plan["inspectors"] if i["division"] == member["division"])
    other = next(i["id"] for i in plan["inspectors"] if i["division"] != member["division"])
    forged = [{"uscc": member["uscc"], "risk": "low", "inspectors": [local, other]}]
    args = {"plan_id": "PLAN-B", "seed": seed, "targets": forged, "excluded": []}
    with pytest.raises(Conflict, match="same_division"):
        casedesk.commit_one(casedesk.sign("market", "supervision", "draw", args, "m"), 30)
    # Conflict-free but not what the seed gives: recorded, then exposed by verification.
    picks = [t for t in honest.targets][::-1]
    args = {"plan_id": "PLAN-B", "seed": seed, "targets": picks, "excluded": []}
    if picks != list(honest.targets):
        casedesk.commit_one(casedesk.sign("market", "supervision", "draw", args, "m"), 30)
        report = desk.verify("PLAN-B")
        assert not report.ok and "targets differ" in report.problems[0]


def test_results_are_published(desk: SupervisionDesk) -> None:
    target = desk.drawn("PLAN-A")["targets"][0]["uscc"]
    desk.publish("market", "market/officer", "PLAN-A", target, "issues", "未按规定公示年报")
    (result,) = desk.results("PLAN-A")
    assert result["outcome"] == "issues" and result["uscc"] == target
    assert desk.book().latest_value("inspection", target, "2999-12") >= 1


def test_alerts_name_their_inputs(desk: SupervisionDesk, reported: Any) -> None:
    recorded = desk.record_alerts("data", "data/officer")
    by_subject = {a["subject"]: a for a in recorded}
    alert = by_subject["industry-52"]
    assert alert["figures"]["change_permille"] <= -200
    assert alert["inputs"] == sorted(
        {batch_id("tax", reported.last, 0), batch_id("tax", "2026-10", 0)}
    )
    assert desk.record_alerts("data", "data/officer") == []  # once per subject and month
    stored = {a["subject"]: a for a in desk.alerts()}
    assert stored["industry-52"]["inputs"] == alert["inputs"]
    board = NoticeBoard(None)
    name = next(i.name for i in default_indicators() if i.id == alert["indicator"])
    post_notices(board, alert, name)
    (notice,) = board.list("dept:finance")
    assert str(alert["figures"]["previous"]) in notice.body["zh"]


class _Receiver(BaseHTTPRequestHandler):
    fail_first = 0
    seen: list[tuple[bytes, str, str]] = []  # noqa: RUF012 - one receiver per test

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append(
            (body, self.headers[SIGNATURE_HEADER], self.headers[DELIVERY_HEADER])
        )
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"fail_first": 2, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_webhook_is_signed_and_retried(receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    alert = {
        "indicator": "industry-tax-mom",
        "subject": "industry-52",
        "period": "2026-11",
        "figures": {"previous": 100, "current": 60, "change_permille": -400},
        "threshold": -200,
        "inputs": ["b1"],
        "recipients": ["dept:finance"],
    }
    pauses: list[float] = []
    done = post_webhook(Webhook(url, b"k" * 32, backoff_s=0.25), alert, sleep=pauses.append)
    assert done.delivered and done.attempts == 3 and done.status == 204
    assert pauses == [0.25, 0.5]
    body, signature, delivery = handler.seen[-1]
    assert check_signature(b"k" * 32, body, signature)
    assert not check_signature(b"x" * 32, body, signature)
    assert delivery == "industry-tax-mom/industry-52/2026-11"
