"""Fixtures of the certification tests: one embedded node for the session (see ``nodes``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from govchain.apps.certification.tests.nodes import World, open_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from open_world(tmp_path_factory.mktemp("certification") / "net")
