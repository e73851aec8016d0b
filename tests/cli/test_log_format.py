"""``govchain up --log-format json``: a real node process whose log (standard error) is one
JSON object per line, access-log lines naming the request id and path (never the query)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from test_cli import ENV, GOVCHAIN, free_port, govchain


def _start(network: Path, out: Path, err: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [str(GOVCHAIN), "up", "--network", str(network), "--port", str(port),
             "--log-format", "json"],
            stdout=stdout,
            stderr=stderr,
            env=ENV,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert proc.poll() is None, err.read_text()
            try:
                if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                    return proc, url
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "node did not come up:\n" + err.read_text()
            time.sleep(0.2)
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise


def test_up_writes_json_lines_with_request_ids(tmp_path: Path) -> None:
    network = tmp_path / "net"
    assert govchain("init", network, "--demo").returncode == 0
    out, err = tmp_path / "up.out", tmp_path / "up.err"
    proc, url = _start(network, out, err)
    try:
        traced = httpx.get(url + "/v1/kv/k?secret=s3cr3t", headers={"x-request-id": "trace-7"})
        assert traced.status_code == 200 and traced.headers["x-request-id"] == "trace-7"
        own = httpx.get(url + "/metrics").headers["x-request-id"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    lines = err.read_text(encoding="utf-8").splitlines()
    records: list[dict[str, Any]] = [json.loads(line) for line in lines]  # each line: JSON
    assert len(records) >= 5
    for rec in records:
        assert {"time", "level", "logger", "message"} <= set(rec), rec
        assert rec["time"].endswith("Z") and rec["level"] in {"DEBUG", "INFO", "WARNING", "ERROR"}
    access = {r["request_id"]: r for r in records if r["logger"] == "uvicorn.access"}
    assert access["trace-7"]["path"] == "/v1/kv/k"
    assert access["trace-7"]["method"] == "GET" and access["trace-7"]["status"] == 200
    assert access[own]["path"] == "/metrics" and access[own]["status"] == 200
    assert "s3cr3t" not in err.read_text(encoding="utf-8")
    # What the node logs outside requests (start-up, its workers) is JSON too.
    assert any(r["logger"].startswith("govchain.") for r in records)
    assert "stopped at height" in out.read_text(encoding="utf-8")  # the console stays text
