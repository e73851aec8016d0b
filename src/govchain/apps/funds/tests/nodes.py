"""A test network of fund supervision: the demo's owner departments and the supervising data
bureau, and the ``funds`` contract committed through the lifecycle (installed by one
department, approved by all) with the services of the flags' cases."""

from __future__ import annotations

from pathlib import Path

from govchain.apps.funds.app import APP
from govchain.contracts.packages import code_hash
from govchain.ledger.genesis import Params
from govchain.node.casedesk import CaseDesk
from govchain.node.network import NetworkDir, init_network
from govchain.procedures.publishing import publication_plan

DEPARTMENTS = [
    ("transport", "交通运输局"),
    ("housing", "住房和城乡建设局"),
    ("health", "卫生健康委员会"),
    ("hrss", "人力资源和社会保障局"),
    ("fire", "消防救援支队"),
    ("data", "大数据发展管理局"),
]
"""Departments of the test network: the demo's owners and the supervising data bureau."""


def make_network(root: Path) -> NetworkDir:
    """Create the test network directory at ``root``."""
    init_network(
        root,
        chain_id="funds-test",
        suite_name="intl",
        departments=DEPARTMENTS,
        params=Params(state_buckets=256, block_max_ms=5),
    )
    return NetworkDir(root)


def deploy(desk: CaseDesk) -> None:
    """Install, approve (by every department) and commit the service's contract."""
    departments = [d for d, _ in DEPARTMENTS]
    files = APP.contract_files()
    digest = code_hash(desk.node.suite.hash, files)
    install = {"name": APP.contract_name, "version": 1, "files": files, "policy": APP.policy}
    calls = [(departments[0], "install", install)]
    calls += [
        (d, "approve", {"name": APP.contract_name, "version": 1, "code_hash": digest})
        for d in departments
    ]
    calls += [(departments[0], "commit", {"name": APP.contract_name, "version": 1})]
    for dept, method, args in calls:
        desk.commit_one(desk.sign(dept, "lifecycle", method, args, f"{dept}/admin"), 30)
    publish_definitions(desk)


def publish_definitions(desk: CaseDesk) -> None:
    """Publish the flag cases' services (proposed by the data bureau, approved by each
    department concerned, published) through the ``services`` contract."""
    here = {d for d, _ in DEPARTMENTS}
    admins = {d: f"{d}/admin" for d in here}
    plan = publication_plan(
        APP.definitions(), lambda code: None, here, admins, desk.node.suite.hash
    )
    for stage in plan.phases:
        for call in stage:
            dept = call.member.split("/")[0]
            tx = desk.sign(dept, "services", call.method, dict(call.args), call.member)
            desk.commit_one(tx, 30)
