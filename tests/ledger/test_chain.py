"""Blocks, execution and commits through the public ``Ledger`` interface: hash chaining,
receipts, replay protection, atomicity, re-verification of blocks made elsewhere, tampering."""

from __future__ import annotations

import dataclasses

import pytest
from ledger_net import Net, make_net

from govchain.errors import IntegrityError, ProofError
from govchain.ledger import merkle
from govchain.ledger.audit import check_integrity, verify_chain
from govchain.ledger.blocks import SignedHeader, height_key
from govchain.ledger.bundles import verify_bundle
from govchain.ledger.checkpoints import verify_checkpoint
from govchain.ledger.state_proof import verify_state_proof
from govchain.storage.base import WriteBatch
from govchain.storage.memory import MemoryStore


def test_blocks_chain_and_receipts(net: Net) -> None:
    ledger = net.ledger()
    b1 = net.commit(ledger, [net.tx(0), net.tx(1)])
    b2 = net.commit(ledger, [net.tx(2)], ts=500)  # proposer clock went back: clamped
    assert ledger.height == 2
    assert b1.header.header.prev_hash == ledger.genesis_hash
    assert b2.header.header.prev_hash == b1.block_hash
    assert b2.header.header.timestamp_ms == 1_000
    assert [r.status for r in b1.result.receipts] == ["ok", "ok"]
    assert ledger.log.size == 3
    assert b2.header.header.log_root == ledger.log.root
    assert b2.header.header.state_root == ledger.state.root
    value = ledger.state.get(b"c/kv/k2")
    assert value is not None and value.value == b"2" and value.height == 2


def test_receipt_bundle_verifies_offline_and_detects_tampering(net: Net) -> None:
    ledger = net.ledger()
    txs = [net.tx(i, case="case-7", purpose="demo") for i in range(5)]
    net.commit(ledger, txs[:3])
    net.commit(ledger, txs[3:])
    bundle = ledger.receipt_bundle(txs[1].tx_id)
    proven = verify_bundle(bundle, net.genesis, net.suite)
    assert proven.status == "ok" and proven.case == "case-7" and proven.signature_checked
    assert proven.checkpoint_height == 2 and len(proven.checkpoint_signers) == 3

    tampered = dict(
        bundle,
        entry=dict(
            bundle["entry"], receipt={**bundle["entry"]["receipt"], "result": {"key": "evil"}}
        ),
    )
    with pytest.raises(ProofError):
        verify_bundle(tampered, net.genesis, net.suite)
    proof = list(bundle["inclusion_proof"])
    proof[0] = ("0" if proof[0][0] != "0" else "1") + proof[0][1:]
    with pytest.raises(ProofError):
        verify_bundle(dict(bundle, inclusion_proof=proof), net.genesis, net.suite)
    cp = bundle["checkpoint"]
    two_sigs = dict(cp, signatures=cp["signatures"][:2])  # 2 of 4 is not > 2/3
    with pytest.raises(ProofError, match="required"):
        verify_bundle(dict(bundle, checkpoint=two_sigs), net.genesis, net.suite)
    other = make_net(net.suite.name)
    with pytest.raises(ProofError):
        verify_bundle(bundle, other.genesis, other.suite)


def test_execution_rejects_replays_and_unknown_signers_deterministically(intl_net: Net) -> None:
    net = intl_net
    ledger = net.ledger()
    t = net.tx(5)
    stranger = make_net("intl")
    foreign = stranger.tx(6)  # signer name exists, but the key/genesis is another network's
    wrong_chain = net.tx(7, chain="otherchain")
    block = net.commit(ledger, [t, net.tx(5, args={"key": "again", "value": 1}), wrong_chain])
    statuses = [r.status for r in block.result.receipts]
    assert statuses == ["ok", "rejected", "rejected"]
    assert block.result.receipts[1].error == {
        "code": "replayed_nonce",
        "message": "nonce 5 was already used",
    }
    assert ledger.state.get(b"c/kv/again") is None
    # a proposer that skipped admission cannot get another node to accept a forged signature
    block2 = net.commit(ledger, [foreign])
    follower = net.ledger()
    follower.apply_block(
        ledger.header(1), [t, net.tx(5, args={"key": "again", "value": 1}), wrong_chain]
    )
    with pytest.raises(IntegrityError, match=r"block 2: transaction 0 .* invalid signature"):
        follower.apply_block(block2.header, [foreign])
    unknown = dataclasses.replace(net.tx(8), signer="nobody/admin")
    block3 = net.commit(ledger, [unknown])
    assert block3.result.receipts[0].error is not None
    assert block3.result.receipts[0].error["code"] == "unknown_signer"


def test_failed_call_rolls_back_only_itself(intl_net: Net) -> None:
    net = intl_net
    ledger = net.ledger()
    ok = net.tx(1)
    bad_method = net.tx(2, method="nope", args={})
    bad_args = net.tx(3, args={"key": "", "value": 1})
    unknown_contract = net.tx(4, contract="missing", args={})
    block = net.commit(ledger, [ok, bad_method, bad_args, unknown_contract])
    codes = [r.error["code"] if r.error else None for r in block.result.receipts]
    assert codes == [None, "unknown_method", "bad_arguments", "unknown_contract"]
    assert [r.status for r in block.result.receipts] == ["ok", "failed", "failed", "failed"]
    assert ledger.log.size == 4  # failed transactions are still in the log, with their receipt


def test_state_proof_against_quorum_checkpoint(net: Net) -> None:
    ledger = net.ledger()
    net.commit(ledger, [net.tx(i) for i in range(20)])
    cp = ledger.checkpoint()
    assert verify_checkpoint(net.suite, net.genesis, cp, required=4) == sorted(net.node_keys)
    assert len(verify_checkpoint(net.suite, net.genesis, cp)) == 3  # stops at the quorum
    root = cp.checkpoint.state_root
    n = net.genesis.params.state_buckets
    verify_state_proof(net.suite.hash, root, b"c/kv/k3", b"3", ledger.state.prove(b"c/kv/k3"), n)
    verify_state_proof(net.suite.hash, root, b"c/kv/zz", None, ledger.state.prove(b"c/kv/zz"), n)
    with pytest.raises(ProofError):
        verify_state_proof(
            net.suite.hash, root, b"c/kv/k3", b"4", ledger.state.prove(b"c/kv/k3"), n
        )


def test_log_consistency_between_checkpoints(intl_net: Net) -> None:
    net = intl_net
    ledger = net.ledger()
    net.commit(ledger, [net.tx(i) for i in range(3)])
    old = ledger.checkpoint().checkpoint
    net.commit(ledger, [net.tx(i) for i in range(3, 10)])
    new = ledger.checkpoint().checkpoint
    proof = ledger.log.consistency_proof(old.log_size, new.log_size)
    merkle.verify_consistency(
        net.suite.hash, old.log_size, new.log_size, proof, old.log_root, new.log_root
    )


def test_apply_block_replays_and_catches_every_mismatch(intl_net: Net) -> None:
    net = intl_net
    src = net.ledger()
    b1 = net.commit(src, [net.tx(i) for i in range(4)])
    txs = [net.tx(i) for i in range(4)]
    dst = net.ledger()
    # a header whose state root is wrong: nothing is written
    bad_hd = dataclasses.replace(b1.header.header, state_root=b"\x00" * 32)
    proposer = net.node_keys["market"].private
    bad = SignedHeader(bad_hd, net.suite.sign(proposer, bad_hd.signing_message()))
    with pytest.raises(IntegrityError, match="block 1: state root mismatch"):
        dst.apply_block(bad, txs)
    assert dst.height == 0 and dst.log.size == 0
    # a forged proposer signature
    forged = SignedHeader(b1.header.header, b"\x01" * 64)
    with pytest.raises(IntegrityError, match="proposer signature"):
        dst.apply_block(forged, txs)
    # transactions reordered: transaction root differs
    with pytest.raises(IntegrityError, match="transaction root"):
        dst.apply_block(b1.header, list(reversed(txs)))
    dst.apply_block(b1.header, txs)
    assert dst.state.root == src.state.root and dst.log.root == src.log.root


def test_failed_store_commit_leaves_nothing_half_written(intl_net: Net) -> None:
    net = intl_net

    class FailingStore(MemoryStore):
        fail = False

        def commit(self, batch: WriteBatch) -> None:
            if self.fail:
                raise OSError("disk full")
            super().commit(batch)

    store = FailingStore()
    ledger = net.ledger(store)
    net.commit(ledger, [net.tx(0)])
    before = (ledger.height, ledger.log.size, ledger.log.root, ledger.state.root)
    store.fail = True
    with pytest.raises(OSError):
        net.commit(ledger, [net.tx(1)])
    assert (ledger.height, ledger.log.size, ledger.log.root, ledger.state.root) == before
    store.fail = False
    net.commit(ledger, [net.tx(1)])
    check_integrity(ledger)


def test_audit_names_the_first_tampered_block(intl_net: Net) -> None:
    net = intl_net
    store = MemoryStore()
    ledger = net.ledger(store)
    for b in range(4):
        net.commit(ledger, [net.tx(b * 10 + i) for i in range(5)])
    assert verify_chain(ledger, net.ledger()).ok
    assert check_integrity(ledger) == 20
    # flip one byte inside a stored log entry of block 3
    key = (12).to_bytes(8, "big")
    raw = bytearray(store.get("entries", key) or b"")
    raw[raw.index(b'"value":') + 8] ^= 0x01
    batch = WriteBatch()
    batch.put("entries", key, bytes(raw))
    store.commit(batch)
    report = verify_chain(net.ledger(store), net.ledger())
    assert not report.ok and report.bad_height == 3
    with pytest.raises(IntegrityError, match="block 3"):
        check_integrity(net.ledger(store))


def test_audit_detects_a_flipped_header_byte(intl_net: Net) -> None:
    net = intl_net
    store = MemoryStore()
    ledger = net.ledger(store)
    for b in range(3):
        net.commit(ledger, [net.tx(b)])
    raw = bytearray(store.get("blocks", height_key(2)) or b"")
    raw[raw.index(b'"timestamp_ms":') + 15] ^= 0x01
    batch = WriteBatch()
    batch.put("blocks", height_key(2), bytes(raw))
    store.commit(batch)
    with pytest.raises(IntegrityError, match="block 2"):
        check_integrity(net.ledger(store))
    report = verify_chain(net.ledger(store), net.ledger())
    assert report.bad_height == 2


def test_spliced_log_entry_equals_canonical_encoding(intl_net: Net) -> None:
    from govchain.ledger.receipts import Receipt, entry_bytes, tx_entry_bytes

    tx = intl_net.tx(3, args={"key": "键", "value": {"z": [1, None, "\u2028"], "a": True}})
    receipt = Receipt(
        "failed", None, ({"type": "t", "data": {"b": 1, "a": 2}},), {"code": "x", "message": "é"}
    )
    from govchain.ledger.encoding import canonical_unchecked

    receipt_json = canonical_unchecked(receipt.to_json())
    assert tx_entry_bytes(7, 2, tx.body_bytes, tx.signature, receipt_json) == entry_bytes(
        7, 2, tx.envelope(), receipt
    )
