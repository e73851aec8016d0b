"""The members system contract, run by the class-based contract machinery: a department admin
registers the department root, issues members from root-signed credentials, suspends, resumes
and revokes them; execution accepts or rejects their transactions accordingly."""

from __future__ import annotations

import pytest
from deploy import call
from ledger_net import Net, make_net

from govchain.identity import pki
from govchain.ledger.chain import Ledger
from govchain.ledger.transactions import build_transaction

NOW = 1_000  # block time of the test ledger (ms)


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


def with_root(net: Net, ledger: Ledger, dept: str) -> bytes:
    root_private = net.suite.generate_keypair().private
    root = pki.make_root(net.suite.name, dept, root_private, NOW)
    r = call(net, ledger, "members", "set_root", {"root": root.hex()}, signer=f"{dept}/admin")
    assert r.status == "ok", r.error
    return root_private


def test_department_manages_its_members(chain: tuple[Net, Ledger]) -> None:
    net, ledger = chain
    root_private = with_root(net, ledger, "tax")
    key = net.suite.generate_keypair()
    cred = pki.issue_member(
        net.suite.name, "tax", root_private, "tax/window-3", "officer", key.public, NOW
    )
    issued = call(net, ledger, "members", "issue", {"credential": cred.hex()}, signer="tax/admin")
    assert issued.status == "ok", issued.error
    assert issued.result == {"member": "tax/window-3", "role": "officer", "status": "active"}
    [ok] = net.commit(ledger, [signed_by(net, "tax/window-3", key.private, 1)]).result.receipts
    assert ok.status == "ok"

    other = call(
        net, ledger, "members", "suspend", {"member": "tax/window-3"}, signer="market/admin"
    )
    assert other.error is not None and other.error["code"] == "forbidden"
    suspended = call(
        net, ledger, "members", "suspend",
        {"member": "tax/window-3", "reason": "left the service hall"}, signer="tax/admin",
    )  # fmt: skip
    assert suspended.status == "ok", suspended.error
    [gone] = net.commit(ledger, [signed_by(net, "tax/window-3", key.private, 2)]).result.receipts
    assert gone.status == "rejected" and gone.error is not None
    assert gone.error["code"] == "unknown_signer"

    back = call(net, ledger, "members", "resume", {"member": "tax/window-3"}, signer="tax/admin")
    assert back.status == "ok", back.error
    [again] = net.commit(ledger, [signed_by(net, "tax/window-3", key.private, 3)]).result.receipts
    assert again.status == "ok"
    revoked = call(net, ledger, "members", "revoke", {"member": "tax/window-3"}, signer="tax/admin")
    assert revoked.status == "ok", revoked.error
    final = call(net, ledger, "members", "resume", {"member": "tax/window-3"}, signer="tax/admin")
    assert final.error is not None and final.error["code"] == "conflict"


def test_refusals_change_nothing(chain: tuple[Net, Ledger]) -> None:
    net, ledger = chain
    key = net.suite.generate_keypair().public
    root_private = net.suite.generate_keypair().private
    cred = pki.issue_member(net.suite.name, "hrss", root_private, "hrss/x", "officer", key, NOW)
    # No root registered yet: the credential cannot be checked.
    r = call(net, ledger, "members", "issue", {"credential": cred.hex()}, signer="hrss/admin")
    assert r.error is not None and r.error["code"] == "not_found"
    with_root(net, ledger, "hrss")
    forged = pki.issue_member(
        net.suite.name, "hrss", net.suite.generate_keypair().private, "hrss/y", "officer", key, NOW
    )
    cases = [
        ({"credential": "zz"}, "hrss/admin", "bad_arguments"),
        ({"credential": forged.hex()}, "hrss/admin", "bad_arguments"),
        ({"credential": 7}, "hrss/admin", "bad_arguments"),
    ]
    for args, signer, code in cases:
        r = call(net, ledger, "members", "issue", args, signer=signer)
        assert r.error is not None and r.error["code"] == code, (args, r.error)
    me = call(net, ledger, "members", "suspend", {"member": "hrss/admin"}, signer="hrss/admin")
    assert me.error is not None and me.error["code"] == "forbidden"
    assert list(ledger.state.iter_range(b"sys/member/hrss/x")) == []
    assert list(ledger.state.iter_range(b"sys/member/hrss/y")) == []
