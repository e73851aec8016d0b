"""``GET /metrics`` over HTTP: strict Prometheus text, counters that move with committed and
refused transactions, data-sharing reads and refusals, proof latency by kind, bounded route
labels, request ids, and a Grafana dashboard that charts every family the page holds."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson
from fastapi import FastAPI

from govchain.node.metrics import CONTENT_TYPE
from govchain.node.network import NetworkDir
from govchain.sharing.requests import build_request
from prometheus_text import Family, check_histograms, parse

Client = Any  # conftest.ApiClient (the fixtures of tests/api)
TxSigner = Any  # conftest.Signer

JSON = {"content-type": "application/json"}
DASHBOARD = Path(__file__).resolve().parents[2] / "ops" / "grafana" / "govchain.json"
RESOURCE = {
    "id": "tax.arrears",
    "name": "纳税人欠税记录",
    "description": "欠税信息 (tax arrears)",
    "fields": [{"name": "amount_fen", "type": "integer", "description": "欠税金额(分)"}],
    "share_level": "conditional",
    "sensitivity": "sensitive",
    "update_frequency": "daily",
    "legal_basis": "《税收征收管理法》",
}


def scrape(client: Client) -> dict[str, Family]:
    """Return the parsed page after checking its media type and every histogram."""
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == CONTENT_TYPE
    families = parse(r.text)
    check_histograms(families)
    return families


def _commit(client: Client, raw: bytes) -> dict[str, Any]:
    r = client.post("/v1/transactions", content=raw, headers=JSON)
    assert r.status_code == 200, r.text
    receipt: dict[str, Any] = r.json()["receipt"]
    return receipt


def test_page_is_strict_prometheus_text_with_every_family(client: Client) -> None:
    families = scrape(client)
    for name in (
        "govchain_committed_height", "govchain_certified_height", "govchain_log_size",
        "govchain_transactions_committed_total", "govchain_transactions_per_second",
        "govchain_admission_rejections_total", "govchain_block_commit_seconds",
        "govchain_commit_latency_seconds", "govchain_proof_duration_seconds",
        "govchain_catchup_running", "govchain_index_lag_blocks", "govchain_sharing_served_total",
        "govchain_sharing_refusals_total", "govchain_http_request_duration_seconds",
        "process_cpu_seconds_total",
    ):  # fmt: skip
        assert name in families, name
    kinds = {f.kind for f in families.values()}
    assert kinds == {"counter", "gauge", "histogram"}
    assert all(f.name.endswith("_total") for f in families.values() if f.kind == "counter")


def test_a_committed_transaction_moves_the_counters(client: Client, signer: TxSigner) -> None:
    before = scrape(client)
    assert _commit(client, signer.put("a", 1).encode())["status"] == "ok"
    after = scrape(client)

    def moved(name: str, sample: str | None = None, **labels: str) -> float:
        return after[name].value(sample, **labels) - before[name].value(sample, **labels)

    assert moved("govchain_transactions_committed_total") == 1
    assert moved("govchain_transactions_admitted_total") == 1
    assert moved("govchain_committed_height") == 1
    assert moved("govchain_log_size") == 1
    blocks = "govchain_block_commit_seconds"
    assert moved(blocks, f"{blocks}_count", source="proposed") == 1
    assert moved("govchain_commit_latency_seconds", "govchain_commit_latency_seconds_count") == 1
    answers = "govchain_http_responses_total"
    assert moved(answers, method="POST", route="/v1/transactions", status="200") == 1
    assert after["govchain_transactions_per_second"].value() >= 0


def test_a_refused_transaction_is_counted_with_its_reason(client: Client, signer: TxSigner) -> None:
    forged = signer.put("b", 1, key_of="market/admin")  # tax/admin's name, market's key
    r = client.post("/v1/transactions", content=forged.encode(), headers=JSON)
    assert r.status_code == 400 and r.json()["code"] == "bad_signature", r.text
    ok = signer.put("c", 1)
    _commit(client, ok.encode())
    r = client.post("/v1/transactions", content=ok.encode(), headers=JSON)
    assert r.json()["code"] == "duplicate_transaction", r.text
    rejections = scrape(client)["govchain_admission_rejections_total"]
    assert rejections.value(reason="bad_signature") == 1
    assert rejections.value(reason="duplicate_transaction") == 1
    assert rejections.value(reason="replayed_nonce") == 0


def _read(network: NetworkDir, member: str, grant: str = "") -> bytes:
    suite = network.suite()
    private = network.member_key(member).keypair.private
    request = build_request(
        chain=network.genesis().chain_id,
        kind="read",
        signer=member,
        actor="王小明",
        args={
            "resource": "tax.arrears",
            "subject": "91330100MA27XL0X33",
            "fields": ["amount_fen"],
            "grant": grant,
        },
        time_ms=time.time_ns() // 1_000_000,
        sign=lambda m: suite.sign(private, m),
        case="case-9",
        purpose="企业注销审查",
    )
    return orjson.dumps(request.envelope())


def test_sharing_reads_and_refusals_are_counted(
    client: Client, signer: TxSigner, network: NetworkDir
) -> None:
    assert (
        _commit(client, signer.tx("sharing.catalogue", "register", RESOURCE).encode())["status"]
        == "ok"
    )
    # The owner reads its own resource without a grant; another department may not.
    served = client.post("/v1/sharing/reads", content=_read(network, "tax/admin"), headers=JSON)
    assert served.status_code == 200, served.text
    refused = client.post("/v1/sharing/reads", content=_read(network, "market/admin"), headers=JSON)
    assert refused.status_code == 403 and refused.json()["code"] == "no_grant", refused.text
    families = scrape(client)
    assert families["govchain_sharing_served_total"].value(kind="read") == 1
    assert families["govchain_sharing_refusals_total"].value(kind="read", reason="no_grant") == 1


def test_proofs_are_timed_by_kind_and_routes_by_template(client: Client, signer: TxSigner) -> None:
    tx = signer.put("p", 1)
    _commit(client, tx.encode())
    _commit(client, signer.put("q", 2).encode())
    for url in (
        "/v1/kv/p", "/v1/kv/q", "/v1/state/c/kv/p", "/v1/log/inclusion?index=0",
        "/v1/log/consistency?from=1&to=2", f"/v1/transactions/{tx.tx_id.hex()}/receipt",
    ):  # fmt: skip
        assert client.get(url).status_code == 200, url
    assert client.get("/no/such/page").status_code == 404
    families = scrape(client)
    proofs = families["govchain_proof_duration_seconds"]
    counts = {k: proofs.value("govchain_proof_duration_seconds_count", kind=k) for k in (
        "state", "inclusion", "consistency", "receipt")}  # fmt: skip
    assert counts == {"state": 3, "inclusion": 1, "consistency": 1, "receipt": 1}
    routes = {
        labels["route"]
        for name, labels, _ in families["govchain_http_responses_total"].samples
        if name == "govchain_http_responses_total"
    }
    # One series per route template, whatever the key; unknown URLs share one.
    assert {"/v1/kv/{key:path}", "/v1/state/{key:path}", "unmatched"} <= routes
    assert not any("/p" in r or "/q" in r for r in routes)
    answers = families["govchain_http_responses_total"]
    assert answers.value(method="GET", route="unmatched", status="404") == 1


def test_each_answer_carries_a_request_id(client: Client) -> None:
    mine = client.get("/v1/health", headers={"x-request-id": "trace-42.a_b:c"})
    assert mine.headers["x-request-id"] == "trace-42.a_b:c"
    for bad in ("has space", "x" * 65, "semi;colon"):
        r = client.get("/v1/health", headers={"x-request-id": bad})
        assert re.fullmatch(r"[0-9a-f]{16}", r.headers["x-request-id"]), bad
    one, two = client.get("/v1/health"), client.get("/v1/health")
    assert one.headers["x-request-id"] != two.headers["x-request-id"]


def test_metrics_answer_callers_elsewhere_too(app: FastAPI) -> None:
    # Public like /v1/health (docs/operations.md): a scraper on another host needs no token.
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 50000))

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as c:
            return await c.get("/metrics")

    assert anyio.run(get).status_code == 200


def _expressions(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_charts_every_family_with_a_datasource_variable(client: Client) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert all(p["datasource"]["uid"] == "${datasource}" for p in panels)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    exprs = _expressions(dashboard)
    referenced = {
        re.sub(r"_(bucket|sum|count)$", "", name)
        for e in exprs
        for name in re.findall(r"\b((?:govchain|process)_[a-z_]+)\b", e)
    }
    # A network node adds its ordering families; they are charted too.
    exposed = set(scrape(client)) | {
        "govchain_ordering_log_height", "govchain_ordering_available", "govchain_is_proposer",
        "govchain_catchup_cpu_seconds_total",
    }  # fmt: skip
    # The click log's family is on the page once the portal is mounted (``govchain up``).
    assert referenced - exposed <= {"govchain_clicklog_pending_events"}, referenced - exposed
    assert exposed <= referenced, exposed - referenced
