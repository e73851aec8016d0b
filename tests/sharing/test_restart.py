"""Durability across a restart: records, keys and grants survive on LMDB, the node's own
transactions go on (its nonces continue above the earlier run's), and reads work again."""

from __future__ import annotations

import time
from pathlib import Path

from sharing_world import ARREARS, CHAIN, make_network

from govchain.crypto import get_suite
from govchain.ledger.transactions import build_transaction
from govchain.node.embedded import open_embedded
from govchain.node.sharing import open_sharing
from govchain.sharing.requests import build_request

SUBJECT = "91330100MA27XL0X33"


def test_records_survive_a_restart(tmp_path: Path) -> None:
    net = make_network(tmp_path / "net")
    suite = get_suite("intl")
    admin = net.member_key("tax/admin").keypair.private

    def request(kind: str, args: dict[str, object]) -> dict[str, object]:
        return build_request(
            chain=CHAIN, kind=kind, signer="tax/admin", actor="tax/officer", args=args,
            time_ms=time.time_ns() // 1_000_000, sign=lambda m: suite.sign(admin, m),
        ).envelope()  # fmt: skip

    data = tmp_path / "data"
    node = open_embedded(net.root, data_dir=data)
    node.start()
    try:
        service = open_sharing(node, net.root)
        tx = build_transaction(
            chain=CHAIN, signer="tax/admin", nonce=1, contract="sharing.catalogue",
            method="register", args=ARREARS, actor="tax/admin",
            sign=lambda m: suite.sign(admin, m), hash_fn=suite.hash,
        )  # fmt: skip
        assert service.port.commit([tx])[0]["status"] == "ok"
        service.publish(request("publish", {
            "resource": "tax.arrears", "record": "a-1", "subject": SUBJECT,
            "data": {"amount_fen": 7, "due_date": "2026-10-15", "settled": False}}))  # fmt: skip
    finally:
        node.close()

    node = open_embedded(net.root, data_dir=data)
    node.start()
    try:
        service = open_sharing(node, net.root)
        args = {"resource": "tax.arrears", "subject": SUBJECT, "fields": ["amount_fen"]}
        answer = service.read(request("read", args))
        assert answer["records"] == 1
        service.publish(request("publish", {
            "resource": "tax.arrears", "record": "a-2", "subject": SUBJECT,
            "data": {"amount_fen": 8, "due_date": "2026-11-15", "settled": True}}))  # fmt: skip
        assert len(service.access_receipts(SUBJECT)["reads"]) == 1
        ref = service.subject_ref(SUBJECT)
        assert service.vault.records_of("tax.arrears", ref) == ["a-1", "a-2"]
    finally:
        node.close()
