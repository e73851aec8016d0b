"""``govchain credential verify`` offline: a credential file with its receipt and cached status
lists verifies with nothing but the network directory's genesis; a tampered file, a stale or
foreign list, and a QR code with one wrong byte are refused, naming the failed check."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_issuance_kit import Kit, open_kit
from typer.testing import CliRunner, Result

from govchain.cli.main import app
from govchain.credentials import qr
from govchain.credentials.holder import credential_file
from govchain.credentials.qr import b45decode, b45encode

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A licence credential file and the market's status list files, before and after the
    enterprise's business licence is revoked (吊销)."""
    root = tmp_path_factory.mktemp("cli") / "net"
    kit: Kit
    for kit in open_kit(root):
        uscc = kit.import_enterprise(0)
        (done,) = kit.service.issue_licences(kit.service.licences_of(uscc), actor="x")
        assert not isinstance(done, dict)
        lists = [kit.service.status_list("market", p, 0) for p in ("revocation", "suspension")]
        kit.commit("market", "registry", "revoke", {"uscc": uscc, "reason": "虚假登记"})
        revoked = kit.service.status_list("market", "revocation", 0)
        yield {
            "root": root,
            "file": credential_file(done.credential, kit.service.evidence(done.hash)),
            "lists": lists,
            "revoked": [revoked, lists[1]],
        }


def _run(*args: str | Path) -> Result:
    return RUNNER.invoke(app, [str(a) for a in args])


def _files(tmp_path: Path, file: Any, lists: list[Any]) -> list[str | Path]:
    (tmp_path / "cred.json").write_bytes(orjson.dumps(file))
    out: list[str | Path] = [tmp_path / "cred.json"]
    for n, lst in enumerate(lists):
        (tmp_path / f"list{n}.json").write_bytes(orjson.dumps(lst))
        out += ["--status", tmp_path / f"list{n}.json"]
    return out


def test_verify_offline_passes_with_genesis_receipt_and_lists(
    issued: dict[str, Any], tmp_path: Path
) -> None:
    args = _files(tmp_path, issued["file"], issued["lists"])
    r = _run("credential", "verify", *args, "--network", issued["root"])
    assert r.exit_code == 0, r.output
    assert "valid" in r.output and "every check passed" in r.output
    as_json = _run("credential", "verify", *args, "--network", issued["root"], "--json")
    assert orjson.loads(as_json.output)["ok"] is True


@pytest.mark.parametrize(
    ("change", "check"),
    [
        (lambda f: f["credential"]["credentialSubject"].update(holder="别家公司"), "proof"),
        (lambda f: f["credential"]["proof"].update(proofValue="z1111"), "proof"),
        (lambda f: f["evidence"].update(tx_id="00" * 32), "key"),
        (lambda f: f["credential"].update(issuer="did:govchain:0000000000000000:market"), "issuer"),
    ],
)
def test_tampered_files_name_the_failed_check(
    issued: dict[str, Any], tmp_path: Path, change: Any, check: str
) -> None:
    file = copy.deepcopy(issued["file"])
    change(file)
    r = _run(
        "credential",
        "verify",
        *_files(tmp_path, file, issued["lists"]),
        "--network",
        issued["root"],
    )
    assert r.exit_code == 1, r.output
    assert f"check '{check}' failed" in r.output


def test_the_revoked_list_refuses_it(issued: dict[str, Any], tmp_path: Path) -> None:
    args = _files(tmp_path, issued["file"], issued["revoked"])
    r = _run("credential", "verify", *args, "--network", issued["root"])
    assert r.exit_code == 1 and "check 'status' failed" in r.output and "revoked" in r.output
    forged = copy.deepcopy(issued["revoked"][0])
    forged["credential"]["credentialSubject"]["encodedList"] = issued["lists"][0]["credential"][
        "credentialSubject"
    ]["encodedList"]
    r = _run(
        "credential",
        "verify",
        *_files(tmp_path, issued["file"], [forged, issued["lists"][1]]),
        "--network",
        issued["root"],
    )
    assert r.exit_code == 1 and "check 'status_issuer' failed" in r.output


def test_a_qr_code_verifies_and_one_wrong_byte_is_refused(
    issued: dict[str, Any], tmp_path: Path
) -> None:
    credential = issued["file"]["credential"]
    payload = qr.payload_for(credential, credential_id=credential["id"], url="http://x/verify")
    assert payload.startswith(qr.EMBEDDED)
    lists = _files(tmp_path, issued["file"], issued["lists"])[1:]
    png = tmp_path / "qr.png"
    png.write_bytes(qr.render_png(payload, "print"))
    r = _run("credential", "verify", "--qr", png, *lists, "--network", issued["root"])
    # Without the receipt a QR code is checked like any credential with genesis and lists.
    assert r.exit_code == 0, r.output

    framed = bytearray(b45decode(payload[len(qr.EMBEDDED) :]))
    framed[40] ^= 0x01
    png.write_bytes(qr.render_png(qr.EMBEDDED + b45encode(bytes(framed)), "screen"))
    r = _run("credential", "verify", "--qr", png, *lists, "--network", issued["root"])
    assert r.exit_code == 1 and "check 'qr_hash' failed" in r.output
