"""Mutual TLS to etcd: the local authority's certificates, and a real 3-member cluster that
admits only clients holding one of them (client port and Raft peer port alike)."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from govchain.errors import NotFound, OrderingUnavailable, SchemaViolation
from govchain.ordering.etcd import BlockLog
from govchain.ordering.etcd_client import EtcdClient
from govchain.ordering.etcd_cluster import EtcdCluster
from govchain.ordering.etcd_tls import EtcdTls, LocalAuthority


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _usages(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_authority_issues_member_and_client_certificates(tmp_path: Path) -> None:
    ca = LocalAuthority(tmp_path / "tls")
    member = ca.issue("etcd0", server=True)
    client = ca.issue("tax")
    root = _cert(member.ca)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert root.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    for tls in (member, client):
        leaf = _cert(tls.cert)
        leaf.verify_directly_issued_by(root)
        assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert stat.S_IMODE(tls.key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls" / "ca-key.pem").stat().st_mode) == 0o600
    # A member serves on 127.0.0.1 and is the other members' client; a node is a client only.
    server_leaf = _cert(member.cert)
    sans = server_leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert _usages(server_leaf) == {
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    }
    assert _usages(_cert(client.cert)) == {ExtendedKeyUsageOID.CLIENT_AUTH}


def test_authority_keeps_what_it_issued(tmp_path: Path) -> None:
    first = LocalAuthority(tmp_path).issue("tax")
    pem = first.cert.read_bytes()
    # Reopened (a restarted `network up`): the same authority and the same certificate.
    again = LocalAuthority(tmp_path).issue("tax")
    assert again == first and again.cert.read_bytes() == pem
    assert again.ca.is_absolute() and again.key.is_absolute()
    _cert(again.cert).verify_directly_issued_by(_cert(again.ca))


@pytest.mark.parametrize("name", ["", "../x", ".hidden", "a/b"])
def test_certificate_names_are_plain_file_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(SchemaViolation, match="plain file name"):
        LocalAuthority(tmp_path).issue(name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca-key.pem", "ca.pem"]


def test_tls_files_missing_or_not_pem_are_typed_errors(tmp_path: Path) -> None:
    good = LocalAuthority(tmp_path).issue("tax")
    with pytest.raises(NotFound, match=r"key .*does not exist"):
        EtcdTls(good.ca, good.cert, tmp_path / "nope.pem").context()
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(SchemaViolation, match="not a usable certificate"):
        EtcdTls(good.ca, junk, good.key).context()
    with pytest.raises(SchemaViolation):
        EtcdTls(junk, good.cert, good.key).context()
    # A key that is not the certificate's.
    other = LocalAuthority(tmp_path / "other").issue("tax")
    with pytest.raises(SchemaViolation):
        EtcdTls(good.ca, good.cert, other.key).context()


def test_tls_json_round_trip(tmp_path: Path) -> None:
    tls = LocalAuthority(tmp_path).issue("status")
    assert EtcdTls.from_json(tls.to_json()) == tls
    assert EtcdTls.from_json(None) is None
    with pytest.raises(SchemaViolation, match="ca, cert and key"):
        EtcdTls.from_json({"ca": "x"})
    assert tls.cli_args() == [
        "--etcd-ca",
        str(tls.ca),
        "--etcd-cert",
        str(tls.cert),
        "--etcd-key",
        str(tls.key),
    ]


# --- a real cluster ------------------------------------------------------------------------


def _refused(client: EtcdClient) -> str:
    try:
        with pytest.raises(OrderingUnavailable) as err:
            BlockLog(client, "tls", "a").height()
    finally:
        client.close()
    return err.value.message


def test_members_speak_mutual_tls(cluster: EtcdCluster) -> None:
    assert all(e.startswith("https://127.0.0.1:") for e in cluster.endpoints)
    client = cluster.client(name="tax")
    try:
        client.put(b"/tls/k", b"v")
        assert client.get(b"/tls/k") == b"v"
        status = client.member_status(cluster.endpoints[0])
        assert status is not None and status["header"]["member_id"]
    finally:
        client.close()


def test_a_client_without_a_certificate_is_refused(cluster: EtcdCluster) -> None:
    tls = cluster.client_tls("tax")
    assert tls is not None
    ctx = ssl.create_default_context(cafile=str(tls.ca))  # trusts the members, no certificate
    with httpx.Client(verify=ctx, timeout=2.0) as http, pytest.raises(httpx.HTTPError):
        http.post(f"{cluster.endpoints[0]}/v3/kv/range", json={"key": "eA=="})


def test_a_certificate_from_another_authority_is_refused(
    cluster: EtcdCluster, tmp_path: Path
) -> None:
    tls = cluster.client_tls("tax")
    assert tls is not None
    stranger = LocalAuthority(tmp_path).issue("tax")  # same name, another authority
    _refused(EtcdClient(cluster.endpoints, 1.0, tls=EtcdTls(tls.ca, stranger.cert, stranger.key)))


def test_members_not_issued_by_the_trusted_authority_are_refused(
    cluster: EtcdCluster, tmp_path: Path
) -> None:
    tls = cluster.client_tls("tax")
    assert tls is not None
    other_ca = LocalAuthority(tmp_path).issue("x").ca
    message = _refused(EtcdClient(cluster.endpoints, 1.0, tls=EtcdTls(other_ca, tls.cert, tls.key)))
    assert "CERTIFICATE_VERIFY_FAILED" in message


def test_plain_http_is_refused(cluster: EtcdCluster) -> None:
    plain = [e.replace("https://", "http://") for e in cluster.endpoints]
    _refused(EtcdClient(plain, timeout=1.0))


def test_raft_peer_port_admits_member_certificates_only(cluster: EtcdCluster) -> None:
    member = cluster.members[0]
    tls = cluster.client_tls("tax")
    assert tls is not None
    ctx = ssl.create_default_context(cafile=str(tls.ca))
    with httpx.Client(verify=ctx, timeout=2.0) as http, pytest.raises(httpx.HTTPError):
        http.get(f"{member.peer_url}/members")  # no client certificate: handshake refused
    # A node's certificate is from the same authority, but not a member's.
    with (
        httpx.Client(verify=tls.context(), timeout=2.0) as http,
        pytest.raises(httpx.HTTPError, match="BAD_CERTIFICATE"),
    ):
        http.get(f"{member.peer_url}/members")
    other = LocalAuthority(cluster.root / "tls").issue(cluster.members[1].name, server=True)
    with httpx.Client(verify=other.context(), timeout=2.0) as http:
        assert http.get(f"{member.peer_url}/members").status_code == 200
