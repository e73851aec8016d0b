"""Bitstring Status List v1.0: bit order, encoding, entries and bounds."""

from __future__ import annotations

import base64
import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.credentials import CredentialCheckFailed, statuslist
from govchain.credentials.multibase import encode
from govchain.errors import SchemaViolation

URL = "https://govchain.example/status/market/revocation"


def test_bit_zero_is_the_leftmost_bit_and_encoding_is_gzip_base64url() -> None:
    lst = statuslist.BitstringStatusList()
    lst.set(0)
    lst.set(9)
    raw = lst.to_bytes()
    assert raw[:2] == b"\x80\x40" and len(raw) == 16_384
    encoded = lst.encode()
    assert encoded.startswith("uH4sI")  # 'u' + base64url of the gzip magic 1f 8b 08
    body = encoded[1:]
    assert gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))) == raw
    assert encoded == statuslist.BitstringStatusList(bits=raw).encode()  # deterministic


@settings(max_examples=30, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=statuslist.MIN_ENTRIES - 1), max_size=40))
def test_set_bits_survive_encoding(indices: set[int]) -> None:
    lst = statuslist.BitstringStatusList()
    for i in indices:
        lst.set(i)
    back = statuslist.BitstringStatusList.decode(lst.encode())
    assert {i for i in range(back.size) if back.get(i)} == indices


def test_bounds_and_malformed_lists() -> None:
    with pytest.raises(SchemaViolation):
        statuslist.BitstringStatusList(1024)
    lst = statuslist.BitstringStatusList()
    with pytest.raises(SchemaViolation):
        lst.set(statuslist.MIN_ENTRIES)
    short = encode(gzip.compress(b"\0" * 100, mtime=0), "u")
    bomb = encode(gzip.compress(b"\0" * (statuslist.MAX_ENTRIES // 8 + 8), mtime=0), "u")
    for bad in (short, bomb, "uAAAA", "z" + "1" * 10):
        with pytest.raises(CredentialCheckFailed) as err:
            statuslist.BitstringStatusList.decode(bad)
        assert err.value.check == "status"


def test_entry_and_list_credential_shape() -> None:
    entry = statuslist.status_entry(URL, 94567, "revocation")
    assert entry == {
        "id": f"{URL}#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": URL,
    }
    lst = statuslist.BitstringStatusList()
    lst.set(94567)
    cred = statuslist.status_list_credential(
        list_id=URL,
        issuer="did:govchain:0123456789abcdef:market",
        purpose="revocation",
        status_list=lst,
        valid_from="2026-12-01T00:00:00Z",
    )
    assert cred["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    parsed = statuslist.parse_entries({"credentialStatus": entry})
    assert statuslist.bit_of(parsed[0], cred) is True
    suspension = statuslist.parse_entries(
        {"credentialStatus": statuslist.status_entry(URL, 1, "suspension")}
    )[0]
    with pytest.raises(CredentialCheckFailed, match="suspension"):
        statuslist.bit_of(suspension, cred)
    with pytest.raises(CredentialCheckFailed):
        statuslist.parse_entries({"credentialStatus": {**entry, "statusListIndex": 5}})
