"""Validation of catalogue entries, record data, grant requests, predicates and signed
requests: bad input gets a typed error."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sharing_world import ARREARS

from govchain.crypto import get_suite
from govchain.errors import BadSignature, SchemaViolation, UnknownSigner
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.execution import member_key
from govchain.sharing import keyfiles
from govchain.sharing.errors import StaleRequest
from govchain.sharing.grants import MAX_GRANT_MS, parse_grant_request
from govchain.sharing.model import check_record_data, parse_resource
from govchain.sharing.predicates import parse_predicate
from govchain.sharing.requests import build_request, parse_request, verify_request

RESOURCE = parse_resource(ARREARS, "tax", 0)


@pytest.mark.parametrize(
    "change",
    [
        {"id": "Tax"},
        {"id": "t"},
        {"name": ""},
        {"fields": []},
        {"fields": [{"name": "a", "type": "float", "description": "x"}]},
        {"fields": [{"name": "a", "type": "string", "description": "x"}] * 2},
        {"share_level": "sometimes"},
        {"sensitivity": "top"},
        {"update_frequency": "hourly"},
        {"legal_basis": ""},
        {"owner": "tax"},
    ],
)
def test_bad_resources_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(SchemaViolation):
        parse_resource({**ARREARS, **change}, "tax", 0)


def test_resource_json_round_trip() -> None:
    from govchain.sharing.model import Resource

    assert Resource.from_json(RESOURCE.to_json()) == RESOURCE


@pytest.mark.parametrize(
    "data",
    [
        {"amount_fen": 1, "due_date": "2026-01-01"},
        {"amount_fen": 1, "due_date": "2026-01-01", "settled": False, "extra": 1},
        {"amount_fen": True, "due_date": "2026-01-01", "settled": False},
        {"amount_fen": 1, "due_date": "2026-02-30x", "settled": False},
        {"amount_fen": 1, "due_date": "2026-01-01", "settled": 0},
        [1, 2],
    ],
)
def test_bad_record_data_is_refused(data: Any) -> None:
    with pytest.raises(SchemaViolation):
        check_record_data(RESOURCE, data)


def test_grant_request_rules() -> None:
    good = {
        "resource": "tax.arrears",
        "fields": ["amount_fen"],
        "purpose": "p",
        "legal_basis": "l",
        "case": "",
        "expires_ms": 2000,
    }
    assert parse_grant_request(good, 1000).expires_ms == 2000
    for bad in (
        {"expires_ms": 1000},
        {"expires_ms": 1001 + MAX_GRANT_MS},
        {"fields": []},
        {"fields": ["a", "a"]},
        {"purpose": ""},
        {"surprise": 1},
    ):
        with pytest.raises(SchemaViolation):
            parse_grant_request({**good, **bad}, 1000)


@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "amount_fen": st.integers(0, 10**6),
                "due_date": st.sampled_from(["2026-01-01", "2026-11-01", "2026-12-31"]),
                "settled": st.booleans(),
            }
        ),
        max_size=6,
    ),
    n=st.integers(0, 3),
)
def test_predicate_counts_matching_records(rows: list[dict[str, Any]], n: int) -> None:
    p = parse_predicate(
        {
            "filter": [["settled", "eq", False], ["due_date", "le", "2026-11-01"]],
            "count": ["lt", n],
        },
        RESOURCE,
    )
    matching = [r for r in rows if not r["settled"] and r["due_date"] <= "2026-11-01"]
    assert p.answer(rows) is (len(matching) < n)


@pytest.mark.parametrize(
    "predicate",
    [
        {"filter": [["nope", "eq", 1]], "count": ["eq", 0]},
        {"filter": [["amount_fen", "like", 1]], "count": ["eq", 0]},
        {"filter": [["amount_fen", "eq", "1"]], "count": ["eq", 0]},
        {"filter": [["settled", "lt", True]], "count": ["eq", 0]},
        {"filter": [], "count": ["eq", -1]},
        {"filter": [], "count": ["eq"]},
        {"filter": [["amount_fen", "eq"]], "count": ["eq", 0]},
    ],
)
def test_bad_predicates_are_refused(predicate: Any) -> None:
    with pytest.raises(SchemaViolation):
        parse_predicate(predicate, RESOURCE)


def _request(suite_name: str, private: bytes, **kw: Any) -> Any:
    suite = get_suite(suite_name)
    return build_request(
        chain="c",
        kind="read",
        signer="tax/admin",
        actor="x",
        args={},
        time_ms=10_000_000,
        sign=lambda m: suite.sign(private, m),
        **kw,
    )


@pytest.mark.parametrize("suite_name", ["intl", "gm"])
def test_request_signature_round_trip_and_tampering(suite_name: str) -> None:
    suite = get_suite(suite_name)
    kp = suite.generate_keypair()
    member = canonical_unchecked(
        {"id": "tax/admin", "dept": "tax", "role": "admin", "public_key": kp.public.hex()}
    )
    state = {member_key("tax/admin"): member}
    req = _request(suite_name, kp.private, purpose="p")
    again = parse_request(req.envelope())
    assert again == req
    assert verify_request(again, chain="c", read_state=state.get, now_ms=10_000_000,
                          kind="read").dept == "tax"  # fmt: skip
    tampered = req.envelope()
    tampered["body"]["purpose"] = "q"
    with pytest.raises(BadSignature):
        verify_request(parse_request(tampered), chain="c", read_state=state.get,
                       now_ms=10_000_000, kind="read")  # fmt: skip
    with pytest.raises(StaleRequest):
        verify_request(req, chain="c", read_state=state.get, now_ms=20_000_000, kind="read")
    with pytest.raises(SchemaViolation):
        verify_request(req, chain="c", read_state=state.get, now_ms=10_000_000, kind="erase")
    assert _request(suite_name, kp.private).request_id(suite) != req.request_id(suite)


@pytest.mark.parametrize("status", ["suspended", "revoked", "expired"])
def test_requests_of_members_no_longer_valid_are_refused(status: str) -> None:
    kp = get_suite("intl").generate_keypair()
    record = {"id": "tax/admin", "dept": "tax", "role": "admin", "public_key": kp.public.hex()}
    if status == "expired":
        record.update(status="active", not_after_ms=9_999_999)  # credential ran out
    else:
        record["status"] = status
    state = {member_key("tax/admin"): canonical_unchecked(record)}
    with pytest.raises(UnknownSigner):
        verify_request(_request("intl", kp.private, purpose="p"), chain="c",
                       read_state=state.get, now_ms=10_000_000, kind="read")  # fmt: skip


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.pop("signature"),
        lambda e: e["body"].pop("nonce"),
        lambda e: e["body"].update(kind="delete"),
        lambda e: e["body"].update(time_ms=-1),
        lambda e: e["body"].update(extra=1),
        lambda e: e.update(signature="zz"),
        lambda e: e["body"].update(args=[]),
    ],
)
def test_malformed_requests_are_refused(mutate: Any) -> None:
    envelope = _request("intl", bytes(32)).envelope()
    mutate(envelope)
    with pytest.raises(SchemaViolation):
        parse_request(envelope)


@pytest.mark.parametrize("suite_name", ["intl", "gm"])
def test_agreement_key_files(tmp_path: Path, suite_name: str) -> None:
    kp = keyfiles.ensure_agreement_key(tmp_path, "tax", suite_name)
    path = keyfiles.agreement_key_path(tmp_path, "tax")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert keyfiles.ensure_agreement_key(tmp_path, "tax", suite_name) == kp
    other = get_suite(suite_name).agreement_keypair()
    path.write_text(path.read_text().replace(kp.public.hex(), other.public.hex()))
    with pytest.raises(SchemaViolation):
        keyfiles.read_agreement_key(path, suite_name)
    with pytest.raises(SchemaViolation):
        keyfiles.read_agreement_key(path, "intl" if suite_name == "gm" else "gm")
