"""The metrics registry (``node.metrics``) and the node's instruments (``node.telemetry``):
exposition known answers, escaping and histogram properties, thread safety, the rate window,
and the hooks a node's commit path, admission, data sharing and catch-up call."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govchain.crypto import get_suite
from govchain.errors import Unavailable
from govchain.ledger.genesis import Params
from govchain.ledger.transactions import build_transaction
from govchain.node.embedded import open_embedded
from govchain.node.metrics import (
    CONTENT_TYPE,
    RateWindow,
    Registry,
    escape_label,
    family,
    format_value,
)
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node
from govchain.node.telemetry import NodeMetrics, ordering_families
from prometheus_text import check_histograms, parse


def test_exposition_known_answer() -> None:
    # Expected text written by hand from the format's description (prometheus.io, "Exposition
    # formats", text format 0.0.4): HELP and TYPE first, label values escaped, histogram
    # buckets cumulative with le="+Inf" equal to _count.
    r = Registry()
    c = r.counter("demo_requests_total", "Requests.\nSecond line \\ backslash.", ["path"])
    c.labels('a"b\\c\nd').inc(2)
    r.gauge("demo_temperature", "Degrees.").labels().set(-1.5)
    h = r.histogram("demo_seconds", "Latency.", buckets=[0.25, 1])
    for v in (0.125, 0.25, 0.5, 7):  # exact in binary: the sum is exactly 7.875
        h.labels().observe(v)
    assert r.expose() == (
        "# HELP demo_requests_total Requests.\\nSecond line \\\\ backslash.\n"
        "# TYPE demo_requests_total counter\n"
        'demo_requests_total{path="a\\"b\\\\c\\nd"} 2\n'
        "# HELP demo_seconds Latency.\n"
        "# TYPE demo_seconds histogram\n"
        'demo_seconds_bucket{le="0.25"} 2\n'
        'demo_seconds_bucket{le="1"} 3\n'
        'demo_seconds_bucket{le="+Inf"} 4\n'
        "demo_seconds_sum 7.875\n"
        "demo_seconds_count 4\n"
        "# HELP demo_temperature Degrees.\n"
        "# TYPE demo_temperature gauge\n"
        "demo_temperature -1.5\n"
    )
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


@pytest.mark.parametrize(
    ("value", "text"),
    [(3, "3"), (3.0, "3"), (0.25, "0.25"), (-2.5, "-2.5"), (math.inf, "+Inf"),
     (-math.inf, "-Inf"), (math.nan, "NaN"), (1e300, "1e+300")],
)  # fmt: skip
def test_values_are_written_as_the_format_reads_them(value: float, text: str) -> None:
    assert format_value(value) == text


@given(st.text(max_size=40))
def test_any_label_value_survives_escaping(value: str) -> None:
    r = Registry()
    r.counter("x_total", "x", ["v"]).labels(value).inc()
    fam = parse(r.expose())["x_total"]
    assert fam.samples == [("x_total", {"v": value}, 1.0)]
    assert "\n" not in escape_label(value)


@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), max_size=60))
def test_histogram_buckets_are_cumulative_counts_of_observations(values: list[float]) -> None:
    bounds = [0.5, 1.0, 10.0, 50.0]
    r = Registry()
    h = r.histogram("h_seconds", "h", buckets=bounds).labels()  # the series exists from here
    for v in values:
        h.observe(v)
    fam = parse(r.expose())["h_seconds"]
    assert check_histograms({"h": fam}) == 1
    for b in [*bounds, math.inf]:
        le = "+Inf" if math.isinf(b) else format_value(b)
        # The reference: how many observations are at most the bound.
        assert fam.value("h_seconds_bucket", le=le) == sum(1 for v in values if v <= b)
    assert fam.value("h_seconds_count") == len(values)
    assert fam.value("h_seconds_sum") == pytest.approx(math.fsum(values), rel=1e-9, abs=1e-9)


def test_updates_from_many_threads_are_all_counted() -> None:
    r = Registry()
    c = r.counter("n_total", "n").labels()
    h = r.histogram("d_seconds", "d").labels()

    def work() -> None:
        for _ in range(5_000):
            c.inc()
            h.observe(0.001)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fams = parse(r.expose())
    assert fams["n_total"].value() == 40_000
    assert fams["d_seconds"].value("d_seconds_count") == 40_000


def test_registration_checks_names_and_shapes() -> None:
    r = Registry()
    with pytest.raises(ValueError, match="metric name"):
        r.counter("1bad", "x")
    with pytest.raises(ValueError, match="label name"):
        r.counter("ok_total", "x", ["__reserved"])
    with pytest.raises(ValueError, match="bucket label"):
        r.histogram("h", "x", ["le"])
    with pytest.raises(ValueError, match="increase"):
        r.histogram("h", "x", buckets=[1, 1])
    with pytest.raises(ValueError, match="finite"):
        r.histogram("h", "x", buckets=[1, math.inf])
    first = r.counter("same_total", "x", ["a"])
    assert r.counter("same_total", "x", ["a"]) is first  # a second app on the same node
    with pytest.raises(ValueError, match="registered differently"):
        r.gauge("same_total", "x", ["a"])
    with pytest.raises(ValueError, match="takes labels"):
        first.labels("1", "2")
    with pytest.raises(ValueError, match="only increase"):
        first.labels("1").inc(-1)
    r.add_collector("dup", lambda: [family("same_total", "counter", "again")])
    with pytest.raises(ValueError, match="collected twice"):
        r.collect()


def test_rate_window_counts_whole_seconds_only() -> None:
    now = [100.0]
    w = RateWindow(seconds=4, clock=lambda: now[0])
    w.add(10)
    assert w.rate() == 0  # the current second is not complete
    now[0] = 101.2
    w.add(6)
    now[0] = 102.0
    assert w.rate() == (10 + 6) / 4
    now[0] = 104.9  # second 100 is still within [100, 104)
    assert w.rate() == 16 / 4
    now[0] = 105.0  # second 100 left the window
    assert w.rate() == 6 / 4
    now[0] = 200.0  # slots of the same ring position but an old second are not counted
    assert w.rate() == 0


# --- the node's instruments -----------------------------------------------------------------


@pytest.fixture
def network(tmp_path: Path) -> NetworkDir:
    root = tmp_path / "net"
    init_network(
        root,
        chain_id="metrics-test",
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=5),
    )
    return NetworkDir(root)


@pytest.fixture
def node(network: NetworkDir) -> Iterator[Node]:
    n = open_embedded(network.root, in_memory=True)
    n.start()
    try:
        yield n
    finally:
        n.close()


def _put(network: NetworkDir, nonce: int, key: str = "k") -> bytes:
    suite = get_suite("intl")
    private = network.member_key("tax/admin").keypair.private
    return build_transaction(
        chain="metrics-test",
        signer="tax/admin",
        nonce=nonce,
        contract="kv",
        method="put",
        args={"key": key, "value": nonce},
        actor="tax/admin",
        sign=lambda m: suite.sign(private, m),
        hash_fn=suite.hash,
    ).encode()


def test_commit_path_and_admission_are_counted(network: NetworkDir, node: Node) -> None:
    outcomes = node.submit(
        [_put(network, 1), _put(network, 2, "j"), _put(network, 1, "o"), b"{not json"], wait=True
    )
    assert [type(o).__name__ for o in outcomes][2:] == ["ReplayedNonce", "MalformedEncoding"]
    fams = parse(node.metrics.registry.expose())
    assert check_histograms(fams) >= 3
    assert fams["govchain_transactions_admitted_total"].value() == 2
    assert fams["govchain_transactions_committed_total"].value() == 2
    assert fams["govchain_committed_height"].value() == node.ledger.height >= 1
    rejections = fams["govchain_admission_rejections_total"]
    assert rejections.value(reason="replayed_nonce") == 1
    assert rejections.value(reason="malformed_encoding") == 1
    commits = fams["govchain_block_commit_seconds"]
    assert commits.value("govchain_block_commit_seconds_count", source="proposed") >= 1
    assert fams["govchain_block_transactions"].value("govchain_block_transactions_sum") == 2
    # One sample per submitted batch: the first admitted transaction's admission to commit.
    assert (
        fams["govchain_commit_latency_seconds"].value("govchain_commit_latency_seconds_count") == 1
    )
    assert fams["govchain_node_failed"].value() == 0
    assert fams["govchain_node_info"].value(chain_id="metrics-test", suite="intl") == 1


def test_refusals_before_admission_are_counted_by_reason(network: NetworkDir, node: Node) -> None:
    node.max_pending = 1
    with pytest.raises(Unavailable, match="capacity"):
        node.submit([_put(network, 1), _put(network, 2)])
    node.fail(Unavailable("test: stopped"))
    with pytest.raises(Unavailable):
        node.submit([_put(network, 3)])
    fams = parse(node.metrics.registry.expose())
    rejections = fams["govchain_admission_rejections_total"]
    assert rejections.value(reason="at_capacity") == 2
    assert rejections.value(reason="node_failed") == 1
    assert fams["govchain_node_failed"].value() == 1


def test_sharing_catch_up_and_index_hooks(node: Node) -> None:
    m = node.metrics
    m.sharing_outcomes("read", [None, "grant_expired", None, "not_shared", "grant_expired"])
    m.sharing_outcomes("attest", [None])
    m.catch_up_started(120)
    running = parse(m.registry.expose())
    assert running["govchain_catchup_running"].value() == 1
    assert running["govchain_catchup_target_height"].value() == 120
    m.catch_up_ended(blocks=20, transactions=900)
    indexed = [0]
    m.track_index("analytics", lambda: indexed[0])
    height = node.ledger.height
    fams = parse(m.registry.expose())
    assert fams["govchain_sharing_served_total"].value(kind="read") == 2
    assert fams["govchain_sharing_served_total"].value(kind="attest") == 1
    refusals = fams["govchain_sharing_refusals_total"]
    assert refusals.value(kind="read", reason="grant_expired") == 2
    assert refusals.value(kind="read", reason="not_shared") == 1
    assert fams["govchain_catchup_running"].value() == 0
    assert fams["govchain_catchup_blocks_total"].value() == 20
    assert fams["govchain_catchup_transactions_total"].value() == 900
    assert fams["govchain_index_lag_blocks"].value(index="analytics") == height
    indexed[0] = height + 5  # an index never counts as ahead
    assert parse(m.registry.expose())["govchain_index_lag_blocks"].value(index="analytics") == 0


def test_network_families_and_process_families() -> None:
    m = NodeMetrics()
    m.registry.add_collector("ordering", lambda: ordering_families(77, False, True, 1.5, 2.5))
    fams = parse(m.registry.expose())
    assert fams["govchain_ordering_log_height"].value() == 77
    assert fams["govchain_ordering_available"].value() == 0
    assert fams["govchain_is_proposer"].value() == 1
    assert fams["govchain_catchup_cpu_seconds_total"].value(stage="apply") == 2.5
    assert fams["process_cpu_seconds_total"].kind == "counter"
    assert fams["process_resident_memory_bytes"].value() > 0
    assert fams["process_open_fds"].value() > 0
    assert 0 < fams["process_start_time_seconds"].value() < 2**32
