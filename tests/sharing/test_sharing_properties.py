"""Hypothesis state machine: random sequences of publish / grant / approve / revoke / expire /
erase / pause sharing / read by random departments against the real contracts, ledger and
vault, compared with a reference model written from the rules in docs/data-sharing.md.

Properties: a read returns data if and only if the resource is shared now and the model has a
live grant covering exactly that department, resource, purpose and fields (or the reader owns
the resource); it then returns exactly the requested fields of the subject's unerased records
and names the erased ones; every successful read has its log entry on-chain, and failed reads
leave none."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sharing_world import ARREARS, INTERNAL, LICENCE, World, make_network

from govchain.node.network import NetworkDir
from govchain.sharing.errors import AccessDenied

DEPTS = ("market", "tax", "hrss", "customs")
RESOURCES = {"tax.arrears": ARREARS, "market.licence": LICENCE, "customs.declarations": INTERNAL}
OWNER = {"tax.arrears": "tax", "market.licence": "market", "customs.declarations": "customs"}
SUBJECTS = ("91330100MA27XL0X33", "330106199001011234")
PURPOSES = ("企业注销审查", "信用评价")


def _fields(resource: str) -> list[str]:
    return [f["name"] for f in RESOURCES[resource]["fields"]]


@dataclass
class ModelGrant:
    id: str
    resource: str
    grantee: str
    fields: frozenset[str]
    purpose: str
    expires_ms: int
    status: str


@dataclass
class Model:
    grants: dict[str, ModelGrant] = field(default_factory=dict)
    records: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    erased: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    levels: dict[str, str] = field(
        default_factory=lambda: {r: spec["share_level"] for r, spec in RESOURCES.items()}
    )
    reads: int = 0

    def allowed(
        self, reader: str, resource: str, grant: str, purpose: str, fields: list[str], now: int
    ) -> bool:
        if reader == OWNER[resource]:
            return True
        g = self.grants.get(grant)
        return (
            self.levels[resource] != "not_shared"
            and g is not None
            and g.resource == resource
            and g.grantee == reader
            and g.status == "active"
            and now < g.expires_ms
            and g.purpose == purpose
            and set(fields) <= g.fields
        )


def _value(ftype: str, n: int) -> Any:
    return {"integer": n, "boolean": n % 2 == 0, "date": f"2026-0{1 + n % 9}-1{n % 10}"}.get(
        ftype, f"值{n}"
    )


class SharingMachine(RuleBasedStateMachine):
    network: NetworkDir

    grants = Bundle("grants")

    def __init__(self) -> None:
        super().__init__()
        self.world = World(self.network)
        self.model = Model()
        self.counter = 0

    @initialize()
    def catalogue(self) -> None:
        for rid, spec in RESOURCES.items():
            self.world.register(spec, OWNER[rid])

    @rule(resource=st.sampled_from(sorted(RESOURCES)), subject=st.sampled_from(SUBJECTS))
    def publish(self, resource: str, subject: str) -> None:
        self.counter += 1
        rid = f"r{self.counter}"
        types = {f["name"]: f["type"] for f in RESOURCES[resource]["fields"]}
        data = {name: _value(t, self.counter) for name, t in types.items()}
        self.world.publish(OWNER[resource], resource, rid, subject, data)
        self.model.records.setdefault((resource, subject), {})[rid] = data

    @rule(
        resource=st.sampled_from(["tax.arrears", "market.licence"]),
        pause=st.sampled_from([True, False, False, False]),
    )
    def set_share_level(self, resource: str, pause: bool) -> None:
        """The owner pauses sharing (not_shared) or restores the registered level; it takes
        effect for the next read, grants or not."""
        level = "not_shared" if pause else RESOURCES[resource]["share_level"]
        spec = {**RESOURCES[resource], "share_level": level}
        self.world.ok(f"{OWNER[resource]}/admin", "sharing.catalogue", "update", spec)
        self.model.levels[resource] = level

    @precondition(lambda self: any(self.model.records.values()))
    @rule(data=st.data())
    def erase(self, data: st.DataObject) -> None:
        """The owner erases a record: later reads list it as erased and return nothing of it."""
        key = data.draw(st.sampled_from(sorted(k for k, v in self.model.records.items() if v)))
        rid = data.draw(st.sampled_from(sorted(self.model.records[key])), "record")
        resource, _ = key
        request = self.world.request(
            f"{OWNER[resource]}/admin",
            "erase",
            {"resource": resource, "record": rid, "reason": "依法删除"},
        )
        self.world.service.erase(request)
        del self.model.records[key][rid]
        self.model.erased.setdefault(key, set()).add(rid)

    @rule(
        target=grants,
        grantee=st.sampled_from(DEPTS),
        resource=st.sampled_from(sorted(RESOURCES)),
        data=st.data(),
        purpose=st.sampled_from(PURPOSES),
        ttl=st.sampled_from([2_000, 60_000]),
    )
    def request_grant(
        self, grantee: str, resource: str, data: st.DataObject, purpose: str, ttl: int
    ) -> str:
        fields = data.draw(
            st.lists(st.sampled_from(_fields(resource)), min_size=1, unique=True), "fields"
        )
        receipt = self.world.call(
            f"{grantee}/admin",
            "sharing.grants",
            "request",
            {
                "resource": resource,
                "fields": fields,
                "purpose": purpose,
                "legal_basis": "依法",
                "case": "",
                "expires_ms": self.world.clock.now + ttl,
            },
        )
        shareable = self.model.levels[resource] != "not_shared"
        if grantee == OWNER[resource] or not shareable:
            assert receipt["status"] == "failed", receipt
            return "g-none"
        assert receipt["status"] == "ok", receipt
        g = receipt["result"]
        assert g["status"] == (
            "active" if self.model.levels[resource] == "unconditional" else "pending"
        )
        self.model.grants[g["id"]] = ModelGrant(
            g["id"], resource, grantee, frozenset(fields), purpose, g["expires_ms"], g["status"]
        )
        return str(g["id"])

    @rule(grant=grants, by=st.sampled_from(("owner", *DEPTS)))
    def approve(self, grant: str, by: str) -> None:
        g = self.model.grants.get(grant)
        if by == "owner":
            by = OWNER[g.resource] if g is not None else "tax"
        receipt = self.world.call(f"{by}/admin", "sharing.grants", "approve", {"grant": grant})
        if g is not None and g.status == "pending" and by == OWNER[g.resource]:
            assert receipt["status"] == "ok", receipt
            g.status = "active"
        else:
            assert receipt["status"] == "failed", receipt

    @rule(grant=consumes(grants), by=st.sampled_from(DEPTS))
    def revoke(self, grant: str, by: str) -> None:
        g = self.model.grants.get(grant)
        receipt = self.world.call(
            f"{by}/admin", "sharing.grants", "revoke", {"grant": grant, "reason": "办结"}
        )
        if (
            g is not None
            and g.status in ("pending", "active")
            and by in (OWNER[g.resource], g.grantee)
        ):
            assert receipt["status"] == "ok", receipt
            g.status = "revoked"
        else:
            assert receipt["status"] == "failed", receipt

    @rule(ms=st.sampled_from([500, 1_500, 30_000]))
    def time_passes(self, ms: int) -> None:
        self.world.clock.now += ms

    @precondition(lambda self: bool(self.model.records))
    @rule(
        reader=st.sampled_from(DEPTS),
        data=st.data(),
        purpose=st.sampled_from(PURPOSES),
    )
    def read(self, reader: str, data: st.DataObject, purpose: str) -> None:
        """Any department reads anything, naming any grant (mostly denied)."""
        resource, subject = data.draw(st.sampled_from(sorted(self.model.records)), "records of")
        fields = data.draw(
            st.lists(st.sampled_from(_fields(resource)), min_size=1, unique=True), "fields"
        )
        grant = data.draw(st.sampled_from(["", *sorted(self.model.grants)]), "grant")
        self._read(reader, resource, subject, fields, grant, purpose)

    @precondition(lambda self: bool(self.model.grants))
    @rule(data=st.data(), same_purpose=st.booleans(), extra_field=st.booleans())
    def read_under_grant(self, data: st.DataObject, same_purpose: bool, extra_field: bool) -> None:
        """The grantee reads under one of its grants: live or not, this purpose or another,
        the granted fields or one more."""
        g = self.model.grants[data.draw(st.sampled_from(sorted(self.model.grants)), "grant")]
        subject = data.draw(st.sampled_from(SUBJECTS), "subject")
        fields = sorted(g.fields)
        if extra_field and set(_fields(g.resource)) - g.fields:
            fields.append(sorted(set(_fields(g.resource)) - g.fields)[0])
        purpose = g.purpose if same_purpose else next(p for p in PURPOSES if p != g.purpose)
        self._read(g.grantee, g.resource, subject, fields, g.id, purpose)

    def _read(
        self, reader: str, resource: str, subject: str, fields: list[str], grant: str, purpose: str
    ) -> None:
        allowed = self.model.allowed(reader, resource, grant, purpose, fields, self.world.clock.now)
        try:
            answer = self.world.read(
                reader, resource, subject, fields, grant=grant, purpose=purpose
            )
        except AccessDenied:
            assert not allowed, "a read with a live grant was denied"
            return
        assert allowed, "data was returned without a live grant covering the fields"
        expected = self.model.records.get((resource, subject), {})
        assert [r["record"] for r in answer["records"]] == sorted(expected)
        assert answer["erased"] == sorted(self.model.erased.get((resource, subject), set()))
        for r in answer["records"]:
            assert r["data"] == {f: expected[r["record"]][f] for f in fields}
        receipts = self.world.service.access_receipts(subject)["reads"]
        logged = [e for e in receipts if e["request_id"] == answer["request_id"]]
        assert len(logged) == 1
        assert logged[0]["fields"] == fields and logged[0]["reader_dept"] == reader
        self.model.reads += 1

    @invariant()
    def every_read_is_logged_once(self) -> None:
        logged = sum(len(self.world.service.access_receipts(s)["reads"]) for s in SUBJECTS)
        assert logged == self.model.reads

    def teardown(self) -> None:
        self.world.close()


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_no_read_without_a_live_grant(tmp_path: Path, suite: str) -> None:
    SharingMachine.network = make_network(tmp_path / "net", suite)
    run_state_machine_as_test(
        SharingMachine,
        settings=settings(
            max_examples=75 if suite == "intl" else 10,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
