"""Fixtures of the ledger-core tests."""

from __future__ import annotations

import pytest
from ledger_net import Net, make_net


@pytest.fixture(params=["intl", "gm"])
def net(request: pytest.FixtureRequest) -> Net:
    return make_net(request.param)


@pytest.fixture
def intl_net() -> Net:
    return make_net("intl")
