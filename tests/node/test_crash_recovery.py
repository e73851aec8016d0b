"""Nothing acknowledged is ever lost: ``kill -9`` of the node while it commits under load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from govchain.contracts.registry import builtin_registry
from govchain.ledger.audit import verify_chain
from govchain.ledger.chain import Ledger
from govchain.ledger.genesis import Params
from govchain.ledger.transactions import build_transaction
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.storage.lmdb import LmdbStore
from govchain.storage.memory import MemoryStore

CHILD = Path(__file__).with_name("crash_child.py")


def _run_and_kill(network: Path, start: int, acks_wanted: int) -> list[tuple[str, int, int]]:
    acks: list[tuple[str, int, int]] = []
    with subprocess.Popen(
        [sys.executable, str(CHILD), str(network), str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the node and its verifier processes form one group
    ) as proc:
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                _, signer, first, last = line.split()
                acks.append((signer, int(first), int(last)))
                if len(acks) >= acks_wanted:
                    break
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        errors = proc.stderr.read() if proc.stderr else ""
    assert acks, errors
    return acks


def test_kill_9_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    network = tmp_path / "net"
    init_network(
        network,
        chain_id="crash",
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(block_max_txs=40, block_max_ms=5),
    )
    for round_no, start in enumerate((0, 100_000)):
        acks = _run_and_kill(network, start, acks_wanted=30)
        node = open_embedded(network)  # the startup integrity check passes
        state = node.ledger.state
        for signer, first, last in acks:
            for n in range(first, last + 1):
                v = state.get(f"c/kv/{signer}:{n}".encode())
                assert v is not None, f"round {round_no}: acknowledged {signer}:{n} was lost"
        height = node.ledger.height
        node.close()

    net = NetworkDir(network)
    genesis = net.genesis()
    audited = Ledger(
        LmdbStore(net.data_dir("embedded"), readonly=True),
        genesis,
        net.suite(),
        builtin_registry(genesis, net.suite().hash),
    )
    report = verify_chain(
        audited,
        Ledger(MemoryStore(), genesis, net.suite(), builtin_registry(genesis, net.suite().hash)),
    )
    audited.store.close()
    assert report.ok, report.error
    assert report.height == height

    # and the node continues after the crash
    node = open_embedded(network)
    node.start()
    try:
        key = net.member_key("hrss/admin").keypair
        tx = build_transaction(
            chain=genesis.chain_id,
            signer="hrss/admin",
            nonce=1,
            contract="kv",
            method="put",
            args={"key": "after-crash", "value": 1},
            actor="hrss/admin",
            sign=lambda m: net.suite().sign(key.private, m),
            hash_fn=net.suite().hash,
        )
        node.submit([tx.encode()], wait=True, timeout=10)
        assert node.ledger.height == height + 1
    finally:
        node.close()
