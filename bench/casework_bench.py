"""Simplified deregistration without a visit (不见面办结): from the end of the 20-day notice
period to the automatic decision (enterprise deregistered, licences revoked), on one embedded
node (LMDB, durable) whose case worker answers every clearance check and ends the notices by
itself; printed beside this machine's Ed25519 verify rate measured in the same run.

The node runs on a test clock that stands still while the cases are set up (all checks answered
yes), then runs in real time from 1.5 s before a notice deadline: the worker's own timer has to
notice the deadline, as it would on a real clock. Measured per case: from the moment the clock
reaches the deadline to the commit of the block holding the decision. ``sequential``: one case
at a time (deadlines a minute apart); ``at once``: many cases whose notices end at the same
millisecond. ``jump`` (for comparison): the clock jumps past the deadline, as in a test, and
the worker finds it at its next wake-up (at most a second later).

Usage: ``python -m bench.casework_bench [--cases N] [--burst N] [--jumps N]``; writes
``bench/results/casework.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import threading
import time
from collections.abc import Sequence
from importlib import resources
from typing import Any

from bench.common import make_network, write_result
from govchain.apps.enterprise.synthetic import citizens, enterprises
from govchain.cli.apps import publish_definitions
from govchain.contracts.registry import builtin_registry
from govchain.crypto import get_suite
from govchain.crypto.limits import measure_limits
from govchain.identity.members import nonce_now
from govchain.ledger.chain import CommittedBlock
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node.casework import CaseWorker, start_casework
from govchain.node.embedded import EMBEDDED_NODE
from govchain.node.network import NetworkDir
from govchain.node.node import Node, NodeIdentity
from govchain.node.sharing import open_sharing
from govchain.ordering.solo import SoloOrderer
from govchain.procedures.uscc import issue_uscc
from govchain.sdk import find_app
from govchain.storage.factory import open_store

SERVICE = "330100-ZX-0001"
START_MS = 1_800_000_000_000
"""The test clock starts here (2027-01-15)."""
NOTICE_MS = 20 * 86_400_000
CHECKS = 7
"""Clearance checks of the simplified deregistration."""
LEAD_MS = 1_500
"""The clock runs from this long before a deadline (more than the worker's longest sleep)."""


class BenchClock:
    """A test clock that stands still (``freeze``) or runs in real time from a given value."""

    def __init__(self, now: int) -> None:
        self._lock = threading.Lock()
        self._base = now
        self._started: int | None = None

    def __call__(self) -> int:
        with self._lock:
            if self._started is None:
                return self._base
            return self._base + (time.monotonic_ns() - self._started) // 1_000_000

    def freeze(self, at: int) -> None:
        with self._lock:
            self._base, self._started = at, None

    def run_from(self, at: int) -> float:
        """Run in real time from ``at``; return the monotonic second it was ``at``."""
        with self._lock:
            self._base, self._started = at, time.monotonic_ns()
            return self._started / 1e9


class Decisions:
    """Block listener: when each case's decision was committed (monotonic seconds)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)

    def __call__(self, block: CommittedBlock) -> None:
        now = time.monotonic()
        found = [
            e["data"]["case"]
            for r in block.result.receipts
            for e in r.events
            if e["type"] == "cases.transition" and e["data"]["status"] == "issued"
        ]
        if found:
            with self._lock:
                for case in found:
                    self.at.setdefault(case, now)
                self._done.notify_all()

    def wait(self, cases: Sequence[str], timeout: float = 60.0) -> None:
        with self._lock:
            ok = self._done.wait_for(lambda: all(c in self.at for c in cases), timeout)
        if not ok:
            raise SystemExit(f"{sum(c not in self.at for c in cases)} cases were not decided")


class Bench:
    """One node, its sharing service and case worker, and the set-up transactions."""

    def __init__(self) -> None:
        self.network = make_network("intl")
        self.net = NetworkDir(self.network)
        self.genesis = self.net.genesis()
        self.suite = get_suite(self.genesis.suite)
        self.clock = BenchClock(START_MS)
        keys = self.net.local_node_keys()
        params = self.genesis.params
        data = self.net.data_dir(EMBEDDED_NODE)
        data.mkdir(parents=True)
        store = open_store(str(data), node=True)
        self.node = Node(
            store=store,
            genesis=self.genesis,
            suite=self.suite,
            host=builtin_registry(self.genesis, self.suite.hash),
            orderer=SoloOrderer(params.block_max_txs, params.block_max_ms),
            identity=NodeIdentity(
                proposer=keys[0].id,
                proposer_key=keys[0].keypair.private,
                checkpoint_keys=tuple((k.id, k.keypair.private) for k in keys),
            ),
            clock_ms=self.clock,
        )
        self.node.start()
        self.sharing = open_sharing(self.node, self.network)
        self.worker: CaseWorker = start_casework(self.node, self.sharing, self.network)
        self.decisions = Decisions()
        self.node.listeners.append(self.decisions)
        self._keys: dict[str, bytes] = {}

    def close(self) -> None:
        self.node.close()

    def tx(
        self, member: str, contract: str, method: str, args: dict[str, Any], actor: str
    ) -> Transaction:
        if member not in self._keys:
            self._keys[member] = self.net.member_key(member).keypair.private
        private = self._keys[member]
        return build_transaction(
            chain=self.genesis.chain_id,
            signer=member,
            nonce=nonce_now(),
            contract=contract,
            method=method,
            args=args,
            actor=actor,
            case=str(args.get("case", "")),
            sign=lambda m: self.suite.sign(private, m),
            hash_fn=self.suite.hash,
        )

    def commit(self, txs: list[Transaction]) -> list[dict[str, Any]]:
        """Submit and wait; return the receipts (all must be ok)."""
        receipts = self.sharing.port.commit(txs)
        bad = [r for r in receipts if r["status"] != "ok"]
        if bad:
            raise SystemExit(f"{len(bad)} set-up transactions failed, e.g. {bad[0]}")
        return receipts

    def publish(self) -> None:
        folder = resources.files("govchain.apps.enterprise").joinpath("data/resources")
        txs = []
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            spec = json.loads(entry.read_text("utf-8"))
            owner = spec["id"].split(".")[0]
            if owner in {d.id for d in self.genesis.departments}:
                txs.append(self.tx(f"{owner}/admin", "sharing.catalogue", "register", spec, owner))
        self.commit(txs)
        # Only the service measured: the app's other definitions may name resources of
        # departments this network does not have.
        wanted = [d for d in find_app("enterprise").definitions() if d["code"] == SERVICE]
        publish_definitions(self.node, self.network, wanted)

    def apply(self, count: int, submit_ms: Sequence[int], seed: int) -> tuple[list[str], float]:
        """Import ``count`` enterprises and apply for the simplified deregistration of each,
        the i-th at clock ``submit_ms[i]``; wait until the worker answered every check. Return
        the case numbers and the seconds from the last submission to the last answer."""
        people = enterprises(count, seed, citizens(max(count, 50), seed))
        imports: list[dict[str, Any]] = []
        for i, e in enumerate(people):
            ent = {
                "uscc": issue_uscc(e.division_code, 1000 * seed + e.serial),
                "name": e.name,
                "division": e.division_code,
                "legal_rep_name": e.legal_representative,
                "legal_rep_ref": hashlib.sha256(e.legal_representative_id.encode()).hexdigest(),
                "industry": e.industry,
                "capital_fen": e.registered_capital_fen,
                "address": e.address,
                "scope": e.business_scope,
                "agents": [f"enterprise/b{seed}-{i}"],
            }
            imports.append(ent)
        self.commit(
            [
                self.tx(
                    "market/admin", "registry", "import_enterprise", {"enterprise": e}, "market/li"
                )
                for e in imports
            ]
        )
        numbers: list[str] = []
        expected = self.worker.stats.answered_yes + CHECKS * count
        by_time: dict[int, list[int]] = {}
        for i, at in enumerate(submit_ms):
            by_time.setdefault(at, []).append(i)
        for at, idx in sorted(by_time.items()):
            self.clock.freeze(at)
            submitted = time.perf_counter()
            txs = [
                self.tx(
                    "market/admin",
                    "cases",
                    "submit",
                    {
                        "service": SERVICE,
                        "subject": imports[i]["uscc"],
                        "form_hash": "f" * 64,
                        "materials": {"application": "c" * 64, "commitment": "d" * 64},
                        "session": f"s-{seed}-{i}",
                    },
                    imports[i]["agents"][0],
                )
                for i in idx
            ]
            numbers += [r["result"]["number"] for r in self.commit(txs)]
        deadline = time.monotonic() + 120
        while self.worker.stats.answered_yes < expected:
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not answer every check within 120 s")
            time.sleep(0.002)
        checked_s = time.perf_counter() - submitted
        if not self._all_checked(numbers):
            raise SystemExit("a check is not done although the worker answered it")
        return numbers, checked_s

    def _all_checked(self, numbers: Sequence[str]) -> bool:
        for n in numbers:
            case = self.node.query("cases", "case", {"case": n})
            if any(s["status"] != "done" for s in case["steps"] if s["id"] != "notice"):
                return False
        return True

    def notice_deadline(self, number: str) -> int:
        case = self.node.query("cases", "case", {"case": number})
        step = next(s for s in case["steps"] if s["id"] == "notice")
        deadline: int = step["deadline_ms"]
        return deadline


def _ms(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def run(cases: int, burst: int, jumps: int) -> dict[str, Any]:
    """Set up the cases, then time the notices' ends."""
    b = Bench()
    try:
        b.publish()
        setup = time.perf_counter()
        # Sequential: the i-th case is submitted a minute after the one before.
        seq, _ = b.apply(cases, [START_MS + i * 60_000 for i in range(cases)], seed=1)
        # At once: all submitted in the same millisecond, so their notices end together.
        at_once_start = START_MS + cases * 60_000 + 3_600_000
        together, burst_checks_s = b.apply(burst, [at_once_start] * burst, seed=2)
        # Jump: submitted a minute apart, after the others.
        jump_start = at_once_start + 3_600_000
        jumped, _ = b.apply(jumps, [jump_start + i * 60_000 for i in range(jumps)], seed=3)
        setup_s = time.perf_counter() - setup

        sequential: list[float] = []
        for n in seq:
            d = b.notice_deadline(n)
            t0 = b.clock.run_from(d - LEAD_MS) + LEAD_MS / 1000
            b.decisions.wait([n])
            sequential.append(b.decisions.at[n] - t0)
            b.clock.freeze(b.clock())

        deadlines = {b.notice_deadline(n) for n in together}
        assert len(deadlines) == 1, "the burst's notices end at the same millisecond"
        t0 = b.clock.run_from(deadlines.pop() - LEAD_MS) + LEAD_MS / 1000
        b.decisions.wait(together)
        burst_lat = [b.decisions.at[n] - t0 for n in together]
        b.clock.freeze(b.clock())

        jump_lat: list[float] = []
        for i, n in enumerate(jumped):
            d = b.notice_deadline(n)
            time.sleep(0.05 + (i * 0.37) % 1.0)  # anywhere in the worker's sleep
            b.clock.freeze(d)
            t0 = time.monotonic()
            b.decisions.wait([n])
            jump_lat.append(b.decisions.at[n] - t0)

        ent_checked = b.node.query(
            "registry",
            "enterprise",
            {"uscc": b.node.query("cases", "case", {"case": seq[0]})["subject"]},
        )
        assert ent_checked["status"] == "deregistered"
        stats = b.worker.stats
        worker = {
            "answered_yes": stats.answered_yes,
            "answered_no": stats.answered_no,
            "notices_ended": stats.notices_ended,
            "refused": stats.refused,
        }
    finally:
        b.close()
    limits = measure_limits("intl", 1.0)
    return {
        "suite": "intl",
        "store": "lmdb",
        "setup_seconds": round(setup_s, 1),
        "checks_per_case": CHECKS,
        "burst_checks": {
            "checks": CHECKS * burst,
            "seconds": round(burst_checks_s, 3),
            "per_s": round(CHECKS * burst / burst_checks_s),
        },
        "sequential": {"cases": cases, **_ms(sequential)},
        "at_once": {
            "cases": burst,
            **_ms(burst_lat),
            "last_decided_ms": round(max(burst_lat) * 1000, 1),
        },
        "jump": {"cases": jumps, **_ms(jump_lat)},
        "worker": worker,
        "machine_limit": limits,
    }


def main(argv: list[str] | None = None) -> None:
    """Run and print the benchmark; write ``bench/results/casework.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20, help="cases timed one at a time")
    parser.add_argument("--burst", type=int, default=200, help="cases whose notices end at once")
    parser.add_argument("--jumps", type=int, default=10, help="cases timed with a jumping clock")
    args = parser.parse_args(argv)
    r = run(args.cases, args.burst, args.jumps)
    burst = args.burst
    lim = r["machine_limit"]
    print("simplified deregistration, notice end -> automatic decision, one embedded node (LMDB)")
    for key, label in (
        ("sequential", "one at a time"),
        ("at_once", "ending at once"),
        ("jump", "clock jumps"),
    ):
        x = r[key]
        print(
            f"  {label:<15} {x['cases']:>4} cases  p50 {x['p50_ms']:>7.1f} ms  "
            f"p95 {x['p95_ms']:>7.1f} ms  max {x['max_ms']:>7.1f} ms"
        )
    bc = r["burst_checks"]
    print(
        f"  checks of {burst} cases submitted at once: {bc['checks']} attested and answered in "
        f"{bc['seconds']} s ({bc['per_s']:,}/s)"
    )
    print(
        f"  set-up           {r['setup_seconds']} s ({r['worker']['answered_yes']} checks "
        f"answered yes, {r['worker']['refused']} refused)"
    )
    print(
        f"  machine limit    Ed25519 verify {lim['verify_per_s_1core']:,.0f}/s on 1 core, "
        f"{lim['verify_per_s_all_cores']:,.0f}/s on {lim['cores']} cores"
    )
    path = write_result("casework", r)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
