"""The owner node's sharing service end to end: publish, grant, read, erase, attest, through
the real contracts and ledger (in-memory store), asserting what each party can observe."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sharing_world import HOMES, INTERNAL, World

from govchain.errors import BadSignature, IntegrityError, SchemaViolation, UnknownSigner
from govchain.sharing import errors
from govchain.sharing.vault import CIPHERTEXT, DATA_KEY, TABLE
from govchain.storage.base import WriteBatch

ENTERPRISE = "91330100MA27XL0X33"
PURPOSE = "企业注销审查"


def _publish_arrears(w: World) -> None:
    w.publish("tax", "tax.arrears", "a-1", ENTERPRISE, {
        "amount_fen": 120000, "due_date": "2026-10-15", "settled": False,
    })  # fmt: skip
    w.publish("tax", "tax.arrears", "a-2", ENTERPRISE, {
        "amount_fen": 5000, "due_date": "2026-06-30", "settled": True,
    })  # fmt: skip
    w.publish("tax", "tax.arrears", "b-1", "330106199001011234", {
        "amount_fen": 99, "due_date": "2026-01-31", "settled": False,
    })  # fmt: skip


def test_conditional_grant_read_returns_only_granted_fields(world: World) -> None:
    _publish_arrears(world)
    grant = world.grant("market", "tax.arrears", ["amount_fen", "settled"], PURPOSE)
    assert grant["status"] == "pending"
    with pytest.raises(errors.GrantPending):
        world.read("market", "tax.arrears", ENTERPRISE, ["amount_fen"], grant=grant["id"],
                   purpose=PURPOSE)  # fmt: skip
    world.ok("tax/admin", "sharing.grants", "approve", {"grant": grant["id"]})
    answer = world.read(
        "market", "tax.arrears", ENTERPRISE, ["amount_fen"], grant=grant["id"], purpose=PURPOSE
    )
    assert answer["records"] == [
        {"record": "a-1", "data": {"amount_fen": 120000}},
        {"record": "a-2", "data": {"amount_fen": 5000}},
    ]
    receipts = world.service.access_receipts(ENTERPRISE)
    (entry,) = receipts["reads"]
    assert entry["reader_dept"] == "market"
    assert entry["actor"] == "王小明"
    assert entry["case"] == "case-1"
    assert entry["purpose"] == PURPOSE
    assert entry["fields"] == ["amount_fen"]
    assert entry["records"] == ["a-1", "a-2"]
    assert entry["request_id"] == answer["request_id"]
    # The other subject's receipts show nothing of this read.
    assert world.service.access_receipts("330106199001011234")["reads"] == []


def test_unconditional_resource_is_granted_at_once(world: World) -> None:
    world.publish("market", "market.licence", "L1", ENTERPRISE, {
        "name": "杭州某某餐饮有限公司", "legal_rep": "李四", "status": "存续",
    })  # fmt: skip
    grant = world.grant("tax", "market.licence", ["name", "status"], "税务登记核验")
    assert grant["status"] == "active"
    answer = world.read(
        "tax", "market.licence", ENTERPRISE, ["status"], grant=grant["id"], purpose="税务登记核验"
    )
    assert answer["records"] == [{"record": "L1", "data": {"status": "存续"}}]


def test_owner_reads_its_own_records_and_the_read_is_logged(world: World) -> None:
    _publish_arrears(world)
    answer = world.read("tax", "tax.arrears", ENTERPRISE, ["settled"], records=["a-2"])
    assert answer["records"] == [{"record": "a-2", "data": {"settled": True}}]
    assert len(world.service.access_receipts(ENTERPRISE)["reads"]) == 1


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("expired", errors.GrantExpired),
        ("wrong_purpose", errors.WrongPurpose),
        ("wrong_department", errors.WrongDepartment),
        ("revoked", errors.GrantRevoked),
        ("fields", errors.FieldsNotGranted),
        ("no_grant", errors.NoGrant),
    ],
)
def test_denied_reads_say_why_and_return_and_log_nothing(
    world: World, case: str, expected: type[errors.AccessDenied]
) -> None:
    _publish_arrears(world)
    grant = world.grant("market", "tax.arrears", ["amount_fen"], PURPOSE, ttl_ms=60_000)
    world.ok("tax/admin", "sharing.grants", "approve", {"grant": grant["id"]})
    reader, purpose, fields, gid = "market", PURPOSE, ["amount_fen"], grant["id"]
    if case == "expired":
        world.clock.now += 60_000
    elif case == "wrong_purpose":
        purpose = "信用评价"
    elif case == "wrong_department":
        reader = "hrss"
    elif case == "revoked":
        world.ok("tax/admin", "sharing.grants", "revoke", {"grant": gid, "reason": "案件已办结"})
    elif case == "fields":
        fields = ["amount_fen", "due_date"]
    elif case == "no_grant":
        gid = ""
    with pytest.raises(expected) as info:
        world.read(reader, "tax.arrears", ENTERPRISE, fields, grant=gid, purpose=purpose)
    assert info.value.code == expected.code
    assert info.value.fields["reason"] == expected.reason
    assert world.service.access_receipts(ENTERPRISE)["reads"] == []


def test_not_shared_and_secret_resources(world: World) -> None:
    world.register(INTERNAL, "customs")
    world.register(HOMES, "hrss")
    world.publish("hrss", "hrss.insurance", "s1", ENTERPRISE, {"account": "A1", "status": "open"})
    receipt = world.call("market/admin", "sharing.grants", "request", {
        "resource": "customs.declarations", "fields": ["amount_fen"], "purpose": PURPOSE,
        "legal_basis": "x", "case": "", "expires_ms": world.clock.now + 1000,
    })  # fmt: skip
    assert receipt["error"]["code"] == "not_shared"
    with pytest.raises(errors.NotShared):
        world.read("market", "customs.declarations", ENTERPRISE, ["amount_fen"], purpose=PURPOSE)
    with pytest.raises(errors.SecretResource):
        world.read("market", "hrss.insurance", ENTERPRISE, ["status"], purpose=PURPOSE)
    # Only the hash and the existence of a secret record are on-chain.
    entry = world.service.record_entry("hrss.insurance", "s1")
    assert set(entry) >= {"hash", "subject_ref"} and "data" not in entry
    assert ENTERPRISE not in str(entry)


def test_secret_resource_must_not_be_shared() -> None:
    from govchain.sharing.model import parse_resource

    with pytest.raises(SchemaViolation):
        parse_resource({**HOMES, "share_level": "conditional"}, "hrss", 0)
    with pytest.raises(SchemaViolation):
        parse_resource({**HOMES, "sensitivity": "sensitive", "share_level": "unconditional"},
                       "hrss", 0)  # fmt: skip


def test_tampered_ciphertext_is_an_integrity_error_and_nothing_is_returned(world: World) -> None:
    _publish_arrears(world)
    store = world.node.ledger.store
    key = CIPHERTEXT + b"tax.arrears\x00a-1"
    sealed = bytearray(store.get(TABLE, key) or b"")
    sealed[20] ^= 1
    batch = WriteBatch()
    batch.put(TABLE, key, bytes(sealed))
    store.commit(batch)
    with pytest.raises(IntegrityError):
        world.read("tax", "tax.arrears", ENTERPRISE, ["amount_fen"], records=["a-1"])
    assert world.service.access_receipts(ENTERPRISE)["reads"] == []


def test_swapped_data_key_fails_authentication(world: World) -> None:
    """A ciphertext whose hash matches the ledger but whose data key is another record's:
    the AEAD check (key and associated data) refuses it."""
    _publish_arrears(world)
    store = world.node.ledger.store
    other = store.get(TABLE, DATA_KEY + b"tax.arrears\x00a-2")
    assert other is not None
    batch = WriteBatch()
    batch.put(TABLE, DATA_KEY + b"tax.arrears\x00a-1", other)
    store.commit(batch)
    world.service.vault._cache.clear()
    with pytest.raises(IntegrityError):
        world.read("tax", "tax.arrears", ENTERPRISE, ["amount_fen"], records=["a-1"])


def test_answer_opens_only_for_the_reader(world: World) -> None:
    _publish_arrears(world)
    grant = world.grant("market", "tax.arrears", ["amount_fen"], PURPOSE)
    world.ok("tax/admin", "sharing.grants", "approve", {"grant": grant["id"]})
    args = {"resource": "tax.arrears", "subject": ENTERPRISE, "fields": ["amount_fen"],
            "grant": grant["id"]}  # fmt: skip
    answer = world.service.read(world.request("market/admin", "read", args, purpose=PURPOSE))
    with pytest.raises(IntegrityError):
        world.open("hrss", {**answer, "reader": "market"})  # another department's key
    tampered = bytearray(bytes.fromhex(answer["ciphertext"]))
    tampered[-1] ^= 1
    with pytest.raises(IntegrityError):
        world.open("market", {**answer, "ciphertext": tampered.hex()})
    assert world.open("market", answer)["records"][0]["data"] == {"amount_fen": 120000}


def test_requests_are_authenticated(world: World) -> None:
    _publish_arrears(world)
    args = {"resource": "tax.arrears", "subject": ENTERPRISE, "fields": ["amount_fen"]}
    good = world.request("tax/admin", "read", args)
    forged = {**good, "body": {**good["body"], "signer": "market/admin"}}
    with pytest.raises(BadSignature):
        world.service.read(forged)
    with pytest.raises(UnknownSigner):
        world.service.read({**good, "body": {**good["body"], "signer": "tax/nobody"}})
    with pytest.raises(errors.StaleRequest):
        world.service.read(
            world.request("tax/admin", "read", args, time_ms=world.clock.now - 10**6)
        )
    world.service.read(good)
    with pytest.raises(errors.ReplayedRequest):
        world.service.read(good)
    assert len(world.service.access_receipts(ENTERPRISE)["reads"]) == 1


def test_erasure_shreds_every_copy_and_keeps_the_proof(world: World) -> None:
    _publish_arrears(world)
    copy = world.service.vault.sealed("tax.arrears", "a-1")
    with pytest.raises(errors.NotOwner):
        world.service.erase(world.request("market/admin", "erase", {
            "resource": "tax.arrears", "record": "a-1", "reason": "x"}))  # fmt: skip
    result = world.service.erase(world.request("tax/admin", "erase", {
        "resource": "tax.arrears", "record": "a-1", "reason": "纳税人依法申请删除"}))  # fmt: skip
    entry = world.service.record_entry("tax.arrears", "a-1")
    assert entry["erased"]["reason"] == "纳税人依法申请删除"
    assert entry["erased"]["by"] == "tax/admin (王小明)"
    assert entry["erased"]["erased_ms"] == world.clock.now
    assert result["tx_id"]
    # The stored ciphertext (and any copy of it) still matches the ledger's hash ...
    assert world.suite.hash(copy).hex() == entry["hash"]
    # ... but no key opens it any more.
    with pytest.raises(errors.RecordErased):
        world.service.vault.open("tax", "tax.arrears", "a-1", copy)
    with pytest.raises(errors.RecordErased):
        world.read("tax", "tax.arrears", ENTERPRISE, ["amount_fen"], records=["a-1"])
    answer = world.read("tax", "tax.arrears", ENTERPRISE, ["amount_fen"])
    assert [r["record"] for r in answer["records"]] == ["a-2"]
    assert answer["erased"] == ["a-1"]


def test_attestations_answer_predicates_without_the_records(world: World) -> None:
    _publish_arrears(world)
    no_arrears = {"filter": [["settled", "eq", False]], "count": ["eq", 0]}
    small = {"filter": [["amount_fen", "ge", 100000]], "count": ["lt", 1]}
    results = world.service.attest([
        world.request("market/admin", "attest", {"resource": "tax.arrears", "subject": subject,
                      "predicate": predicate, "statement": "无欠税"}, purpose=PURPOSE)
        for subject, predicate in ((ENTERPRISE, no_arrears), ("91330100000000000X", no_arrears),
                                   (ENTERPRISE, small))
    ])  # fmt: skip
    assert [r["answer"] for r in results] == [False, True, False]
    att = world.service.attestation(results[1]["id"], "91330100000000000X")
    assert att["issuer"] == "tax" and att["requester"] == "market/admin"
    assert att["predicate"] == no_arrears
    with pytest.raises(Exception, match="about this subject"):
        world.service.attestation(results[1]["id"], ENTERPRISE)
    listed = world.service.access_receipts(ENTERPRISE)["attestations"]
    assert {a["id"] for a in listed} == {results[0]["id"], results[2]["id"]}
    assert all(a["subject_ref"] == world.service.subject_ref(ENTERPRISE) for a in listed)


def test_catalogue_search_in_chinese_and_english(world: World) -> None:
    assert [r.id for _, r in world.service.search("欠税")] == ["tax.arrears"]
    assert [r.id for _, r in world.service.search("营业执照")] == ["market.licence"]
    assert [r.id for _, r in world.service.search("licence")] == ["market.licence"]
    assert next(r.id for _, r in world.service.search("tax arrears")) == "tax.arrears"
    assert world.service.search("海关 customs") == []
    with pytest.raises(SchemaViolation):
        world.service.search("  ")


def test_publish_checks_the_schema_and_the_owner(world: World) -> None:
    with pytest.raises(SchemaViolation):
        world.publish("tax", "tax.arrears", "x", ENTERPRISE, {"amount_fen": "12"})
    with pytest.raises(SchemaViolation):
        world.publish("tax", "tax.arrears", "x", ENTERPRISE, {
            "amount_fen": 1, "due_date": "2026-13-01", "settled": False})  # fmt: skip
    with pytest.raises(errors.NotOwner):
        world.publish("market", "tax.arrears", "x", ENTERPRISE, {
            "amount_fen": 1, "due_date": "2026-12-01", "settled": False})  # fmt: skip
    assert (
        world.service.vault.records_of("tax.arrears", world.service.subject_ref(ENTERPRISE)) == []
    )


def test_a_refused_entry_fails_alone_in_a_group_transaction(world: World) -> None:
    _publish_arrears(world)
    predicate = {"filter": [], "count": ["ge", 1]}
    req = world.request("tax/admin", "attest", {
        "resource": "tax.arrears", "subject": ENTERPRISE, "predicate": predicate,
        "statement": "有欠税记录"})  # fmt: skip
    other = world.request("tax/admin", "attest", {
        "resource": "tax.arrears", "subject": "nobody", "predicate": predicate,
        "statement": "有欠税记录"})  # fmt: skip
    first, again, second = world.service.attest([req, req, other])
    assert first["answer"] is True and second["answer"] is False
    assert again["error"]["code"] == "replayed_request"
    assert first["tx_id"] == again["tx_id"] == second["tx_id"]
    # Concurrent identical reads: one is logged and answered, the replay is refused.
    from concurrent.futures import ThreadPoolExecutor

    read = world.request("tax/admin", "read", {
        "resource": "tax.arrears", "subject": ENTERPRISE, "fields": ["settled"]})  # fmt: skip
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(world.service.read, read) for _ in range(4)]
    outcomes = [f.exception() or f.result() for f in futures]
    assert sum(isinstance(o, dict) for o in outcomes) == 1
    assert all(isinstance(o, errors.ReplayedRequest) for o in outcomes if not isinstance(o, dict))
    assert len(world.service.access_receipts(ENTERPRISE)["reads"]) == 1


def _next_nonce(world: World, member: str) -> int:
    raw = world.service.port.read_state(b"sys/nonce/" + member.encode())
    return 0 if raw is None else int(json.loads(raw)["high"]) + 1


def test_an_interrupted_erasure_is_finished_at_start(world: World) -> None:
    """The erasure committed on-chain but the node stopped before destroying the data key:
    the next start (``shred_erased``) destroys it."""
    _publish_arrears(world)
    ref = world.service.subject_ref(ENTERPRISE)
    world.ok("tax/sharing", "sharing.records", "erase", {
        "resource": "tax.arrears", "record": "a-2", "reason": "依法删除",
        "request_id": "ab" * 32, "requester": "tax/admin",
    }, nonce=_next_nonce(world, "tax/sharing"))  # fmt: skip
    sealed = world.service.vault.sealed("tax.arrears", "a-2")
    assert world.service.vault.open("tax", "tax.arrears", "a-2", sealed)["settled"] is True
    assert world.service.shred_erased() == 1
    with pytest.raises(errors.RecordErased):
        world.service.vault.open("tax", "tax.arrears", "a-2", sealed)
    assert world.service.shred_erased() == 0
    assert world.service.vault.records_of("tax.arrears", ref) == ["a-1", "a-2"]


def test_agreement_keys_are_published_once_and_never_replaced(world: World) -> None:
    world.service.publish_keys()
    published = world.service.agreement_public("tax")
    assert published == world.service.credentials["tax"].agreement.public
    again = world.call("tax/admin", "sharing.keys", "publish", {"public": published.hex()})
    assert again["status"] == "ok"  # the same key: nothing changes
    other = world.suite.agreement_keypair().public.hex()
    refused = world.call("tax/admin", "sharing.keys", "publish", {"public": other})
    assert refused["error"]["code"] == "conflict"
    short = world.call("tax/admin", "sharing.keys", "publish", {"public": "00"})
    assert short["error"]["code"] == "bad_arguments"
    assert world.service.agreement_public("tax") == published


def test_a_stricter_share_level_takes_effect_at_once(world: World) -> None:
    from sharing_world import ARREARS

    _publish_arrears(world)
    grant = world.grant("market", "tax.arrears", ["amount_fen"], PURPOSE)
    world.ok("tax/admin", "sharing.grants", "approve", {"grant": grant["id"]})
    assert world.read("market", "tax.arrears", ENTERPRISE, ["amount_fen"], grant=grant["id"],
                      purpose=PURPOSE)["records"]  # fmt: skip
    refused = world.call("market/admin", "sharing.catalogue", "update",
                         {**ARREARS, "share_level": "not_shared"})  # fmt: skip
    assert refused["error"]["code"] == "not_owner"
    changed_fields = world.call("tax/admin", "sharing.catalogue", "update",
                                {**ARREARS, "fields": ARREARS["fields"][:1]})  # fmt: skip
    assert changed_fields["error"]["code"] == "bad_arguments"
    paused = {**ARREARS, "share_level": "not_shared", "description": "暂停共享"}
    updated = world.ok("tax/admin", "sharing.catalogue", "update", paused)
    assert updated["share_level"] == "not_shared" and updated["registered_ms"] > 0
    with pytest.raises(errors.NotShared):
        world.read("market", "tax.arrears", ENTERPRISE, ["amount_fen"], grant=grant["id"],
                   purpose=PURPOSE)  # fmt: skip
    assert world.service.resource("tax.arrears").description == "暂停共享"


def test_contracts_verify_attestations_through_state(world: World) -> None:
    """``read_attestation`` is what another contract calls (e.g. a deregistration procedure
    checking "no tax arrears"); here its context reads the committed state."""
    from types import SimpleNamespace

    from govchain.errors import NotFound
    from govchain.sharing.contracts import read_attestation

    _publish_arrears(world)
    (issued,) = world.service.attest([world.request("market/admin", "attest", {
        "resource": "tax.arrears", "subject": ENTERPRISE, "statement": "无未缴欠税",
        "predicate": {"filter": [["settled", "eq", False]], "count": ["eq", 0]}},
        purpose=PURPOSE)])  # fmt: skip
    ctx: Any = SimpleNamespace(get=world.service.port.read_state)
    ref = world.service.subject_ref(ENTERPRISE)
    att = read_attestation(ctx, issued["id"], ref)
    assert (att["answer"], att["issuer"], att["statement"]) == (False, "tax", "无未缴欠税")
    with pytest.raises(NotFound):
        read_attestation(ctx, issued["id"], world.service.subject_ref("someone else"))
    with pytest.raises(NotFound):
        read_attestation(ctx, "0" * 64, ref)


def test_the_read_log_contract_checks_every_request_itself(world: World) -> None:
    """A node cannot log a read nobody asked for: the contract verifies each entry's request
    signature (in one batch) and refuses a forged entry alone."""
    _publish_arrears(world)
    world.service.publish_keys()
    args = {"resource": "tax.arrears", "subject": ENTERPRISE, "fields": ["amount_fen"]}
    good = world.request("tax/admin", "read", args)
    forged = world.request("tax/admin", "read", args)
    forged["body"] = {**forged["body"], "actor": "someone else"}  # signature no longer matches
    stale = world.request("tax/admin", "read", args, time_ms=world.clock.now - 10**7)
    result = world.ok("tax/sharing", "sharing.reads", "log", {"entries": [
        {"request": forged, "records": []}, {"request": good, "records": ["a-1"]},
        {"request": stale, "records": []}]}, nonce=_next_nonce(world, "tax/sharing"))  # fmt: skip
    codes = [r.get("error", {}).get("code") for r in result["results"]]
    assert codes == ["bad_signature", None, "stale_request"]
    (logged,) = world.service.access_receipts(ENTERPRISE)["reads"]
    assert logged["records"] == ["a-1"] and logged["actor"] == "王小明"
