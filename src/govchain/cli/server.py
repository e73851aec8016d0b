"""``govchain up`` and ``govchain demo``: run the embedded node and serve its API."""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from govchain.api.settings import DEFAULT_HOST, DEFAULT_PORT, ApiSettings
from govchain.cli.apps import deploy_in_process, seed_apps
from govchain.cli.network import DEFAULT_CHAIN_ID, create_network
from govchain.cli.options import DEFAULT_NETWORK, DataOpt, NetworkOpt
from govchain.cli.output import CliError, console, err_console, fail, reports_errors
from govchain.errors import IntegrityError
from govchain.node.embedded import EMBEDDED_NODE, open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, DEMO_SERVICE_DEPARTMENTS, NetworkDir
from govchain.node.node import Node

HostOpt = Annotated[
    str,
    typer.Option("--host", help="Interface to listen on (the API has no caller authentication)."),
]
PortOpt = Annotated[int, typer.Option("--port", "-p", help="TCP port.", min=0, max=65535)]
AccessLogOpt = Annotated[
    bool,
    typer.Option(
        "--access-log/--no-access-log",
        help="Log every HTTP request (about a tenth of the API's CPU under heavy load).",
    ),
]


class LogFormat(StrEnum):
    """How the node writes its log (standard error)."""

    TEXT = "text"
    """Lines for people (coloured on a terminal)."""
    JSON = "json"
    """One JSON object per line, for log collectors (``api.logs``)."""


LogFormatOpt = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        help="Log lines for people (text) or one JSON object per line (json): time, level, "
        "logger, message, and the request id and path of access logs.",
    ),
]


WEBHOOK_SECRET_ENV = "GOVCHAIN_ALERT_WEBHOOK_SECRET"
"""Environment variable holding the alert webhook's HMAC key (never an option: a command
line is visible to every user of the machine)."""
AlertWebhookOpt = Annotated[
    str,
    typer.Option(
        "--alert-webhook",
        envvar="GOVCHAIN_ALERT_WEBHOOK",
        help="POST each recorded supervision alert to this URL, signed with the key in "
        f"${WEBHOOK_SECRET_ENV} (X-Govchain-Signature: sha256=<HMAC of the body>).",
    ),
]


def webhook_secret(url: str) -> str:
    """The alert webhook's key from the environment ('' without a webhook; exit 1 when a
    webhook has no key of at least 16 characters)."""
    if not url:
        return ""
    if not url.startswith(("http://", "https://")):
        fail(f"--alert-webhook must be an http:// or https:// URL, not {url!r}")
    secret = os.environ.get(WEBHOOK_SECRET_ENV, "")
    if len(secret) < 16:
        fail(f"--alert-webhook needs a key of at least 16 characters in ${WEBHOOK_SECRET_ENV}")
    return secret


def open_checked(network: Path, data: Path | None) -> Node:
    """Open the embedded node after the startup integrity check (exit 2 if it fails)."""
    with Progress(
        TextColumn("checking the stored chain"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as progress:
        task = progress.add_task("check", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            return open_embedded(network, data_dir=data, progress=advance)
        except IntegrityError as exc:
            progress.stop()
            err_console.print(
                "[bold red]error:[/] [red]the stored chain failed the integrity check: "
                f"{escape(exc.message)}[/]\nthe node refuses to start on corrupt data; "
                "'govchain verify' re-checks everything offline."
            )
            raise typer.Exit(2) from None


def listen(host: str, port: int) -> socket.socket:
    """Bind the API socket before the node opens, so a busy port fails fast and clearly."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def without_query(record: logging.LogRecord) -> bool:
    """Logging filter of the HTTP access log: keep request paths, drop query strings.

    A query can carry secrets (an OpenID Connect logout's ``id_token_hint``, a code in a
    redirect), and the access log is read by operators. uvicorn logs ``(client, method,
    path with query, HTTP version, status)``; the path keeps a ``?…`` marker."""
    args = record.args
    if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
        record.args = (args[0], args[1], args[2].split("?", 1)[0] + "?…", args[3], args[4])
    return True


def configure_logging(log_format: LogFormat) -> None:
    """Send the process's log to standard error in ``log_format``, access log included (the
    first call configures; later ones change nothing)."""
    if log_format is LogFormat.JSON:
        from govchain.api.logs import JsonFormatter

        handler: logging.Handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
    elif err_console.is_terminal:
        handler = RichHandler(console=err_console, show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("uvicorn.access").addFilter(without_query)


def serve(
    node: Node,
    settings: ApiSettings,
    sock: socket.socket,
    close: Callable[[], None] | None = None,
    *,
    access_log: bool = True,
    app: Any = None,
    log_format: LogFormat = LogFormat.TEXT,
) -> None:
    """Serve the API until Ctrl-C or SIGTERM, then stop the node after committing what is
    already queued (``close``: how to stop it, default ``node.close``; ``access_log``: log
    every request; ``app``: the application, made here if not given; ``log_format``: text
    or JSON lines)."""
    # Imported here: the web stack costs a second of start-up that other commands don't need.
    import uvicorn

    from govchain.api.app import create_app

    configure_logging(log_format)
    if app is None:  # a department's node of a network (``node run``)
        app = create_app(node, settings)
        start_followers(app.state)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=access_log,
            timeout_graceful_shutdown=10,
            # uvloop and httptools (both in the lock): a request costs ~40 % less CPU than
            # with asyncio's loop and h11 (docs/performance.md, data sharing).
            loop="uvloop",
            http="httptools",
        )
    )
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, restores the handlers it found and then
    # raises the signal again. Finding these no-op handlers, the process survives that and
    # stops the node below instead of dying with transactions still queued.
    stopping: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        console.print("stopping: committing queued transactions ...")
        (close or node.close)()
        for sig, old in previous.items():
            signal.signal(sig, old)
        console.print(f"stopped at height {node.ledger.height}")


def run_node(
    network: Path,
    data: Path | None,
    host: str,
    port: int,
    after_start: Callable[[Node, Any], list[str]] | None = None,
    *,
    access_log: bool = True,
    log_format: LogFormat = LogFormat.TEXT,
    alert_webhook: str = "",
) -> None:
    """Check, open, start and serve the embedded node of ``network`` (``after_start`` runs
    once the node commits, before the API serves, with the node and the application's state
    (identity, sharing, case desk); its lines are printed; ``alert_webhook``: where recorded
    alerts are posted, with the key of ``$GOVCHAIN_ALERT_WEBHOOK_SECRET``)."""
    secret = webhook_secret(alert_webhook)
    data_dir = data or NetworkDir(network).data_dir(EMBEDDED_NODE)
    configure_logging(log_format)  # before the node opens: what it logs then is formatted too
    with listen(host, port) as sock:
        port = sock.getsockname()[1]
        settings = ApiSettings(
            network_dir=network,
            data_dir=data_dir,
            host=host,
            port=port,
            identity_dir=NetworkDir(network).identity_dir,
            alert_webhook_url=alert_webhook,
            alert_webhook_secret=secret,
        )
        node = open_checked(network, data_dir)
        genesis = node.genesis
        node.start()
        console.print(
            f"chain [bold]{escape(genesis.chain_id)}[/] ({genesis.suite}), height "
            f"{node.ledger.height}, {len(genesis.departments)} departments"
        )
        from govchain.api.app import create_app
        from govchain.portal.app import mount_portal

        app = create_app(node, settings)
        mount_portal(app)
        if after_start is not None:
            try:
                for line in after_start(node, app.state):
                    console.print(escape(line))
            except BaseException:
                node.close()
                raise
        start_followers(app.state)
        if not settings.is_loopback:
            err_console.print(
                f"[yellow]warning: listening on {escape(host)}: ledger reads are public and "
                "transactions are authorised only by their signatures; anyone who can reach it "
                "can read state and submit signed transactions (identity endpoints need tokens)[/]"
            )
        console.print(f"portal on http://{escape(host)}:{port}/  (一网通办)")
        console.print(f"API on http://{escape(host)}:{port}  (OpenAPI docs at /docs)")
        console.print(
            f"login (OpenID Connect) at http://{escape(host)}:{port}"
            "/.well-known/openid-configuration"
        )
        serve(node, settings, sock, access_log=access_log, app=app, log_format=log_format)


def start_followers(app_state: Any) -> None:
    """Start what follows the ledger as blocks commit, before the first request: the analytics
    index and each service's own followers (``App.on_serve``)."""
    from govchain.analytics.follow import index_for
    from govchain.sdk import discover_apps

    index_for(app_state)
    for found in discover_apps():
        if found.on_serve is not None:
            found.on_serve(app_state)


@reports_errors
def up(
    network: NetworkOpt = DEFAULT_NETWORK,
    data: DataOpt = None,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    access_log: AccessLogOpt = True,
    log_format: LogFormatOpt = LogFormat.TEXT,
    alert_webhook: AlertWebhookOpt = "",
) -> None:
    """Run the embedded node (every local department key) and serve its API."""
    if not NetworkDir(network).exists():
        fail(f"{network}/genesis.json does not exist; run 'govchain init' first")
    run_node(
        network,
        data,
        host,
        port,
        access_log=access_log,
        log_format=log_format,
        alert_webhook=alert_webhook,
    )


@reports_errors
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Demo network directory.", file_okay=False)
    ] = DEFAULT_NETWORK,
    port: PortOpt = DEFAULT_PORT,
    alert_webhook: AlertWebhookOpt = "",
) -> None:
    """Create the demo network if needed (init --demo), then run it (up)."""
    if not NetworkDir(directory).exists():
        create_network(
            directory,
            DEFAULT_CHAIN_ID,
            "intl",
            [*DEMO_DEPARTMENTS, *DEMO_SERVICE_DEPARTMENTS],
        )
    # Every department's key is local in the demo: the services' contracts are deployed (and
    # upgraded when their code changed) with the approvals of all departments.
    run_node(
        directory,
        None,
        DEFAULT_HOST,
        port,
        after_start=lambda node, state: [
            *deploy_in_process(node, directory),
            *seed_apps(node, state, directory),
            *require_demo_totp(node, state),
        ],
        alert_webhook=alert_webhook,
    )


def require_demo_totp(node: Node, state: Any) -> list[str]:
    """Staff of the demo log in with a one-time code, as staff of a real network must: every
    staff account gets its deterministic demo key (``identity.demo_totp``) and the provider
    refuses a staff login without a code. Only ``govchain demo`` does this: a demo key is
    worked out from the chain id and the login, so it is no secret."""
    from govchain.identity.demo_totp import seed_demo_totp

    seeded = seed_demo_totp(state.identity.users, node.genesis.chain_id)
    return [
        f"staff one-time codes (TOTP) required: {len(seeded)} staff accounts use their demo key; "
        "the portal's login page shows the current codes, 'govchain user demo-otp LOGIN' "
        "prints one"
    ]
