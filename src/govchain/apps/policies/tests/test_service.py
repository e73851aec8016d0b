"""The policy desk on an embedded node: the demo policies published by approval, facts
attested by their holders, matching with a trace naming each fact's department and
attestation, re-matching when facts change, grants decided on-chain without an application,
notices in the enterprise's notification centre, and declining."""

from __future__ import annotations

import copy
import time
from typing import Any

import orjson
import pytest

from govchain.apps.policies.contract import assess
from govchain.apps.policies.demo import fact_rows, synthetic_facts
from govchain.apps.policies.follower import GRANT_SERVICES
from govchain.apps.policies.rules import shipped_policies
from govchain.apps.policies.service import PolicyDesk
from govchain.apps.policies.tests.conftest import AGENT, DEPARTMENTS, import_enterprises
from govchain.errors import Forbidden, SchemaViolation
from govchain.node.node import Node
from govchain.node.notifications import NoticeBoard

DEPTS = {d for d, _ in DEPARTMENTS}
POLICIES = [
    p
    for p in shipped_policies()
    if p["issuer"] in DEPTS and all(a in DEPTS for a in p["approvers"])
]


@pytest.fixture(scope="module")
def world(node: Node, desk: PolicyDesk) -> dict[str, Any]:
    usccs = import_enterprises(desk.casedesk, 36)
    for policy in POLICIES:
        desk.propose(policy["issuer"], f"{policy['issuer']}/officer-1", policy)
        approver = policy["approvers"][0] if policy["approvers"] else policy["issuer"]
        desk.approve(approver, f"{approver}/admin-1", policy["id"], 1)
    enterprises = [node.query("registry", "enterprise", {"uscc": u}) for u in usccs]
    for dept, rows in sorted(fact_rows(enterprises).items()):
        desk.attest(dept, f"{dept}/officer-1", rows)
    counts = desk.refresh()
    return {"usccs": usccs, "counts": counts}


def test_lint_refuses_before_signing(desk: PolicyDesk) -> None:
    bad = copy.deepcopy(POLICIES[0])
    bad["eligibility"] = {
        "and": [{">": [{"var": "employees"}, 10]}, {"<": [{"var": "employees"}, 5]}]
    }
    with pytest.raises(SchemaViolation, match="impossible"):
        desk.propose(bad["issuer"], "x/officer", bad)
    with pytest.raises(Forbidden):
        desk.propose("customs", "x/officer", POLICIES[0] | {"id": "other-dept-policy"})


def test_every_policy_is_published(world: dict[str, Any], desk: PolicyDesk) -> None:
    published = desk.policies("published")
    assert len(published) == len(POLICIES) >= 25
    assert all(r["approved_by"] != r["proposed_by"] for r in published)


def test_match_explains_each_fact_with_its_source(world: dict[str, Any], desk: PolicyDesk) -> None:
    uscc = world["usccs"][0]
    result = desk.match(uscc, everything=True)
    assert len(result["matches"]) == len(POLICIES)
    facts = synthetic_facts(uscc, {"employees": 3, "industry": "6513"})
    for m in result["matches"]:
        for clause in m["clauses"]:
            for check in clause["checks"]:
                for f in check["facts"]:
                    if f["value"] is None:
                        continue
                    if f["attribute"] in facts:
                        assert f["value"] == facts[f["attribute"]]
                        # Attested by the holder (size class: the market regulator's list).
                        assert f["attestation"]
                        assert f["dept"] != "market" or f["attribute"] == "size_class"
                    else:
                        assert f["attestation"] == "registry:" + uscc


def test_bulk_and_scalar_counts_agree(world: dict[str, Any], desk: PolicyDesk) -> None:
    snap = desk.snapshot()
    bulk = {r["policy"]: r for r in desk.match_all()["policies"]}
    for record in desk.policies("published"):
        outcomes = [assess(record["policy"], snap.facts[u]) for u in snap.usccs]
        row = bulk[record["policy"]["id"]]
        assert row["qualifies"] == sum(o["status"] == "qualifies" for o in outcomes)
        assert row["nearly"] == sum(o["status"] == "nearly" for o in outcomes)


def test_automatic_policies_are_granted_and_notified(
    world: dict[str, Any], desk: PolicyDesk, board: NoticeBoard
) -> None:
    assert world["counts"]["grants"] > 0 and world["counts"]["refused"] == 0
    snap = desk.snapshot()
    for g in desk.grants():
        policy = desk.policy(g["policy"])["policy"]
        assert policy["mode"] == "automatic"
        assert assess(policy, snap.facts[g["uscc"]])["status"] == "qualifies"
        assert all(f["attestation"] for f in g["facts"])
        kinds = [n.kind for n in board.list("uscc:" + g["uscc"], limit=200)]
        assert "policy.grant" in kinds


def test_each_grant_is_a_case_the_issuer_opened_and_decided(
    world: dict[str, Any], desk: PolicyDesk, node: Node
) -> None:
    grants = desk.grants()
    assert grants
    for g in grants:
        issuer = desk.policy(g["policy"])["policy"]["issuer"]
        case = desk.casedesk.case(g["case"])
        assert case["service"] == GRANT_SERVICES[issuer]
        assert (case["subject"], case["applicant_kind"], case["applicant"]) == (
            g["uscc"],
            "department",
            f"{issuer}/policy-engine",
        )
        assert (case["status"], case["outcome"]) == ("closed", "approved")
        assert [h["event"] for h in case["history"]] == [
            "submitted", "accepted", "approved", "closed",
        ]  # fmt: skip
        relied = [f["attestation"] for f in g["facts"]]
        assert case["particulars"] == {
            "policy": g["policy"],
            "version": g["version"],
            "amount_fen": g["amount_fen"],
            "attestations": relied,
        }
        # The form hash commits to the form kept with the issuer: the same attestations.
        _, data = desk.casedesk.materials.read(issuer, case["form_hash"], issuer)
        form = orjson.loads(data)
        assert [f["attestation"] for f in form["facts"]] == relied
        assert form["amount_fen"] == g["amount_fen"] and form["uscc"] == g["uscc"]
        about = node.query("cases", "cases_about", {"subject": g["uscc"], "limit": 1000})
        assert g["case"] in [c["number"] for c in about]


def test_a_new_fact_is_matched_and_granted(world: dict[str, Any], desk: PolicyDesk) -> None:
    uscc = next(u for u in world["usccs"] if not desk.snapshot().facts[u].get("aeo_certified"))
    desk.attest(
        "customs",
        "customs/officer-1",
        [{"uscc": uscc, "attribute": "aeo_certified", "value": True}],
    )
    counts = desk.refresh()
    assert counts["enterprises"] == 1 and counts["grants"] >= 1
    grant = next(g for g in desk.grants(uscc) if g["policy"] == "hz-aeo-award")
    assert grant["amount_fen"] == 30_000_000
    # A later change of the fact leaves the decision as it was made.
    desk.attest(
        "customs",
        "customs/officer-1",
        [{"uscc": uscc, "attribute": "aeo_certified", "value": False}],
    )
    desk.refresh()
    assert next(g for g in desk.grants(uscc) if g["policy"] == "hz-aeo-award") == grant


def test_a_revoked_fact_blocks_the_grant(world: dict[str, Any], desk: PolicyDesk) -> None:
    uscc = next(
        u
        for u in world["usccs"]
        if not desk.snapshot().facts[u].get("aeo_certified")
        and not any(g["policy"] == "hz-aeo-award" for g in desk.grants(u))
    )
    done = desk.attest(
        "customs",
        "customs/officer-1",
        [{"uscc": uscc, "attribute": "aeo_certified", "value": True}],
    )
    att = done[0]["result"]["ids"][0]
    desk.revoke("customs", "customs/admin-1", att, "认证已被撤销")
    desk.refresh()
    assert not any(g["policy"] == "hz-aeo-award" for g in desk.grants(uscc))


def test_the_enterprise_declines(world: dict[str, Any], desk: PolicyDesk) -> None:
    grant = desk.grants()[0]
    with pytest.raises(Exception, match="does not act for"):
        desk.decline(grant["uscc"], "citizen/stranger", grant["policy"], "不需要")
    desk.decline(grant["uscc"], AGENT, grant["policy"], "不需要")
    after = next(g for g in desk.grants(grant["uscc"]) if g["policy"] == grant["policy"])
    assert after["status"] == "declined"


def test_test_policy_reports_counts_and_traces(world: dict[str, Any], desk: PolicyDesk) -> None:
    report = desk.test_policy(POLICIES[0])
    assert sum(report["counts"].values()) == report["enterprises"] == 36
    assert report["samples"] and all("clauses" in s for s in report["samples"])


def test_an_application_is_filed_with_the_matched_facts(
    world: dict[str, Any], desk: PolicyDesk, node: Node
) -> None:
    snap = desk.snapshot()
    found = [
        (u, r["policy"])
        for r in desk.policies("published")
        if r["policy"]["mode"] == "application"
        for u in snap.usccs
        if assess(r["policy"], snap.facts[u])["status"] == "qualifies"
    ]
    assert found, "no enterprise qualifies for a policy granted on application"
    uscc, policy = found[0]
    form = desk.application_form(uscc, policy["id"])
    assert {f["attribute"] for f in form["matched_facts"]} >= {
        c[">="][0]["var"] for c in policy["eligibility"].get("and", []) if ">=" in c
    }
    answers = {
        "bank_account_name": "杭州测试科技有限公司",
        "bank_name": "中国工商银行杭州分行",
        "bank_account": "1202020209000012345",
        "contact_name": "王五",
        "contact_phone": "13800001234",
        "truthfulness_pledge": True,
        "expected_benefit_fen": 10**12,  # not the applicant's: the pre-filled value wins
    }
    filed = desk.apply(uscc, AGENT, "session-1", policy["id"], answers)
    assert filed["service"] == desk.application_service(policy["id"])
    case = node.query("cases", "case", {"case": filed["number"]})
    assert case["service"] == filed["service"] and case["subject"] == uscc
    with pytest.raises(Exception, match="not authorised"):
        desk.apply(uscc, "citizen/stranger", "session-2", policy["id"], answers)


def test_the_follower_thread_grants_after_the_block(
    world: dict[str, Any], desk: PolicyDesk
) -> None:
    """Last in this module: from here on the follower thread refreshes by itself."""
    uscc = next(
        u
        for u in world["usccs"]
        if not any(g["policy"] == "hz-aeo-award" for g in desk.grants(u))
        and not desk.snapshot().facts[u].get("aeo_certified")
    )
    desk.start()
    try:
        fact = {"uscc": uscc, "attribute": "aeo_certified", "value": True}
        desk.attest("customs", "customs/officer-1", [fact])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any(g["policy"] == "hz-aeo-award" for g in desk.grants(uscc)):
                break
            time.sleep(0.05)
        assert any(g["policy"] == "hz-aeo-award" for g in desk.grants(uscc))
    finally:
        desk.stop()
