"""``govchain init``: create a network directory (keys and genesis)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from govchain.cli.output import CliError, console, new_table, print_table, reports_errors
from govchain.crypto import get_suite
from govchain.ledger.genesis import Genesis
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.types import DeptId

DEFAULT_CHAIN_ID = "govchain-demo"
"""Chain id of a network created without ``--chain-id``."""


class SuiteName(StrEnum):
    """Crypto suites a network can choose at genesis."""

    intl = "intl"
    gm = "gm"


def parse_departments(specs: list[str]) -> list[tuple[DeptId, str]]:
    """Parse ``id=名称`` department options."""
    out: list[tuple[DeptId, str]] = []
    for spec in specs:
        dept, sep, name = spec.partition("=")
        if not sep or not dept.strip() or not name.strip():
            raise CliError(f"--department must look like id=名称, not {spec!r}")
        out.append((dept.strip(), name.strip()))
    return out


def print_network(net: NetworkDir, genesis: Genesis) -> None:
    """Print a network's departments, key files and genesis hash."""
    suite = get_suite(genesis.suite)
    table = new_table(title=f"network {genesis.chain_id} ({genesis.suite})")
    table.add_column("department")
    table.add_column("name")
    table.add_column("member")
    table.add_column("keys")
    root = net.root
    for d in genesis.departments:
        table.add_row(
            escape(d.id),
            escape(d.name),
            escape(f"{d.id}/admin"),
            escape(str(net.node_key_path(d.id).parent.relative_to(root))) + "/",
        )
    print_table(table)
    console.print(
        f"keys in      {escape(str(root))}/departments/<id>/: node.key signs blocks and "
        "checkpoints, members/admin.key signs transactions, root.key certifies member keys "
        "(files are mode 0600)"
    )
    if net.admin_password_path(genesis.departments[0].id).exists():
        console.print(
            f"staff        <id>/admin can log in; initial password in "
            f"{escape(str(root))}/departments/<id>/admin.password (0600): change it"
        )
    console.print(
        "data sharing members/sharing.key signs the node's sharing transactions, "
        "agreement.key wraps data keys (docs/data-sharing.md)"
    )
    console.print(f"genesis      {escape(str(net.genesis_path))}")
    console.print(f"genesis hash {suite.hash(genesis.canonical()).hex()} ({suite.hash_name})")
    n = len(genesis.departments)
    console.print(f"quorum       {genesis.quorum()} of {n} department signatures per checkpoint")


def create_network(
    root: Path, chain_id: str, suite: str, departments: list[tuple[DeptId, str]]
) -> Genesis:
    """Create the network directory and print what was made."""
    genesis = init_network(
        root, chain_id=chain_id, suite_name=suite, departments=departments, staff_admins=True
    )
    print_network(NetworkDir(root), genesis)
    return genesis


@reports_errors
def init(
    directory: Annotated[
        Path, typer.Argument(help="Network directory to create.", file_okay=False)
    ],
    suite: Annotated[
        SuiteName,
        typer.Option("--suite", help="Crypto suite: intl (Ed25519/SHA-256) or gm (SM2/SM3)."),
    ] = SuiteName.intl,
    chain_id: Annotated[str, typer.Option("--chain-id", help="Chain id.")] = DEFAULT_CHAIN_ID,
    department: Annotated[
        list[str] | None,
        typer.Option("--department", "-d", help="A department as id=名称 (repeat the option)."),
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the demo departments (market, tax, hrss, customs).")
    ] = False,
) -> None:
    """Create a network: a node key, a PKI root key, an admin member key and an admin staff
    account per department, and genesis.json."""
    depts = parse_departments(department or [])
    if demo:
        depts = list(DEMO_DEPARTMENTS) + depts
    if not depts:
        raise CliError("name at least one --department id=名称, or use --demo")
    create_network(directory, chain_id, suite.value, depts)
