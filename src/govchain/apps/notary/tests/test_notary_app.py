"""Tests of notarisation: the contract on the SDK's in-memory network, batches (RFC 6962 proofs
checked against the reference generator), and offline verification with tampering."""

from __future__ import annotations

import copy
from hashlib import sha256
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.apps.notary.app import APP
from govchain.apps.notary.batches import BatchProof, build_batch
from govchain.apps.notary.service import (
    EXPIRED,
    REVOKED,
    VALID,
    document_digest,
    document_receipt,
    notarise_args,
    parse_expiry,
    status_of,
    verify_document,
)
from govchain.crypto import get_suite
from govchain.errors import ProofError, RootMismatch
from govchain.ledger import merkle
from govchain.sdk.testing import ContractHarness

DOC = "营业执照副本 business licence copy".encode()


@pytest.fixture(params=["intl", "gm"])
def h(request: pytest.FixtureRequest) -> ContractHarness:
    return ContractHarness.for_app(APP, suite=request.param)


def bundle_of(h: ContractHarness, receipt_tx: bytes) -> dict[str, Any]:
    return h.ledger.receipt_bundle(receipt_tx)


def notarise(h: ContractHarness, data: bytes, **kw: Any) -> tuple[str, dict[str, Any]]:
    digest = document_digest(h.suite, data)
    tx = h.transaction(
        "notarise", notarise_args(digest, title="licence", **kw), member="market/admin", case="c-1"
    )
    [r] = h.commit([tx])
    assert r.status == "ok", r.error
    return digest, document_receipt(bundle_of(h, tx.tx_id), digest, None)


def test_notarise_records_who_when_case_and_expiry(h: ContractHarness) -> None:
    expires = h.time_ms + 86_400_000
    digest, _ = notarise(h, DOC, expires_ms=expires)
    record = h.view("record", {"digest": digest})
    assert record["by"] == "market/admin" and record["dept"] == "market"
    assert record["case"] == "c-1" and record["title"] == "licence"
    assert record["time_ms"] == h.time_ms and record["expires_ms"] == expires
    assert record["revoked"] is None
    assert status_of(record, h.time_ms) == VALID
    assert status_of(record, expires) == EXPIRED


def test_refusals_write_nothing(h: ContractHarness) -> None:
    digest, _ = notarise(h, DOC)
    again = h.call("notarise", {"digest": digest})
    assert again.error is not None and again.error["code"] == "notary.already_notarised"
    bad = h.call("notarise", {"digest": "XYZ"})
    assert bad.error is not None and bad.error["code"] == "notary.bad_digest"
    past = h.call("notarise", {"digest": "ab" * 32, "expires_ms": 1})
    assert past.error is not None and past.error["code"] == "notary.bad_expiry"
    typed = h.call("notarise", {"digest": "ab" * 32, "expires_ms": "tomorrow"})
    assert typed.error is not None and typed.error["code"] == "bad_arguments"
    assert h.view("record", {"digest": "ab" * 32}) is None


def test_revocation_with_reason_by_the_owner_only(h: ContractHarness) -> None:
    digest, _ = notarise(h, DOC)
    other = h.call("revoke", {"digest": digest, "reason": "x"}, member="tax/admin")
    assert other.error is not None and other.error["code"] == "notary.not_owner"
    empty = h.call("revoke", {"digest": digest, "reason": "  "})
    assert empty.error is not None and empty.error["code"] == "notary.bad_reason"
    ok = h.call("revoke", {"digest": digest, "reason": "reissued"}, member="market/officer")
    assert ok.status == "ok", ok.error
    record = h.view("record", {"digest": digest})
    assert record["revoked"]["reason"] == "reissued"
    assert record["revoked"]["by"] == "market/officer"
    assert status_of(record, h.time_ms) == REVOKED
    twice = h.call("revoke", {"digest": digest, "reason": "again"})
    assert twice.error is not None and twice.error["code"] == "notary.already_revoked"
    unknown = h.call("revoke", {"digest": "cd" * 32, "reason": "x"})
    assert unknown.error is not None and unknown.error["code"] == "notary.not_found"


def test_offline_verification_round_trip_and_tampering(h: ContractHarness) -> None:
    digest, receipt = notarise(h, DOC)
    checked = verify_document(receipt, h.genesis, h.suite, DOC)
    assert checked.digest == digest and checked.title == "licence"
    assert checked.receipt.signer == "market/admin" and checked.receipt.case == "c-1"
    with pytest.raises(RootMismatch, match="does not match the receipt"):
        verify_document(receipt, h.genesis, h.suite, DOC + b" ")
    forged = copy.deepcopy(receipt)
    forged["entry"]["tx"]["body"]["args"]["digest"] = document_digest(h.suite, b"other")
    with pytest.raises(ProofError):
        verify_document(forged, h.genesis, h.suite, b"other")


def test_a_receipt_of_another_call_proves_nothing(h: ContractHarness) -> None:
    digest, _ = notarise(h, DOC)
    tx = h.transaction("revoke", {"digest": digest, "reason": "r"})
    h.commit([tx])
    receipt = document_receipt(bundle_of(h, tx.tx_id), digest, None)
    with pytest.raises(ProofError, match="not a notarisation"):
        verify_document(receipt, h.genesis, h.suite, DOC)


def test_batch_of_10000_records(h: ContractHarness) -> None:
    docs = [f"社保缴费记录 {i}".encode() for i in range(10_000)]
    digests = [document_digest(h.suite, d) for d in docs]
    root, proofs = build_batch(h.suite.hash, digests)
    tx = h.transaction("notarise_batch", {"root": root, "count": len(docs)}, member="hrss/admin")
    [r] = h.commit([tx])
    assert r.status == "ok", r.error
    bundle = bundle_of(h, tx.tx_id)
    for i in (0, 1, 4095, 4096, 9_999):
        receipt = document_receipt(bundle, digests[i], proofs[i])
        checked = verify_document(receipt, h.genesis, h.suite, docs[i])
        assert checked.batch is not None and checked.on_chain_key == root
    wrong = document_receipt(bundle, digests[1], proofs[1])
    with pytest.raises(RootMismatch):
        verify_document(wrong, h.genesis, h.suite, docs[2])
    assert h.view("batch", {"root": root})["count"] == 10_000
    revoked = h.call("revoke", {"digest": root, "reason": "sent twice"}, member="hrss/admin")
    assert revoked.status == "ok"


@pytest.mark.parametrize("size", [*range(1, 18), 31, 32, 33, 100])
def test_batch_proofs_match_the_rfc6962_reference(size: int) -> None:
    # Oracle: govchain.ledger.merkle.reference_inclusion_proof follows RFC 6962 section 2.1.1
    # (PATH) literally.
    h = get_suite("intl").hash
    digests = [h(bytes([i % 256, i // 256])).hex() for i in range(size)]
    root, proofs = build_batch(h, digests)
    leaves = [merkle.leaf_hash(h, bytes.fromhex(d)) for d in digests]
    assert root == merkle.root_of(h, leaves).hex()
    for i, proof in enumerate(proofs):
        assert [bytes.fromhex(p) for p in proof.path] == merkle.reference_inclusion_proof(
            h, leaves, i
        )


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.data())
def test_batch_proofs_round_trip_and_detect_tampering(size: int, data: st.DataObject) -> None:
    def h(b: bytes) -> bytes:
        return sha256(b).digest()

    digests = [h(i.to_bytes(4, "big")).hex() for i in range(size)]
    root, proofs = build_batch(h, digests)
    i = data.draw(st.integers(0, size - 1))
    proof = BatchProof.from_json(proofs[i].to_json())
    assert proof.root_for(h, digests[i]).hex() == root
    if size > 1:
        j = data.draw(st.integers(0, size - 1).filter(lambda j: j != i))
        assert proof.root_for(h, digests[j]).hex() != root


def test_expiry_parsing() -> None:
    assert parse_expiry("2027-01-01") == 1_798_761_600_000
    assert parse_expiry("1798761600000") == 1_798_761_600_000
    assert parse_expiry(None) is None
