"""``govchain app`` / ``contract`` / ``notary`` end to end against a real ``govchain up``:
deploy the notarisation service, notarise (one and a batch), verify offline and online, revoke;
the static check's report; a scaffolded service passing its own tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
from test_cli import ENV, GOVCHAIN, Network, Server, cli, free_port, govchain, network, server

__all__ = ["network", "server"]  # module-scoped fixtures shared with test_cli


def test_notarise_verify_revoke(server: Server, tmp_path: Path) -> None:
    deployed = cli(server, "app", "deploy", "notary")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "notary version 1 committed" in deployed.stdout
    again = cli(server, "app", "deploy", "notary")
    assert "with this code is committed" in again.stdout

    doc = tmp_path / "licence.pdf"
    doc.write_bytes("%PDF-1.4 营业执照".encode())
    receipt = tmp_path / "licence.receipt.json"
    r = cli(
        server, "notary", "notarise", doc, "--as", "market/admin", "--case", "case-7",
        "--expires", "2030-01-01", "--store", "--receipt-out", receipt,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "stored in the node's content store" in r.stdout
    assert "document receipt saved" in r.stdout

    offline = govchain("verify-receipt", receipt, doc, "--network", server.network)
    assert offline.returncode == 0, offline.stderr
    assert "matches the notarised digest" in offline.stdout
    assert "expires 2030-01-01 00:00:00 UTC" in offline.stdout
    other = tmp_path / "other.pdf"
    other.write_bytes(b"%PDF-1.4 forged")
    forged = govchain("verify-receipt", receipt, other, "--network", server.network)
    assert forged.returncode == 1
    assert "document verification FAILED: the document does not match" in forged.stderr

    online = cli(server, "notary", "verify", doc, "--receipt", receipt)
    assert online.returncode == 0, online.stdout + online.stderr
    assert "valid" in online.stdout and "case-7" in online.stdout
    assert cli(server, "notary", "verify", other).returncode == 1

    refused = cli(server, "notary", "revoke", doc, "--as", "tax/admin", "--reason", "x")
    assert refused.returncode == 1 and "notary.not_owner" in refused.stdout
    revoked = cli(server, "notary", "revoke", doc, "--as", "market/admin", "--reason", "reissued")
    assert revoked.returncode == 0, revoked.stdout
    after = cli(server, "notary", "verify", doc)
    assert after.returncode == 1 and "revoked" in after.stdout and "reissued" in after.stdout


def test_batch_receipts_verify_offline(server: Server, tmp_path: Path) -> None:
    assert cli(server, "app", "deploy", "notary").returncode == 0
    folder = tmp_path / "records"
    folder.mkdir()
    for i in range(50):
        (folder / f"r{i:03}.txt").write_text(f"社保缴费记录 {i}")
    out = tmp_path / "receipts"
    r = cli(server, "notary", "batch", folder, "--as", "hrss/admin", "--receipts-out", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "50 documents notarised under batch root" in r.stdout
    receipt = out / "r007.txt.receipt.json"
    ok = govchain("verify-receipt", receipt, folder / "r007.txt", "--network", server.network)
    assert ok.returncode == 0 and "via its inclusion proof" in ok.stdout
    bad = govchain("verify-receipt", receipt, folder / "r008.txt", "--network", server.network)
    assert bad.returncode == 1
    tampered = orjson.loads(receipt.read_bytes())
    tampered["notary"]["batch"]["index"] = 8
    (tmp_path / "t.json").write_bytes(orjson.dumps(tampered))
    moved = govchain(
        "verify-receipt", tmp_path / "t.json", folder / "r007.txt", "-n", server.network
    )
    assert moved.returncode == 1


def test_contract_check_reports_file_and_line(network: Network, tmp_path: Path) -> None:
    bad = tmp_path / "clock.py"
    bad.write_text("import time\n\nx = getattr(time, 'time')\n")
    r = govchain("contract", "check", bad, "--network", network.root)
    assert r.returncode == 1
    assert "contract.py:1: import time: wall-clock time is not deterministic" in r.stdout
    assert "contract.py:3: name getattr" in r.stdout


def test_app_new_scaffolds_a_service_whose_tests_pass(tmp_path: Path) -> None:
    r = govchain("app", "new", "land_registry", "--dir", tmp_path, "--title", "不动产登记")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "land_registry" / "contract.py").exists()
    assert govchain("app", "new", "land_registry", "--dir", tmp_path).returncode == 1
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "land_registry"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout


COUNTER = """
from govchain.sdk import Contract, entry, view


class Counter(Contract):
    @entry
    def add(self, amount: int) -> int:
        value = (self.ctx.get("n") or 0) + amount
        self.ctx.put("n", value)
        return value

    @view
    def value(self) -> int:
        return self.ctx.get("n") or 0
"""


def test_contract_lifecycle_commands(server: Server, tmp_path: Path) -> None:
    package = tmp_path / "counter"
    package.mkdir()
    (package / "contract.py").write_text(COUNTER)
    (package / "README.md").write_text("A counter.\n")
    checked = govchain("contract", "check", package, "--network", server.network)
    assert checked.returncode == 0, checked.stdout
    digest = checked.stdout.split("code hash ")[1].split()[0]
    policy = '{"rule": "departments", "departments": ["tax", "customs"]}'
    r = cli(
        server, "contract", "install", "counter", package, "--as", "tax/admin", "--policy", policy
    )
    assert r.returncode == 0, r.stdout + r.stderr
    early = cli(server, "contract", "commit", "counter", "--as", "tax/admin")
    assert early.returncode == 1 and "not_approved" in early.stdout
    for member in ("market/admin", "tax/admin", "hrss/admin"):
        a = cli(server, "contract", "approve", "counter", "--code-hash", digest, "--as", member)
        assert a.returncode == 0, a.stdout
    assert cli(server, "contract", "commit", "counter", "--as", "tax/admin").returncode == 0
    assert (
        cli(
            server, "tx", "call", "counter", "add", "--args", '{"amount": 3}', "--as", "hrss/admin"
        ).returncode
        == 0
    )
    view = govchain("contract", "view", "counter", "value", "--url", server.url)
    assert view.returncode == 0 and view.stdout.strip() == "3"
    shown = govchain("contract", "show", "counter", "--url", server.url)
    assert digest in shown.stdout and "entry" in shown.stdout and "add(amount: int)" in shown.stdout

    # version 2 under the committed policy: tax + customs; market, hrss and tax are not enough
    (package / "contract.py").write_text(COUNTER.replace("+ amount", "+ 2 * amount"))
    v2 = (
        govchain("contract", "check", package, "-n", server.network)
        .stdout.split("code hash ")[1]
        .split()[0]
    )
    assert (
        cli(
            server, "contract", "install", "counter", package, "--as", "market/admin", "-v", "2"
        ).returncode
        == 0
    )
    for member in ("market/admin", "hrss/admin", "tax/admin"):
        assert (
            cli(
                server,
                "contract",
                "approve",
                "counter",
                "--code-hash",
                v2,
                "-v",
                "2",
                "--as",
                member,
            ).returncode
            == 0
        )
    refused = cli(server, "contract", "commit", "counter", "-v", "2", "--as", "tax/admin")
    assert refused.returncode == 1 and "missing customs" in refused.stdout
    assert (
        cli(
            server,
            "contract",
            "approve",
            "counter",
            "--code-hash",
            v2,
            "-v",
            "2",
            "--as",
            "customs/admin",
        ).returncode
        == 0
    )
    assert (
        cli(server, "contract", "commit", "counter", "-v", "2", "--as", "tax/admin").returncode == 0
    )
    listing = govchain("contract", "show", "--url", server.url)
    assert "counter  version 2" in listing.stdout


def test_demo_deploys_the_services_once(tmp_path: Path) -> None:
    """``govchain demo`` (``make run``) deploys every service with all departments' approvals,
    runs its demo calls once, and finds the code already committed on the next start."""
    directory = tmp_path / "demo"
    logs = []
    for _ in range(2):
        port = free_port()
        log = tmp_path / f"demo-{len(logs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(GOVCHAIN), "demo", "--dir", str(directory), "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=ENV,
            )
        srv = Server(directory, f"http://127.0.0.1:{port}", proc, log)
        try:
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    if httpx.get(srv.url + "/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            apps = {a["name"]: a for a in httpx.get(srv.url + "/v1/apps").json()["apps"]}
            assert apps["notary"]["contract"]["version"] == 1
        finally:
            assert srv.stop() == 0
        logs.append(log.read_text())
    assert "service notary: version 1 committed" in logs[0]
    assert "service notary: version 1 is committed" in logs[1]
    verified = govchain("verify", "--network", directory)
    assert verified.returncode == 0 and "OK:" in verified.stdout
