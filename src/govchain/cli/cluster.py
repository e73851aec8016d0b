"""``govchain node run``, ``govchain network up`` and ``govchain network status``.

``network up`` runs a whole department network on this machine: a 3-member etcd cluster and
one ``govchain node run`` process per department, on free loopback ports. What it started is
written to ``<network>/run.json`` so that ``network status`` (and the tests) can find it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from govchain.api.settings import DEFAULT_HOST, ApiSettings
from govchain.cli import join
from govchain.cli.options import DataOpt, NetworkOpt
from govchain.cli.output import CliError, console, err_console, reports_errors
from govchain.cli.server import LogFormat, LogFormatOpt, configure_logging, listen, serve
from govchain.crypto import parallel
from govchain.errors import IntegrityError, Unavailable
from govchain.node.allocator import use_one_arena
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.replica import NetworkNode
from govchain.ordering.etcd import BlockLog
from govchain.ordering.etcd_client import EtcdClient, parse_endpoint
from govchain.ordering.etcd_cluster import EtcdCluster, free_port
from govchain.ordering.etcd_tls import EtcdTls

app = typer.Typer(help="Run a department network on this machine and show its status.")
node_app = typer.Typer(help="Run one department's node of a network.")

NET_CHAIN_ID = "govchain-net"
"""Chain id of a network created by ``network up``."""
RUN_FILE = "run.json"
"""What ``network up`` started: etcd endpoints and pids, node URLs and pids."""

DirOpt = Annotated[
    Path,
    typer.Option("--dir", "-d", help="Network directory (created if missing).", file_okay=False),
]


def _progress(what: str) -> Progress:
    return Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


def _cpu_seconds() -> float:
    """CPU seconds used so far by this process and its signature-verifier workers (the
    workers' share is read from ``/proc`` where there is one)."""
    total = time.process_time()
    for pid in parallel.worker_pids():
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# --- govchain node run ----------------------------------------------------------------------


def _etcd_tls(
    endpoints: list[str], ca: Path | None, cert: Path | None, key: Path | None
) -> EtcdTls | None:
    """The etcd TLS files given on the command line: all three or none, and with https
    endpoints only (``CliError`` naming what is missing otherwise). The endpoints must be
    ``http(s)://host:port`` (``SchemaViolation``)."""
    if not endpoints:
        raise CliError("--etcd names no endpoint")
    https = [e for e in endpoints if parse_endpoint(e)[1]]
    given = {"--etcd-ca": ca, "--etcd-cert": cert, "--etcd-key": key}
    missing = [opt for opt, v in given.items() if v is None]
    if len(missing) == len(given):
        if https:
            raise CliError(
                "the etcd endpoints are https: give --etcd-ca, --etcd-cert and --etcd-key"
            )
        return None
    if missing:
        raise CliError(f"etcd mutual TLS needs {', '.join(missing)} too")
    if len(https) != len(endpoints):
        raise CliError("with --etcd-ca/--etcd-cert/--etcd-key every etcd endpoint must be https://")
    assert ca is not None and cert is not None and key is not None
    return EtcdTls(ca, cert, key)


@node_app.command("run")
@reports_errors
def run(
    dept: Annotated[str, typer.Option("--dept", help="Department whose node this is.")],
    etcd: Annotated[
        str,
        typer.Option("--etcd", help="etcd client URLs, comma-separated.", envvar="GOVCHAIN_ETCD"),
    ],
    network: NetworkOpt = Path("var/net"),
    data: DataOpt = None,
    host: Annotated[str, typer.Option("--host", help="Interface (loopback).")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535)] = 0,
    etcd_ca: Annotated[
        Path | None,
        typer.Option(
            "--etcd-ca", help="CA certificate of the etcd members (PEM).", envvar="GOVCHAIN_ETCD_CA"
        ),
    ] = None,
    etcd_cert: Annotated[
        Path | None,
        typer.Option(
            "--etcd-cert",
            help="This node's etcd client certificate (PEM).",
            envvar="GOVCHAIN_ETCD_CERT",
        ),
    ] = None,
    etcd_key: Annotated[
        Path | None,
        typer.Option("--etcd-key", help="Its private key (PEM).", envvar="GOVCHAIN_ETCD_KEY"),
    ] = None,
    log_format: LogFormatOpt = LogFormat.TEXT,
) -> None:
    """Run one department's node: etcd ordering, replication, checkpoints, API."""
    use_one_arena()  # before the node starts any thread
    endpoints = [e.strip() for e in etcd.split(",") if e.strip()]
    etcd_tls = _etcd_tls(endpoints, etcd_ca, etcd_cert, etcd_key)
    configure_logging(log_format)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per etcd call otherwise
    with listen(host, port) as sock:
        port = sock.getsockname()[1]
        address = f"http://{host}:{port}"
        data_dir = data or NetworkDir(network).data_dir(dept)
        try:
            with _progress("checking the stored chain") as bar:
                task = bar.add_task("check", total=None)
                rep = NetworkNode(
                    network,
                    dept,
                    endpoints,
                    data_dir=data_dir,
                    address=address,
                    progress=lambda d, t: bar.update(task, completed=d, total=t),
                    etcd_tls=etcd_tls,
                )
        except IntegrityError as exc:
            err_console.print(
                f"[bold red]error:[/] [red]the stored chain failed the integrity check: "
                f"{escape(exc.message)}[/]\nthe node refuses to start on corrupt data."
            )
            raise typer.Exit(2) from None
        try:
            rep.prepare_catch_up()
            log_before, started = rep.node.ledger.log.size, time.monotonic()
            cpu_before = _cpu_seconds()
            with _progress(f"{dept}: catching up") as bar:
                task = bar.add_task("catch-up", total=None)
                n = rep.catch_up(lambda d, t: bar.update(task, completed=d, total=t))
            if n:
                txs, took = rep.node.ledger.log.size - log_before, time.monotonic() - started
                per_tx = 1e6 / max(txs, 1)
                cpu_us = (_cpu_seconds() - cpu_before) * per_tx
                pipeline = rep.catch_up_pipeline
                console.print(
                    f"{escape(dept)}: caught up {n} blocks ({txs} transactions) in {took:.2f} s "
                    f"({txs / took:,.0f} tx/s verified and applied, {cpu_us:.0f} µs CPU per "
                    f"transaction: fetching {pipeline.fetch_cpu * per_tx:.0f}, applying "
                    f"{pipeline.apply_cpu * per_tx:.0f})"
                )
        except Unavailable as exc:
            err_console.print(f"[yellow]catch-up postponed: {escape(exc.message)}[/]")
            n = 0
        except BaseException:
            rep.close()
            raise
        rep.start()
        node = rep.node
        console.print(
            f"{escape(dept)}: chain [bold]{escape(node.genesis.chain_id)}[/] "
            f"({node.genesis.suite}), height {node.ledger.height} ({n} blocks caught up), "
            f"API on {address}"
        )
        settings = ApiSettings(network_dir=network, data_dir=data_dir, host=host, port=port)
        serve(node, settings, sock, close=rep.close, log_format=log_format)


# --- govchain network up / status -----------------------------------------------------------


def _departments(n: int) -> list[tuple[str, str]]:
    depts = list(DEMO_DEPARTMENTS[:n])
    for i in range(len(depts), n):
        depts.append((f"dept{i + 1}", f"部门{i + 1}"))
    return depts


def load_run(root: Path) -> dict[str, Any]:
    """Return what ``network up`` started (``CliError`` if it is not running)."""
    try:
        doc: dict[str, Any] = orjson.loads((root / RUN_FILE).read_bytes())
    except FileNotFoundError:
        raise CliError(f"no network is running from {root} (no {RUN_FILE})") from None
    return doc


def gather_status(run_doc: dict[str, Any]) -> dict[str, Any]:
    """Ask etcd and every node for their state."""
    client = EtcdClient(
        run_doc["etcd"], timeout=1.5, tls=EtcdTls.from_json(run_doc.get("etcd_tls"))
    )
    out: dict[str, Any] = {"etcd": [], "nodes": {}, "proposer": None, "log_height": None}
    try:
        for url in run_doc["etcd"]:
            st = client.member_status(url)
            out["etcd"].append(
                {
                    "url": url,
                    "up": st is not None,
                    "leader": bool(st and st["leader"] == st["header"]["member_id"]),
                }
            )
        try:
            blog = BlockLog(client, run_doc["chain_id"], "-")
            out["proposer"] = blog.leader()
            out["log_height"] = blog.height()
        except Unavailable as exc:
            out["ordering_error"] = exc.message
    finally:
        client.close()
    with httpx.Client(timeout=2.0) as http:
        for dept, info in run_doc["nodes"].items():
            try:
                out["nodes"][dept] = http.get(f"{info['url']}/v1/health").json()
            except (httpx.HTTPError, ValueError):
                out["nodes"][dept] = None
    return out


def status_table(run_doc: dict[str, Any], st: dict[str, Any]) -> Table:
    """Render a status as a table."""
    table = Table(
        title=f"network {run_doc['chain_id']}: proposer {st['proposer'] or '-'}, "
        f"ordering log height {st['log_height'] if st['log_height'] is not None else '-'}",
        title_justify="left",
    )
    for col in ("department", "API", "status", "height", "certified", "state root", "role"):
        table.add_column(col)
    for dept, info in run_doc["nodes"].items():
        h = st["nodes"].get(dept)
        if h is None:
            table.add_row(escape(dept), info["url"], "[red]down[/]", "-", "-", "-", "-")
            continue
        ok = h["status"] == "ok"
        table.add_row(
            escape(dept),
            info["url"],
            "ok" if ok else f"[red]{escape(h['status'])}[/]",
            str(h["height"]),
            f"{h.get('certified_height')} (quorum {h.get('quorum')})",
            h["state_root"][:16],
            "proposer" if h.get("is_proposer") else "follower",
        )
    etcd = ", ".join(
        f"{e['url'].rsplit(':', 1)[1]}:{'leader' if e['leader'] else 'up' if e['up'] else 'DOWN'}"
        for e in st["etcd"]
    )
    table.caption = f"etcd members (port:state): {etcd}"
    return table


@app.command("status")
@reports_errors
def status(network: DirOpt = Path("var/net")) -> None:
    """Show heights, checkpoint quorum, the proposer and the etcd members."""
    run_doc = load_run(network)
    console.print(status_table(run_doc, gather_status(run_doc)))


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Stop a child by its pid: SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    # The node's signature-verifier workers are in its process group (its own session).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def start_node(
    root: Path,
    dept: str,
    endpoints: list[str],
    port: int,
    log_dir: Path,
    etcd_tls: EtcdTls | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``govchain node run`` for ``dept`` as a child process."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out = open(log_dir / f"{dept}.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "govchain",
                "node",
                "run",
                "--network",
                str(root),
                "--dept",
                dept,
                "--etcd",
                ",".join(endpoints),
                "--port",
                str(port),
                *(etcd_tls.cli_args() if etcd_tls is not None else []),
            ],
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        out.close()


def wait_healthy(urls: list[str], timeout: float) -> bool:
    """Wait until every node answers its health endpoint."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as http:
        while time.monotonic() < deadline:
            ok = 0
            for u in urls:
                with contextlib.suppress(httpx.HTTPError):
                    ok += http.get(f"{u}/v1/health").status_code == 200
            if ok == len(urls):
                return True
            time.sleep(0.2)
    return False


@app.command("up")
@reports_errors
def up(
    departments: Annotated[
        int, typer.Option("--departments", "-n", min=1, max=32, help="Number of departments.")
    ] = 4,
    network: DirOpt = Path("var/net"),
    suite: Annotated[str, typer.Option("--suite", help="intl or gm (new networks).")] = "intl",
) -> None:
    """Start a local etcd cluster (3 members) and one node per department; show their status
    until Ctrl-C, then stop everything."""
    net = NetworkDir(network)
    if not net.exists():
        init_network(
            network, chain_id=NET_CHAIN_ID, suite_name=suite, departments=_departments(departments)
        )
        console.print(f"created network {NET_CHAIN_ID} in {escape(str(network))}")
    genesis = net.genesis()
    depts = [d.id for d in genesis.departments]
    if (network / RUN_FILE).exists():
        raise CliError(f"{network / RUN_FILE} exists: is the network already up?")
    cluster = EtcdCluster.load_or_create(network / "etcd")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        console.print("starting etcd (3 members) ...")
        cluster.start()
        nodes: dict[str, dict[str, Any]] = {}
        for dept in depts:
            port = free_port()
            procs[dept] = start_node(
                network, dept, cluster.endpoints, port, network / "logs", cluster.client_tls(dept)
            )
            nodes[dept] = {"url": f"http://127.0.0.1:{port}", "pid": procs[dept].pid}
        status_tls = cluster.client_tls("status")
        run_doc = {
            "chain_id": genesis.chain_id,
            "etcd": cluster.endpoints,
            "etcd_tls": status_tls.to_json() if status_tls is not None else None,
            "etcd_pids": [m.pid for m in cluster.members],
            "nodes": nodes,
        }
        (network / RUN_FILE).write_bytes(orjson.dumps(run_doc, option=orjson.OPT_INDENT_2))
        if not wait_healthy([n["url"] for n in nodes.values()], 120):
            raise CliError(f"not every node came up; see {network}/logs/")
        console.print(f"logs in {escape(str(network))}/logs/; press Ctrl-C to stop")
        with Live(status_table(run_doc, gather_status(run_doc)), console=console) as live:
            while not stopping:
                for _ in range(20):
                    if stopping:
                        break
                    time.sleep(0.1)
                live.update(status_table(run_doc, gather_status(run_doc)))
    finally:
        console.print("stopping the nodes ...")
        for p in procs.values():
            p.send_signal(signal.SIGTERM)  # all at once: they stop in parallel
        for p in procs.values():
            stop_process(p)
        console.print("stopping etcd ...")
        cluster.stop()
        (network / RUN_FILE).unlink(missing_ok=True)
        for s, old in previous.items():
            signal.signal(s, old)
        console.print("stopped")


join.register(app)
