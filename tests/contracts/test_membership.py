"""The membership system contract: a department admin adds, suspends, reactivates and re-keys
its own members; execution then accepts or rejects their transactions accordingly."""

from __future__ import annotations

import pytest
from deploy import call
from ledger_net import Net, make_net

from govchain.ledger.chain import Ledger
from govchain.ledger.transactions import build_transaction


@pytest.fixture(params=["intl", "gm"])
def chain(request: pytest.FixtureRequest) -> tuple[Net, Ledger]:
    net = make_net(request.param)
    return net, net.ledger()


def signed_by(net: Net, member: str, private: bytes, nonce: int) -> object:
    return build_transaction(
        chain=net.genesis.chain_id,
        signer=member,
        nonce=nonce,
        contract="kv",
        method="put",
        args={"key": f"by-{member}", "value": nonce},
        actor=member,
        sign=lambda m: net.suite.sign(private, m),
        hash_fn=net.suite.hash,
    )


def test_department_manages_its_members(chain: tuple[Net, Ledger]) -> None:
    net, ledger = chain
    key = net.suite.generate_keypair()
    args = {"name": "window-3", "role": "officer", "public_key": key.public.hex()}
    added = call(net, ledger, "membership", "add", args, signer="tax/admin")
    assert added.status == "ok", added.error
    assert added.result["id"] == "tax/window-3" and added.result["status"] == "active"

    [ok] = net.commit(ledger, [signed_by(net, "tax/window-3", key.private, 1)]).result.receipts
    assert ok.status == "ok"

    other = call(
        net, ledger, "membership", "suspend", {"member_id": "tax/window-3", "reason": "x"},
        signer="market/admin",
    )  # fmt: skip
    assert other.error is not None and other.error["code"] == "membership.other_department"
    suspended = call(
        net, ledger, "membership", "suspend",
        {"member_id": "tax/window-3", "reason": "left the service hall"}, signer="tax/admin",
    )  # fmt: skip
    assert suspended.status == "ok", suspended.error
    [gone] = net.commit(ledger, [signed_by(net, "tax/window-3", key.private, 2)]).result.receipts
    assert gone.status == "rejected" and gone.error is not None
    assert gone.error["code"] == "unknown_signer"

    back = call(
        net, ledger, "membership", "reactivate", {"member_id": "tax/window-3"}, signer="tax/admin"
    )
    assert back.status == "ok"
    new_key = net.suite.generate_keypair()
    rotated = call(
        net, ledger, "membership", "rotate_key",
        {"member_id": "tax/window-3", "public_key": new_key.public.hex()}, signer="tax/admin",
    )  # fmt: skip
    assert rotated.status == "ok"
    [fresh] = net.commit(
        ledger, [signed_by(net, "tax/window-3", new_key.private, 3)]
    ).result.receipts
    assert fresh.status == "ok"


def test_refusals(chain: tuple[Net, Ledger]) -> None:
    net, ledger = chain
    good = net.suite.generate_keypair().public.hex()
    cases = [
        ({"name": "x", "role": "king", "public_key": good}, "bad_arguments"),
        ({"name": "x", "role": "officer", "public_key": "abcd"}, "bad_arguments"),
        ({"name": "x", "role": "officer", "public_key": "zz"}, "bad_arguments"),
        ({"name": "Bad Name", "role": "officer", "public_key": good}, "bad_arguments"),
        ({"name": "admin", "role": "officer", "public_key": good}, "membership.exists"),
    ]
    for args, code in cases:
        r = call(net, ledger, "membership", "add", args, signer="hrss/admin")
        assert r.error is not None and r.error["code"] == code, (args, r.error)
    me = call(
        net, ledger, "membership", "suspend", {"member_id": "hrss/admin", "reason": "r"},
        signer="hrss/admin",
    )  # fmt: skip
    assert me.error is not None and me.error["code"] == "membership.self"
    assert list(ledger.state.iter_range(b"sys/member/hrss/x")) == []
