"""Shared parts of the benchmarks: a temporary network, pre-signed transactions, results."""

from __future__ import annotations

import atexit
import json
import mmap
import os
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from govchain.crypto import get_suite
from govchain.errors import Unavailable
from govchain.ledger.genesis import Params
from govchain.ledger.transactions import build_transaction
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node

RESULTS = Path(__file__).resolve().parent / "results"
SIGNERS = tuple(f"{d}/admin" for d, _ in DEMO_DEPARTMENTS)


def make_network(suite: str, root: Path | None = None, **params: int) -> Path:
    """Create a demo network directory for a benchmark (in a fresh temporary directory, removed
    when the benchmark process exits: a run of 200,000 transactions leaves ~700 MB of LMDB)."""
    base = root
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="govchain-bench-", dir=os.environ.get("TMPDIR")))
        atexit.register(shutil.rmtree, base, ignore_errors=True)
    network = base / "net"
    init_network(
        network,
        chain_id="bench",
        suite_name=suite,
        departments=list(DEMO_DEPARTMENTS),
        params=Params(**params),
    )
    return network


def _sign_range(network: str, signer: str, first: int, count: int, value_pad: int) -> list[bytes]:
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    key = net.member_key(signer).keypair
    pad = "x" * value_pad
    return [
        build_transaction(
            chain=genesis.chain_id,
            signer=signer,
            nonce=n,
            contract="kv",
            method="put",
            args={"key": f"{signer}:{n}", "value": {"n": n, "pad": pad}},
            actor=f"{signer.split('/')[0]}/officer-7",
            case=f"case-{n // 100}",
            purpose="benchmark",
            sign=lambda m: suite.sign(key.private, m),
            hash_fn=suite.hash,
        ).encode()
        for n in range(first, first + count)
    ]


def presign(network: Path, total: int, *, first_nonce: int = 0, value_pad: int = 16) -> list[bytes]:
    """Return ``total`` signed kv-put transactions from the four demo signers, interleaved,
    signed on every core (clients sign before submitting; this is not part of the measure)."""
    per = -(-total // len(SIGNERS))
    chunk = 5000
    jobs = [
        (str(network), s, first_nonce + start, min(chunk, per - start), value_pad)
        for s in SIGNERS
        for start in range(0, per, chunk)
    ]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        parts = list(pool.map(_sign_range, *zip(*jobs, strict=True)))
    by_signer: dict[str, list[bytes]] = {s: [] for s in SIGNERS}
    for (_, s, *_rest), part in zip(jobs, parts, strict=True):
        by_signer[s].extend(part)
    out: list[bytes] = []
    for i in range(per):
        for s in SIGNERS:
            if len(out) < total:
                out.append(by_signer[s][i])
    return out


def submit_all(node: Node, batch: Sequence[bytes]) -> None:
    """Submit one batch like a well-behaved client: back off while the node is at capacity
    (it refuses a whole batch before using any nonce), and insist nothing is rejected."""
    while True:
        try:
            out = node.submit(batch)
            break
        except Unavailable:
            time.sleep(0.005)
    bad = [o for o in out if isinstance(o, Exception)]
    if bad:
        raise SystemExit(f"{len(bad)} transactions were rejected, e.g. {bad[0]}")


def machine() -> dict[str, Any]:
    """Describe the machine and its load at the time of the run."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def fresh_page_us(mib: int = 64) -> float:
    """Return the µs it takes now to touch a page of fresh anonymous memory (one byte written
    per 4 KiB page of a new ``mib`` MiB mapping, the loop's own cost included).

    A process pays this for every page it grows into. On a bare machine it is about a
    microsecond; on a virtual machine whose host takes back the guest's free memory (free page
    reporting), a page the guest has not used lately costs the host's fault as well, several
    times more. Printed beside figures that a fresh process's growth weighs on (catch-up)."""
    size = mib << 20
    step = mmap.PAGESIZE
    with mmap.mmap(-1, size) as m:
        started = time.perf_counter()
        for offset in range(0, size, step):
            m[offset] = 1
        return (time.perf_counter() - started) / (size // step) * 1e6


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2) + "\n")
    return path


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s(pid: int) -> float:
    """CPU seconds of a process's running child processes (a node's signature verifiers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sum(process_cpu_s(int(c)) for c in children)
