"""``govchain contract ...``: check, install, approve, commit, show and query contracts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from govchain.cli.client import NodeClient
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import CliError, console, json_text, new_grid, print_table, reports_errors
from govchain.cli.transactions import MemberOpt, parse_json, print_receipt, sign
from govchain.contracts.checks import check_source
from govchain.contracts.packages import LIFECYCLE, check_files, code_hash
from govchain.errors import GovchainError
from govchain.node.network import NetworkDir

app = typer.Typer(
    name="contract",
    help="Contract packages: check, install, approve, commit; definitions and views.",
    no_args_is_help=True,
)

VersionOpt = Annotated[int, typer.Option("--version", "-v", help="Version number.", min=1)]


def read_package(path: Path) -> dict[str, str]:
    """Read a package: a directory (its contract.py, other .py, .md, .txt) or one .py file."""
    if path.is_dir():
        files = {
            p.name: p.read_text("utf-8")
            for p in sorted(path.iterdir())
            if p.is_file() and p.suffix in (".py", ".md", ".txt") and p.name != "__init__.py"
        }
        files = {k: v for k, v in files.items() if k == "contract.py" or not k.endswith(".py")}
    elif path.is_file():
        files = {"contract.py": path.read_text("utf-8")}
    else:
        raise CliError(f"{path} does not exist")
    try:
        return check_files(files)
    except GovchainError as exc:
        raise CliError(exc.message) from None


def print_findings(files: dict[str, str]) -> int:
    """Print the static check's findings of every Python file; return how many."""
    count = 0
    for name, text in sorted(files.items()):
        if name.endswith(".py"):
            for f in check_source(name, text):
                console.print(f"[red]{escape(str(f))}[/]")
                count += 1
    return count


def run(network: Path, url: str, member: str, method: str, args: dict[str, Any]) -> dict[str, Any]:
    """Sign and submit one lifecycle call, print its receipt; exit 1 if it failed."""
    tx = sign(network, member, LIFECYCLE, method, args, actor=member, case="", purpose="")
    with NodeClient(url) as client:
        doc: dict[str, Any] = client.post("/v1/transactions", tx.encode(), wait="true")
    print_receipt(doc)
    if doc["receipt"]["status"] != "ok":
        raise typer.Exit(1)
    return doc


@app.command("check")
@reports_errors
def check(
    package: Annotated[Path, typer.Argument(help="Package directory or contract .py file.")],
    network: NetworkOpt = DEFAULT_NETWORK,
) -> None:
    """Run the install-time static check locally and print the code hash."""
    files = read_package(package)
    if print_findings(files):
        raise typer.Exit(1)
    suite = NetworkDir(network).suite()
    console.print(f"[green]OK[/]: {len(files)} file(s), code hash {code_hash(suite.hash, files)}")


@app.command("install")
@reports_errors
def install(
    name: Annotated[str, typer.Argument(help="Contract name.")],
    package: Annotated[Path, typer.Argument(help="Package directory or contract .py file.")],
    member: MemberOpt,
    version: VersionOpt = 1,
    policy: Annotated[
        str | None,
        typer.Option(help='Endorsement policy JSON, e.g. \'{"rule": "majority"}\'.'),
    ] = None,
    budget: Annotated[int | None, typer.Option(help="Steps per call.")] = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Install a package as a proposed version (departments then approve its code hash)."""
    files = read_package(package)
    if print_findings(files):
        raise typer.Exit(1)
    args: dict[str, Any] = {"name": name, "version": version, "files": files}
    if policy is not None:
        args["policy"] = parse_json(policy, "--policy")
    if budget is not None:
        args["budget"] = budget
    run(network, url, member, "install", args)


@app.command("approve")
@reports_errors
def approve(
    name: Annotated[str, typer.Argument(help="Contract name.")],
    member: MemberOpt,
    code_hash_hex: Annotated[str, typer.Option("--code-hash", help="Code hash approved.")],
    version: VersionOpt = 1,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Approve a proposed version for the member's department (naming its code hash)."""
    args = {"name": name, "version": version, "code_hash": code_hash_hex}
    run(network, url, member, "approve", args)


@app.command("commit")
@reports_errors
def commit(
    name: Annotated[str, typer.Argument(help="Contract name.")],
    member: MemberOpt,
    version: VersionOpt = 1,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Commit an approved version (runs its migration for an upgrade)."""
    run(network, url, member, "commit", {"name": name, "version": version})


@app.command("show")
@reports_errors
def show(
    name: Annotated[str | None, typer.Argument(help="Contract name [default: list all].")] = None,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Show a contract's definition and methods, or list the deployed contracts."""
    with NodeClient(url) as client:
        if name is None:
            doc = client.get("/v1/contracts")
            console.print(f"built-in: {', '.join(doc['builtin'])}")
            for d in doc["committed"]:
                console.print(
                    f"{escape(d['name'])}  version {d['version']}  code {d['code_hash'][:16]}…  "
                    f"policy {escape(json_text(d['policy']))}"
                )
            return
        doc = client.get(f"/v1/contracts/{name}")
    grid = new_grid()
    grid.add_column(style="bold")
    grid.add_column()
    d = doc["definition"]
    if d is not None:
        grid.add_row("version", str(d["version"]))
        grid.add_row("code hash", d["code_hash"])
        grid.add_row("policy", escape(json_text(d["policy"])))
        grid.add_row("approved by", ", ".join(d["approvals"]))
        grid.add_row("committed at", f"height {d['committed_height']}")
    for m in doc["methods"]:
        params = ", ".join(f"{a['name']}: {a['type']}" for a in m["args"])
        grid.add_row(m["kind"], escape(f"{m['name']}({params})  {m['doc']}"))
    print_table(grid)


@app.command("view")
@reports_errors
def view(
    name: Annotated[str, typer.Argument(help="Contract name.")],
    method: Annotated[str, typer.Argument(help="View method.")],
    args_json: Annotated[str, typer.Option("--args", help="Arguments as a JSON object.")] = "{}",
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Run a read-only view against the node's committed state."""
    args = parse_json(args_json, "--args")
    if type(args) is not dict:
        raise CliError("--args must be a JSON object")
    with NodeClient(url) as client:
        doc = client.post(f"/v1/contracts/{name}/views/{method}", orjson.dumps(args))
    console.print(json_text(doc["result"]))
