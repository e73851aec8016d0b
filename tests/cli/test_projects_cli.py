"""``govchain projects ...`` against a real ``govchain up`` subprocess on a free loopback port:
the service's contract deployed with ``govchain app deploy``, staff accounts made with ``govchain
user add-staff`` and logged in with ``govchain login``; then a refused import (nothing
registered), good imports, listing, the review of an application, merge candidates and a
decision. The commands run in-process (Typer's runner: their output is not a terminal, as when
piped), and one subprocess run checks the installed entry point's piped output."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import ENV, GOVCHAIN, start_node
from typer.testing import CliRunner, Result

from govchain.apps.projects.tests.samples import (
    BOOKING_APPLICATION,
    ENGLISH,
    FOOD_SAMPLING,
    HOSPITAL_BOOKING,
    SCHOOL_ENROLMENT,
    cells,
    csv_bytes,
    variant,
)
from govchain.cli.main import app

DEPARTMENTS = {
    "health": "卫生健康委员会",
    "medical_insurance": "医疗保障局",
    "tax": "税务局",
    "market": "市场监督管理局",
}
PASSWORD = "Projects-cli-2026"
APPROVERS = ("medical_insurance/qian", "tax/zhao")
"""Reviewers made with ``govchain user add-staff`` (the admins exist from ``govchain init``)."""
RUNNER = CliRunner()


class Net:
    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        self.secrets: set[str] = {PASSWORD}
        """Passwords and tokens that must never appear in any output."""
        self.outputs: list[str] = []
        """Everything the commands printed."""
        self.env = {
            "COLUMNS": "200",
            "NO_COLOR": "1",
            "GOVCHAIN_NETWORK": str(root),
            "GOVCHAIN_URL": url,
            "GOVCHAIN_LOGIN": None,
            "GOVCHAIN_PASSWORD": None,
        }

    def run(self, *args: str | Path, stdin: str | None = None) -> Result:
        result = RUNNER.invoke(app, list(map(str, args)), input=stdin, env=self.env)
        self.outputs.append(result.stdout + result.stderr)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def ok(self, *args: str | Path, stdin: str | None = None) -> str:
        r = self.run(*args, stdin=stdin)
        assert r.exit_code == 0, f"{args}: {r.stdout}{r.stderr}"
        return r.stdout

    def fails(self, *args: str | Path) -> str:
        r = self.run(*args)
        assert r.exit_code == 1, f"{args}: {r.stdout}{r.stderr}"
        return r.stderr


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    root = tmp_path_factory.mktemp("projects-cli") / "net"
    specs = [f"-d{k}={v}" for k, v in DEPARTMENTS.items()]
    init = subprocess.run(
        [str(GOVCHAIN), "init", str(root), *specs], capture_output=True, text=True, env=ENV
    )
    assert init.returncode == 0, init.stderr
    proc, url = start_node(root, root.parent / "up.log")
    n = Net(root, url)
    try:
        assert "projects version 1 committed" in n.ok("app", "deploy", "projects")
        for login in APPROVERS:
            n.ok("user", "add-staff", login, "--name", login, "--role", "approver",
                 "--password", PASSWORD)  # fmt: skip
            n.ok("login", login, "--password-stdin", stdin=PASSWORD + "\n")
        for dept in ("health", "medical_insurance"):
            password = (root / "departments" / dept / "admin.password").read_text().strip()
            n.secrets.add(password)
            n.ok("login", f"{dept}/admin", "--password-stdin", stdin=password + "\n")
        for session in (root / "sessions").glob("*.json"):
            doc = json.loads(session.read_text())
            n.secrets.update({doc["access_token"], doc["refresh_token"]})
        yield n
        leaked = [s for s in n.secrets for out in n.outputs if s in out]
        assert not leaked, "a password or token was printed"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_import_list_review_and_decide(net: Net, tmp_path: Path) -> None:
    registry = [HOSPITAL_BOOKING, variant(SCHOOL_ENROLMENT, department="health"), FOOD_SAMPLING]
    rows = [cells(e, sep=";") for e in registry]  # a row a line
    rows[2][ENGLISH.index("users")] = ""
    bad = tmp_path / "registry-bad.csv"
    bad.write_bytes(csv_bytes(rows))
    err = net.fails("projects", "import", bad, "--login", "health/admin")
    assert "error [import_refused]: the CSV file has 1 problem(s); nothing was imported." in err
    assert "  line 4, users: must have 1 to 20 items" in err
    listed = json.loads(net.ok("projects", "list", "--json", "--login", "health/admin"))
    assert listed["total"] == 0

    good = tmp_path / "registry.csv"
    good.write_bytes(csv_bytes([cells(e) for e in registry]))
    out = net.ok("projects", "import", good, "--dry-run", "--login", "health/admin")
    assert "registry.csv: 3 entries (in_development 1, in_use 2) can be imported" in out
    out = net.ok("projects", "import", good, "--login", "health/admin")
    assert (
        "imported 3 entries (in_development 1, in_use 2) from registry.csv in 1 transaction(s)"
        in out
    )
    application = tmp_path / "application.json"
    application.write_text(json.dumps([BOOKING_APPLICATION], ensure_ascii=False))
    doc = json.loads(
        net.ok("projects", "import", application, "--json", "--login", "medical_insurance/admin")
    )
    assert doc["count"] == 1 and len(doc["transactions"][0]["tx_id"]) == 64

    # Piped, the table keeps every value whole.
    out = net.ok("projects", "list", "--login", "tax/zhao")
    for e in [*registry, BOOKING_APPLICATION]:
        assert e["id"] in out and e["name"] in out
    assert "4 of 4 entries" in out
    pending = json.loads(
        net.ok("projects", "list", "--status", "pending", "--json", "-l", "tax/zhao")
    )
    assert [e["id"] for e in pending["entries"]] == ["APP-2027-0001"]

    out = net.ok("projects", "review", "APP-2027-0001", "--login", "tax/zhao")
    assert "recommendation  reuse SYS-HEALTH-0001" in out
    assert "│ 1 │ SYS-HEALTH-0001" in out and "全省预约挂号服务系统" in out
    review = json.loads(net.ok("projects", "review", "APP-2027-0001", "--json", "-l", "tax/zhao"))
    assert review["candidates"][0]["id"] == "SYS-HEALTH-0001"
    merges = json.loads(net.ok("projects", "merges", "--json", "--login", "tax/zhao"))
    assert merges["pairs"] == [] and merges["count"] == 0

    reason = "在用系统已覆盖申请的全部功能，由卫健委开放接口供医保使用"
    decide = ["projects", "decide", "APP-2027-0001", "-r", "reuse", "-t", "SYS-HEALTH-0001"]
    err = net.fails(*decide, "--reason", reason, "--login", "medical_insurance/qian")
    assert "error [forbidden]" in err and "another one reviews it" in err
    err = net.fails(*decide, "--reason", reason, "--login", "health/admin")
    assert "error [forbidden]: this is for department staff (approver)" in err
    out = net.ok(*decide, "--reason", reason, "--login", "tax/zhao")
    assert "decision     reuse SYS-HEALTH-0001" in out and "(confirmed)" in out
    assert "decided on APP-2027-0001: transaction" in out
    out = net.ok("projects", "decision", "APP-2027-0001", "--login", "medical_insurance/admin")
    assert reason in out and "tax/zhao of tax" in out and "SYS-HEALTH-0001" in out
    shown = net.ok("projects", "show", "APP-2027-0001", "--login", "medical_insurance/admin")
    assert "registered" in shown and "reviewed: reuse" in shown
    err = net.fails(*decide, "--reason", reason, "--login", "tax/zhao")
    assert "error [conflict]" in err and "not a pending application" in err


def test_piped_output_of_the_installed_command(net: Net) -> None:
    env = {
        **ENV,
        "GOVCHAIN_NETWORK": str(net.root),
        "GOVCHAIN_URL": net.url,
        "GOVCHAIN_LOGIN": "tax/zhao",
    }
    done = subprocess.run(
        [str(GOVCHAIN), "projects", "show", "SYS-HEALTH-0001"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for function in HOSPITAL_BOOKING["functions"]:
        assert function in done.stdout
    assert HOSPITAL_BOOKING["purpose"] in done.stdout
