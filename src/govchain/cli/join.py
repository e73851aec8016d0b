"""``govchain network join``: prepare a new department's keys and its membership proposal."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from govchain.cli.options import DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import CliError, console, reports_errors
from govchain.cli.transactions import submit
from govchain.crypto import get_suite
from govchain.node.network import NetworkDir, read_key, write_key

_DEPT_ID = re.compile(r"[a-z][a-z0-9_\-]{0,31}\Z")
"""Department ids the ``network`` contract accepts."""


def _key(path: Path, key_id: str, suite_name: str) -> tuple[bytes, bool]:
    """Return the public key in ``path``, creating the key first if there is none; and whether
    it was created."""
    if path.exists():
        key = read_key(path)
        if key.id != key_id or key.suite != suite_name:
            raise CliError(f"{path} holds a key of {key.id!r} ({key.suite}), not {key_id!r}")
        return key.keypair.public, False
    kp = get_suite(suite_name).generate_keypair()
    write_key(path, key_id, suite_name, kp)
    return kp.public, True


def join(
    dept: Annotated[str, typer.Argument(help="Id of the joining department, e.g. housing.")],
    name: Annotated[str, typer.Option("--name", help="The department's full name.")],
    network: NetworkOpt = Path("var/net"),
    proposer: Annotated[
        str | None,
        typer.Option(
            "--proposer",
            help="Submit the proposal now as this admin of a current department "
            "(e.g. market/admin; its key must be in the network directory).",
        ),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Create a joining department's node and admin keys (kept if present) and propose it.

    Departments join by majority approval of the current ones (``network.propose`` and
    ``network.approve``). Once approved, start its node with ``govchain node run``; it catches
    up from the other departments' nodes."""
    if not _DEPT_ID.match(dept):
        raise CliError(
            "a department id is 1 to 32 lowercase letters, digits, '-' or '_', starting with "
            "a letter"
        )
    if not 1 <= len(name) <= 200:
        raise CliError("--name must be 1 to 200 characters")
    net = NetworkDir(network)
    genesis = net.genesis()
    if any(d.id == dept for d in genesis.departments):
        raise CliError(f"{dept!r} is a genesis department of this network already")
    admin = f"{dept}/admin"
    node_key, new_node = _key(net.node_key_path(dept), dept, genesis.suite)
    admin_key, new_admin = _key(net.member_key_path(admin), admin, genesis.suite)
    for path, created in (
        (net.node_key_path(dept), new_node),
        (net.member_key_path(admin), new_admin),
    ):
        console.print(f"{'created' if created else 'kept'} {escape(str(path))}")
    args: dict[str, Any] = {
        "action": "add",
        "dept": dept,
        "name": name,
        "node_key": node_key.hex(),
        "admin_key": admin_key.hex(),
    }
    args_json = orjson.dumps(args, option=orjson.OPT_SORT_KEYS).decode()
    n = len(genesis.departments)
    if proposer is None:
        console.print(
            "\nAn admin of a current department proposes the change (its own approval "
            "counts); more than half of the departments must approve:"
        )
        console.print(
            f"  govchain tx call network propose --as <dept>/admin -n {shlex.quote(str(network))}"
            f" --args {shlex.quote(args_json)}",
            markup=False,
            soft_wrap=True,
        )
    else:
        console.print(f"\nproposing {escape(dept)} as {escape(proposer)}:")
        submit(
            network=network,
            url=url,
            member=proposer,
            contract="network",
            method="propose",
            args=args,
            actor=None,
            case="",
            purpose=f"{dept} joins the network",
            receipt_out=None,
            wait=True,
        )
    console.print(
        "\nThe others approve with `govchain tx call network approve --args "
        '\'{"proposal": "<id>"}\' --as <dept>/admin`'
        f" (at genesis {n // 2 + 1} of {n} departments make a majority)."
    )
    console.print(
        "Once approved, start the department's node (it catches up from its peers):\n"
        f"  govchain node run -n {shlex.quote(str(network))} --dept {shlex.quote(dept)} "
        "--etcd <etcd client URLs> --etcd-ca <CA certificate> --etcd-cert <client certificate> "
        "--etcd-key <its key>\n"
        "(the etcd files come from the cluster's operators: its CA, and a client certificate "
        f"issued for {shlex.quote(dept)}; a local `network up` cluster keeps them in "
        f"{shlex.quote(str(network / 'etcd' / 'tls'))})",
        markup=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add ``join`` to the ``network`` command group."""
    app.command("join")(reports_errors(join))
