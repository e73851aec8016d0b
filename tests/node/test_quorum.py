"""Quorum checkpoints: which published statements count, divergence, membership per height.
Generate (sign with department keys) -> tally -> tamper, for both suites."""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.crypto import get_suite
from govchain.crypto.suite import CryptoSuite, KeyPair
from govchain.errors import Divergence
from govchain.ledger.checkpoints import Checkpoint, sign_checkpoint
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.genesis import Department
from govchain.ledger.membership import Membership
from govchain.node.quorum import MembershipHistory, check_divergence, tally
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
