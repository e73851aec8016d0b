"""``govchain network join``: a new department's keys and its membership proposal, through the
CLI against a running node, until the department is a member."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from test_cli import govchain, start_node

from govchain.node.network import NetworkDir, read_key


def test_join_creates_keys_proposes_and_the_majority_admits(tmp_path: Path) -> None:
    root = tmp_path / "net"
    assert govchain("init", root, "--demo").returncode == 0
    net = NetworkDir(root)

    # Without --proposer: keys are created and the proposal command is printed.
    r = govchain("network", "join", "housing", "--name", "住房和城乡建设局", "-n", root)
    assert r.returncode == 0, r.stderr
    node_key = read_key(net.node_key_path("housing"))
    admin_key = read_key(net.member_key_path("housing/admin"))
    assert f'"node_key":"{node_key.keypair.public.hex()}"' in r.stdout
    assert "govchain tx call network propose" in r.stdout
    assert "govchain node run" in r.stdout and "--dept housing" in r.stdout
    assert (net.node_key_path("housing").stat().st_mode & 0o777) == 0o600

    # Bad input: refused, nothing written.
    for args, message in [
        (("market", "--name", "x"), "genesis department"),
        (("Housing", "--name", "x"), "department id"),
        (("parks", "--name", ""), "--name"),
    ]:
        r = govchain("network", "join", *args, "-n", root)
        assert r.returncode != 0 and message in r.stderr, r.stderr
    assert not net.node_key_path("parks").exists()

    proc, url = start_node(root, tmp_path / "up.log")
    try:
        # With --proposer: the same keys are kept and the proposal is submitted.
        r = govchain(
            "network", "join", "housing", "--name", "住房和城乡建设局", "-n", root,
            "--proposer", "market/admin", "--url", url,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert "kept" in r.stdout and "network.proposed" in r.stdout
        assert read_key(net.node_key_path("housing")).keypair == node_key.keypair
        found = re.search(r'"proposal":"([0-9a-f]{32})"', r.stdout.replace(" ", ""))
        assert found, r.stdout
        for approver in ("tax/admin", "hrss/admin"):
            r = govchain(
                "tx", "call", "network", "approve", "--as", approver, "-n", root, "--url", url,
                "--args", f'{{"proposal": "{found.group(1)}"}}',
            )  # fmt: skip
            assert r.returncode == 0, r.stderr
        assert "network.membership_changed" in r.stdout
        view = httpx.post(f"{url}/v1/contracts/network/views/departments", json={}).json()
        assert view["result"][-1] == "housing"
        # The new department's admin key (created by join) now signs transactions.
        r = govchain(
            "tx", "put", "housing/hello", '"world"', "--as", "housing/admin", "-n", root,
            "--url", url,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert admin_key.id == "housing/admin"
        # Proofs after the change verify with genesis alone: the answer proves the change and
        # its checkpoint is counted against the five departments now in force.
        r = govchain("query", "housing/hello", "-n", root, "--url", url)
        assert r.returncode == 0, r.stderr
        assert "proof verified against checkpoint" in r.stdout
        assert "/5 departments" in r.stdout, r.stdout
        tx_id = httpx.get(f"{url}/v1/kv/housing/hello").json()["tx_id"]
        saved = tmp_path / "r.json"
        saved.write_bytes(httpx.get(f"{url}/v1/transactions/{tx_id}/receipt").content)
        r = govchain("verify-receipt", saved, "--genesis", root / "genesis.json")
        assert r.returncode == 0, r.stderr
        assert "after 1 proved membership change" in r.stdout, r.stdout
    finally:
        proc.terminate()
        proc.wait(60)
