"""``govchain share`` end to end against a real ``govchain up`` subprocess on a free loopback
port: register, publish, grant, read (opened with the reader's agreement key), a denied read,
an attestation, access receipts and erasure."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from oidc_login import login, register_client
from test_cli import ENV, GOVCHAIN, start_node

SUBJECT = "91330100MA27XL0X33"
ARREARS = {
    "id": "tax.arrears",
    "name": "纳税人欠税记录",
    "description": "欠税信息 (tax arrears)",
    "fields": [
        {"name": "amount_fen", "type": "integer", "description": "欠税金额(分)"},
        {"name": "settled", "type": "boolean", "description": "是否已缴清"},
    ],
    "share_level": "conditional",
    "sensitivity": "sensitive",
    "update_frequency": "daily",
    "legal_basis": "《税收征收管理法》",
}


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GOVCHAIN), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
        check=False,
    )


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, str, subprocess.Popen[bytes]]]:
    root = tmp_path_factory.mktemp("share") / "net"
    assert run("init", root, "--demo").returncode == 0
    proc, url = start_node(root, root.parent / "up.log")
    try:
        yield root, url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_share_flow(node: tuple[Path, str, subprocess.Popen[bytes]]) -> None:
    root, url, _ = node

    def share(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return run("share", *args, "--network", root, "--url", url)

    def share_url(*args: str) -> subprocess.CompletedProcess[str]:
        return run("share", *args, "--url", url)

    spec = root.parent / "arrears.json"
    spec.write_text(json.dumps(ARREARS, ensure_ascii=False), encoding="utf-8")
    r = share("register", spec, "--as", "tax/admin")
    assert r.returncode == 0 and "committed, ok" in r.stdout, r.stdout + r.stderr
    spec.write_text(json.dumps({**ARREARS, "description": "欠税信息 (每日更新)"}), encoding="utf-8")
    r = share("update", spec, "--as", "tax/admin")
    assert r.returncode == 0 and "sharing.updated" in r.stdout, r.stdout + r.stderr
    r = share("update", spec, "--as", "market/admin")
    assert r.returncode == 1 and "committed, failed" in r.stdout and "not_owner" in r.stdout
    data = '{"amount_fen": 1200000, "settled": false}'
    r = share("publish", "tax.arrears", "a-1", "--subject", SUBJECT, "--data", data,
              "--as", "tax/admin")  # fmt: skip
    assert r.returncode == 0 and "published; ciphertext hash" in r.stdout, r.stderr
    r = share_url("catalogue", "欠税")
    assert "tax.arrears" in r.stdout and "1 resource(s)" in r.stdout
    r = share("request-grant", "tax.arrears", "--fields", "amount_fen", "--purpose", "企业注销审查",
              "--legal-basis", "条例", "--as", "market/admin")  # fmt: skip
    assert r.returncode == 0, r.stderr
    grants = httpx.get(url + "/v1/sharing/grants", params={"dept": "market"}).json()["grants"]
    gid = grants[0]["id"]
    read = ("read", "tax.arrears", "--subject", SUBJECT, "--fields", "amount_fen", "--grant", gid,
            "--as", "market/admin", "--actor", "market/officer-li", "--case", "case-7")  # fmt: skip
    r = share(*read, "--purpose", "企业注销审查")
    assert r.returncode == 1 and "error [grant_pending]" in r.stderr
    assert share("approve", gid, "--as", "tax/admin").returncode == 0
    r = share(*read, "--purpose", "企业注销审查")
    assert r.returncode == 0, r.stderr
    assert "a-1" in r.stdout and "1200000" in r.stdout and "settled" not in r.stdout
    assert "read logged on-chain in transaction" in r.stdout
    r = share(*read, "--purpose", "信用评价")
    assert r.returncode == 1 and "error [wrong_purpose]" in r.stderr
    predicate = '{"filter": [["settled", "eq", false]], "count": ["eq", 0]}'
    r = share("attest", "tax.arrears", "--subject", SUBJECT, "--predicate", predicate,
              "--statement", "无欠税", "--as", "market/admin")  # fmt: skip
    assert r.returncode == 0 and "无欠税: no" in r.stdout, r.stderr
    r = share_url("receipts", SUBJECT)  # no token, nobody logged in: said before any request
    assert r.returncode == 1 and "nobody is logged in" in r.stderr
    register_client(root)
    password = (root / "departments" / "tax" / "admin.password").read_text().strip()
    token = login(url, "tax/admin", password)["access_token"]
    r = share_url("receipts", SUBJECT, "--token", token)
    assert r.returncode == 0, r.stderr
    assert "market/officer-li" in r.stdout and "case-7" in r.stdout and "企业注销审查" in r.stdout
    assert "attestation by tax for market/admin" in r.stdout
    r = share("erase", "tax.arrears", "a-1", "--reason", "依法删除", "--as", "tax/admin")
    assert r.returncode == 0 and "erased by tax/admin" in r.stdout, r.stderr
    r = share(*read, "--purpose", "企业注销审查")
    assert (
        r.returncode == 0 and "erased (unreadable): a-1" in r.stdout and "1200000" not in r.stdout
    )


def test_stopped_node_re_verifies_every_sharing_transaction(
    node: tuple[Path, str, subprocess.Popen[bytes]],
) -> None:
    """Offline re-execution from genesis (``govchain verify``) reproduces every catalogue,
    record, grant, read-log, attestation and erasure entry bit for bit."""
    root, _, proc = node
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    r = run("verify", "--network", root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK:" in r.stdout
