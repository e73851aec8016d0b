"""``govchain app ...``: list the services, scaffold a new one, deploy one's contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from govchain.cli.client import NodeClient
from govchain.cli.contracts import run
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import CliError, ProblemError, console, reports_errors
from govchain.cli.transactions import print_receipt, sign
from govchain.contracts.packages import code_hash
from govchain.errors import NotFound
from govchain.ledger.membership import current_membership
from govchain.node.network import NetworkDir
from govchain.node.node import Node
from govchain.procedures.publishing import publication_plan
from govchain.sdk import discover_apps, find_app
from govchain.sdk.scaffold import scaffold_app
from govchain.sharing.layout import resource_key

app = typer.Typer(
    name="app",
    help="Government services (apps/): list, scaffold, deploy.",
    no_args_is_help=True,
)

APPS_DIR = Path(__file__).resolve().parents[1] / "apps"
"""Where the services of this installation live (``src/govchain/apps``)."""


@app.command("list")
@reports_errors
def list_apps() -> None:
    """List the services found under govchain/apps."""
    for service in discover_apps():
        console.print(f"[bold]{escape(service.name)}[/]  {escape(service.title)}")
        console.print(f"    {escape(service.description)}", soft_wrap=True)


@app.command("new")
@reports_errors
def new(
    name: Annotated[str, typer.Argument(help="Service name (a-z, 0-9, _).")],
    directory: Annotated[
        Path, typer.Option("--dir", help="Parent folder [default: govchain/apps].", file_okay=False)
    ] = APPS_DIR,
    title: Annotated[str | None, typer.Option(help="Display title.")] = None,
) -> None:
    """Scaffold a new service folder (contract, service, routes, demo, tests)."""
    written = scaffold_app(name, directory, title)
    root = directory / name
    for path in written:
        console.print(f"created {escape(_shown(path))}")
    console.print(
        f"[green]service {escape(name)} created[/]; run its tests: "
        f".venv/bin/pytest {escape(_shown(root / 'tests'))}"
    )


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def local_admins(network: Path) -> list[str]:
    """Return the admin members whose keys are in the network directory, one per department."""
    net = NetworkDir(network)
    found: dict[str, str] = {}
    for m in net.genesis().members:
        if m.role == "admin" and m.dept not in found and net.member_key_path(m.id).exists():
            found[m.dept] = m.id
    return list(found.values())


@app.command("deploy")
@reports_errors
def deploy(
    name: Annotated[str, typer.Argument(help="Service name.")],
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
    demo: Annotated[bool, typer.Option("--demo", help="Then submit the demo calls.")] = False,
) -> None:
    """Install the service's contract, approve it with every local department admin key, and
    commit it (an upgrade when another version is committed); register the catalogue resources
    its definitions read and publish its service definitions (propose, approve by every
    department concerned, publish)."""
    service = find_app(name)
    if service.definitions():
        _publish_remote(network, url, service.definitions(), service.resources())
    if service.contract_file is None:
        return
    files = service.contract_files()
    suite = NetworkDir(network).suite()
    digest = code_hash(suite.hash, files)
    admins = local_admins(network)
    if not admins:
        raise CliError(f"no department admin keys under {network}")
    version = 1
    with NodeClient(url) as client:
        try:
            current: dict[str, Any] | None = client.get(f"/v1/contracts/{name}")["definition"]
        except ProblemError as exc:
            if exc.code != "unknown_contract":
                raise
            current = None
    if current is not None and current["code_hash"] == digest:
        console.print(f"{escape(name)} version {current['version']} with this code is committed")
    else:
        if current is not None:
            version = current["version"] + 1
        install: dict[str, Any] = {
            "name": name,
            "version": version,
            "files": files,
            "policy": service.policy,
        }
        run(network, url, admins[0], "install", install)
        for member in admins:
            args = {"name": name, "version": version, "code_hash": digest}
            run(network, url, member, "approve", args)
        run(network, url, admins[0], "commit", {"name": name, "version": version})
        console.print(f"[green]{escape(name)} version {version} committed[/] (code {digest})")
    if demo and service.demo is not None:
        with NodeClient(url) as client:
            for member, method, args in service.demo(suite.hash):
                tx = sign(network, member, name, method, args, actor=member, case="", purpose="")
                print_receipt(client.post("/v1/transactions", tx.encode(), wait="true"))


def _publish_remote(
    network: Path, url: str, definitions: list[dict[str, Any]], resources: list[dict[str, Any]]
) -> None:
    """``deploy`` for service definitions through a node's API, signed with local admin keys."""
    admins = {m.split("/")[0]: m for m in local_admins(network)}
    with NodeClient(url) as client:

        def submit(member: str, contract: str, method: str, args: dict[str, Any]) -> None:
            tx = sign(network, member, contract, method, args, actor=member, case="", purpose="")
            doc = client.post("/v1/transactions", tx.encode(), wait="true")
            if doc["receipt"]["status"] != "ok":
                raise CliError(f"{contract}.{method}: {doc['receipt']['error']['message']}")

        for spec in resources:
            rid = str(spec["id"])
            try:
                client.get(f"/v1/sharing/catalogue/{rid}")
            except ProblemError as exc:
                if exc.code != "not_found":
                    raise
                if rid.split(".")[0] not in admins:
                    continue  # a department not on this network: its definitions are skipped
                submit(admins[rid.split(".")[0]], "sharing.catalogue", "register", dict(spec))
                console.print(f"catalogue resource {escape(rid)} registered")
        # Departments of genesis (the contract refuses a definition naming one that left).
        departments = [d.id for d in NetworkDir(network).genesis().departments]

        def head(code: str) -> dict[str, Any] | None:
            try:
                found: dict[str, Any] = client.get(f"/v1/services/{code}")["current"]
            except ProblemError as exc:
                if exc.code != "not_found":
                    raise
                return None
            return found

        plan = publication_plan(
            definitions, head, departments, admins, NetworkDir(network).suite().hash
        )
        for phase in plan.phases:
            for call in phase:
                submit(call.member, "services", call.method, dict(call.args))
    for line in plan.notes:
        console.print(escape(line))
    for code in plan.codes:
        console.print(f"[green]{escape(code)} published[/]")


def _submit_all(
    node: Node, network: Path, calls: list[tuple[str, str, str, dict[str, Any]]], what: str
) -> None:
    """Sign and submit calls together (one block when they fit), then check every receipt."""
    txs = [
        sign(network, member, contract, method, args, actor=member, case="", purpose="")
        for member, contract, method, args in calls
    ]
    if not txs:
        return
    node.submit([tx.encode() for tx in txs], wait=True)
    for tx, (_, contract, method, _) in zip(txs, calls, strict=True):
        receipt = node.ledger.receipt_bundle(tx.tx_id)["entry"]["receipt"]
        if receipt["status"] != "ok":
            raise CliError(f"{what}: {contract}.{method}: {receipt['error']}")


def register_resources(node: Node, network: Path, specs: list[dict[str, Any]]) -> list[str]:
    """Register the data-catalogue resources a service's checks read, each by an admin of its
    owner department, skipping those registered already or of departments not in the network."""
    admins = {m.split("/")[0]: m for m in local_admins(network)}
    calls, lines = [], []
    for spec in specs:
        rid = str(spec.get("id"))
        owner = rid.split(".")[0]
        if node.ledger.state.get_value(resource_key(rid)) is not None:
            continue
        if owner not in admins:
            lines.append(f"{rid}: no local admin key of {owner}")
            continue
        calls.append((admins[owner], "sharing.catalogue", "register", dict(spec)))
        lines.append(f"{rid}: registered")
    _submit_all(node, network, calls, "registering data-catalogue resources")
    return lines


def publish_definitions(
    node: Node,
    network: Path,
    definitions: list[dict[str, Any]],
    resources: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Publish service definitions on an embedded node holding the department admin keys:
    propose, approve by every department concerned, publish (after registering the
    ``resources`` their checks read). Return a line per definition."""
    if resources:
        register_resources(node, network, resources)
    admins = {m.split("/")[0]: m for m in local_admins(network)}
    departments = [
        d.id for d in current_membership(node.genesis, node.ledger.state.get_value).departments
    ]

    def head(code: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = node.query("services", "definition", {"code": code})["current"]
        except NotFound:
            return None
        return found

    plan = publication_plan(definitions, head, departments, admins, node.suite.hash)
    for phase in plan.phases:
        calls = [(c.member, "services", c.method, dict(c.args)) for c in phase]
        _submit_all(node, network, calls, "publishing service definitions")
    return [*plan.notes, *(f"{code}: published" for code in plan.codes)]


def deploy_in_process(node: Node, network: Path) -> list[str]:
    """Deploy every service whose committed code differs (or is missing) on an embedded node
    holding all department keys (``govchain demo``): install, approve by every local admin,
    commit, then the service's demo calls; publish its service definitions. Return a line
    per service."""
    suite = node.suite
    admins = local_admins(network)
    lines: list[str] = []
    for service in discover_apps():
        if service.definitions():
            published = publish_definitions(
                node, network, service.definitions(), service.resources()
            )
            done = sum(1 for line in published if line.endswith(": published"))
            lines.append(
                f"service {service.name}: {done} definition(s) published, "
                f"{len(published) - done} unchanged or skipped"
            )
        if service.contract_file is None:
            continue
        files = service.contract_files()
        digest = code_hash(suite.hash, files)
        current = node.query("lifecycle", "definition", {"name": service.name})
        if current is not None and current["code_hash"] == digest:
            lines.append(f"service {service.name}: version {current['version']} is committed")
            continue
        version = 1 if current is None else current["version"] + 1
        steps: list[tuple[str, str, str, dict[str, Any]]] = [
            (admins[0], "lifecycle", "install", {
                "name": service.name, "version": version, "files": files, "policy": service.policy,
            }),
            *((m, "lifecycle", "approve", {
                "name": service.name, "version": version, "code_hash": digest,
            }) for m in admins),
            (admins[0], "lifecycle", "commit", {"name": service.name, "version": version}),
        ]  # fmt: skip
        if current is None and service.demo is not None:
            steps += [(m, service.name, meth, a) for m, meth, a in service.demo(suite.hash)]
        for member, contract, method, args in steps:
            tx = sign(network, member, contract, method, args, actor=member, case="", purpose="")
            node.submit([tx.encode()], wait=True)
            receipt = node.ledger.receipt_bundle(tx.tx_id)["entry"]["receipt"]
            if receipt["status"] != "ok":
                raise CliError(f"deploying {service.name}: {contract}.{method}: {receipt['error']}")
        lines.append(f"service {service.name}: version {version} committed (code {digest[:16]}…)")
    return lines


def seed_apps(node: Node, state: Any, network: Path) -> list[str]:
    """Run every service's demo data seeding (``App.seed``) on the demo network."""
    lines: list[str] = []
    for service in discover_apps():
        if service.seed is not None:
            lines += service.seed(node, state, network)
    return lines
