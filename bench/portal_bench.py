"""Portal pages under concurrent logged-in users: a real ``govchain demo`` on a loopback port,
``--users`` simulated browsers (asyncio + httpx) each looping over a page mix for ``--seconds``,
and the node's kv transaction throughput measured with nobody browsing and while they browse.

Sessions: the login rate limit is 30 starts a minute per address, so the benchmark logs in
``SESSIONS`` real portal sessions (the demo citizen, the demo enterprise, staff of several
departments and citizens it registers) and shares each session's cookie between several
simulated users (users ÷ sessions browsers per session). The portal's cookies are ``Secure``;
over plain ``http://127.0.0.1`` the cookie is carried in the ``Cookie`` header by hand.

Three phases, each ``--seconds`` long: transactions alone, browsing alone (the page figures),
browsing with transactions (the page figures under load and the transaction figure beside the
first). The users, the transaction clients and the node share the machine's cores.

Usage: ``python -m bench.portal_bench [--users 100] [--seconds 20] [--think-ms 0] [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import orjson

from bench.common import SIGNERS, children_cpu_s, presign, process_cpu_s, write_result
from bench.http_bench import free_port
from govchain.apps.enterprise.demo import DEMO_PASSWORD
from govchain.apps.enterprise.synthetic import citizens
from govchain.cli.identity import demo_code
from govchain.crypto.limits import measure_limits
from govchain.portal.sessions import COOKIE
from govchain.portal.web import read_demo_logins

SESSIONS = 25
"""Portal sessions logged in (under the 30-a-minute login limit of one address)."""
SEARCH_WORDS = ("注销", "食品", "营业执照", "登记", "许可", "餐饮", "变更", "备案")
"""What the users search the service catalogue for."""
ENTERPRISES = "200"
"""Enterprises the demo seeds (``GOVCHAIN_DEMO_ENTERPRISES``)."""
PASSWORD = "Bench-2026-portal"
"""Password of the citizens the benchmark registers."""
TX_BATCH = 1000
"""Transactions per ``POST /v1/transactions/batch`` request."""
TX_CLIENTS = 2
"""Transaction clients (the four admin signers split between them, nonces in order)."""
PAGE_LIMIT_BYTES = 200 * 1024
"""The portal issue's ceiling on one page's transfer."""
TARGET_P95_MS = 150.0
"""The portal issue's target for the 95th percentile of a page."""


@dataclass
class Session:
    """A logged-in portal session and what its pages link to."""

    login: str
    """The login it was opened with."""
    kind: str
    """``citizen``, ``enterprise`` or ``staff``."""
    cookie: str
    """The ``govchain_portal`` cookie value."""
    cases: list[str] = field(default_factory=list)
    """Case pages its user can open (``/cases/<n>``, or ``/staff/cases/<n>`` for staff)."""


@dataclass
class Stats:
    """Latency and size of each request, by page."""

    latency_s: dict[str, list[float]] = field(default_factory=dict)
    """Seconds from sending the request to the last byte, by page."""
    wire_bytes: dict[str, int] = field(default_factory=dict)
    """Largest body as transferred (before decompression), by page."""
    body_bytes: dict[str, int] = field(default_factory=dict)
    """Largest body as decoded, by page."""
    errors: list[str] = field(default_factory=list)
    """Requests not answered 200."""

    def add(self, page: str, seconds: float, response: httpx.Response) -> None:
        """Record one request."""
        self.latency_s.setdefault(page, []).append(seconds)
        wire = response.num_bytes_downloaded
        self.wire_bytes[page] = max(self.wire_bytes.get(page, 0), wire)
        self.body_bytes[page] = max(self.body_bytes.get(page, 0), len(response.content))
        if response.status_code != 200:
            self.errors.append(f"{page} {response.request.url.path}: {response.status_code}")


def percentile_ms(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of seconds, in ms."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def summarise(stats: Stats, seconds: float) -> dict[str, Any]:
    """Per-page and overall percentiles, requests per second and largest sizes."""
    pages = {
        page: {
            "requests": len(v),
            "p50_ms": percentile_ms(v, 0.50),
            "p95_ms": percentile_ms(v, 0.95),
            "p99_ms": percentile_ms(v, 0.99),
            "max_wire_bytes": stats.wire_bytes[page],
            "max_body_bytes": stats.body_bytes[page],
        }
        for page, v in sorted(stats.latency_s.items())
    }
    everything = [x for v in stats.latency_s.values() for x in v]
    return {
        "seconds": round(seconds, 2),
        "requests": len(everything),
        "requests_per_s": round(len(everything) / seconds, 1),
        "p50_ms": percentile_ms(everything, 0.50),
        "p95_ms": percentile_ms(everything, 0.95),
        "p99_ms": percentile_ms(everything, 0.99),
        "max_wire_bytes": max(stats.wire_bytes.values()),
        "errors": len(stats.errors),
        "first_errors": stats.errors[:5],
        "pages": pages,
    }


# --- the demo node ----------------------------------------------------------------------------


def start_demo(directory: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start ``govchain demo`` and wait until ``/v1/health`` answers (it seeds first)."""
    exe = Path(sys.executable).with_name("govchain")
    env = {**os.environ, "GOVCHAIN_DEMO_ENTERPRISES": ENTERPRISES, "NO_COLOR": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(exe), "demo", "--dir", str(directory), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"govchain demo exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    stop_demo(proc)
    raise SystemExit("govchain demo did not answer in 600 s")


def stop_demo(proc: subprocess.Popen[bytes]) -> None:
    """Stop the demo by its pid: SIGINT, then kill if it has not exited within a minute."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- sessions ---------------------------------------------------------------------------------


def path_of(url: str) -> str:
    """The path and query of a URL (the provider redirects to its absolute issuer URL)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def log_in(base: str, login: str, password: str, otp: str = "") -> str:
    """Log in through the portal and the provider's form as a browser does (staff of the demo
    with their one-time code); return the portal's session cookie."""
    with httpx.Client(base_url=base, timeout=60) as http:
        start = http.get("/login/start", params={"next": "/"})
        if start.status_code != 302:
            raise SystemExit(f"/login/start answered {start.status_code}: {start.text[:300]}")
        location = start.headers["location"]
        fields = {**dict(parse_qsl(urlsplit(location).query)), "login": login}
        fields["password"] = password
        if otp:
            fields["otp"] = otp
        posted = http.post("/oidc/authorize", data=fields)
        if posted.status_code != 302:
            raise SystemExit(f"login of {login} answered {posted.status_code}")
        back = http.get(path_of(posted.headers["location"]))
        if back.status_code != 303:
            raise SystemExit(f"/callback answered {back.status_code}: {back.text[:300]}")
        for header in back.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name.strip() == COOKIE:
                return rest.split(";", 1)[0]
    raise SystemExit(f"the portal set no {COOKIE} cookie for {login}")


def register_citizens(base: str, count: int) -> list[str]:
    """Register ``count`` synthetic citizens (valid resident ids); return their logins."""
    made: list[str] = []
    with httpx.Client(base_url=base, timeout=60) as http:
        for person in citizens(count * 2, seed=424242):
            body = {"resident_id": person.resident_id, "name": person.name}
            r = http.post("/v1/identity/register/citizen", json={**body, "password": PASSWORD})
            if r.status_code == 201:
                made.append(person.resident_id)
            elif r.status_code != 409:  # 409: the demo seeded this person already
                raise SystemExit(f"registering a citizen answered {r.status_code}: {r.text}")
            if len(made) == count:
                return made
    raise SystemExit(f"only {len(made)} of {count} citizens could be registered")


def open_sessions(base: str, network: Path, count: int) -> list[Session]:
    """Log in ``count`` sessions: a quarter of them staff (several departments), a few the
    demo citizen and enterprise (who have cases), the rest citizens registered here."""
    demo = read_demo_logins(network)
    citizen = next(e["login"] for e in demo if e["kind"] == "citizen")
    enterprise = next(e["login"] for e in demo if e["kind"] == "enterprise")
    staff_by_dept: dict[str, str] = {}
    for e in demo:
        if e["kind"] == "staff" and e["login"].endswith("/officer"):
            staff_by_dept.setdefault(e["login"].split("/")[0], e["login"])
    staff = list(staff_by_dept.values())[: max(1, count // 5)]
    owners = max(2, count // 6)
    plan = [("citizen", citizen, DEMO_PASSWORD)] * (owners - owners // 3)
    plan += [("enterprise", enterprise, DEMO_PASSWORD)] * (owners // 3)
    plan += [("staff", s, DEMO_PASSWORD) for s in staff]
    others = count - len(plan)
    plan += [("citizen", c, PASSWORD) for c in register_citizens(base, max(0, others))]
    sessions = [
        Session(
            login,
            kind,
            log_in(base, login, pw, demo_code(network, login) if kind == "staff" else ""),
        )
        for kind, login, pw in plan
    ]
    with httpx.Client(base_url=base, timeout=60) as http:
        for s in sessions:
            page = "/staff" if s.kind == "staff" else "/cases"
            r = http.get(page, headers={"cookie": f"{COOKIE}={s.cookie}"})
            if r.status_code != 200:
                raise SystemExit(f"{page} of {s.login} answered {r.status_code}")
            pattern = (
                r'href="(/staff/cases/[^"/]+)"' if s.kind == "staff" else r'href="(/cases/[^"/]+)"'
            )
            s.cases = sorted(set(re.findall(pattern, r.text)))[:10]
    return sessions


def service_codes(base: str) -> list[str]:
    """The service codes the catalogue page links to."""
    r = httpx.get(base + "/services", timeout=60)
    codes = sorted({unquote(c) for c in re.findall(r'href="/services/([^"/?]+)"', r.text)})
    if not codes:
        raise SystemExit("the /services page links to no service")
    return codes


# --- browsing ---------------------------------------------------------------------------------


def visit_plan(session: Session, codes: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """One round of a user's pages: (page name, path)."""
    plan = [
        ("home", "/"),
        ("search", f"/services?q={rng.choice(SEARCH_WORDS)}"),
        ("service", f"/services/{rng.choice(codes)}"),
    ]
    if session.kind == "staff":
        plan.append(("staff", "/staff"))
        if session.cases:
            plan.append(("staff_case", rng.choice(session.cases)))
    else:
        plan.append(("cases", "/cases"))
        if session.cases:
            plan.append(("case", rng.choice(session.cases)))
    return plan


async def browse_one(
    base: str,
    session: Session,
    codes: list[str],
    seed: int,
    deadline: float,
    think_s: float,
    stats: Stats,
) -> None:
    """One simulated user: its own connection (as a browser), looping over its pages."""
    rng = random.Random(seed)
    headers = {"cookie": f"{COOKIE}={session.cookie}"}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as http:
        # Users arrive spread over one think time, not all at the same instant.
        await asyncio.sleep(rng.uniform(0, think_s))
        while time.perf_counter() < deadline:
            for page, path in visit_plan(session, codes, rng):
                if time.perf_counter() >= deadline:
                    return
                started = time.perf_counter()
                response = await http.get(path)
                stats.add(page, time.perf_counter() - started, response)
                if think_s:
                    await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)


async def browse_all(
    base: str, sessions: list[Session], codes: list[str], users: int, seconds: float, think_s: float
) -> tuple[Stats, float]:
    """Run ``users`` users (user ``i`` on session ``i mod len(sessions)``) for ``seconds``."""
    stats = Stats()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            browse_one(base, sessions[i % len(sessions)], codes, i, deadline, think_s, stats)
            for i in range(users)
        )
    )
    return stats, time.perf_counter() - started


def browse(
    base: str, sessions: list[Session], codes: list[str], users: int, seconds: float, think_s: float
) -> dict[str, Any]:
    """Browse and summarise."""
    stats, elapsed = asyncio.run(browse_all(base, sessions, codes, users, seconds, think_s))
    return summarise(stats, elapsed)


# --- transactions -----------------------------------------------------------------------------


def split_bodies(txs: list[bytes]) -> list[list[tuple[bytes, int]]]:
    """Batch bodies per transaction client; each client has its own signers, so nonces reach
    the node in order (``presign`` interleaves the signers)."""
    per_client: list[list[bytes]] = [[] for _ in range(TX_CLIENTS)]
    for i, tx in enumerate(txs):
        per_client[(i % len(SIGNERS)) % TX_CLIENTS].append(tx)
    return [
        [
            (b"[" + b",".join(part[i : i + TX_BATCH]) + b"]", len(part[i : i + TX_BATCH]))
            for i in range(0, len(part), TX_BATCH)
        ]
        for part in per_client
    ]


def submit_for(base: str, bodies: list[list[tuple[bytes, int]]], seconds: float) -> dict[str, Any]:
    """Post the batches (``wait=true``: acknowledged = committed) until ``seconds`` have passed
    or the batches run out; return the committed transactions per second."""
    url = f"{base}/v1/transactions/batch?wait=true"
    deadline = time.perf_counter() + seconds
    done = [0] * len(bodies)
    errors: list[str] = []

    def client(k: int) -> None:
        with httpx.Client(timeout=120) as http:
            for body, count in bodies[k]:
                if time.perf_counter() >= deadline:
                    return
                while True:
                    r = http.post(url, content=body, headers={"content-type": "application/json"})
                    if r.status_code != 503:  # at capacity: it refused the whole batch
                        break
                    time.sleep(0.005)
                answer = orjson.loads(r.content) if r.status_code == 200 else {}
                if r.status_code != 200 or answer.get("rejected"):
                    errors.append(r.text[:300])
                    return
                done[k] += count

    threads = [threading.Thread(target=client, args=(k,)) for k in range(len(bodies))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"a transaction batch failed: {errors[0]}")
    return {
        "transactions": sum(done),
        "seconds": round(elapsed, 2),
        "tx_per_s": round(sum(done) / elapsed),
        # Ran out before the time was up: the figure covers the shorter time it ran.
        "ran_out": sum(done) == sum(n for part in bodies for _, n in part),
    }


# --- the run ----------------------------------------------------------------------------------


def run(users: int, seconds: float, think_ms: int, tx_per_phase: int) -> dict[str, Any]:
    """Start the demo, log in, measure the three phases, stop the demo."""
    base_dir = Path(tempfile.mkdtemp(prefix="govchain-portal-bench-", dir=os.environ.get("TMPDIR")))
    network = base_dir / "demo"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    think_s = think_ms / 1000
    proc: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.perf_counter()
        proc = start_demo(network, port, base_dir / "demo.log")
        startup_s = time.perf_counter() - t0
        # The node's case desk signs as the same ``<dept>/admin`` members with wall-clock µs
        # nonces; start ~17 minutes ahead of the clock so that nothing it signs meanwhile
        # collides with these (it could not sign as them in that time: this demo is gone by then).
        txs = presign(network, 2 * tx_per_phase, first_nonce=time.time_ns() // 1000 + 10**9)
        idle_bodies = split_bodies(txs[:tx_per_phase])
        busy_bodies = split_bodies(txs[tx_per_phase:])
        sessions = open_sessions(base, network, min(SESSIONS, users))
        codes = service_codes(base)

        tx_idle = submit_for(base, idle_bodies, seconds)
        # CPU the node and this load generator spend while browsing (they share the cores).
        node_cpu, own_cpu = process_cpu_s(proc.pid) + children_cpu_s(proc.pid), time.process_time()
        pages_alone = browse(base, sessions, codes, users, seconds, think_s)
        pages_alone["node_cpu_s"] = round(
            process_cpu_s(proc.pid) + children_cpu_s(proc.pid) - node_cpu, 1
        )
        pages_alone["load_generator_cpu_s"] = round(time.process_time() - own_cpu, 1)
        busy: dict[str, Any] = {}
        submitter = threading.Thread(
            target=lambda: busy.update(submit_for(base, busy_bodies, seconds))
        )
        submitter.start()
        pages_busy = browse(base, sessions, codes, users, seconds, think_s)
        submitter.join()
        health = httpx.get(base + "/v1/health", timeout=30).json()
    finally:
        if proc is not None:
            stop_demo(proc)
        shutil.rmtree(base_dir, ignore_errors=True)
    kinds: dict[str, int] = {}
    for s in sessions:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    return {
        "users": users,
        "sessions": len(sessions),
        "sessions_by_kind": kinds,
        "users_per_session": round(users / len(sessions), 1),
        "think_ms": think_ms,
        "demo_enterprises": int(ENTERPRISES),
        "demo_startup_s": round(startup_s, 1),
        "services_linked": len(codes),
        "pages_alone": pages_alone,
        "pages_with_transactions": pages_busy,
        "tx_idle": tx_idle,
        "tx_while_browsing": busy,
        "tx_ratio_browsing_to_idle": round(busy["tx_per_s"] / tx_idle["tx_per_s"], 3),
        "log_size_after": health.get("log_size"),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the portal benchmark; print and write ``bench/results/portal.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--think-ms", type=int, default=0, help="mean pause between a user's pages")
    p.add_argument("--tx", type=int, default=100_000, help="pre-signed transactions per phase")
    p.add_argument("--quick", action="store_true", help="20 users, 5 s, 10,000 tx per phase")
    args = p.parse_args(argv)
    if args.quick:
        args.users, args.seconds, args.tx = 20, 5.0, 10_000
    limits = measure_limits("intl", 1.0)
    row = run(args.users, args.seconds, args.think_ms, args.tx)
    row["machine_limit"] = limits
    alone, busy = row["pages_alone"], row["pages_with_transactions"]
    print(
        f"[portal] {row['users']} users on {row['sessions']} sessions "
        f"({row['users_per_session']}/session, think {row['think_ms']} ms), {args.seconds:g} s "
        f"a phase | machine: verify {limits['verify_per_s_1core']:,.0f}/s on 1 core, "
        f"{limits['verify_per_s_all_cores']:,.0f}/s on {limits['cores']} cores"
    )
    for label, r in (("browsing alone", alone), ("with tx load", busy)):
        print(
            f"[portal] pages, {label}: {r['requests_per_s']:,} req/s, p50 {r['p50_ms']} ms, "
            f"p95 {r['p95_ms']} ms (target < {TARGET_P95_MS:g}), p99 {r['p99_ms']} ms, "
            f"{r['errors']} errors, largest {r['max_wire_bytes']:,} B "
            f"(limit {PAGE_LIMIT_BYTES:,})"
        )
        if "node_cpu_s" in r:
            print(
                f"[portal]   CPU over {r['seconds']} s: node {r['node_cpu_s']} s, "
                f"load generator {r['load_generator_cpu_s']} s ({limits['cores']} cores shared)"
            )
        for page, f in r["pages"].items():
            print(
                f"[portal]   {page:<10} n={f['requests']:<6} p50 {f['p50_ms']:>7} ms  "
                f"p95 {f['p95_ms']:>7} ms  p99 {f['p99_ms']:>7} ms  "
                f"max {f['max_wire_bytes']:,} B on the wire ({f['max_body_bytes']:,} B decoded)"
            )
    print(
        f"[portal] kv tx through POST /v1/transactions/batch?wait=true: "
        f"{row['tx_idle']['tx_per_s']:,} tx/s with nobody browsing, "
        f"{row['tx_while_browsing']['tx_per_s']:,} tx/s while they browse "
        f"(ratio {row['tx_ratio_browsing_to_idle']})"
    )
    data = {"benchmark": "portal", "results": [row]}
    print(f"[portal] wrote {write_result('portal', data)}")
    return data


if __name__ == "__main__":
    main()
