"""End-to-end offline verification: every named check, on both suites, VC and SD-JWT.

The world: a network with departments ``market`` and ``tax``; ``market`` has keys
``#key-1`` (market/admin, signs status lists), ``#key-2`` (market/issuer, revoked at height
50) and ``#key-3`` (market/issuer2, added at height 10).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyld import jsonld

from govchain.credentials import (
    CHECKS,
    QR_CHECK,
    CredentialCheckFailed,
    dids,
    proofs,
    qr,
    sdjwt,
    statuslist,
)
from govchain.credentials import multibase as mb
from govchain.credentials.contexts import document_loader
from govchain.credentials.licence_terms import LicenceMetadata, licence_credential
from govchain.credentials.verify import (
    CachedStatusList,
    HistoryResolver,
    VerificationReport,
    VerifiedStatusLists,
    verify_credential,
    verify_qr_payload,
)
from govchain.crypto import KeyPair, get_suite
from govchain.ledger.genesis import Member, make_genesis

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LISTS = "https://govchain.example/status/market"
METADATA = LicenceMetadata(
    licence_identifier="1.2.156.3005.2.11100000000013338W.0001",
    licence_name="营业执照",
    licence_number="91350100M000100Y43",
    licence_type_code="11100000000013338W001",
    holder="福州某某科技有限公司",
    holder_identifier="91350100M000100Y43",
    holder_identifier_type="USCC",
    issuing_authority="福州市市场监督管理局",
    issuing_authority_code="11350100003632538R",
    issue_date="2026-12-01",
    valid_from="2026-12-01",
    valid_until=None,
)


def _key(suite: str, seed: int) -> KeyPair:
    return get_suite(suite).keypair_from_private(seed.to_bytes(32, "big"))


@dataclass
class World:
    """Keys, DIDs, status lists and a resolver of one test network."""

    suite: str
    keys: dict[str, KeyPair]
    market: str
    tax: str
    resolver: HistoryResolver
    revocation: statuslist.BitstringStatusList
    suspension: statuslist.BitstringStatusList

    def signer(self, member: str) -> proofs.KeyPairSigner:
        return proofs.signer_from_keypair(self.suite, self.keys[member])

    def sign(self, doc: dict[str, Any], member: str, n: int) -> dict[str, Any]:
        did = self.market if member.startswith("market") else self.tax
        return proofs.sign_credential(
            doc, self.signer(member), dids.method_id(did, n), "2026-12-01T08:00:00Z", self.suite
        )

    def list_credential(self, purpose: str, issuer: str = "") -> dict[str, Any]:
        bits = self.revocation if purpose == "revocation" else self.suspension
        doc = statuslist.status_list_credential(
            list_id=f"{LISTS}/{purpose}",
            issuer=issuer or self.market,
            purpose=purpose,
            status_list=bits,
            valid_from="2026-12-01T00:00:00Z",
        )
        if issuer == self.tax:
            return self.sign(doc, "tax/admin", 1)
        return self.sign(doc, "market/admin", 1)

    def status_lists(self) -> dict[str, dict[str, Any]]:
        return {f"{LISTS}/{p}": self.list_credential(p) for p in statuslist.PURPOSES}

    def licence(self, member: str = "market/issuer2", n: int = 3) -> dict[str, Any]:
        doc = licence_credential(
            credential_id="urn:uuid:6a1f0c1e-0000-4000-8000-000000000001",
            issuer=self.market,
            metadata=METADATA,
            valid_from="2026-12-01T00:00:00Z",
            valid_until="2031-11-30T23:59:59Z",
        )
        doc["credentialStatus"] = [
            statuslist.status_entry(f"{LISTS}/revocation", 5, "revocation"),
            statuslist.status_entry(f"{LISTS}/suspension", 5, "suspension"),
        ]
        return self.sign(doc, member, n)

    def verify(self, doc: dict[str, Any] | str, **kwargs: Any) -> VerificationReport:
        lists = kwargs.pop("status_lists", None) or self.status_lists()
        return verify_credential(
            doc, resolver=self.resolver, status_lists=lists, now=kwargs.pop("now", NOW), **kwargs
        )


def make_world(suite: str) -> World:
    keys = {
        name: _key(suite, i + 11)
        for i, name in enumerate(["market/admin", "market/issuer", "tax/admin", "market/issuer2"])
    }
    genesis = make_genesis(
        chain_id="credtest",
        suite=suite,
        created_ms=0,
        departments=[
            ("market", "市场监督管理局", _key(suite, 1).public),
            ("tax", "税务局", _key(suite, 2).public),
        ],
        members=[
            Member(m, m.split("/")[0], "admin" if m.endswith("admin") else "officer", k.public)
            for m, k in keys.items()
            if m != "market/issuer2"
        ],
    )
    history = dids.history_from_genesis(
        genesis,
        [
            dids.MemberKeyChange(10, "market/issuer2", "added", keys["market/issuer2"].public),
            dids.MemberKeyChange(50, "market/issuer", "revoked"),
        ],
    )
    net = dids.network_id(genesis)
    return World(
        suite=suite,
        keys=keys,
        market=dids.department_did(net, "market"),
        tax=dids.department_did(net, "tax"),
        resolver=HistoryResolver(history),
        revocation=statuslist.BitstringStatusList(),
        suspension=statuslist.BitstringStatusList(),
    )


@pytest.fixture(params=["intl", "gm"])
def world(request: pytest.FixtureRequest) -> World:
    return make_world(request.param)


def _refused(report: VerificationReport, check: str) -> None:
    assert not report.ok
    assert report.failed is not None and report.failed.name == check, report.to_json()
    names = [c.name for c in report.checks]
    later = names[names.index(check) + 1 :]
    assert all(c.passed is None for c in report.checks if c.name in later)


def test_a_good_licence_passes_every_check_in_order(world: World) -> None:
    report = world.verify(world.licence())
    assert report.ok, report.to_json()
    assert [c.name for c in report.checks] == list(CHECKS)
    assert report.claims is not None
    assert LicenceMetadata.from_subject(report.claims["credentialSubject"]) == METADATA


def test_a_changed_claim_is_refused_by_proof(world: World) -> None:
    doc = world.licence()
    doc["credentialSubject"]["holder"] = "别的公司"
    _refused(world.verify(doc), "proof")


def test_a_changed_proof_value_is_refused_by_proof(world: World) -> None:
    doc = world.licence()
    sig = bytearray(mb.decode(doc["proof"]["proofValue"]))
    sig[-1] ^= 0x40
    doc["proof"]["proofValue"] = mb.encode(bytes(sig))
    _refused(world.verify(doc), "proof")


def test_revoked_key_needs_ledger_evidence_of_earlier_issuance(world: World) -> None:
    doc = world.licence("market/issuer", 2)
    _refused(world.verify(doc), "key")
    _refused(world.verify(doc, evidence=dids.IssuanceEvidence(height=60)), "key")
    _refused(world.verify(doc, evidence=dids.IssuanceEvidence(height=50)), "key")
    digest = proofs.credential_digest(doc, world.suite)
    assert world.verify(doc, evidence=dids.IssuanceEvidence(49, digest)).ok
    other = dids.IssuanceEvidence(40, b"\x01" * 32)
    _refused(world.verify(doc, evidence=other), "key")


def test_issuance_before_a_key_was_added_is_refused(world: World) -> None:
    _refused(world.verify(world.licence(), evidence=dids.IssuanceEvidence(9)), "key")


@pytest.mark.parametrize(
    ("purpose", "word"), [("revocation", "revoked"), ("suspension", "suspended")]
)
def test_revoked_and_suspended_status(world: World, purpose: str, word: str) -> None:
    doc = world.licence()
    bits = world.revocation if purpose == "revocation" else world.suspension
    bits.set(5)
    report = world.verify(doc)
    _refused(report, "status")
    assert report.failed is not None and word in report.failed.reason
    bits.set(5, False)
    assert world.verify(doc).ok


def test_a_status_list_of_another_issuer_is_refused(world: World) -> None:
    lists = world.status_lists()
    lists[f"{LISTS}/suspension"] = world.list_credential("suspension", issuer=world.tax)
    _refused(world.verify(world.licence(), status_lists=lists), "status_issuer")


def test_a_forged_or_missing_status_list_is_refused(world: World) -> None:
    lists = world.status_lists()
    forged = copy.deepcopy(lists[f"{LISTS}/revocation"])
    forged["credentialSubject"]["encodedList"] = statuslist.BitstringStatusList().encode()
    world.revocation.set(5)
    lists[f"{LISTS}/revocation"] = forged  # an old, clean list re-labelled: proof fails
    forged["validFrom"] = "2026-12-02T00:00:00Z"
    _refused(world.verify(world.licence(), status_lists=lists), "status_issuer")
    del lists[f"{LISTS}/revocation"]
    _refused(world.verify(world.licence(), status_lists=lists), "status_issuer")


def test_cached_list_with_evidence_after_list_key_revocation(world: World) -> None:
    doc = world.licence()
    lists: dict[str, Any] = {}
    for purpose in statuslist.PURPOSES:
        lst = statuslist.status_list_credential(
            list_id=f"{LISTS}/{purpose}",
            issuer=world.market,
            purpose=purpose,
            status_list=statuslist.BitstringStatusList(),
            valid_from="2026-12-01T00:00:00Z",
        )
        lists[f"{LISTS}/{purpose}"] = CachedStatusList(
            world.sign(lst, "market/issuer", 2), dids.IssuanceEvidence(30)
        )
    assert world.verify(doc, status_lists=lists).ok


def test_validity_period_and_context(world: World) -> None:
    doc = world.licence()
    _refused(world.verify(doc, now=datetime(2031, 12, 1, tzinfo=UTC)), "validity")
    _refused(world.verify(doc, now=datetime(2026, 11, 30, tzinfo=UTC)), "validity")
    other = world.sign(
        {k: v for k, v in world.licence().items() if k != "proof"}
        | {"@context": ["https://www.w3.org/ns/credentials/v2", "https://example.org/x"]},
        "market/issuer2",
        3,
    )
    _refused(world.verify(other), "context")
    _refused(world.verify({"type": "x"}), "format")


def test_an_issuer_of_another_network_or_key_is_refused(world: World) -> None:
    doc = world.licence()
    foreign = world.sign(
        {k: v for k, v in doc.items() if k != "proof"}
        | {"issuer": "did:govchain:ffffffffffffffff:market"},
        "market/issuer2",
        3,
    )
    _refused(world.verify(foreign), "issuer")
    tax_key = proofs.sign_credential(
        {k: v for k, v in doc.items() if k != "proof"},
        world.signer("tax/admin"),
        dids.method_id(world.tax, 1),
        "2026-12-01T08:00:00Z",
        world.suite,
    )
    _refused(world.verify(tax_key), "issuer")
    unknown_key = world.sign({k: v for k, v in doc.items() if k != "proof"}, "market/issuer2", 9)
    _refused(world.verify(unknown_key), "issuer")


def _sd_jwt(world: World, holder: KeyPair | None = None) -> str:
    claims: dict[str, Any] = {
        "iss": world.market,
        "vct": "https://govchain.example/vct/business-licence",
        "iat": 1_764_576_000,
        "nbf": 1_764_576_000,
        "credentialStatus": statuslist.status_entry(f"{LISTS}/revocation", 5, "revocation"),
        **METADATA.to_subject(),
    }
    if holder is not None:
        claims["cnf"] = {"jwk": sdjwt.jwk_of(holder.public, world.suite)}
    return sdjwt.issue_sd_jwt(
        claims,
        ["holder", "holderIdentifier", "licenceNumber"],
        world.signer("market/issuer2"),
        kid=dids.method_id(world.market, 3),
    )


def test_sd_jwt_presentation_verifies_with_only_the_disclosed_claims(world: World) -> None:
    holder = _key(world.suite, 99)
    token = _sd_jwt(world, holder)
    shown = sdjwt.present(
        token,
        ["licenceNumber"],
        holder=proofs.signer_from_keypair(world.suite, holder),
        aud="https://bank.example",
        nonce="n-42",
        iat=1_765_000_000,
    )
    report = world.verify(shown, aud="https://bank.example", nonce="n-42")
    assert report.ok, report.to_json()
    assert report.claims is not None
    assert report.claims["licenceNumber"] == METADATA.licence_number
    assert "holder" not in report.claims and "holderIdentifier" not in report.claims
    _refused(world.verify(shown, aud="https://other.example", nonce="n-42"), "proof")
    world.revocation.set(5)
    _refused(world.verify(shown, aud="https://bank.example", nonce="n-42"), "status")


def test_sd_jwt_with_a_forged_disclosure_is_refused(world: World) -> None:
    token = _sd_jwt(world)
    forged = sdjwt.issue_sd_jwt(
        {"iss": world.market, "vct": "x", "holder": "假公司"},
        ["holder"],
        world.signer("market/issuer2"),
        kid="k",
    )
    extra = sdjwt.parse(forged).disclosures[0]
    _refused(world.verify(token + extra + "~"), "proof")


def test_a_qr_code_with_one_wrong_byte_is_refused(world: World) -> None:
    doc = world.licence()
    payload = qr.payload_for(doc, credential_id=doc["id"], url="https://govchain.example/c/1")
    png = qr.render_png(payload, "print")
    good = verify_qr_payload(
        qr.read_png(png), resolver=world.resolver, status_lists=world.status_lists(), now=NOW
    )
    assert good.ok, good.to_json()
    assert good.checks[0].name == QR_CHECK

    framed = bytearray(qr.b45decode(payload[5:]))
    framed[40] ^= 0x01
    bad_payload = payload[:5] + qr.b45encode(bytes(framed))
    bad = verify_qr_payload(
        qr.read_png(qr.render_png(bad_payload, "screen")),
        resolver=world.resolver,
        status_lists=world.status_lists(),
        now=NOW,
    )
    assert bad.failed is not None and bad.failed.name == QR_CHECK


def test_a_reference_qr_checks_the_fetched_credential_hash(world: World) -> None:
    doc = world.licence()
    payload = qr.reference_payload(doc, doc["id"], "https://govchain.example/c/1")
    lists = world.status_lists()
    report = verify_qr_payload(
        payload, fetch=lambda ref: doc, resolver=world.resolver, status_lists=lists, now=NOW
    )
    assert report.ok
    changed = copy.deepcopy(doc)
    changed["name"] = "x"
    report = verify_qr_payload(
        payload, fetch=lambda ref: changed, resolver=world.resolver, status_lists=lists, now=NOW
    )
    assert report.failed is not None and report.failed.name == QR_CHECK


def test_issued_credentials_are_valid_json_ld() -> None:
    world = make_world("intl")
    for doc in (world.licence(), world.list_credential("revocation")):
        expanded = jsonld.expand(doc, {"documentLoader": document_loader})
        assert expanded and "https://www.w3.org/2018/credentials#issuer" in expanded[0]
    subject = jsonld.expand(world.licence(), {"documentLoader": document_loader})[0][
        "https://www.w3.org/2018/credentials#credentialSubject"
    ][0]
    # Every GB/T 36903 member maps to an IRI of our vocabulary (none fell to @vocab).
    members = [k for k in subject if not k.startswith("@")]
    assert all(k.startswith("https://govchain.example/ns/credentials#") for k in members)
    assert len(members) == len(METADATA.to_subject()) - 1  # all but "type" (-> @type)


def test_a_verified_list_cache_checks_many_credentials(world: World) -> None:
    cache = VerifiedStatusLists(world.resolver)
    for lst in world.status_lists().values():
        cache.add(lst)
    doc = world.licence()
    assert world.verify(doc, status_lists=cache).ok
    world.suspension.set(5)
    cache.add(world.list_credential("suspension"))  # a refreshed list replaces the old one
    _refused(world.verify(doc, status_lists=cache), "status")
    cache.add(world.list_credential("suspension", issuer=world.tax))
    _refused(world.verify(doc, status_lists=cache), "status_issuer")
    forged = world.list_credential("revocation")
    forged["credentialSubject"]["encodedList"] = statuslist.BitstringStatusList(
        statuslist.MIN_ENTRIES * 2
    ).encode()
    with pytest.raises(CredentialCheckFailed) as err:
        cache.add(forged)
    assert err.value.check == "status_issuer"


def test_resolution_follows_a_growing_history(world: World) -> None:
    """A key revoked after the resolver was made is seen at once (no stale DID document)."""

    class LedgerHistory:
        def __init__(self, base: dids.KeyHistory) -> None:
            self.network_id = base.network_id
            self.base = base
            self.revoked: dict[tuple[str, int], int] = {}

        def keys(self, department: str) -> list[dids.KeyRecord]:
            return [
                dataclasses.replace(r, revoked_height=self.revoked.get((department, r.n)))
                if (department, r.n) in self.revoked
                else r
                for r in self.base.keys(department)
            ]

    history = LedgerHistory(world.resolver.key_history)
    world.resolver = HistoryResolver(history)
    doc = world.licence()
    assert world.verify(doc).ok
    history.revoked[("market", 3)] = 80
    _refused(world.verify(doc), "key")
    assert world.verify(doc, evidence=dids.IssuanceEvidence(79)).ok


@settings(max_examples=20, deadline=None)
@given(
    member=st.sampled_from(sorted(METADATA.to_subject())),
    value=st.text(min_size=1, max_size=12),
)
def test_any_changed_subject_member_is_refused_by_proof(member: str, value: str) -> None:
    world = make_world("intl")
    doc = world.licence()
    if doc["credentialSubject"][member] == value:
        value += "x"
    doc["credentialSubject"][member] = value
    _refused(world.verify(doc), "proof")
