"""Demo data of supervision: the synthetic facts (``demodata``) reported by the departments that
hold them, a random inspection plan of the market regulation bureau over the registry, its draw,
and the alerts the last month raises. Idempotent: facts already reported are not reported again.
"""

from __future__ import annotations

from typing import Any

import orjson

from govchain.apps.supervision.demodata import SEED, batch_id, generate
from govchain.apps.supervision.service import desk_for
from govchain.errors import Conflict, NotFound, SchemaViolation, Unavailable
from govchain.procedures import layout

HOLDERS = {
    "tax": "tax",
    "social": "hrss",
    "complaint": "market",
    "abnormal": "market",
    "penalty": "market",
    "inspection": "market",
}
"""Department reporting each kind of fact in the demo."""
PLAN_ID = "demo-2026-q4-market"
"""The demo's inspection plan."""
INSPECTORS = (
    ("insp-01", "周明", "330102"),
    ("insp-02", "吴芳", "330105"),
    ("insp-03", "郑伟", "330106"),
    ("insp-04", "王静", "330108"),
    ("insp-05", "冯磊", "330109"),
    ("insp-06", "陈丽", "330110"),
    ("insp-07", "褚强", "330111"),
    ("insp-08", "卫敏", "330112"),
    ("insp-09", "蒋涛", "330113"),
    ("insp-10", "沈洁", "330114"),
    ("insp-11", "韩勇", "330122"),
    ("insp-12", "杨霞", "330127"),
)
"""The market regulation bureau's demo inspector pool: id, name, the division they work in."""


def registry_profiles(node: Any, limit: int) -> list[tuple[str, str, str]]:
    """``(uscc, industry, division)`` of up to ``limit`` registry enterprises, by code."""
    out = []
    for _, vv in node.ledger.state.iter_range(layout.ENTERPRISES):
        if vv.value is None:
            continue
        e = orjson.loads(vv.value)
        industry, division = str(e.get("industry", "")), str(e.get("division", ""))
        if len(division) == 6 and 2 <= len(industry) <= 4 and industry.isdigit():
            out.append((str(e["uscc"]), industry, division))
        if len(out) >= limit:
            break
    return out


def seed(node: Any, app_state: Any, count: int) -> list[str]:
    """Report the demo facts, plan and draw an inspection, record the alerts."""
    desk = desk_for(app_state)
    members = {d.id for d in node.genesis.departments}
    lines = []
    data = generate(count, SEED, registry_profiles(node, count))
    if desk._get("b/" + batch_id("tax", data.last, 0)) is None:
        reported = 0
        for (kind, period), rows in sorted(data.rows.items()):
            dept = HOLDERS[kind]
            if dept not in members:
                continue
            prefix = batch_id(kind, period, 0)[:-4]
            desk.report_many(dept, f"{dept}/officer", kind, period, rows, prefix)
            reported += len(rows)
        lines.append(
            f"supervision: reported {reported} facts of {len(data.profiles)} enterprises "
            f"({len(data.risky)} collapsing, industry {data.drop_industry} dropping in {data.last})"
        )
    else:
        lines.append("supervision: the demo facts are reported already")
    if "market" in members:
        lines += _plan(desk)
    recorder = "data" if "data" in members else sorted(members)[0]
    # The alerts' block comes after the plan's seal: the seed block exists when the draw runs.
    alerts = desk.record_alerts(recorder, f"{recorder}/officer")
    lines.append(f"supervision: recorded {len(alerts)} alert(s) for {data.last}")
    if "market" in members:
        lines += _draw(desk)
    return lines


def _plan(desk: Any) -> list[str]:
    """Plan the demo inspection over the registry."""
    lines = []
    plan = {
        "id": PLAN_ID,
        "title": "2026年第四季度市场监管双随机抽查",
        "filter": {"status": "active"},
        "targets": 20,
        "per_target": 2,
        "delay": 1,
        "weights": {"low": 1, "medium": 2, "high": 4},
        "inspectors": [
            {"id": i, "name": n, "division": d, "related": []} for i, n, d in INSPECTORS
        ],
    }
    try:
        desk.open_plan("market", "market/officer", plan)
        lines.append(f"supervision: market planned {PLAN_ID}")
    except Conflict:
        pass
    except SchemaViolation as exc:
        lines.append(f"supervision: no inspection planned: {exc.message}")
    return lines


def _draw(desk: Any) -> list[str]:
    """Draw the demo inspection (once: a drawn plan is left as it is)."""
    lines = []
    try:
        done = desk.draw("market", "market/officer", PLAN_ID)
        lines.append(f"supervision: market drew {PLAN_ID}: {len(done['draw']['targets'])} targets")
    except (Conflict, NotFound, Unavailable) as exc:
        lines.append(f"supervision: {PLAN_ID} not drawn: {exc.message}")
    return lines
