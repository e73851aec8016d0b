"""Automatic issuance: the node that serves the issuing department turns every licence and
certificate the registries issue into a credential, with nobody asking.

A registration approved through the case engine gives the holder its business licence
credential, which verifies offline; an approved certification matter gives the citizen the
certificate's credential with the name and identity number of the identity directory; asking
again (staff, or the feed after a restart) issues nothing twice."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.apps.certification.matters import DEPARTMENTS, SCHOOL_ENROLMENT
from govchain.apps.certification.tests.nodes import (
    World,
    pension,
    permit,
    publish_about,
    publish_app,
    resident_id,
)
from govchain.apps.certification.tests.test_matters import run, school_form
from govchain.cli.apps import publish_definitions
from govchain.credentials import ledger_status as ls
from govchain.credentials.dids import parse_did
from govchain.credentials.feed import CredentialFeed
from govchain.credentials.holder import verify_offline
from govchain.credentials.service import CredentialService
from govchain.ledger.genesis import Params
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.sdk import find_app


def _load(name: str, file: str) -> ModuleType:
    """A helper module of tests/api (loaded by path: test folders are not packages)."""
    if name not in sys.modules:
        folder = Path(__file__).parents[1] / "api"
        if str(folder) not in sys.path:
            sys.path.append(str(folder))  # case_helpers imports identity_helpers by name
        spec = importlib.util.spec_from_file_location(name, folder / file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _node_app(root: Path, departments: list[tuple[str, str]], app_name: str) -> Iterator[FastAPI]:
    init_network(
        root,
        chain_id=f"feed-{app_name}",
        suite_name="intl",
        departments=departments,
        params=Params(state_buckets=256, block_max_ms=5),
    )
    node = open_embedded(root, in_memory=True)
    node.start()
    try:
        if app_name == "enterprise":
            service = find_app(app_name)
            publish_definitions(node, root, service.definitions(), service.resources())
        yield create_app(node, ApiSettings(network_dir=root, wait_timeout_s=20.0))
    finally:
        node.stop(drain=True)


def _verify(svc: CredentialService, credential: dict[str, Any], digest: str, index: int) -> Any:
    """Verify offline as a holder's verifier would: genesis, the issuance receipt and the
    issuer's two status list files (each with the receipt of its anchor)."""
    _, dept = parse_did(credential["issuer"])
    lists = [svc.status_list(dept, p, index // ls.LIST_SIZE) for p in ls.PURPOSES]
    return verify_offline(
        credential,
        genesis=svc.genesis,
        suite=svc.suite,
        evidence=svc.evidence(digest),
        status_files=lists,
        key_history=svc.key_history(),
        now=datetime.fromtimestamp(svc.now_ms() / 1000, UTC),
    )


def test_an_approved_registration_gives_its_holder_the_licence_credential(tmp_path: Path) -> None:
    for app in _node_app(tmp_path / "net", list(DEMO_DEPARTMENTS), "enterprise"):
        helpers = _load("case_helpers", "case_helpers.py")
        api = _load("api_test_client", "conftest.py").ApiClient(app)
        try:
            rep = helpers.login_citizen(app)
            uscc = helpers.register_enterprise(api, app, rep)
            feed: CredentialFeed = app.state.credential_feed
            assert feed.wait_idle()
            held = api.get("/v1/credentials/held", headers=rep).json()
            assert [(c["type"], c["holder"], c["issuer"]) for c in held] == [
                ("business_licence", uscc, "market")
            ]
            digest = held[0]["hash"]
            file = api.get(f"/v1/credentials/{digest}", headers=rep).json()
            subject = file["credential"]["credentialSubject"]
            assert (subject["licenceNumber"], subject["holder"]) == (uscc, helpers.FORM["name"])
            svc: CredentialService = app.state.credentials
            (lic,) = svc.licences_of(uscc)
            assert held[0]["index"] == lic["status_index"]  # the registry's own index
            report = _verify(svc, file["credential"], digest, held[0]["index"])
            assert report.ok, report

            # Asked for by staff afterwards: the same credential, not a second one.
            market = helpers.login_staff(app, "market")
            again = api.post(f"/v1/credentials/licences/{uscc}", headers=market).json()
            assert [(c["hash"], c["credential"]) for c in again] == [(digest, file["credential"])]
            # A feed started again (a restart) catches up with nothing new.
            assert [d["hash"] for d in feed.catch_up()] == [digest]
            assert feed.issued == 1
            assert len(api.get("/v1/credentials/held", headers=rep).json()) == 1
        finally:
            api.close()


@pytest.fixture(scope="module")
def certification(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    root = tmp_path_factory.mktemp("feed") / "net"
    for app in _node_app(root, list(DEPARTMENTS), "certification"):
        publish_app(_world(app))
        yield app


def _world(app: FastAPI) -> World:
    state = app.state
    return World(
        NetworkDir(state.settings.network_dir),
        state.node,
        state.sharing,
        state.casedesk,
        state.casework,
    )


def test_an_approved_certification_matter_gives_the_citizen_its_certificate(
    certification: FastAPI,
) -> None:
    app = certification
    world = _world(app)
    number_id = resident_id("341221", "19900315", 123)
    helpers = _load("identity_helpers", "identity_helpers.py")
    person = app.state.identity.users.create_citizen(number_id, "王强", helpers.PASSWORD)
    publish_about(world, person.id, [permit(), pension(26)])
    case = run(world, person.id, SCHOOL_ENROLMENT, school_form())
    feed: CredentialFeed = app.state.credential_feed
    svc: CredentialService = app.state.credentials

    def held() -> list[dict[str, Any]]:
        feed.wait_idle()
        return svc.held([person.id])

    found = _wait(held)
    (cert,) = world.node.query("registry", "certificates_of", {"holder": person.id})
    assert [(r["type"], r["issuer"], r["index"]) for r in found] == [
        ("school_place_eligibility", "education", cert["status_index"])
    ]
    credential = svc.document(found[0]["hash"])
    assert isinstance(credential, dict)
    subject = credential["credentialSubject"]
    # Name and identity number from the identity directory; the facts from the case.
    assert (subject["holder"], subject["holderIdentifier"]) == ("王强", number_id)
    assert (subject["licenceNumber"], subject["licenceData"]["case"]) == (
        cert["number"],
        case["number"],
    )
    assert _verify(svc, credential, found[0]["hash"], found[0]["index"]).ok

    # Staff asking through the API get the same credential back.
    api = _load("api_test_client", "conftest.py").ApiClient(app)
    try:
        officer = _load("case_helpers", "case_helpers.py").login_staff(app, "education")
        r = api.post(f"/v1/credentials/certificates/{number_id}", headers=officer)
        assert r.status_code == 200, r.text
        assert [c["hash"] for c in r.json()] == [found[0]["hash"]]
        unknown = api.post("/v1/credentials/certificates/11010519491231002X", headers=officer)
        assert unknown.status_code == 404
    finally:
        api.close()


def _wait(probe: Any, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
