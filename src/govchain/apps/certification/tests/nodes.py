"""A test network of the certification matters: the departments the matters need, an embedded
in-memory node with its sharing service, case desk and case worker (as the API application
starts them), the app's resources and definitions published as a network publishes them, and
residents whose departments' records say exactly what each test needs."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govchain.apps.certification.app import APP
from govchain.apps.certification.demo import publish_records
from govchain.apps.certification.matters import DEPARTMENTS
from govchain.apps.certification.synthetic import PersonRecord
from govchain.identity.idnumbers import resident_check_char
from govchain.ledger.genesis import Params
from govchain.node.casedesk import CaseDesk, open_casedesk
from govchain.node.casework import CaseWorker, start_casework
from govchain.node.embedded import open_embedded
from govchain.node.network import NetworkDir, init_network
from govchain.node.node import Node
from govchain.node.sharing import open_sharing
from govchain.procedures.publishing import publication_plan
from govchain.sharing.service import SharingService

WAIT_S = 20.0
"""Bound of every wait for the case worker (it normally answers within a second)."""
TIMEOUT_S = 30.0
"""Bound of every commit."""


@dataclass(frozen=True, slots=True)
class World:
    """A running node and the services a node runs for applicants and staff."""

    net: NetworkDir
    """The network directory (every department's keys are local)."""
    node: Node
    """The embedded node."""
    sharing: SharingService
    """Its data-sharing service."""
    desk: CaseDesk
    """Its case desk."""
    worker: CaseWorker
    """Its case worker, answering the checks."""


def resident_id(region: str, born: str, sequence: int) -> str:
    """A resident identity number with its GB 11643 check character."""
    first17 = f"{region}{born}{sequence:03d}"
    return first17 + resident_check_char(first17)


def wait_for(what: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    """Return ``what()`` once it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {what}")
        time.sleep(0.02)


def publish_app(world: World) -> None:
    """Register the app's catalogue resources (each by its owner) and publish its
    definitions (proposed by the owner, approved by every department concerned)."""
    desk = world.desk
    txs = [
        desk.sign(spec["id"].split(".")[0], "sharing.catalogue", "register", spec,
                  f"{spec['id'].split('.')[0]}/admin")
        for spec in APP.resources()
    ]  # fmt: skip
    assert all(isinstance(r, dict) for r in desk.commit(txs, TIMEOUT_S))
    depts = [d for d, _ in DEPARTMENTS]
    plan = publication_plan(
        APP.definitions(), lambda code: None, depts, {d: f"{d}/admin" for d in depts},
        world.node.suite.hash,
    )  # fmt: skip
    for phase in plan.phases:
        signed = [
            desk.sign(c.member.split("/")[0], "services", c.method, c.args, c.member) for c in phase
        ]
        outcomes = desk.commit(signed, TIMEOUT_S)
        assert all(isinstance(o, dict) for o in outcomes), outcomes


def open_world(root: Path) -> Iterator[World]:
    """Create the network at ``root``, start its node and services, publish the app."""
    init_network(
        root,
        chain_id="certification-test",
        suite_name="intl",
        departments=list(DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=5),
    )
    net = NetworkDir(root)
    node = open_embedded(root, in_memory=True)
    node.start()
    try:
        sharing = open_sharing(node, root)
        worker = start_casework(node, sharing, root)
        world = World(net, node, sharing, open_casedesk(node, root), worker)
        publish_app(world)
        yield world
    finally:
        node.stop(drain=True)


def publish_about(
    world: World, subject: str, records: Sequence[tuple[str, Mapping[str, Any]]]
) -> None:
    """Publish records ``(resource, fields)`` about ``subject`` as their owner departments."""
    stamp = time.monotonic_ns()
    rows = [
        PersonRecord(resource, f"T{stamp}-{k}", subject, dict(fields))
        for k, (resource, fields) in enumerate(records)
    ]
    publish_records(world.node, world.net, world.sharing, rows, lambda s: s)


def permit(status: str = "有效") -> tuple[str, dict[str, Any]]:
    """A residence permit record in Hangzhou."""
    until = dt.date(2027, 6, 30) if status == "有效" else dt.date(2026, 3, 31)
    return (
        "public_security.residence_permits",
        {
            "permit_number": "330106202100123", "city": "杭州市", "district": "西湖区",
            "issued_on": "2021-04-01", "valid_until": until.isoformat(), "status": status,
        },
    )  # fmt: skip


def pension(months: int, status: str = "正常缴费") -> tuple[str, dict[str, Any]]:
    """A pension insurance record with ``months`` continuous months."""
    return (
        "hrss.personal_insurance",
        {
            "insurance": "企业职工基本养老保险", "status": status, "first_month": "2024-01-01",
            "months": months, "employer": "杭州恒瑞餐饮管理有限公司",
        },
    )  # fmt: skip


def home(use: str = "住宅", city: str = "杭州市") -> tuple[str, dict[str, Any]]:
    """A home (or parking space) the family owns."""
    return (
        "housing.family_homes",
        {
            "certificate": "浙(2019)杭州市不动产权第0012345号", "city": city, "district": "西湖区",
            "use": use, "source": "不动产登记", "area_m2": 89, "registered_on": "2019-05-20",
        },
    )  # fmt: skip


def marriage(current: bool, kind: str = "结婚") -> tuple[str, dict[str, Any]]:
    """A marriage (or divorce) registration."""
    return (
        "civil_affairs.marriage_registrations",
        {
            "kind": kind, "certificate": "J330106-2018-000123", "registered_on": "2018-10-01",
            "registry": "杭州市西湖区民政局", "current": current,
        },
    )  # fmt: skip
