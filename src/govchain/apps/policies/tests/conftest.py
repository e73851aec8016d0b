"""Fixtures of the policy service's node tests: one embedded in-memory node for the module
with the ``policies`` contract committed through the lifecycle, demo enterprises imported
into the registry, and the policy desk posting to an in-memory notification centre."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from govchain.apps.policies.app import APP
from govchain.apps.policies.service import PolicyDesk
from govchain.contracts.packages import code_hash
from govchain.ledger.genesis import Params
from govchain.node.casedesk import CaseDesk, open_casedesk
from govchain.node.embedded import open_embedded
from govchain.node.network import NetworkDir, init_network
from govchain.node.node import Node
from govchain.node.notifications import NoticeBoard
from govchain.procedures.publishing import publication_plan
from govchain.procedures.uscc import issue_uscc

DEPARTMENTS = [
    ("market", "市场监督管理局"),
    ("tax", "税务局"),
    ("hrss", "人力资源和社会保障局"),
    ("customs", "海关"),
]
"""Departments of the test network."""
AGENT = "citizen/rep-1"
"""The person acting for every test enterprise."""
INDUSTRIES = ("6513", "62", "27", "5292", "5436", "33", "73", "5211")
"""Industry codes the test enterprises are given in turn."""
TRADE, TRADE_2 = "甲乙丙丁戊己庚辛壬癸", "云星海川山林"
"""Characters of the test enterprises' trade names (two each: distinct names)."""
ESTABLISHED_MS = 1_672_531_200_000  # 2023-01-01T00:00:00Z


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
    """Publish the policy support applications of the network's departments through the
    ``services`` contract (proposed by the owner, approved, published)."""
    here = {d for d, _ in DEPARTMENTS}
    plan = publication_plan(
        APP.definitions(),
        lambda code: None,
        here,
        {d: f"{d}/admin" for d in here},
        desk.node.suite.hash,
    )
    for stage in plan.phases:
        for call in stage:
            dept = call.member.split("/")[0]
            desk.commit_one(
                desk.sign(dept, "services", call.method, dict(call.args), call.member), 30
            )


def import_enterprises(desk: CaseDesk, n: int) -> list[str]:
    """Import ``n`` enterprises of Xihu district into the registry; return their codes."""
    usccs = []
    txs = []
    for i in range(n):
        uscc = issue_uscc("330106", 500 + i)
        usccs.append(uscc)
        ent = {
            "uscc": uscc,
            "name": f"杭州{TRADE[i % 10]}{TRADE_2[i // 10 % 6]}科技有限公司",
            "division": "330106",
            "legal_rep_name": "李四",
            "legal_rep_ref": "cd" * 32,
            "industry": INDUSTRIES[i % len(INDUSTRIES)],
            "capital_fen": 500_000_00 * (1 + i % 5),
            "address": "杭州市西湖区文一路2号",
            "scope": "技术服务",
            "employees": [3, 12, 45, 320, 1200, 8][i % 6],
            "established_ms": ESTABLISHED_MS,
            "agents": [AGENT],
        }
        txs.append(desk.sign("market", "registry", "import_enterprise", {"enterprise": ent}, "m"))
    for outcome in desk.commit(txs, 60):
        assert isinstance(outcome, dict), outcome
    return usccs


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    root: Path = tmp_path_factory.mktemp("policies") / "net"
    init_network(
        root,
        chain_id="policies-test",
        suite_name="intl",
        departments=DEPARTMENTS,
        params=Params(state_buckets=256, block_max_ms=5),
    )
    n = open_embedded(NetworkDir(root).root, in_memory=True)
    n.start()
    n.network_root = root  # type: ignore[attr-defined]
    try:
        yield n
    finally:
        n.stop(drain=True)


@pytest.fixture(scope="module")
def board() -> NoticeBoard:
    return NoticeBoard(None)


@pytest.fixture(scope="module")
def desk(node: Node, board: NoticeBoard) -> PolicyDesk:
    casedesk = open_casedesk(node, node.network_root)  # type: ignore[attr-defined]
    deploy(casedesk)
    return PolicyDesk(node, casedesk, timeout_s=30.0, board=board)
