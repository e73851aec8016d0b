"""``/metrics`` of department nodes (real etcd cluster, real node processes): the ordering
families, blocks applied from the proposer, and the catch-up of a node that was down."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from netkit import Net, NodeProc

from prometheus_text import Family, check_histograms, parse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    n = Net(tmp_path_factory.mktemp("net"))
    try:
        n.start()
        yield n
    finally:
        n.stop()


def scrape(node: NodeProc) -> dict[str, Family]:
    r = httpx.get(f"{node.url}/metrics", timeout=10)
    assert r.status_code == 200, r.text
    families = parse(r.text)
    check_histograms(families)
    return families


def test_network_nodes_report_ordering_replication_and_catch_up(net: Net) -> None:
    late = net.nodes["customs"]
    late.kill()
    others = net.live()
    for i in range(30):  # more blocks than the etcd catch-up window: fetched from peers
        r = net.submit(others[i % len(others)], [net.tx("tax", f"metrics/{i}", i)])
        assert r.status_code == 200, r.text
    late.start()
    net.wait(lambda: late.health() is not None, 60, "the node to restart")
    head = net.wait_converged()
    pages = {n.dept: scrape(n) for n in net.live()}
    assert sum(p["govchain_is_proposer"].value() for p in pages.values()) == 1
    for dept, page in pages.items():
        assert page["govchain_committed_height"].value() == head["height"], dept
        assert page["govchain_certified_height"].value() == head["height"], dept
        assert page["govchain_ordering_log_height"].value() >= head["height"], dept
        assert page["govchain_ordering_available"].value() == 1, dept
    # Followers verify and re-execute the proposer's blocks.
    applied = sum(
        p["govchain_block_commit_seconds"].value(
            "govchain_block_commit_seconds_count", source="applied"
        )
        for p in pages.values()
    )
    assert applied >= 30
    # The restarted node caught up from peers before it served: 30 blocks or more.
    mine = pages["customs"]
    assert mine["govchain_catchup_running"].value() == 0
    assert mine["govchain_catchup_blocks_total"].value() >= 30
    assert mine["govchain_catchup_transactions_total"].value() >= 30
    assert mine["govchain_catchup_target_height"].value() >= 30
    assert mine["govchain_catchup_cpu_seconds_total"].value(stage="apply") > 0
