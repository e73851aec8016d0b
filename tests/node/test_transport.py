"""Node-to-node mutual TLS: certificates issued by department node keys, non-members refused.
Real TLS 1.3 connections on loopback, for both suites."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from govchain.crypto import get_suite
from govchain.crypto.suite import CryptoSuite
from govchain.errors import Forbidden
from govchain.node import transport
from govchain.node.transport import (
    AnswerBuffer,
    PeerCertificate,
    PeerServer,
    TlsContexts,
    check_peer,
    fetch,
    issue_certificate,
)

CHAIN = "tls-test"
Served = tuple[PeerServer, TlsContexts, dict[str, Any]]


@pytest.fixture(params=["intl", "gm"])
def suite(request: pytest.FixtureRequest) -> CryptoSuite:
    return get_suite(request.param)


def der(cert: PeerCertificate) -> bytes:
    return x509.load_pem_x509_certificate(cert.cert_pem).public_bytes(Encoding.DER)


def test_certificate_issued_by_member_key_is_accepted(suite: CryptoSuite) -> None:
    kp = suite.generate_keypair()
    cert = issue_certificate(suite, CHAIN, "tax", kp.private)
    assert check_peer(suite, CHAIN, der(cert), {"tax": kp.public}) == "tax"


def test_non_member_other_issuer_and_other_chain_are_refused(suite: CryptoSuite) -> None:
    kp, other = suite.generate_keypair(), suite.generate_keypair()
    cert = issue_certificate(suite, CHAIN, "tax", kp.private)
    with pytest.raises(Forbidden, match="not a member"):
        check_peer(suite, CHAIN, der(cert), {"market": kp.public})
    with pytest.raises(Forbidden, match="not issued"):
        check_peer(suite, CHAIN, der(cert), {"tax": other.public})
    with pytest.raises(Forbidden, match="not issued"):
        check_peer(suite, "another-chain", der(cert), {"tax": kp.public})
    with pytest.raises(Forbidden, match="no certificate"):
        check_peer(suite, CHAIN, None, {"tax": kp.public})
    with pytest.raises(Forbidden):
        check_peer(suite, CHAIN, b"not a certificate", {"tax": kp.public})


@pytest.fixture
def server(tmp_path: Path, suite: CryptoSuite) -> Iterator[Served]:
    keys = {d: suite.generate_keypair() for d in ("market", "tax", "outsider")}
    members = {d: keys[d].public for d in ("market", "tax")}
    ctx = TlsContexts(issue_certificate(suite, CHAIN, "market", keys["market"].private), tmp_path)
    srv = PeerServer(
        ctx,
        lambda c: check_peer(suite, CHAIN, c, members),
        lambda first, n: orjson.dumps({"blocks": [{"first": first, "n": n}]}),
    )
    srv.start()
    try:
        yield srv, ctx, {"keys": keys, "members": members}
    finally:
        srv.close()
        ctx.close()


@contextlib.contextmanager
def client(
    tmp_path: Path, suite: CryptoSuite, server: Served, dept: str = "tax"
) -> Iterator[TlsContexts]:
    """The TLS contexts of ``dept``'s node, trusted by the server (its certificate published)
    and trusting it."""
    _, sctx, info = server
    cctx = TlsContexts(issue_certificate(suite, CHAIN, dept, info["keys"][dept].private), tmp_path)
    try:
        sctx.trust(cctx.own.cert_pem)
        cctx.trust(sctx.own.cert_pem)
        yield cctx
    finally:
        cctx.close()


def test_member_peer_fetches_over_mutual_tls(
    tmp_path: Path, suite: CryptoSuite, server: Served
) -> None:
    srv, _, info = server
    with client(tmp_path, suite, server) as cctx:
        body = fetch(
            cctx,
            f"{srv.url}/v1/peer/blocks?from=5&limit=3",
            lambda c: check_peer(suite, CHAIN, c, info["members"]),
        )
        assert orjson.loads(body) == {"blocks": [{"first": 5, "n": 3}]}


def test_non_member_is_refused_even_with_a_trusted_certificate(
    tmp_path: Path, suite: CryptoSuite, server: Served
) -> None:
    srv = server[0]
    # Its certificate is published, so the handshake completes; the member check refuses it.
    with (
        client(tmp_path, suite, server, "outsider") as cctx,
        pytest.raises(OSError, match="HTTP 403"),
    ):
        fetch(cctx, f"{srv.url}/v1/peer/blocks", lambda c: "ok")


def test_unknown_certificate_fails_the_handshake(
    tmp_path: Path, suite: CryptoSuite, server: Served
) -> None:
    srv, sctx, info = server
    cctx = TlsContexts(
        issue_certificate(suite, CHAIN, "tax", info["keys"]["tax"].private), tmp_path
    )
    try:
        cctx.trust(sctx.own.cert_pem)  # the server never loaded this client's certificate
        with pytest.raises((ssl.SSLError, OSError)):
            fetch(cctx, f"{srv.url}/v1/peer/blocks", lambda c: "ok")
    finally:
        cctx.close()


def test_a_large_answer_arrives_whole(tmp_path: Path, suite: CryptoSuite) -> None:
    # A catch-up answer is a few MiB: many TLS records, read into one buffer of its length.
    keys = {d: suite.generate_keypair() for d in ("market", "tax")}
    members = {d: k.public for d, k in keys.items()}
    big = orjson.dumps({"blocks": [{"i": i, "pad": "x" * 500} for i in range(8000)]})
    assert len(big) > 3 << 20
    (tmp_path / "s").mkdir()
    (tmp_path / "c").mkdir()
    sctx = TlsContexts(
        issue_certificate(suite, CHAIN, "market", keys["market"].private), tmp_path / "s"
    )
    cctx = TlsContexts(issue_certificate(suite, CHAIN, "tax", keys["tax"].private), tmp_path / "c")
    srv = PeerServer(sctx, lambda c: check_peer(suite, CHAIN, c, members), lambda f, n: big)
    srv.start()
    try:
        sctx.trust(cctx.own.cert_pem)
        cctx.trust(sctx.own.cert_pem)
        body = fetch(
            cctx, f"{srv.url}/v1/peer/blocks", lambda c: check_peer(suite, CHAIN, c, members)
        )
        assert body == big
    finally:
        srv.close()
        sctx.close()
        cctx.close()


def test_answers_read_into_a_kept_buffer_arrive_whole_and_reuse_its_memory(
    tmp_path: Path, suite: CryptoSuite
) -> None:
    # The answer to ``from=n`` is n KiB of padding: a small answer, a larger one (the buffer
    # grows), a small one again (read into the same memory).
    keys = {d: suite.generate_keypair() for d in ("market", "tax")}
    members = {d: k.public for d, k in keys.items()}

    def answer(first: int, limit: int) -> bytes:
        return orjson.dumps({"blocks": [{"from": first, "pad": "x" * (first << 10)}]})

    (tmp_path / "s").mkdir()
    (tmp_path / "c").mkdir()
    sctx = TlsContexts(
        issue_certificate(suite, CHAIN, "market", keys["market"].private), tmp_path / "s"
    )
    cctx = TlsContexts(issue_certificate(suite, CHAIN, "tax", keys["tax"].private), tmp_path / "c")
    srv = PeerServer(sctx, lambda c: check_peer(suite, CHAIN, c, members), answer)
    srv.start()
    buffer = AnswerBuffer()
    memory: list[object] = []
    try:
        sctx.trust(cctx.own.cert_pem)
        cctx.trust(sctx.own.cert_pem)
        for first in (4, 2048, 16):
            body = fetch(
                cctx,
                f"{srv.url}/v1/peer/blocks?from={first}",
                lambda c: check_peer(suite, CHAIN, c, members),
                buffer=buffer,
            )
            assert isinstance(body, memoryview)
            assert bytes(body) == answer(first, 1)
            memory.append(body.obj)
            body.release()
    finally:
        srv.close()
        sctx.close()
        cctx.close()
    assert memory[0] is not memory[1]  # 2 MiB did not fit: a larger buffer
    assert memory[2] is memory[1]  # 16 KiB did


def test_an_answer_larger_than_the_limit_is_refused_before_it_is_read(
    tmp_path: Path, suite: CryptoSuite, server: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, _, info = server
    monkeypatch.setattr(transport, "MAX_ANSWER_BYTES", 10)
    with (
        client(tmp_path, suite, server) as cctx,
        pytest.raises(OSError, match="at most 10 are taken"),
    ):
        fetch(
            cctx,
            f"{srv.url}/v1/peer/blocks",
            lambda c: check_peer(suite, CHAIN, c, info["members"]),
        )
