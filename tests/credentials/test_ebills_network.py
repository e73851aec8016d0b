"""The same e-bill reimbursed concurrently by two units through two department nodes of a real
network (etcd cluster, one node process per department): exactly one reimbursement commits;
the other is a failed receipt ``already_reimbursed``, on every node alike."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import orjson
import pytest

pytestmark = pytest.mark.slow


def _netkit() -> ModuleType:
    """The network harness of tests/network (loaded by path: test folders are not packages)."""
    if "netkit" in sys.modules:
        return sys.modules["netkit"]
    path = Path(__file__).parents[1] / "network" / "netkit.py"
    spec = importlib.util.spec_from_file_location("netkit", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["netkit"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    n = _netkit().Net(tmp_path_factory.mktemp("net"))
    try:
        n.start()
        yield n
    finally:
        n.stop()


def _receipt(net: Any, node: Any, tx_id: str) -> dict[str, Any]:
    net.wait(lambda: net.tx_status(node, tx_id).get("receipt") is not None, 30, f"tx {tx_id}")
    receipt: dict[str, Any] = net.tx_status(node, tx_id)["receipt"]
    return receipt


def test_concurrent_reimbursement_on_two_nodes_exactly_one_succeeds(net: Any) -> None:
    digest = hashlib.sha256(b"bill 3301012600000000").hexdigest()
    entry = {
        "hash": digest,
        "type": "e_bill",
        "holder": "citizen/wang",
        "index": 0,
        "bill": {"number": "33010126-0000000000", "seller": "tax", "amount_fen": 12_800},
    }
    issue = [
        net.call("tax", "credentials", "allocate", {"count": 1}),
        net.call("tax", "credentials", "issue", {"entries": [entry]}),
    ]
    tax = net.nodes["tax"]
    assert net.submit(tax, issue).status_code == 200
    assert _receipt(net, tax, issue[1].tx_id.hex())["status"] == "ok"
    net.wait_converged()

    claims = {
        unit: net.call(unit, "credentials", "reimburse", {"hash": digest, "unit": unit})
        for unit in ("hrss", "customs")
    }
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda u: net.submit(net.nodes[u], [claims[u]]), ["hrss", "customs"])
        )
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    net.wait_converged()

    outcomes = {}
    for unit, tx in claims.items():
        seen = {
            n.dept: _receipt(net, n, tx.tx_id.hex()) for n in net.live()
        }  # every node has the same receipt
        assert len({orjson.dumps(r) for r in seen.values()}) == 1
        outcomes[unit] = seen[unit]
    statuses = sorted(r["status"] for r in outcomes.values())
    assert statuses == ["failed", "ok"]
    (loser,) = [r for r in outcomes.values() if r["status"] == "failed"]
    assert loser["error"]["code"] == "already_reimbursed"
    (winner,) = [u for u, r in outcomes.items() if r["status"] == "ok"]
    for node in net.live():
        answer = httpx.post(
            f"{node.url}/v1/contracts/credentials/views/bill", json={"hash": digest}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        assert orjson.loads(answer.content)["result"]["reimbursed"]["unit"] == winner
