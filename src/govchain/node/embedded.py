"""Opening the embedded node of ``govchain up``: one process, solo ordering, every local
department key signing checkpoints, data in LMDB under the network directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from govchain.contracts.registry import builtin_registry
from govchain.crypto import get_suite, parallel
from govchain.errors import NotFound
from govchain.ledger.audit import check_integrity
from govchain.ledger.transactions import Transaction
from govchain.node.content import ContentStore
from govchain.node.lock import DataDirLock
from govchain.node.network import NetworkDir
from govchain.node.node import Node, NodeIdentity
from govchain.ordering.solo import SoloOrderer
from govchain.storage.base import KVStore
from govchain.storage.factory import open_store

EMBEDDED_NODE = "embedded"
"""Name of the embedded node's data directory under ``<network>/data``."""


def open_embedded(
    network: Path | str,
    *,
    data_dir: Path | str | None = None,
    in_memory: bool = False,
    check: bool = True,
    progress: Callable[[int, int], None] | None = None,
    store: KVStore | None = None,
    clock_ms: Callable[[], int] | None = None,
) -> Node:
    """Open (not start) the embedded node of a network directory.

    Locks the data directory (``Conflict`` if another node holds it) and runs the startup
    integrity check (``check``), which raises ``IntegrityError`` naming the first bad block: the
    node does not start on corrupt data. ``Node.close`` releases the store and the lock.
    ``clock_ms`` replaces the clock blocks are stamped with (tests of deadlines)."""
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    keys = net.local_node_keys()
    if not keys:
        raise NotFound(f"no department node key under {net.root}/departments")
    lock: DataDirLock | None = None
    path: Path | None = None
    if store is None:
        path = None if in_memory else Path(data_dir or net.data_dir(EMBEDDED_NODE))
        if path is not None:
            lock = DataDirLock(path).acquire()
        try:
            store = open_store(None if path is None else str(path), node=True)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
    params = genesis.params
    orderer: SoloOrderer[Transaction] = SoloOrderer(params.block_max_txs, params.block_max_ms)
    proposer = keys[0]
    clock: dict[str, Any] = {} if clock_ms is None else {"clock_ms": clock_ms}
    node = Node(
        store=store,
        genesis=genesis,
        suite=suite,
        host=builtin_registry(genesis, suite.hash),
        orderer=orderer,
        content=ContentStore(None if path is None else path / "content", suite.hash),
        identity=NodeIdentity(
            proposer=proposer.id,
            proposer_key=proposer.keypair.private,
            checkpoint_keys=tuple((k.id, k.keypair.private) for k in keys),
        ),
        **clock,
    )
    if lock is not None:
        node.on_close.append(lock.release)
    if check:
        try:
            check_integrity(node.ledger, progress)
        except BaseException:
            node.close()
            raise
    parallel.warm_up()  # fork the verifier processes before the node starts threads
    return node
