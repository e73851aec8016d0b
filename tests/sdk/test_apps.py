"""Service discovery: every ``govchain.apps`` package with an ``app.APP`` is found and wired."""

from __future__ import annotations

import pytest

from govchain.errors import NotFound, SchemaViolation
from govchain.sdk import App, discover_apps, find_app
from govchain.sdk.scaffold import class_name


def test_notary_is_discovered_with_its_contract_and_routes() -> None:
    names = [a.name for a in discover_apps()]
    assert "notary" in names
    notary = find_app("notary")
    assert notary.package == "govchain.apps.notary"
    assert "class Notary(Contract)" in notary.contract_files()["contract.py"]
    assert notary.module("routes") is not None
    assert notary.module("no_such_module") is None


def test_unknown_and_invalid_apps() -> None:
    with pytest.raises(NotFound, match=r"known: .*notary"):
        find_app("nothing")
    with pytest.raises(SchemaViolation):
        App(name="Bad Name", title="x", description="x")


def test_class_names() -> None:
    assert class_name("land_registry") == "LandRegistry"
    assert class_name("notary") == "Notary"
