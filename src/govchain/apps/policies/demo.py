"""Demo data of enterprise policies: the shipped policies published (each proposed by an
officer of its issuing department and approved by another person), and synthetic but
realistic facts about the registry's enterprises attested by the departments that hold them.

Facts are drawn from ``random.Random`` seeded with ``SEED`` and the enterprise's USCC, so the
same enterprise always gets the same facts whatever the order or number of enterprises. Sizes
follow the register's staff count where it has one; revenue per employee, tax rates, R&D
shares (higher in software, pharmaceuticals and research), tax credit ratings (most B), export
shares and the rarer flags (arrears, AEO) are drawn in plausible proportions.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from govchain.apps.policies.contract import ATTRIBUTES
from govchain.apps.policies.rules import shipped_policies
from govchain.apps.policies.service import PolicyDesk
from govchain.errors import NotFound

SEED = 20261
"""Seed of the synthetic facts."""
RD_DIVISIONS = (27, 35, 39, 40, 63, 64, 65, 73, 74, 75)
"""Divisions where enterprises spend much on R&D (pharma, machinery, electronics, software,
research)."""


def size_class(employees: int, revenue_fen: int) -> str:
    """Size class by staff and revenue (the thresholds of the 2011 classification for
    industry: micro under 20 staff or 3 million yuan, large from 1,000 staff and 400 million)."""
    if employees >= 1000 and revenue_fen >= 40_000_000_000:
        return "large"
    if employees >= 300 and revenue_fen >= 2_000_000_000:
        return "medium"
    if employees >= 20 and revenue_fen >= 300_000_000:
        return "small"
    return "micro"


def synthetic_facts(uscc: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Attested facts of one enterprise (attribute -> value) for the demo."""
    rng = random.Random(f"{SEED}:{uscc}")
    employees = record.get("employees") or int(2 ** rng.uniform(0, 11))
    revenue = employees * rng.randint(200_000, 1_500_000) * 100
    code = str(record.get("industry", ""))
    division = int(code[:2]) if code[:2].isdigit() else 0
    if division in RD_DIVISIONS and rng.random() < 0.7:
        rd_share = rng.randint(250, 1500)
    elif rng.random() < 0.35:
        rd_share = rng.randint(0, 400)
    else:
        rd_share = 0
    exporter = rng.random() < 0.25
    export = revenue * rng.randint(500, 6000) // 10_000 if exporter else 0
    young = employees <= 10
    return {
        "size_class": size_class(employees, revenue),
        "revenue_fen": revenue,
        "tax_paid_fen": revenue * rng.randint(200, 800) // 10_000,
        "rd_expense_fen": revenue * rd_share // 10_000,
        "rd_share_bps": rd_share,
        "tax_credit_rating": rng.choices("ABMCD", weights=(25, 45, 20, 7, 3))[0],
        "high_tech": rd_share >= 300 and rng.random() < 0.5,
        "tax_arrears": rng.random() < 0.04,
        "employees": employees,
        "graduates_hired": rng.randint(1, 3 if young else 10) if rng.random() < 0.3 else 0,
        "social_insurance_arrears": rng.random() < 0.03,
        "export_fen": export,
        "aeo_certified": export >= 500_000_000 and rng.random() < 0.2,
    }


def fact_rows(enterprises: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The attestations to make, by holding department."""
    holder = {row[0]: row[2] for row in ATTRIBUTES}
    out: dict[str, list[dict[str, Any]]] = {}
    for ent in enterprises:
        for attr, value in synthetic_facts(ent["uscc"], ent).items():
            out.setdefault(holder[attr], []).append(
                {"uscc": ent["uscc"], "attribute": attr, "value": value}
            )
    return out


def seed(node: Any, app_state: Any, network_dir: Any) -> list[str]:
    """Publish the shipped policies and attest the demo enterprises' facts (idempotent)."""
    from govchain.apps.policies.service import desk_for

    desk: PolicyDesk = desk_for(app_state)
    depts = {d.id for d in node.genesis.departments}
    published = 0
    for policy in shipped_policies():
        approver = policy["approvers"][0] if policy["approvers"] else policy["issuer"]
        if policy["issuer"] not in depts or approver not in depts:
            continue  # a network without the issuing department
        try:
            desk.policy(policy["id"])
            continue  # published by an earlier run
        except NotFound:
            pass
        desk.propose(policy["issuer"], f"{policy['issuer']}/officer-1", policy)
        desk.approve(approver, f"{approver}/admin-1", policy["id"], 1)
        published += 1
    enterprises: list[dict[str, Any]] = []
    while True:  # the register, a page at a time
        after = enterprises[-1]["uscc"] if enterprises else ""
        page = node.query("registry", "enterprises", {"limit": 1000, "after": after})
        enterprises += page
        if len(page) < 1000:
            break
    snap = desk.snapshot()
    # Idempotent: an enterprise whose facts were attested by an earlier run is left alone.
    fresh = [
        e
        for e in enterprises
        if e["uscc"] in snap.facts and "revenue_fen" not in snap.facts[e["uscc"]]
    ]
    attested = 0
    for dept, rows in sorted(fact_rows(fresh).items()):
        desk.attest(dept, f"{dept}/officer-1", rows)
        attested += len(rows)
    desk.refresh()
    grants = desk.grants()
    return [
        f"policies demo: {published} policies published, {attested} facts attested about "
        f"{len(enterprises)} enterprises; {len(grants)} grants decided without an application "
        f"({sum(g['amount_fen'] for g in grants) // 100:,} yuan)"
    ]
