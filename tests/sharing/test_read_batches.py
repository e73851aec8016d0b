"""Reads served in batches, with the read path's caches warm: revocation, expiry, erasure and
new records take effect at the next read; a batch answers each read on its own (its own
error, its own log entry); tampering is caught before a ciphertext is first trusted."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sharing_world import World

from govchain.errors import BadSignature, GovchainError, IntegrityError
from govchain.sharing import errors
from govchain.sharing.reading import ReadOutcome
from govchain.sharing.vault import CIPHERTEXT, TABLE
from govchain.storage.base import WriteBatch

ENTERPRISE = "91330100MA27XL0X33"
OTHER = "330106199001011234"
PURPOSE = "企业注销审查"


def _setup(w: World) -> str:
    """Two records of ENTERPRISE, one of OTHER; an approved grant of two fields to market."""
    w.publish("tax", "tax.arrears", "a-1", ENTERPRISE,
              {"amount_fen": 120000, "due_date": "2026-10-15", "settled": False})  # fmt: skip
    w.publish("tax", "tax.arrears", "a-2", ENTERPRISE,
              {"amount_fen": 5000, "due_date": "2026-06-30", "settled": True})  # fmt: skip
    w.publish("tax", "tax.arrears", "b-1", OTHER,
              {"amount_fen": 99, "due_date": "2026-01-31", "settled": False})  # fmt: skip
    grant = w.grant("market", "tax.arrears", ["amount_fen", "settled"], PURPOSE, ttl_ms=60_000)
    w.ok("tax/admin", "sharing.grants", "approve", {"grant": grant["id"]})
    gid: str = grant["id"]
    return gid


def _read(w: World, gid: str, subject: str = ENTERPRISE) -> dict[str, Any]:
    return w.read("market", "tax.arrears", subject, ["amount_fen"], grant=gid, purpose=PURPOSE)


def _request(w: World, gid: str, subject: str = ENTERPRISE, **kw: Any) -> dict[str, Any]:
    args = {"resource": "tax.arrears", "subject": subject, "fields": ["amount_fen"], "grant": gid}
    return w.request("market/admin", "read", args, purpose=PURPOSE, **kw)


def test_revocation_takes_effect_at_the_next_read(world: World) -> None:
    gid = _setup(world)
    assert len(_read(world, gid)["records"]) == 2  # caches warm: grant, resource, records
    world.ok("tax/admin", "sharing.grants", "revoke", {"grant": gid, "reason": "案件已办结"})
    with pytest.raises(errors.GrantRevoked):
        _read(world, gid)
    assert len(world.service.access_receipts(ENTERPRISE)["reads"]) == 1


def test_expiry_takes_effect_at_the_next_read(world: World) -> None:
    gid = _setup(world)
    _read(world, gid)
    world.clock.now += 59_999
    _read(world, gid)
    world.clock.now += 1
    with pytest.raises(errors.GrantExpired):
        _read(world, gid)
    assert len(world.service.access_receipts(ENTERPRISE)["reads"]) == 2


def test_erasure_takes_effect_at_the_next_read(world: World) -> None:
    gid = _setup(world)
    assert [r["record"] for r in _read(world, gid)["records"]] == ["a-1", "a-2"]
    world.service.erase(world.request("tax/admin", "erase", {
        "resource": "tax.arrears", "record": "a-1", "reason": "纳税人依法申请删除"}))  # fmt: skip
    answer = _read(world, gid)
    assert [r["record"] for r in answer["records"]] == ["a-2"] and answer["erased"] == ["a-1"]
    with pytest.raises(errors.RecordErased):
        world.read("tax", "tax.arrears", ENTERPRISE, ["amount_fen"], records=["a-1"])


def test_erasure_on_chain_is_enough_even_if_the_key_survives(world: World) -> None:
    """The erasure transaction commits before the key is destroyed; a read in between (here:
    the key never destroyed, as after a crash) is refused by the ledger entry."""
    gid = _setup(world)
    _read(world, gid)
    world.ok("tax/admin", "sharing.records", "erase", {
        "resource": "tax.arrears", "record": "a-2", "reason": "更正", "request_id": "ab" * 32,
        "requester": "tax/admin"})  # fmt: skip
    assert [r["record"] for r in _read(world, gid)["records"]] == ["a-1"]


def test_a_new_record_is_read_at_once(world: World) -> None:
    gid = _setup(world)
    assert len(_read(world, gid)["records"]) == 2
    world.publish("tax", "tax.arrears", "a-3", ENTERPRISE,
                  {"amount_fen": 1, "due_date": "2026-12-31", "settled": False})  # fmt: skip
    assert [r["record"] for r in _read(world, gid)["records"]] == ["a-1", "a-2", "a-3"]


def test_a_suspended_reader_is_refused_at_once(world: World) -> None:
    gid = _setup(world)
    args = _request(world, gid)["body"]["args"]

    def read() -> dict[str, Any]:
        return world.service.read(world.request("market/sharing", "read", args, purpose=PURPOSE))

    read()  # the member record is cached now
    world.ok("market/admin", "members", "suspend", {"member": "market/sharing"})
    with pytest.raises(GovchainError) as info:
        read()
    assert info.value.code == "unknown_signer"


def test_a_batch_answers_each_read_on_its_own(world: World) -> None:
    gid = _setup(world)
    good = [_request(world, gid), _request(world, gid, OTHER)]
    forged = _request(world, gid)
    forged["body"]["actor"] = "someone else"
    wrong_purpose = world.request("market/admin", "read", {
        "resource": "tax.arrears", "subject": ENTERPRISE, "fields": ["amount_fen"],
        "grant": gid}, purpose="信用评价")  # fmt: skip
    replay = good[0]
    outcomes: list[ReadOutcome] = world.service.read_many(
        [good[0], forged, wrong_purpose, "not a request", good[1], replay]
    )
    assert isinstance(outcomes[1], BadSignature)
    assert isinstance(outcomes[2], errors.WrongPurpose)
    assert isinstance(outcomes[3], GovchainError) and outcomes[3].code == "schema_violation"
    assert isinstance(outcomes[5], errors.ReplayedRequest)  # same request twice: logged once
    answers = [o for o in (outcomes[0], outcomes[4]) if isinstance(o, dict)]
    assert len(answers) == 2 and answers[0]["tx_id"] == answers[1]["tx_id"]  # one log tx
    opened = [world.open("market", a) for a in answers]
    assert [r["record"] for r in opened[0]["records"]] == ["a-1", "a-2"]
    assert [r["record"] for r in opened[1]["records"]] == ["b-1"]
    logged = world.service.access_receipts(ENTERPRISE)["reads"]
    assert [e["request_id"] for e in logged] == [answers[0]["request_id"]]
    assert len(world.service.access_receipts(OTHER)["reads"]) == 1


def test_concurrent_reads_are_each_logged_and_answered(world: World) -> None:
    gid = _setup(world)
    requests = [_request(world, gid, (ENTERPRISE, OTHER)[i % 2]) for i in range(40)]
    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(world.service.read, requests))
    assert len({a["request_id"] for a in answers}) == 40
    assert len({a["tx_id"] for a in answers}) < 40  # grouped into shared log transactions
    for a, r in zip(answers, requests, strict=True):
        subject = r["body"]["args"]["subject"]
        assert world.open("market", a)["subject"] == subject
    receipts = world.service.access_receipts(ENTERPRISE)["reads"]
    assert len(receipts) + len(world.service.access_receipts(OTHER)["reads"]) == 40


def test_tampering_is_caught_when_a_ciphertext_is_first_trusted(world: World) -> None:
    gid = _setup(world)
    store = world.node.ledger.store
    key = CIPHERTEXT + b"tax.arrears\x00b-1"
    sealed = bytearray(store.get(TABLE, key) or b"")
    sealed[-1] ^= 0x80
    batch = WriteBatch()
    batch.put(TABLE, key, bytes(sealed))
    store.commit(batch)
    assert len(_read(world, gid)["records"]) == 2  # another subject: unaffected
    with pytest.raises(IntegrityError):
        _read(world, gid, OTHER)
    assert world.service.access_receipts(OTHER)["reads"] == []
