"""Helpers: deploy a contract package through the lifecycle contract of a test ledger."""

from __future__ import annotations

from itertools import count
from typing import Any

from ledger_net import Net

from govchain.contracts.packages import code_hash
from govchain.ledger.chain import Ledger
from govchain.ledger.receipts import Receipt

_nonces = count(1)


def nonce() -> int:
    return next(_nonces)


def reset_nonces(start: int = 1) -> None:
    """Restart the nonce sequence (to build the same transactions for a second node)."""
    global _nonces
    _nonces = count(start)


def call(
    net: Net, ledger: Ledger, contract: str, method: str, args: dict[str, Any], **kw: Any
) -> Receipt:
    """Commit one transaction in its own block and return its receipt."""
    block = net.commit(ledger, [net.tx(nonce(), contract=contract, method=method, args=args, **kw)])
    return block.result.receipts[0]


def install(
    net: Net, ledger: Ledger, name: str, source: str, version: int = 1, **extra: Any
) -> tuple[Receipt, str]:
    files = {"contract.py": source}
    r = call(
        net,
        ledger,
        "lifecycle",
        "install",
        {"name": name, "version": version, "files": files, **extra},
    )
    return r, code_hash(net.suite.hash, files)


def approve(
    net: Net, ledger: Ledger, name: str, digest: str, depts: list[str], version: int = 1
) -> list[Receipt]:
    return [
        call(
            net,
            ledger,
            "lifecycle",
            "approve",
            {"name": name, "version": version, "code_hash": digest},
            signer=f"{d}/admin",
        )
        for d in depts
    ]


def deploy(
    net: Net,
    ledger: Ledger,
    name: str,
    source: str,
    version: int = 1,
    depts: tuple[str, ...] = ("market", "tax", "hrss"),
    **extra: Any,
) -> Receipt:
    """Install, approve by ``depts`` and commit; return the commit receipt."""
    r, digest = install(net, ledger, name, source, version, **extra)
    assert r.status == "ok", r.error
    for a in approve(net, ledger, name, digest, list(depts), version):
        assert a.status == "ok", a.error
    return call(net, ledger, "lifecycle", "commit", {"name": name, "version": version})
