"""Mutual TLS to etcd: the files a client presents, and the certificate authority of a local
cluster.

The ordering traffic (every queued transaction, every block, every checkpoint statement) goes
between the department nodes and the etcd members, and between the members (Raft). A cluster
run by ``EtcdCluster`` encrypts both and admits only clients holding a certificate from its own
authority (``--client-cert-auth``): a process on the network without one cannot read the queue
or write to the log. The authority is an ordinary X.509 CA (ECDSA P-256), the kind etcd's Go TLS
stack accepts; it is unrelated to the department keys, which are what nodes trust each other by
(``node/transport.py``).

A cluster run by the departments' operators brings its own authority: a node is given its CA
certificate and its client certificate and key (``govchain node run --etcd-ca --etcd-cert
--etcd-key``), as ``etcdctl`` is (``--cacert --cert --key``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from govchain.errors import NotFound, SchemaViolation

CA_FILE = "ca.pem"
"""The authority's certificate, in a cluster's TLS directory."""
CA_KEY_FILE = "ca-key.pem"
"""The authority's private key (mode 0600), in a cluster's TLS directory."""
VALID_DAYS = 3650
"""Lifetime of the certificates of a local cluster."""
MEMBER_CN = "govchain-etcd-member"
"""Common name of every member certificate: the members' Raft port admits only it
(``--peer-cert-allowed-cn``), so a node's client certificate cannot talk Raft."""


@dataclass(frozen=True, slots=True)
class EtcdTls:
    """What an etcd client presents and trusts: PEM files."""

    ca: Path
    """Certificate of the authority that issued the members' certificates (trusted)."""
    cert: Path
    """This client's certificate, issued by the cluster's authority."""
    key: Path
    """This client's private key."""

    def context(self) -> ssl.SSLContext:
        """Return a client ``SSLContext``: the members' certificates must chain to ``ca`` and
        name the address connected to; this client's certificate is presented.
        ``NotFound`` if a file is missing, ``SchemaViolation`` if one is not what it should be."""
        for what, path in (
            ("CA certificate", self.ca),
            ("certificate", self.cert),
            ("key", self.key),
        ):
            if not path.is_file():
                raise NotFound(f"etcd TLS {what} {path} does not exist", path=str(path))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # etcd 3.4 (Go) speaks 1.2 and 1.3
        try:
            ctx.load_verify_locations(cafile=str(self.ca))
            ctx.load_cert_chain(str(self.cert), str(self.key))
        except ssl.SSLError as exc:
            raise SchemaViolation(
                f"etcd TLS files {self.cert}, {self.key} (CA {self.ca}) are not a usable "
                f"certificate, key and CA in PEM: {exc.reason or exc}",
                path=str(self.cert),
            ) from None
        return ctx

    def to_json(self) -> dict[str, str]:
        """Return the paths as JSON (``run.json`` of ``network up``)."""
        return {"ca": str(self.ca), "cert": str(self.cert), "key": str(self.key)}

    @staticmethod
    def from_json(obj: Any) -> EtcdTls | None:
        """Parse ``to_json``'s form; ``None`` stays ``None`` (a plain-HTTP cluster)."""
        if obj is None:
            return None
        try:
            return EtcdTls(Path(obj["ca"]), Path(obj["cert"]), Path(obj["key"]))
        except (KeyError, TypeError):
            raise SchemaViolation("etcd TLS must name ca, cert and key files") from None

    def cli_args(self) -> list[str]:
        """Return the ``govchain node run`` options that pass these files on."""
        return [
            "--etcd-ca",
            str(self.ca),
            "--etcd-cert",
            str(self.cert),
            "--etcd-key",
            str(self.key),
        ]


def _write_private(path: Path, data: bytes) -> None:
    """Write a private key readable by its owner only (created so, never widened after)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class LocalAuthority:
    """The certificate authority of a local etcd cluster, kept in one directory: ``ca.pem``,
    ``ca-key.pem``, and ``<name>.pem`` / ``<name>-key.pem`` for each certificate it issued."""

    def __init__(self, directory: Path) -> None:
        # Absolute: the paths it hands out are passed to node processes and kept in run.json.
        self.dir = Path(directory).resolve()
        self.ca_path = self.dir / CA_FILE
        if not self.ca_path.exists():
            self._create()
        self._ca = x509.load_pem_x509_certificate(self.ca_path.read_bytes())
        ca_key = serialization.load_pem_private_key((self.dir / CA_KEY_FILE).read_bytes(), None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise SchemaViolation(f"{self.dir / CA_KEY_FILE} is not an EC private key")
        self._ca_key = ca_key

    def _create(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "govchain etcd CA")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        _write_private(self.dir / CA_KEY_FILE, _key_pem(key))
        self.ca_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, *, server: bool = False) -> EtcdTls:
        """Return the certificate ``name`` (issued now if it does not exist yet): a client
        certificate (common name ``name``), or for ``server`` a member's (common name
        ``MEMBER_CN``), which serves on 127.0.0.1 and is also the member's client certificate
        towards the other members."""
        if not name or "/" in name or name.startswith("."):
            raise SchemaViolation(f"certificate name {name!r} is not a plain file name")
        cert_path, key_path = self.dir / f"{name}.pem", self.dir / f"{name}-key.pem"
        if not (cert_path.exists() and key_path.exists()):
            key = ec.generate_private_key(ec.SECP256R1())
            now = datetime.datetime.now(datetime.UTC)
            usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
            builder = (
                x509.CertificateBuilder()
                .subject_name(
                    x509.Name(
                        [x509.NameAttribute(NameOID.COMMON_NAME, MEMBER_CN if server else name)]
                    )
                )
                .issuer_name(self._ca.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()),
                    False,
                )
            )
            if server:
                usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
                builder = builder.add_extension(
                    x509.SubjectAlternativeName(
                        [
                            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                            x509.DNSName("localhost"),
                        ]
                    ),
                    critical=False,
                )
            cert = builder.add_extension(x509.ExtendedKeyUsage(usages), False).sign(
                self._ca_key, hashes.SHA256()
            )
            _write_private(key_path, _key_pem(key))
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return EtcdTls(self.ca_path, cert_path, key_path)
