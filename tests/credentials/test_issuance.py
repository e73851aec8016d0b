"""Issuance end to end on an embedded node: a licence of the registry becomes a signed VC 2.0
credential whose hash is notarised; it verifies online and offline (genesis, its receipt, a
cached status list with its anchor receipt); every tampering is refused naming the check;
revocation by the registry (吊销) flips its status; a key revoked before issuance fails."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from test_issuance_kit import Kit, open_kit

from govchain.credentials import holder
from govchain.credentials.issuance import (
    CERTIFICATES,
    Certificate,
    Draft,
    certificate_draft,
    registry_certificate_draft,
    secure,
)
from govchain.credentials.keyhistory import history_from_json, history_to_json
from govchain.credentials.multibase import b58decode, b58encode
from govchain.credentials.proofs import credential_digest, sign_credential, verify_proof
from govchain.credentials.service import DeptSigner, Issued
from govchain.crypto import get_suite
from govchain.errors import Conflict, SchemaViolation
from govchain.ledger.transactions import build_transaction


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    yield from open_kit(tmp_path / "net")


def _issue_business_licence(kit: Kit, n: int = 0) -> tuple[str, Issued]:
    uscc = kit.import_enterprise(n)
    (issued,) = kit.service.issue_licences(kit.service.licences_of(uscc), actor="market/sharing")
    assert isinstance(issued, Issued)
    return uscc, issued


def _now(kit: Kit) -> datetime:
    return datetime.fromtimestamp(kit.node.clock_ms() / 1000, UTC)


def _offline(kit: Kit, credential: dict[str, Any] | str, **kw: Any) -> Any:
    return holder.verify_offline(
        credential, genesis=kit.node.genesis, suite=kit.node.suite, now=_now(kit), **kw
    )


def test_a_business_licence_is_issued_notarised_and_verifies(kit: Kit) -> None:
    uscc, issued = _issue_business_licence(kit)
    vc = issued.credential
    subject = vc["credentialSubject"]
    assert subject["licenceNumber"] == uscc and subject["holderIdentifier"] == uscc
    assert subject["licenceName"] == "营业执照" and subject["issuingAuthority"] == "市场监督管理局"
    assert vc["issuer"] == kit.service.did("market")
    assert vc["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert [s["statusPurpose"] for s in vc["credentialStatus"]] == ["revocation", "suspension"]

    record = kit.service.record(issued.hash)
    assert record["issuer"] == "market" and record["holder"] == uscc
    assert record["index"] == issued.index == 0
    assert kit.service.document(issued.hash) == vc
    assert [r["hash"] for r in kit.service.held([uscc])] == [issued.hash]
    # Issuing again returns the record instead of a second credential.
    (again,) = kit.service.issue_licences(kit.service.licences_of(uscc), actor="market/sharing")
    assert again == record

    online = holder.verify_online(kit.service, vc)
    assert online["ok"] is True and online["notarised"]["hash"] == issued.hash

    status = kit.service.status_list("market", "revocation", 0)
    offline = _offline(
        kit, vc, evidence=kit.service.evidence(issued.hash), status_files=[
            status, kit.service.status_list("market", "suspension", 0)
        ],
    )  # fmt: skip
    assert offline.ok, offline.to_json()


def test_tampering_is_refused_naming_the_check(kit: Kit) -> None:
    _, issued = _issue_business_licence(kit)
    lists = [kit.service.status_list("market", p, 0) for p in ("revocation", "suspension")]

    changed = copy.deepcopy(issued.credential)
    changed["credentialSubject"]["holder"] = "杭州别家科技有限公司"
    assert _offline(kit, changed, status_files=lists).failed.name == "proof"
    assert holder.verify_online(kit.service, changed)["failed"] == "proof"

    bad_proof = copy.deepcopy(issued.credential)
    sig = bytearray(b58decode(bad_proof["proof"]["proofValue"][1:]))
    sig[0] ^= 1
    bad_proof["proof"]["proofValue"] = "z" + b58encode(bytes(sig))
    assert _offline(kit, bad_proof, status_files=lists).failed.name == "proof"

    # A status list of another issuer, offered as this issuer's list.
    kit.service.allocate("tax", 1, actor="tax/sharing")
    foreign = copy.deepcopy(kit.service.status_list("tax", "revocation", 0))
    foreign["credential"]["id"] = issued.credential["credentialStatus"][0]["statusListCredential"]
    report = _offline(kit, issued.credential, status_files=[foreign, lists[1]])
    assert report.failed.name == "status_issuer"

    # Evidence for another credential.
    other = kit.service.evidence(issued.hash)
    other["tx_id"] = "00" * 32
    assert _offline(kit, issued.credential, evidence=other).failed.name == "key"

    # No cached list at all: the status cannot be checked.
    assert _offline(kit, issued.credential).failed.name == "status_issuer"


def test_registry_revocation_flips_the_status_bit(kit: Kit) -> None:
    uscc, issued = _issue_business_licence(kit)
    before = [kit.service.status_list("market", p, 0) for p in ("revocation", "suspension")]
    kit.commit("market", "registry", "revoke", {"uscc": uscc, "reason": "虚假登记"})
    online = holder.verify_online(kit.service, issued.credential)
    assert online["failed"] == "status" and "revoked" in online["checks"][-1]["reason"]
    after = [kit.service.status_list("market", p, 0) for p in ("revocation", "suspension")]
    assert after[0]["anchor"]["version"] == before[0]["anchor"]["version"] + 1
    # A verifier with the old cached list still sees it valid; the new list refuses it.
    assert _offline(kit, issued.credential, status_files=before).ok
    refused = _offline(kit, issued.credential, status_files=after)
    assert refused.failed.name == "status"


def test_suspension_is_reversible(kit: Kit) -> None:
    _, issued = _issue_business_licence(kit)
    kit.service.set_status(
        "market", issued.index, "suspension", on=True, reason="核查", actor="market/sharing"
    )
    assert holder.verify_online(kit.service, issued.credential)["failed"] == "status"
    kit.service.set_status(
        "market", issued.index, "suspension", on=False, reason="", actor="market/sharing"
    )
    assert holder.verify_online(kit.service, issued.credential)["ok"] is True


def _as_member(
    kit: Kit, member: str, contract: str, method: str, args: dict[str, Any], nonce: int
) -> bytes:
    """Commit a call signed by a member key of the network directory; return its tx id."""
    suite = get_suite(kit.node.genesis.suite)
    private = kit.net.member_key(member).keypair.private
    tx = build_transaction(
        chain=kit.node.genesis.chain_id,
        signer=member,
        nonce=nonce,
        contract=contract,
        method=method,
        args=args,
        actor=member,
        sign=lambda m: suite.sign(private, m),
        hash_fn=suite.hash,
    )
    (outcome,) = kit.node.submit([tx.envelope()], raw=False, wait=True, timeout=20)
    assert not isinstance(outcome, Exception)
    return tx.tx_id


def test_a_key_revoked_before_issuance_fails_and_one_revoked_after_does_not(kit: Kit) -> None:
    _, early = _issue_business_licence(kit)
    signer, vm = kit.service.issuer("market")
    early_evidence = kit.service.evidence(early.hash)
    nonces = itertools.count(1)
    revoke = {"member": "market/sharing", "reason": "密钥泄露"}
    _as_member(kit, "market/admin", "members", "revoke", revoke, next(nonces))
    history = kit.service.key_history()
    (revoked,) = [r for r in history.keys("market") if r.member == "market/sharing"]
    assert revoked.revoked_height is not None
    # The lists were published before the revocation (the node can no longer sign new ones).
    key_history = history_from_json(history_to_json(history))

    # Issued before the revocation, proved by its receipt: still valid.
    kept = _offline(kit, early.credential, evidence=early_evidence, key_history=key_history)
    assert kept.failed is not None and kept.failed.name == "status_issuer"  # no lists given
    assert all(c.passed for c in kept.checks[:6]), kept.to_json()
    # Without the proof of when it was issued, the revoked key is not trusted.
    unproved = _offline(kit, early.credential, key_history=key_history)
    assert unproved.failed.name == "key"

    # Signed with the revoked key afterwards and notarised by the department's admin: refused.
    unsigned = {k: v for k, v in early.credential.items() if k not in ("proof", "credentialStatus")}
    late = secure(
        Draft(early.kind, early.holder, unsigned, early.index),
        early.index,
        signer=signer,
        verification_method=vm,
        created_ms=kit.node.clock_ms() + 1000,
    )
    tx_id = _as_member(
        kit, "market/admin", "credentials", "issue", {"entries": [late.entry()]}, next(nonces)
    )
    evidence = kit.node.ledger.receipt_bundle(tx_id)
    refused = _offline(kit, late.credential, evidence=evidence, key_history=key_history)
    assert refused.failed.name == "key" and "revoked" in refused.failed.reason


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_secure_gives_the_proof_and_hash_of_the_library_signer(suite: str) -> None:
    """``issuance.secure`` joins canonical pieces instead of canonicalising three times: its
    proof and notarised hash must be exactly ``proofs.sign_credential``'s and
    ``proofs.credential_digest``'s (Ed25519 is deterministic: the same bytes; SM2 is not: the
    proof must verify and the hash must be the digest of what it returns)."""
    s = get_suite(suite)
    signer = DeptSigner(s, s.generate_keypair())
    did = "did:govchain:0123456789abcdef:hrss"
    draft = certificate_draft(
        "social_insurance_record",
        network="0123456789abcdef",
        issuer_did=did,
        authority="人力资源和社会保障局",
        holder="citizen/01",
        holder_name="王伟",
        holder_id_number="11010519491231002X",
        serial="00000001",
        facts={"months_paid": 37, "city": "杭州"},
        now_ms=1_790_812_800_000,
    )
    got = secure(
        draft, 5, signer=signer, verification_method=did + "#key-1", created_ms=1_790_812_800_000
    )
    assert got.digest == credential_digest(got.credential, suite).hex()
    verify_proof(got.credential, signer.public_key, suite)
    if suite == "intl":
        unsigned = {k: v for k, v in got.credential.items() if k != "proof"}
        expected = sign_credential(
            unsigned, signer, did + "#key-1", got.credential["proof"]["created"], suite
        )
        assert got.credential == expected


MARRIAGE = {
    "number": "MC3301002026000001",
    "type": "marriage_certificate",
    "name": {"zh": "结婚证", "en": "Marriage certificate"},
    "holder": "citizen/00000000000000aa",
    "valid_from_ms": 1_764_576_000_000,
    "valid_until_ms": 0,  # a marriage certificate has no end
    "issuer": "civil_affairs",
    "case": "RZ-0004-0001",
    "commitment": False,
    "status": "active",
    "revoked": None,
    "status_index": 7,
}


def _marriage_draft(record: dict[str, Any], issuer: str = "civil_affairs") -> Any:
    return registry_certificate_draft(
        record,
        type_code="MCA-JHZ",
        data={"case": record["case"], "facts": []},
        network="6a9148890b42f837",
        issuer_did=f"did:govchain:6a9148890b42f837:{issuer}",
        authority="民政局",
        holder_name="王强",
        holder_id_number="11010519491231002X",
    )


def test_a_registry_certificate_without_an_end_has_no_valid_until() -> None:
    draft = _marriage_draft(MARRIAGE)
    assert (draft.kind, draft.holder, draft.index) == (
        "marriage_certificate",
        MARRIAGE["holder"],
        7,
    )
    subject = draft.credential["credentialSubject"]
    assert "validUntil" not in draft.credential and "licenceValidUntil" not in subject
    assert (subject["licenceNumber"], subject["holderIdentifierType"]) == (
        "MC3301002026000001",
        "RIN",
    )
    assert draft.credential["validFrom"] == "2025-12-01T08:00:00Z"


def test_a_registry_certificate_must_be_active_and_its_issuers() -> None:
    with pytest.raises(Conflict):
        _marriage_draft({**MARRIAGE, "status": "revoked"})
    with pytest.raises(SchemaViolation):
        _marriage_draft(MARRIAGE, issuer="hrss")


def test_a_department_certificate_of_zero_days_has_no_end_and_case_kinds_are_refused() -> None:
    common: dict[str, Any] = {
        "network": "6a9148890b42f837",
        "authority": "人力资源和社会保障局",
        "holder": "citizen/00000000000000aa",
        "holder_name": "王强",
        "holder_id_number": "11010519491231002X",
        "serial": "1",
        "facts": {},
        "now_ms": 1_764_576_000_000,
    }
    zero = Certificate("residence_record", "hrss", "居住及就业登记证明", "RES-EMP", 0)
    with patch.dict(CERTIFICATES, {"residence_record": zero}):
        draft = certificate_draft(
            "residence_record", issuer_did="did:govchain:6a9148890b42f837:hrss", **common
        )
    assert "validUntil" not in draft.credential
    assert "licenceValidUntil" not in draft.credential["credentialSubject"]
    # A certificate a case decides exists only through its case: never straight from the table.
    with pytest.raises(SchemaViolation):
        certificate_draft(
            "marriage_certificate",
            issuer_did="did:govchain:6a9148890b42f837:civil_affairs",
            **common,
        )
