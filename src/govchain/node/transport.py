"""Node-to-node transport: mutual TLS between department nodes, refusing non-members.

Each node, when it starts, makes a TLS key (Ed25519) and a self-signed X.509 certificate whose
subject is its department id, and **issues** it with its department node key: an extension of
the certificate carries the node key's signature (the network's suite: Ed25519 or SM2) of
``TLS_DOMAIN + chain id + department + TLS public key``. A peer accepts a certificate only if
that signature verifies under the node key that the current membership (genesis, changed by
the ``network`` contract) lists for the department: a non-member, or a member's certificate
for another chain, is refused after the handshake with 403.

Python's ``ssl`` (OpenSSL) has no SM2 TLS, so gm networks use an Ed25519 TLS key too; what
binds it to the department is the SM2 issuing signature. OpenSSL still needs each certificate
in its trust store to finish the handshake; nodes publish their certificates in the ordering
service and load them, but trust comes only from the issuing signature, checked on every
connection.
"""

from __future__ import annotations

import datetime
import http.server
import os
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID, ObjectIdentifier

from govchain.crypto.suite import CryptoSuite
from govchain.errors import Forbidden

TLS_DOMAIN = b"govchain/node-tls/v1\x00"
"""Prefix of the message a department node key signs to issue a TLS certificate."""
MAX_RANGE_BLOCKS = 4096
"""Most blocks one catch-up request may ask for (the answer is also cut by size)."""
ISSUER_OID = ObjectIdentifier("1.3.6.1.4.1.55555.1.1")
"""Certificate extension holding the department node key's issuing signature (a private-use
arc: the extension is not critical, TLS libraries ignore it)."""


def _tls_message(chain_id: str, dept: str, tls_public: bytes) -> bytes:
    return TLS_DOMAIN + f"{chain_id}\x00{dept}\x00".encode() + tls_public


@dataclass(frozen=True, slots=True)
class PeerCertificate:
    """A node's TLS identity."""

    dept: str
    """Department the certificate is issued for."""
    cert_pem: bytes
    """The certificate (PEM)."""
    key_pem: bytes
    """Its private key (PEM, never logged or published)."""


def issue_certificate(
    suite: CryptoSuite, chain_id: str, dept: str, node_private: bytes
) -> PeerCertificate:
    """Make a TLS key and a certificate for ``dept``, issued with its node key."""
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    issued = suite.sign(node_private, _tls_message(chain_id, dept, pub))
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, dept),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, chain_id),
            # A restarted node has a new key: a distinct subject keeps OpenSSL from picking
            # the old certificate (same name) as the issuer of the new one.
            x509.NameAttribute(NameOID.SERIAL_NUMBER, pub.hex()[:32]),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.UnrecognizedExtension(ISSUER_OID, issued), critical=False)
        .sign(key, None)
    )
    return PeerCertificate(
        dept,
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def check_peer(
    suite: CryptoSuite, chain_id: str, cert_der: bytes | None, members: dict[str, bytes]
) -> str:
    """Return the department a peer's certificate was issued for; ``Forbidden`` unless it
    was issued by the node key of a current member department of this chain."""
    if not cert_der:
        raise Forbidden("the peer presented no certificate")
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        dept = str(cns[0].value) if cns else ""
        pub = cert.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        ext = cert.extensions.get_extension_for_oid(ISSUER_OID).value
        assert isinstance(ext, x509.UnrecognizedExtension)
        issued = ext.value
    except (ValueError, x509.ExtensionNotFound, TypeError, AssertionError):
        raise Forbidden("the peer's certificate is not a department node certificate") from None
    key = members.get(dept)
    if key is None:
        raise Forbidden(f"peer {dept!r} is not a member department", dept=dept)
    if not suite.verify(key, _tls_message(chain_id, dept, pub), issued):
        raise Forbidden(
            f"the peer's certificate was not issued by the node key of {dept!r}", dept=dept
        )
    return dept


class TlsContexts:
    """Server and client ``SSLContext``s of one node: its own certificate, and the published
    certificates of the other nodes in the trust store (added as they appear)."""

    def __init__(self, own: PeerCertificate, workdir: Path) -> None:
        self.own = own
        # load_cert_chain reads files: a private directory, removed when the node stops.
        self._dir = Path(tempfile.mkdtemp(prefix="tls-", dir=workdir))
        os.chmod(self._dir, 0o700)
        cert_path, key_path = self._dir / "node.crt", self._dir / "node.key"
        cert_path.write_bytes(own.cert_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(own.key_pem)
        self.server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        for ctx in (self.server, self.client):
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            ctx.load_cert_chain(cert_path, key_path)
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cadata=own.cert_pem.decode())
        self.client.check_hostname = False  # identity = the issuing signature, checked after
        self._known: set[bytes] = {own.cert_pem}
        self._lock = threading.Lock()

    def trust(self, cert_pem: bytes) -> None:
        """Add a published peer certificate to both trust stores (idempotent)."""
        with self._lock:
            if cert_pem in self._known:
                return
            for ctx in (self.server, self.client):
                ctx.load_verify_locations(cadata=cert_pem.decode())
            self._known.add(cert_pem)

    def close(self) -> None:
        """Remove the key files."""
        for p in self._dir.iterdir():
            p.unlink()
        self._dir.rmdir()


class PeerServer:
    """The mutual-TLS listener that serves peers (catch-up blocks) on loopback."""

    def __init__(
        self,
        contexts: TlsContexts,
        authorize: Callable[[bytes | None], str],
        blocks: Callable[[int, int], bytes],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # requests are not logged (peers poll)

            def do_GET(self) -> None:
                conn = self.connection
                assert isinstance(conn, ssl.SSLSocket)
                try:
                    outer.authorize(conn.getpeercert(binary_form=True))
                except Forbidden as exc:
                    self._reply(403, b'{"code":"forbidden","detail":"%b"}' % exc.message.encode())
                    return
                url = urlparse(self.path)
                q = parse_qs(url.query)
                if url.path != "/v1/peer/blocks":
                    self._reply(404, b'{"code":"not_found"}')
                    return
                try:
                    first = int(q.get("from", ["1"])[0])
                    limit = min(int(q.get("limit", ["32"])[0]), MAX_RANGE_BLOCKS)
                except ValueError:
                    self._reply(400, b'{"code":"schema_violation"}')
                    return
                self._reply(200, outer.blocks(max(first, 1), max(limit, 1)))

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.authorize = authorize
        self.blocks = blocks
        self.httpd = http.server.ThreadingHTTPServer((host, port), Handler, bind_and_activate=True)
        self.httpd.daemon_threads = True
        self.httpd.socket = contexts.server.wrap_socket(self.httpd.socket, server_side=True)
        self.port: int = self.httpd.server_address[1]
        self.url = f"https://{host}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        """Serve in a thread."""
        self._thread.start()

    def close(self) -> None:
        """Stop serving (``shutdown`` would wait forever for a loop that never started)."""
        if self._thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()


MAX_HEAD_BYTES = 16 << 10
"""Longest status line and headers a peer may answer with."""
MAX_ANSWER_BYTES = 1 << 30
"""Largest answer body taken from a peer (a catch-up range is cut after 1 MiB, past one block
of at most ``block_max_txs`` transactions): a peer announcing more is refused before anything
is allocated for it."""


class AnswerBuffer:
    """Memory an answer body is read into, kept from one ``fetch`` to the next.

    A catch-up answer is a few MiB. Read into a fresh buffer each time, every answer costs a
    page fault per 4 KiB page (and zeroing the buffer first): on this project's benchmark
    machine, a virtual machine that hands fresh memory back to its host, a first touch costs
    about 10 µs a page. One buffer per fetching thread, grown when an answer is larger, is
    touched once; it is freed with its thread (catch-up fetches on a thread of its own)."""

    def __init__(self) -> None:
        self._data = bytearray()

    def view(self, length: int) -> memoryview:
        """Return a writable view of ``length`` bytes; the previous view must be released."""
        if len(self._data) < length:
            self._data = bytearray(max(length, 2 * len(self._data)))
        return memoryview(self._data)[:length]


def fetch(
    contexts: TlsContexts,
    url: str,
    authorize: Callable[[bytes | None], str],
    timeout: float = 10.0,
    buffer: AnswerBuffer | None = None,
) -> bytes | memoryview:
    """GET ``url`` from a peer over mutual TLS; the server's certificate must be issued by a
    member department (``Forbidden``); ``OSError`` on network errors or a malformed answer.

    The body is read straight into one buffer of its ``content-length``: a catch-up answer is
    a few MiB, and collecting it in chunks, joining them and cutting off the head copied it
    three times (fresh memory each time, which costs page faults as much as the copies). The
    body returned is a view of that buffer; with ``buffer``, it is the buffer's memory, valid
    until the next fetch into the same buffer: release it (``memoryview.release``) once parsed."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 443
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        contexts.client.wrap_socket(raw, server_hostname=host) as tls,
    ):
        authorize(tls.getpeercert(binary_form=True))
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            data = tls.recv(1 << 16)
            if not data or len(head) > MAX_HEAD_BYTES:
                raise OSError("peer closed the connection before its answer's headers ended")
            head += data
        head, _, start = head.partition(b"\r\n\r\n")
        status_line, *header_lines = head.split(b"\r\n")
        try:
            status = int(status_line.split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise OSError(f"peer answered {status_line[:80]!r}, not HTTP") from None
        length = None
        for line in header_lines:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise OSError(f"peer sent content-length {value[:40]!r}") from None
        if length is not None and length > MAX_ANSWER_BYTES:
            raise OSError(f"peer announced {length} bytes; at most {MAX_ANSWER_BYTES} are taken")
        if length is None or length < len(start):
            # No (or a wrong) length: read to the end of the connection.
            chunks, size = [start], len(start)
            while data := tls.recv(1 << 16):
                chunks.append(data)
                size += len(data)
                if size > MAX_ANSWER_BYTES:
                    raise OSError(f"peer sent more than {MAX_ANSWER_BYTES} bytes")
            body: bytes | memoryview = b"".join(chunks)
        else:
            view = (buffer or AnswerBuffer()).view(length)
            view[: len(start)] = start
            got = len(start)
            while got < length:
                n = tls.recv_into(view[got:], length - got)
                if not n:
                    view.release()
                    raise OSError(f"peer closed the connection after {got} of {length} bytes")
                got += n
            body = view
    if status != 200:
        detail = bytes(body[:200])
        if isinstance(body, memoryview):
            body.release()
        raise OSError(f"peer answered HTTP {status}: {detail!r}")
    return body
