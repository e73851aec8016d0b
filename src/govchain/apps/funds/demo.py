"""Demo data of fund supervision on the demo network: the generated projects, evidence (files
kept in the node's content store) and disbursements, then a scan of the analytics index that
raises the flags (each with its case, opened by the supervising department), and one flag
handled in its case from claiming to closing.

The projects' owner departments are the demo's transport, housing, health, human resources
and fire departments; the data bureau (``data``) supervises. A network without one of them
uses its first department instead. Idempotent: a ledger that holds projects already is left as
it is.
"""

from __future__ import annotations

from typing import Any

from govchain.apps.funds.generator import Operation, generate
from govchain.apps.funds.service import CONTRACT, FundsDesk, desk_for

SUPERVISOR = "data"
"""The demo's supervising department (it raises and closes flags)."""
BATCH = 200
"""Calls committed together."""


def _actor(app_state: Any, login: str) -> str:
    """The user id of a demo login (the login itself when the account does not exist)."""
    identity = getattr(app_state, "identity", None)
    found = identity.users.find_login(login) if identity is not None else None
    return str(found.id) if found is not None else login


def load_operations(desk: FundsDesk, ops: tuple[Operation, ...], members: set[str]) -> int:
    """Sign and commit the demo's calls in order (evidence files go to the content store);
    return how many were committed. A department the network lacks is replaced by its
    first."""
    fallback = sorted(members)[0]
    node = desk.node
    txs = []
    for op in ops:
        dept = op.dept if op.dept in members else fallback
        args = dict(op.args)
        if op.method == "add_evidence":
            digest = node.content.put(op.content)
            args.update({"digest": digest, "stored": True})
        txs.append(desk.casedesk.sign(dept, CONTRACT, op.method, args, f"{dept}/officer"))
    done = 0
    for start in range(0, len(txs), BATCH):
        for outcome in desk.casedesk.commit(txs[start : start + BATCH], desk.timeout_s):
            if isinstance(outcome, Exception):
                raise outcome
            done += 1
    return done


def seed(node: Any, app_state: Any, network_dir: Any) -> list[str]:
    """Load the demo projects, scan for flags and handle one flag through to closing."""
    desk = desk_for(app_state)
    if desk.projects():
        return ["fund supervision: projects are registered already; nothing seeded"]
    members = {d.id for d in node.genesis.departments}
    supervisor = SUPERVISOR if SUPERVISOR in members else sorted(members)[0]
    demo = generate()
    count = load_operations(desk, demo.operations, members)
    report = desk.scan(supervisor, _actor(app_state, f"{supervisor}/officer"))
    lines = [
        f"fund supervision: {count} calls (50 projects, evidence, disbursements)",
        f"fund supervision: {len(report.raised)} flags raised from the analytics index at "
        f"height {report.index_height} "
        f"({', '.join(f'{n} {r}' for r, n in sorted(report.by_rule.items()))})",
    ]
    opened = [f for f in desk.flags() if f["case"]]
    lines.append(f"fund supervision: {len(opened)} flag(s) handled as cases (330100-JG-00NN)")
    if opened:
        flag = opened[0]
        owner = flag["owners"][0]
        officer = _actor(app_state, f"{owner}/officer")
        approver = _actor(app_state, f"{supervisor}/approver")
        desk.assign(owner, officer, flag["id"], officer, "由本人核实并说明。", role="officer")
        explanation = "拨付时验收报告未及时上传，现已补录存证。"
        desk.explain(owner, officer, flag["id"], explanation, role="officer")
        reason = "拨付先于证据属实，已责令整改拨付复核流程。"
        desk.close(supervisor, approver, flag["id"], "confirmed", reason, role="approver")
        lines.append(
            f"fund supervision: flag {flag['id']} claimed, explained and closed "
            f"(case {flag['case']})"
        )
    return lines
