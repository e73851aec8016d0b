"""Admission through the node's public ``submit``: every kind of bad input gets its typed error,
and nothing about the ledger changes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from govchain.crypto import get_suite
from govchain.errors import (
    BadSignature,
    DuplicateTransaction,
    GovchainError,
    MalformedEncoding,
    ReplayedNonce,
    SchemaViolation,
    TooLarge,
    UnknownSigner,
    WrongChain,
)
from govchain.ledger.genesis import Params
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node


@pytest.fixture
def network(tmp_path: Path) -> Path:
    root = tmp_path / "net"
    init_network(
        root,
        chain_id="adm",
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(max_tx_bytes=2048, block_max_ms=5, nonce_window=8),
    )
    return root


@pytest.fixture
def node(network: Path) -> Iterator[Node]:
    n = open_embedded(network, in_memory=True)
    n.start()
    yield n
    n.stop()


def signed(network: Path, nonce: int, **over: object) -> Transaction:
    net = NetworkDir(network)
    suite = get_suite("intl")
    signer = str(over.pop("signer", "tax/admin"))
    key = net.member_key("tax/admin")  # an unknown signer name still needs some valid key
    fields: dict[str, object] = {
        "chain": "adm",
        "signer": signer,
        "nonce": nonce,
        "contract": "kv",
        "method": "put",
        "args": {"key": f"k{nonce}", "value": nonce},
        "actor": "tax/officer-1",
    }
    fields.update(over)
    return build_transaction(
        **fields,  # type: ignore[arg-type]
        sign=lambda m: suite.sign(key.keypair.private, m),
        hash_fn=suite.hash,
    )


def envelope(tx: Transaction) -> dict[str, object]:
    return tx.envelope()


def rejected(node: Node, item: bytes, err: type[GovchainError]) -> GovchainError:
    before = (node.ledger.height, node.ledger.log.size, node.admission.pending_count())
    (out,) = node.submit([item])
    assert isinstance(out, err), out
    assert (node.ledger.height, node.ledger.log.size, node.admission.pending_count()) == before
    return out


def test_good_transaction_commits(node: Node, network: Path) -> None:
    (tx,) = node.submit([signed(network, 1).encode()], wait=True)
    assert isinstance(tx, Transaction)
    assert node.ledger.is_committed(tx.tx_id)


def test_malformed_and_wrongly_typed_input(node: Node, network: Path) -> None:
    rejected(node, b'{"body": ', MalformedEncoding)
    rejected(node, b"[1, 2]", SchemaViolation)
    good = envelope(signed(network, 1))
    body = dict(good["body"])  # type: ignore[call-overload]
    for field, value in [
        ("nonce", "1"),
        ("nonce", -1),
        ("args", []),
        ("signer", 5),
        ("contract", "Not An Ident"),
        ("v", 2),
        ("actor", ""),
    ]:
        bad = {"body": {**body, field: value}, "signature": good["signature"]}
        rejected(node, orjson.dumps(bad), SchemaViolation)
    rejected(node, orjson.dumps({"body": body}), SchemaViolation)  # missing signature
    rejected(node, orjson.dumps({**good, "extra": 1}), SchemaViolation)
    rejected(node, orjson.dumps({"body": body, "signature": "zz"}), SchemaViolation)


def test_floats_are_rejected_anywhere(node: Node, network: Path) -> None:
    good = envelope(signed(network, 1))
    body = dict(good["body"])  # type: ignore[call-overload]
    err = rejected(node, orjson.dumps({**good, "body": {**body, "nonce": 1.0}}), MalformedEncoding)
    assert "float" in err.message
    deep = {**body, "args": {"key": "k", "value": {"fen": [1, 2.5]}}}
    err = rejected(node, orjson.dumps({**good, "body": deep}), MalformedEncoding)
    assert "$.body.args.value.fen[1]" in err.message


def test_oversized_transaction(node: Node, network: Path) -> None:
    big = signed(network, 1, args={"key": "k", "value": "x" * 4000})
    err = rejected(node, big.encode(), TooLarge)
    assert err.fields["limit"] == 2048


def test_bad_and_missing_signatures(node: Node, network: Path) -> None:
    good = envelope(signed(network, 1))
    sig = bytearray(bytes.fromhex(str(good["signature"])))
    sig[0] ^= 1
    rejected(node, orjson.dumps({**good, "signature": sig.hex()}), BadSignature)
    other_body = {**good["body"], "nonce": 2}  # type: ignore[dict-item]
    rejected(node, orjson.dumps({**good, "body": other_body}), BadSignature)


def test_unknown_signer_and_wrong_chain(node: Node, network: Path) -> None:
    rejected(node, signed(network, 1, signer="nobody/admin").encode(), UnknownSigner)
    rejected(node, signed(network, 1, chain="other").encode(), WrongChain)


def test_replays(node: Node, network: Path) -> None:
    tx = signed(network, 20)
    node.submit([tx.encode()], wait=True)
    rejected(node, tx.encode(), DuplicateTransaction)  # the same transaction again
    same_nonce = signed(network, 20, args={"key": "other", "value": 1})
    rejected(node, same_nonce.encode(), ReplayedNonce)
    err = rejected(node, signed(network, 3).encode(), ReplayedNonce)  # below the window of 8
    assert "below the replay window" in err.message
    node.submit([signed(network, 15).encode()], wait=True)  # inside the window, unused: fine


def test_batch_with_good_and_bad_items_commits_only_the_good(node: Node, network: Path) -> None:
    items = [
        signed(network, 1).encode(),
        b"{",
        signed(network, 2, chain="x").encode(),
        signed(network, 3).encode(),
    ]
    out = node.submit(items, wait=True)
    assert [type(o).__name__ for o in out] == [
        "Transaction",
        "MalformedEncoding",
        "WrongChain",
        "Transaction",
    ]
    assert node.ledger.log.size == 2


def test_a_data_directory_is_used_by_one_node_at_a_time(network: Path) -> None:
    from govchain.errors import Conflict

    first = open_embedded(network)
    try:
        with pytest.raises(Conflict, match="another node"):
            open_embedded(network)
    finally:
        first.close()
    open_embedded(network).close()  # released


def test_at_capacity_a_batch_is_refused_whole_and_can_be_resent(network: Path) -> None:
    from govchain.errors import Unavailable

    node = open_embedded(network, in_memory=True)  # not started: nothing commits yet
    node.max_pending = 5
    try:
        first = [signed(network, n).encode() for n in range(1, 4)]
        second = [signed(network, n).encode() for n in range(4, 7)]
        node.submit(first)
        with pytest.raises(Unavailable, match="at capacity"):
            node.submit(second)
        node.start()
        assert node.wait_committed([signed(network, 3).tx_id], timeout=10)
        out = node.submit(second, wait=True)  # the refused batch used no nonce
        assert all(isinstance(o, Transaction) for o in out)
        assert node.ledger.log.size == 6
    finally:
        node.close()


def test_the_lock_is_released_even_when_processes_were_forked_while_held(tmp_path: Path) -> None:
    import multiprocessing

    from govchain.node.lock import DataDirLock

    lock = DataDirLock(tmp_path / "data").acquire()
    ctx = multiprocessing.get_context("fork")
    running, stop = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_live_until, args=(running, stop))  # a long-lived forked child
    child.start()
    assert running.wait(10)  # past its at-fork hooks
    try:
        lock.release()
        DataDirLock(tmp_path / "data").acquire().release()  # free although the child lives
    finally:
        stop.set()
        child.join(10)


def _live_until(running: Any, stop: Any) -> None:
    running.set()
    stop.wait(30)


def test_admission_remembers_the_key_each_pending_signature_verified_under(
    network: Path,
) -> None:
    node = open_embedded(network, in_memory=True)  # not started: nothing commits yet
    try:
        good, forged = signed(network, 1), signed(network, 2)
        forged_bytes = forged.encode().replace(forged.signature.hex().encode(), b"00" * 64)
        out = node.submit([good.encode(), forged_bytes])
        assert isinstance(out[0], Transaction) and not isinstance(out[1], Transaction)
        key = NetworkDir(network).member_key("tax/admin").keypair.public
        assert node.admission.verified_keys([good, forged]) == [key, None]
        # The same body with another signature (a block's copy need not be the admitted one:
        # the id covers the body only) is not taken as verified.
        other = replace(good, signature=bytes(64))
        assert other.tx_id == good.tx_id
        assert node.admission.verified_keys([other]) == [None]
        node.start()
        assert node.wait_committed([good.tx_id], timeout=10)
        assert node.admission.verified_keys([good]) == [None]  # committed: forgotten
    finally:
        node.close()
