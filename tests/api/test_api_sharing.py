"""The data-sharing routes over HTTP: grants through ``/v1/transactions``, signed reads that
come back sealed for the reader, 403 problem documents that say why, access receipts, and an
integrity error (with nothing returned) for a tampered stored record."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from identity_helpers import CITIZEN_ID, PASSWORD, bearer, tokens_for

from govchain.contracts.registry import builtin_registry
from govchain.ledger.transactions import Transaction
from govchain.node.network import NetworkDir
from govchain.node.node import Node, NodeIdentity
from govchain.ordering.solo import SoloOrderer
from govchain.sharing.keyfiles import agreement_key_path, read_agreement_key
from govchain.sharing.reading import open_answer
from govchain.sharing.requests import build_request
from govchain.sharing.vault import CIPHERTEXT, TABLE
from govchain.storage.base import WriteBatch
from govchain.storage.memory import MemoryStore

JSON = {"content-type": "application/json"}
"""Headers of a JSON body."""

Client = Any  # conftest.ApiClient (the fixtures of tests/api)
TxSigner = Any  # conftest.Signer

PROBLEM = "application/problem+json"
SUBJECT = "91330100MA27XL0X33"
PURPOSE = "企业注销审查"
ARREARS = {
    "id": "tax.arrears",
    "name": "纳税人欠税记录",
    "description": "欠税信息 (tax arrears)",
    "fields": [
        {"name": "amount_fen", "type": "integer", "description": "欠税金额(分)"},
        {"name": "settled", "type": "boolean", "description": "是否已缴清"},
    ],
    "share_level": "conditional",
    "sensitivity": "sensitive",
    "update_frequency": "daily",
    "legal_basis": "《税收征收管理法》",
}


@pytest.fixture
def auditor(app: FastAPI) -> dict[str, str]:
    """Authorization header of a department auditor (may list any subject's receipts)."""
    app.state.identity.users.create_staff("hrss/auditor9", "审计员", "hrss", "auditor", PASSWORD)
    return bearer(tokens_for(app.state.identity, "hrss/auditor9"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def node(network: NetworkDir, clock: Clock) -> Iterator[Node]:
    """The embedded node of the API tests, with a clock the test sets (grant expiry)."""
    genesis = network.genesis()
    keys = network.local_node_keys()
    n = Node(
        store=MemoryStore(),
        genesis=genesis,
        suite=network.suite(),
        host=builtin_registry(),
        orderer=SoloOrderer(genesis.params.block_max_txs, genesis.params.block_max_ms),
        identity=NodeIdentity(
            proposer=keys[0].id,
            proposer_key=keys[0].keypair.private,
            checkpoint_keys=tuple((k.id, k.keypair.private) for k in keys),
        ),
        clock_ms=clock,
    )
    n.start()
    try:
        yield n
    finally:
        n.stop(drain=True)


def _commit(client: Client, tx: Transaction) -> dict[str, Any]:
    r = client.post("/v1/transactions", content=tx.encode(), headers=JSON)
    assert r.status_code == 200, r.text
    receipt: dict[str, Any] = r.json()["receipt"]
    return receipt


def _signed(
    network: NetworkDir, clock: Clock, member: str, kind: str, args: Any, **kw: Any
) -> bytes:
    suite = network.suite()
    private = network.member_key(member).keypair.private
    req = build_request(
        chain=network.genesis().chain_id,
        kind=kind,
        signer=member,
        actor="王小明",
        args=args,
        time_ms=clock.now,
        sign=lambda m: suite.sign(private, m),
        case="case-9",
        **kw,
    )
    return orjson.dumps(req.envelope())


@pytest.fixture
def granted(client: Client, signer: TxSigner, network: NetworkDir, clock: Clock) -> str:
    """tax registers and publishes; market holds an approved grant for one field."""
    assert _commit(client, signer.tx("sharing.catalogue", "register", ARREARS))["status"] == "ok"
    r = client.post(
        "/v1/sharing/records",
        content=_signed(network, clock, "tax/admin", "publish", {
            "resource": "tax.arrears", "record": "a-1", "subject": SUBJECT,
            "data": {"amount_fen": 120000, "settled": False},
        }),
        headers=JSON,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    receipt = _commit(client, signer.tx("sharing.grants", "request", {
        "resource": "tax.arrears", "fields": ["amount_fen"], "purpose": PURPOSE,
        "legal_basis": "《市场主体登记管理条例》", "case": "case-9",
        "expires_ms": clock.now + 60_000,
    }, member="market/admin"))  # fmt: skip
    gid: str = receipt["result"]["id"]
    assert _commit(client, signer.tx("sharing.grants", "approve", {"grant": gid}))["status"] == "ok"
    return gid


def _read(
    client: Client, network: NetworkDir, clock: Clock, reader: str, grant: str, **kw: Any
) -> Any:
    args = {"resource": "tax.arrears", "subject": SUBJECT, "fields": ["amount_fen"], "grant": grant}
    args.update(kw.pop("args", {}))
    return client.post(
        "/v1/sharing/reads",
        content=_signed(
            network, clock, f"{reader}/admin", "read", args, purpose=kw.pop("purpose", PURPOSE)
        ),
        headers=JSON,
    )


def test_read_is_logged_and_sealed_for_the_reader(
    client: Client, network: NetworkDir, clock: Clock, granted: str, auditor: dict[str, str]
) -> None:
    r = _read(client, network, clock, "market", granted)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert "120000" not in r.text  # sealed: only the reader's key opens it
    suite = network.suite()
    key = read_agreement_key(agreement_key_path(network.root, "market"), suite.name)
    owner_public = bytes.fromhex(client.get("/v1/sharing/keys/tax").json()["public"])
    plain = open_answer(suite, key.private, owner_public, answer)
    assert plain["records"] == [{"record": "a-1", "data": {"amount_fen": 120000}}]
    # The read-log transaction is committed and its receipt is on the ledger.
    tx = client.get(f"/v1/transactions/{answer['tx_id']}").json()
    assert tx["status"] == "committed" and tx["receipt"]["status"] == "ok"
    receipts = client.get(f"/v1/sharing/subjects/{SUBJECT}/receipts", headers=auditor).json()
    (entry,) = receipts["reads"]
    assert (entry["reader_dept"], entry["actor"], entry["case"], entry["purpose"]) == (
        "market", "王小明", "case-9", PURPOSE,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("how", "code"),
    [
        ("expired", "grant_expired"),
        ("wrong_purpose", "wrong_purpose"),
        ("wrong_department", "wrong_department"),
        ("not_shared", "not_shared"),
        ("fields", "fields_not_granted"),
    ],
)
def test_denied_reads_are_403_with_the_reason(
    client: Client,
    auditor: dict[str, str],
    signer: TxSigner,
    network: NetworkDir,
    clock: Clock,
    granted: str,
    how: str,
    code: str,
) -> None:
    kw: dict[str, Any] = {}
    reader = "market"
    if how == "expired":
        clock.now += 60_000
    elif how == "wrong_purpose":
        kw["purpose"] = "信用评价"
    elif how == "wrong_department":
        reader = "hrss"
    elif how == "fields":
        kw["args"] = {"fields": ["amount_fen", "settled"]}
    elif how == "not_shared":
        spec = {**ARREARS, "id": "customs.files", "share_level": "not_shared"}
        assert _commit(client, signer.tx("sharing.catalogue", "register", spec,
                                         member="customs/admin"))["status"] == "ok"  # fmt: skip
        kw["args"] = {"resource": "customs.files"}
    r = _read(client, network, clock, reader, granted, **kw)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == PROBLEM
    doc = r.json()
    assert doc["code"] == code and doc["reason"] == code
    assert doc["detail"]
    assert (
        client.get(f"/v1/sharing/subjects/{SUBJECT}/receipts", headers=auditor).json()["reads"]
        == []
    )


def test_tampered_record_is_an_integrity_error_and_returns_nothing(
    client: Client,
    node: Node,
    network: NetworkDir,
    clock: Clock,
    granted: str,
    auditor: dict[str, str],
) -> None:
    store = node.ledger.store
    key = CIPHERTEXT + b"tax.arrears\x00a-1"
    sealed = bytearray(store.get(TABLE, key) or b"")
    sealed[-1] ^= 0x80
    batch = WriteBatch()
    batch.put(TABLE, key, bytes(sealed))
    store.commit(batch)
    r = _read(client, network, clock, "market", granted)
    assert r.status_code == 500
    assert r.json()["code"] == "integrity_error"
    assert "amount" not in r.text and "wrapped_key" not in r.text
    assert (
        client.get(f"/v1/sharing/subjects/{SUBJECT}/receipts", headers=auditor).json()["reads"]
        == []
    )


def test_bad_requests_are_4xx_problems(
    client: Client, network: NetworkDir, clock: Clock, granted: str
) -> None:
    r = client.post("/v1/sharing/reads", content=b"{not json", headers=JSON)
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM
    r = client.post("/v1/sharing/reads", content=b'{"body": {}, "signature": "00"}', headers=JSON)
    assert r.status_code == 422 and r.json()["code"] == "schema_violation"
    good = orjson.loads(_signed(network, clock, "market/admin", "read", {}))
    good["body"]["actor"] = "someone else"
    r = client.post("/v1/sharing/reads", content=orjson.dumps(good), headers=JSON)
    assert r.status_code == 400 and r.json()["code"] == "bad_signature"
    assert client.get("/v1/sharing/catalogue/nope.x").status_code == 404
    assert client.get("/v1/sharing/grants/g-unknown").status_code == 404


def test_catalogue_grants_and_attestations(
    client: Client, network: NetworkDir, clock: Clock, granted: str
) -> None:
    hits = client.get("/v1/sharing/catalogue", params={"q": "欠税"}).json()["resources"]
    assert [h["id"] for h in hits] == ["tax.arrears"] and hits[0]["score"] > 0
    assert client.get("/v1/sharing/catalogue", params={"q": "arrears"}).json()["resources"]
    assert client.get("/v1/sharing/catalogue", params={"q": "海关"}).json()["resources"] == []
    grants = client.get("/v1/sharing/grants", params={"dept": "market"}).json()["grants"]
    assert [g["id"] for g in grants] == [granted] and grants[0]["status"] == "active"
    body = _signed(network, clock, "market/admin", "attest", {
        "resource": "tax.arrears", "subject": SUBJECT, "statement": "无欠税",
        "predicate": {"filter": [["settled", "eq", False]], "count": ["eq", 0]},
    })  # fmt: skip
    r = client.post("/v1/sharing/attestations", content=body, headers=JSON)
    assert r.status_code == 200, r.text
    (att,) = r.json()
    assert att["answer"] is False
    got = client.get(f"/v1/sharing/attestations/{att['id']}", params={"subject": SUBJECT})
    assert got.status_code == 200 and got.json()["issuer"] == "tax"
    other = client.get(f"/v1/sharing/attestations/{att['id']}", params={"subject": "someone"})
    assert other.status_code == 404
    entry = client.get("/v1/sharing/catalogue/tax.arrears/records/a-1").json()
    assert entry["erased"] is None and len(entry["hash"]) == 64


def test_attestation_batches_are_split_within_the_transaction_size_limit(
    client: Client, network: NetworkDir, clock: Clock, granted: str
) -> None:
    predicate = {"filter": [["amount_fen", "gt", 0]], "count": ["ge", 1]}
    bodies = [
        orjson.loads(
            _signed(
                network,
                clock,
                "market/admin",
                "attest",
                {
                    "resource": "tax.arrears",
                    "subject": subject,
                    "statement": "有欠税",
                    "predicate": predicate,
                },
            )
        )
        for subject in [SUBJECT] + [f"9133010000000000{i:02d}" for i in range(11)]
    ]
    r = client.post("/v1/sharing/attestations", content=orjson.dumps(bodies), headers=JSON)
    assert r.status_code == 200, r.text
    results = r.json()
    assert [a["answer"] for a in results] == [True] + [False] * 11
    # This network's transactions are at most 4 KiB: the twelve went in several transactions.
    assert len({a["tx_id"] for a in results}) > 1


def test_access_receipts_are_the_subjects_own(
    client: Client, app: FastAPI, network: NetworkDir, clock: Clock, granted: str
) -> None:
    assert _read(client, network, clock, "market", granted).status_code == 200
    url = f"/v1/sharing/subjects/{SUBJECT}/receipts"
    assert client.get(url).status_code == 401
    users = app.state.identity.users
    users.create_enterprise(SUBJECT, "某某有限公司", "张三", CITIZEN_ID, PASSWORD)
    users.create_citizen(CITIZEN_ID, "张三", PASSWORD)
    users.create_staff("tax/officer9", "专员", "tax", "officer", PASSWORD)
    own = client.get(url, headers=bearer(tokens_for(app.state.identity, SUBJECT)))
    assert own.status_code == 200 and len(own.json()["reads"]) == 1
    for login in (CITIZEN_ID, "tax/officer9"):
        r = client.get(url, headers=bearer(tokens_for(app.state.identity, login)))
        assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
    # "My receipts": the same entries, found from the login alone; staff have none.
    mine = client.get(
        "/v1/sharing/me/receipts", headers=bearer(tokens_for(app.state.identity, SUBJECT))
    )
    assert mine.status_code == 200 and mine.json()["reads"] == own.json()["reads"]
    assert len(mine.json()["subject_refs"]) == 2  # the credit code and the pseudonymous id
    nothing = client.get(
        "/v1/sharing/me/receipts", headers=bearer(tokens_for(app.state.identity, CITIZEN_ID))
    )
    assert nothing.status_code == 200 and nothing.json()["reads"] == []
    staff = bearer(tokens_for(app.state.identity, "tax/officer9"))
    assert client.get("/v1/sharing/me/receipts", headers=staff).status_code == 403


def test_concurrent_reads_each_get_their_own_answer(
    client: Client, network: NetworkDir, clock: Clock, granted: str, auditor: dict[str, str]
) -> None:
    def one(i: int) -> Any:
        return _read(client, network, clock, "market", granted,
                     purpose=PURPOSE if i % 4 else "信用评价")  # fmt: skip

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(one, range(32)))
    ok = [r for i, r in enumerate(responses) if i % 4]
    denied = [r for i, r in enumerate(responses) if not i % 4]
    assert all(r.status_code == 200 for r in ok), [r.text for r in ok if r.status_code != 200]
    assert all(r.status_code == 403 and r.json()["code"] == "wrong_purpose" for r in denied)
    assert len({r.json()["request_id"] for r in ok}) == len(ok)
    receipts = client.get(f"/v1/sharing/subjects/{SUBJECT}/receipts", headers=auditor).json()
    assert sorted(e["request_id"] for e in receipts["reads"]) == sorted(
        r.json()["request_id"] for r in ok
    )


def test_revocation_takes_effect_at_the_next_read(
    client: Client, signer: TxSigner, network: NetworkDir, clock: Clock, granted: str
) -> None:
    assert _read(client, network, clock, "market", granted).status_code == 200
    revoke = signer.tx("sharing.grants", "revoke", {"grant": granted, "reason": "案件已办结"})
    assert _commit(client, revoke)["status"] == "ok"
    r = _read(client, network, clock, "market", granted)
    assert r.status_code == 403 and r.json()["code"] == "grant_revoked"


@pytest.mark.parametrize(
    "body",
    [b"[1.5]", b'"read"', b'{"body": {"v": 1.5}, "signature": "00"}',
     b'{"body": {}, "signature": 1e400}',
     b'{"body": {}, "signature": "00", "x": 9007199254740993}'],
)  # fmt: skip
def test_non_canonical_read_requests_are_4xx(client: Client, body: bytes) -> None:
    r = client.post("/v1/sharing/reads", content=body, headers=JSON)
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"] == PROBLEM
