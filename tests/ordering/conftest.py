"""A real 3-member etcd cluster (mutual TLS) on free loopback ports, one per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from govchain.ordering.etcd_cluster import EtcdCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    c = EtcdCluster(tmp_path_factory.mktemp("etcd"))
    try:
        c.start()
        yield c
    finally:
        c.stop()
