"""Quorum checkpoints: which published statements count, divergence, membership per height.
Generate (sign with department keys) -> tally -> tamper, for both suites."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.crypto import get_suite
from govchain.crypto.suite import CryptoSuite, KeyPair
from govchain.errors import Divergence
from govchain.ledger.checkpoints import Checkpoint, SignedCheckpoint, sign_checkpoint
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.genesis import Department
from govchain.ledger.membership import Membership
from govchain.node.quorum import (
    MembershipHistory,
    check_divergence,
    peer_certificates,
    tally,
    tally_signed,
)
from govchain.types import Hash32

DEPTS = ("market", "tax", "hrss", "customs")


@pytest.fixture(params=["intl", "gm"])
def suite(request: pytest.FixtureRequest) -> CryptoSuite:
    return get_suite(request.param)


def setup(suite: CryptoSuite) -> tuple[dict[str, KeyPair], Membership, Checkpoint]:
    keys = {d: suite.generate_keypair() for d in DEPTS}
    members = Membership(tuple(Department(d, d, keys[d].public) for d in DEPTS))
    cp = Checkpoint("c", 7, Hash32(b"\x01" * 32), Hash32(b"\x02" * 32), 70, Hash32(b"\x03" * 32))
    return keys, members, cp


def statement(suite: CryptoSuite, cp: Checkpoint, dept: str, kp: KeyPair) -> bytes:
    return canonical_unchecked(sign_checkpoint(suite, cp, [(dept, kp.private)]).to_json())


def test_statements_of_the_same_checkpoint_count(suite: CryptoSuite) -> None:
    keys, members, cp = setup(suite)
    stmts = {d: statement(suite, cp, d, keys[d]) for d in DEPTS[:3]}
    t = tally(suite, cp, stmts, members)
    assert [d for d, _ in t.agree] == sorted(DEPTS[:3])
    assert not t.others
    check_divergence(cp, t, members.quorum())  # no error


def test_forged_unknown_and_malformed_statements_are_ignored(suite: CryptoSuite) -> None:
    keys, members, cp = setup(suite)
    outsider = suite.generate_keypair()
    stmts = {
        "market": statement(suite, cp, "market", keys["tax"]),  # signed with another key
        "tax": statement(suite, cp, "tax", keys["tax"])[:-5],  # truncated
        "nosuch": statement(suite, cp, "nosuch", outsider),  # not a member
        "hrss": b"{}",
        "customs": statement(suite, cp, "customs", keys["customs"]),
    }
    t = tally(suite, cp, stmts, members)
    assert [d for d, _ in t.agree] == ["customs"]
    assert not t.others


def test_a_quorum_on_another_root_is_divergence(suite: CryptoSuite) -> None:
    keys, members, cp = setup(suite)
    theirs = dataclasses.replace(cp, state_root=Hash32(b"\x09" * 32))
    stmts = {d: statement(suite, theirs, d, keys[d]) for d in ("tax", "hrss", "customs")}
    stmts["market"] = statement(suite, cp, "market", keys["market"])
    t = tally(suite, cp, stmts, members)
    assert t.others == {theirs: ("customs", "hrss", "tax")}
    with pytest.raises(Divergence) as err:
        check_divergence(cp, t, members.quorum())
    assert err.value.fields["height"] == 7
    assert err.value.fields["local_state_root"] == "02" * 32
    assert err.value.fields["quorum_state_root"] == "09" * 32
    # Fewer than a quorum disagreeing is reported, not fatal.
    del stmts["customs"]
    check_divergence(cp, tally(suite, cp, stmts, members), members.quorum())


@settings(max_examples=25, deadline=None)
@given(signers=st.sets(st.sampled_from(DEPTS)), tamper=st.sampled_from(DEPTS))
def test_tampering_with_a_statement_removes_only_it(signers: set[str], tamper: str) -> None:
    suite = get_suite("intl")
    keys, members, cp = setup(suite)
    stmts = {d: statement(suite, cp, d, keys[d]) for d in signers}
    if tamper in stmts:
        doc = orjson.loads(stmts[tamper])
        doc["checkpoint"]["log_size"] += 1  # the signature no longer matches
        stmts[tamper] = orjson.dumps(doc)
    t = tally(suite, cp, stmts, members)
    assert {d for d, _ in t.agree} == signers - {tamper}
    assert not t.others  # a statement whose signature fails counts for nothing


def test_membership_history_gives_the_membership_in_force_at_each_height() -> None:
    a = Membership((Department("a", "A", b"1"),))
    ab = Membership((Department("a", "A", b"1"), Department("b", "B", b"2")))
    hist = MembershipHistory(0, a)
    hist.record(10, ab)
    assert hist.at(0) == a and hist.at(9) == a
    assert hist.at(10) == ab and hist.at(99) == ab
    assert hist.current == ab
    assert (a.quorum(), ab.quorum()) == (1, 2)


def signed_by(suite: CryptoSuite, cp: Checkpoint, keys: dict[str, KeyPair], depts: Any) -> Any:
    """A peer's stored checkpoint (decoded JSON) signed by ``depts``."""
    return sign_checkpoint(suite, cp, [(d, keys[d].private) for d in depts]).to_json()


def test_a_peers_signed_checkpoint_gives_the_quorum_of_each_height(suite: CryptoSuite) -> None:
    keys, members, cp = setup(suite)
    other = dataclasses.replace(cp, height=8)
    mine = {7: cp, 8: other}
    history = MembershipHistory(0, members)
    sent = {7: signed_by(suite, cp, keys, DEPTS), 8: signed_by(suite, other, keys, DEPTS[:2])}
    got = peer_certificates(suite, mine.__getitem__, history, sent)
    # Height 8 has two of four signatures: below the quorum of three, it is not certified.
    assert list(got) == [7]
    assert [d for d, _ in got[7]] == sorted(DEPTS)
    for d, sig in got[7]:
        assert suite.verify(keys[d].public, cp.signing_message(), sig)


def test_forged_outsider_and_malformed_peer_signatures_do_not_count(suite: CryptoSuite) -> None:
    keys, members, cp = setup(suite)
    outsider = suite.generate_keypair()
    doc = signed_by(suite, cp, keys, DEPTS[:2])
    forged = sign_checkpoint(suite, cp, [("hrss", keys["tax"].private)]).to_json()
    foreign = sign_checkpoint(suite, cp, [("nosuch", outsider.private)]).to_json()
    doc["signatures"] += forged["signatures"] + foreign["signatures"]
    history = MembershipHistory(0, members)
    t = tally_signed(suite, cp, SignedCheckpoint.from_json(doc), members)
    assert [d for d, _ in t.agree] == sorted(DEPTS[:2])
    assert peer_certificates(suite, lambda h: cp, history, {7: doc}) == {}
    assert peer_certificates(suite, lambda h: cp, history, {7: {"signatures": "x"}}) == {}


def test_a_quorum_of_peer_signatures_on_another_root_is_divergence(suite: CryptoSuite) -> None:
    keys, members, cp = setup(suite)
    theirs = dataclasses.replace(cp, state_root=Hash32(b"\x09" * 32))
    history = MembershipHistory(0, members)
    with pytest.raises(Divergence) as err:
        peer_certificates(suite, lambda h: cp, history, {7: signed_by(suite, theirs, keys, DEPTS)})
    assert err.value.fields["quorum_state_root"] == theirs.state_root.hex()


def test_peer_signatures_count_under_the_membership_in_force_at_their_height(
    suite: CryptoSuite,
) -> None:
    keys, members, cp = setup(suite)
    # From height 5 on, only market and tax are departments: two signatures are a quorum.
    history = MembershipHistory(0, members)
    history.record(5, Membership(tuple(d for d in members.departments if d.id in DEPTS[:2])))
    early = dataclasses.replace(cp, height=4)
    sent = {4: signed_by(suite, early, keys, DEPTS[:2]), 7: signed_by(suite, cp, keys, DEPTS)}
    got = peer_certificates(suite, {4: early, 7: cp}.__getitem__, history, sent)
    assert list(got) == [7]
    assert [d for d, _ in got[7]] == sorted(DEPTS[:2])  # hrss and customs no longer count
