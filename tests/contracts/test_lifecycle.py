"""Install → approve (by code hash) → commit → call → upgrade with migration, and every way
the lifecycle refuses: missing approvals, wrong hash, unapproved or modified code."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from deploy import approve, call, deploy, install, nonce
from ledger_net import Net, make_net

from govchain.contracts.errors import UnapprovedCode
from govchain.contracts.installed import InstalledContracts
from govchain.contracts.packages import code_hash, definition_key, package_key
from govchain.ledger.audit import verify_chain
from govchain.ledger.chain import Ledger
from govchain.ledger.transactions import Transaction

COUNTER_V1 = '''
from __future__ import annotations

from typing import Any

from govchain.sdk import Contract, Failed, entry, view


class Counter(Contract):
    """A named counter per case."""

    @entry
    def add(self, name: str, amount: int = 1) -> int:
        if amount <= 0:
            raise Failed("not_positive", "amount must be positive")
        value = (self.ctx.get("n/" + name) or 0) + amount
        self.ctx.put("n/" + name, value)
        self.ctx.emit("added", {"name": name, "value": value})
        return value

    @view
    def value(self, name: str) -> int:
        return self.ctx.get("n/" + name) or 0

    @view
    def all(self) -> list[Any]:
        return [[k, v] for k, v in self.ctx.scan("n/")]
'''

# Version 2 stores {"value": n, "by": dept} records; its migration rewrites version-1 state.
COUNTER_V2 = """
from __future__ import annotations

from govchain.sdk import Contract, entry, migration, view


class Counter(Contract):
    @migration
    def upgrade(self, from_version: int) -> int:
        moved = 0
        for key, value in self.ctx.scan("n/", 1000):
            if from_version == 1:
                self.ctx.put("n/" + key[2:], {"value": value, "by": ""})
                moved += 1
        return moved

    @entry
    def add(self, name: str, amount: int = 1) -> int:
        old = self.ctx.get("n/" + name) or {"value": 0}
        value = old["value"] + amount
        self.ctx.put("n/" + name, {"value": value, "by": self.ctx.caller.dept})
        return value

    @view
    def value(self, name: str) -> int:
        return (self.ctx.get("n/" + name) or {"value": 0})["value"]
"""


@pytest.fixture(params=["intl", "gm"])
def chain(request: pytest.FixtureRequest) -> tuple[Net, Ledger]:
    net = make_net(request.param)
    return net, net.ledger()


def test_deploy_call_and_view(chain: tuple[Net, Ledger]) -> None:
    net, ledger = chain
    committed = deploy(net, ledger, "counter", COUNTER_V1)
    assert committed.status == "ok", committed.error
    assert committed.result["approvals"] == ["hrss", "market", "tax"]
    assert committed.result["code_hash"] == code_hash(net.suite.hash, {"contract.py": COUNTER_V1})
    r = call(net, ledger, "counter", "add", {"name": "a", "amount": 5})
    assert (r.status, r.result) == ("ok", 5)
    assert r.events[0] == {"type": "counter.added", "data": {"name": "a", "value": 5}}
    assert call(net, ledger, "counter", "add", {"name": "a"}).result == 6
    stored = ledger.state.get(b"c/counter/n/a")
    assert stored is not None and stored.value == b"6"


def test_contract_failure_is_typed_and_rolls_back(chain: tuple[Net, Ledger]) -> None:
    net, ledger = chain
    deploy(net, ledger, "counter", COUNTER_V1)
    r = call(net, ledger, "counter", "add", {"name": "a", "amount": -1})
    assert r.status == "failed"
    assert r.error is not None and r.error["code"] == "counter.not_positive"
    assert ledger.state.get(b"c/counter/n/a") is None


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({"name": 5}, "argument 'name' must be str, got integer"),
        ({"name": "a", "amount": "5"}, "argument 'amount' must be int, got string"),
        ({"name": "a", "amount": True}, "must be int, got boolean"),
        ({"amount": 1}, "argument 'name' is missing"),
        ({"name": "a", "extra": 1}, "unknown arguments ['extra']"),
    ],
)
def test_wrong_argument_types_write_nothing(
    chain: tuple[Net, Ledger], args: dict[str, Any], fragment: str
) -> None:
    net, ledger = chain
    deploy(net, ledger, "counter", COUNTER_V1)
    root = ledger.state.root
    r = call(net, ledger, "counter", "add", args)
    assert r.status == "failed" and r.error is not None
    assert r.error["code"] == "bad_arguments"
    assert fragment in r.error["message"]
    assert list(ledger.state.iter_range(b"c/counter/")) == []
    # only the signer's replay window moved
    assert ledger.state.root != root
    assert [k for k, _ in ledger.state.iter_range(b"c/")] == []


def test_unknown_method_and_views_are_not_entry_points(chain: tuple[Net, Ledger]) -> None:
    net, ledger = chain
    deploy(net, ledger, "counter", COUNTER_V1)
    r = call(net, ledger, "counter", "value", {"name": "a"})
    assert r.error is not None and r.error["code"] == "unknown_method"
    assert "has no entry method 'value'" in r.error["message"]


def test_installed_but_not_approved_is_refused(chain: tuple[Net, Ledger]) -> None:
    net, ledger = chain
    r, digest = install(net, ledger, "counter", COUNTER_V1)
    assert r.status == "ok"
    refused = call(net, ledger, "counter", "add", {"name": "a"})
    assert refused.error is not None and refused.error["code"] == "not_approved"
    approve(net, ledger, "counter", digest, ["market"])
    commit = call(net, ledger, "lifecycle", "commit", {"name": "counter", "version": 1})
    assert commit.status == "failed" and commit.error is not None
    assert commit.error["code"] == "not_approved"
    assert "needs 3 approvals under policy 'majority'" in commit.error["message"]
    assert "it has 1 (market)" in commit.error["message"]
    assert ledger.state.get(definition_key("counter")) is None


def test_approval_names_the_code_hash(chain: tuple[Net, Ledger]) -> None:
    net, ledger = chain
    install(net, ledger, "counter", COUNTER_V1)
    other = code_hash(net.suite.hash, {"contract.py": COUNTER_V1 + "\n# changed\n"})
    [r] = approve(net, ledger, "counter", other, ["tax"])
    assert r.error is not None and r.error["code"] == "lifecycle.hash_mismatch"
    r2 = call(net, ledger, "lifecycle", "proposal", {"name": "counter", "version": 1})
    assert r2.error is not None and r2.error["code"] == "unknown_method"


def test_only_admins_manage_contracts_and_departments_approve_once(
    chain: tuple[Net, Ledger],
) -> None:
    net, ledger = chain
    _, digest = install(net, ledger, "counter", COUNTER_V1)
    [first] = approve(net, ledger, "counter", digest, ["tax"])
    [again] = approve(net, ledger, "counter", digest, ["tax"])
    assert first.status == "ok"
    assert again.error is not None and again.error["code"] == "lifecycle.already_approved"


def test_system_contract_names_are_reserved(chain: tuple[Net, Ledger]) -> None:
    net, ledger = chain
    for name in ("kv", "lifecycle"):
        r, _ = install(net, ledger, name, COUNTER_V1)
        assert r.error is not None and r.error["code"] == "lifecycle.reserved_name"


def test_upgrade_needs_the_committed_policy_and_migrates(chain: tuple[Net, Ledger]) -> None:
    net, ledger = chain
    policy = {"rule": "departments", "departments": ["tax", "customs"]}
    assert deploy(net, ledger, "counter", COUNTER_V1, policy=policy).status == "ok"
    call(net, ledger, "counter", "add", {"name": "a", "amount": 2})
    call(net, ledger, "counter", "add", {"name": "b", "amount": 3})

    r, digest = install(net, ledger, "counter", COUNTER_V2, version=2)
    assert r.status == "ok", r.error
    # a majority that is not the named departments is not enough
    approve(net, ledger, "counter", digest, ["market", "hrss", "tax"], version=2)
    refused = call(net, ledger, "lifecycle", "commit", {"name": "counter", "version": 2})
    assert refused.error is not None and refused.error["code"] == "not_approved"
    assert "missing customs" in refused.error["message"]
    assert call(net, ledger, "counter", "add", {"name": "a"}).result == 3  # still version 1

    approve(net, ledger, "counter", digest, ["customs"], version=2)
    done = call(net, ledger, "lifecycle", "commit", {"name": "counter", "version": 2})
    assert done.status == "ok", done.error
    assert done.result["version"] == 2 and done.result["migration"] == 2
    assert orjson.loads(ledger.state.get(b"c/counter/n/b").value) == {  # type: ignore[union-attr]
        "value": 3,
        "by": "",
    }
    r = call(net, ledger, "counter", "add", {"name": "b"}, signer="hrss/admin")
    assert r.result == 4
    assert orjson.loads(ledger.state.get(b"c/counter/n/b").value)["by"] == "hrss"  # type: ignore[union-attr]


def test_failing_migration_leaves_the_old_version(chain: tuple[Net, Ledger]) -> None:
    net, ledger = chain
    deploy(net, ledger, "counter", COUNTER_V1)
    broken = COUNTER_V2.replace("moved = 0", "moved = 1 // 0")
    r, digest = install(net, ledger, "counter", broken, version=2)
    assert r.status == "ok"
    approve(net, ledger, "counter", digest, ["market", "tax", "hrss"], version=2)
    c = call(net, ledger, "lifecycle", "commit", {"name": "counter", "version": 2})
    assert c.status == "failed" and c.error is not None
    assert "ZeroDivisionError" in c.error["message"]
    definition = ledger.state.get(definition_key("counter"))
    assert definition is not None and orjson.loads(definition.value)["version"] == 1


class _DictContext:
    """A minimal ``CallContext`` over a dict (for the host's own checks)."""

    def __init__(self, data: dict[bytes, bytes]) -> None:
        self.data = data
        self.tx: Transaction | None = None
        self.signer_dept = ""
        self.signer_role = ""
        self.height = 1
        self.block_time_ms = 0

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        self.data.pop(key, None)

    def emit(self, event_type: str, data: Any) -> None:
        pass

    def scan(self, prefix: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        return sorted((k, v) for k, v in self.data.items() if k.startswith(prefix))[:limit]


def test_modified_code_is_refused(chain: tuple[Net, Ledger]) -> None:
    """A node whose stored package differs from the committed hash refuses to run it."""
    net, ledger = chain
    deploy(net, ledger, "counter", COUNTER_V1)
    data = {k: v.value for k, v in ledger.state.iter_range(b"sys/lifecycle/") if v.value}
    digest = orjson.loads(data[definition_key("counter")])["code_hash"]
    tampered = COUNTER_V1.replace("value = (", "value = 1000 + (")
    data[package_key(digest)] = orjson.dumps({"files": {"contract.py": tampered}})
    host = InstalledContracts(net.suite.hash)
    with pytest.raises(UnapprovedCode) as info:
        host.resolve(_DictContext(data), "counter")  # type: ignore[arg-type]
    assert info.value.fields["expected"] == digest
    assert "refusing to run 'counter'" in info.value.message


def test_a_chain_with_contracts_replays_to_the_same_roots(chain: tuple[Net, Ledger]) -> None:
    """An auditor re-executes everything, installed contracts included, from genesis."""
    net, ledger = chain
    deploy(net, ledger, "counter", COUNTER_V1)
    call(net, ledger, "counter", "add", {"name": "a", "amount": 5})
    call(net, ledger, "counter", "add", {"name": "a", "amount": -5})  # failed receipt
    report = verify_chain(ledger, net.ledger())
    assert report.ok, report.error
    assert report.height == ledger.height


READER = """
from __future__ import annotations

from typing import Any

from govchain.sdk import Contract, entry, view


class Reader(Contract):
    @entry
    def total(self) -> dict[str, Any]:
        pairs = self.ctx.read("counter", "all")
        total = 0
        for pair in pairs:
            total = total + pair[1]
        self.ctx.put("last", total)
        return {"total": total, "one": self.ctx.read("counter", "value", {"name": "a"})}

    @view
    def sneaky(self) -> int:
        self.ctx.put("x", 1)
        return 1

    @entry
    def via_view(self) -> int:
        return self.ctx.read("reader", "sneaky")
"""


def test_cross_contract_views_see_the_block_so_far(chain: tuple[Net, Ledger]) -> None:
    net, ledger = chain
    deploy(net, ledger, "counter", COUNTER_V1)
    deploy(net, ledger, "reader", READER)
    txs = [
        net.tx(nonce(), contract="counter", method="add", args={"name": "a", "amount": 2}),
        net.tx(nonce(), contract="counter", method="add", args={"name": "b", "amount": 3}),
        net.tx(nonce(), contract="reader", method="total", args={}),
        net.tx(nonce(), contract="reader", method="via_view", args={}),
    ]
    receipts = net.commit(ledger, txs).result.receipts
    assert [r.status for r in receipts] == ["ok", "ok", "ok", "failed"]
    assert receipts[2].result == {"total": 5, "one": 2}
    assert receipts[3].error is not None and receipts[3].error["code"] == "read_only_call"
    stored = ledger.state.get(b"c/reader/last")
    assert stored is not None and stored.value == b"5"
    assert ledger.state.get(b"c/reader/x") is None
