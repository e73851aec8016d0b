"""``govchain user|client|member|access-log``: administer users, OIDC clients, member keys and
the access log.

User, client and access-log commands work on the node's identity store in the network
directory (``<network>/identity``; LMDB lets them run beside a running node). Member commands
sign ``members`` transactions with a department admin's key and submit them to the node.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from govchain.cli.client import NodeClient
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import CliError, console, new_table, print_table, reports_errors
from govchain.cli.transactions import print_receipt
from govchain.contracts.members import root_key
from govchain.identity import totp
from govchain.identity.demo_totp import current_code, demo_key
from govchain.identity.members import MemberAdmin
from govchain.identity.service import Identity, identity_store_path, load_or_create_token_key
from govchain.identity.users import User
from govchain.node.network import NetworkDir, write_key
from govchain.storage.factory import open_store

users_app = typer.Typer(name="user", help="Manage users (citizens, enterprises, staff).")
clients_app = typer.Typer(name="client", help="Manage OIDC clients (apps and the portal).")
members_app = typer.Typer(name="member", help="Issue, suspend, resume and revoke member keys.")
log_app = typer.Typer(name="access-log", help="Show and verify the access log.")

PasswordOpt = Annotated[
    str,
    typer.Option(
        "--password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="GOVCHAIN_NEW_PASSWORD",
        help="Initial password (prompted; 10+ characters with letters and digits).",
    ),
]
NameOpt = Annotated[str, typer.Option("--name", help="Display name.")]
_USER_COLUMNS = ("id", "kind", "login", "name", "dept", "role", "status", "totp", "locked")


@contextmanager
def open_identity(network: Path) -> Iterator[Identity]:
    """Open the network's identity store (created on first use)."""
    net = NetworkDir(network)
    net.genesis()  # a clear error if this is not a network directory
    store = open_store(str(identity_store_path(net.identity_dir)))
    try:
        yield Identity(store, load_or_create_token_key(net.identity_dir), issuer="")
    finally:
        store.close()


def print_users(users: list[User]) -> None:
    """Print users as a table (no hashes, no keys)."""
    table = new_table()
    for col in _USER_COLUMNS:
        table.add_column(col)
    for u in users:
        p = u.public()
        table.add_row(*(escape(str(p[c])) for c in _USER_COLUMNS))
    print_table(table)


ROLE_HELP = (
    "admin, officer, inspector, approver, auditor or identity_admin (may register OIDC clients)."
)


@users_app.command("add-staff")
@reports_errors
def add_staff(
    login: Annotated[str, typer.Argument(help="<department>/<name>, e.g. tax/li.")],
    name: NameOpt,
    role: Annotated[str, typer.Option("--role", help=ROLE_HELP)],
    password: PasswordOpt,
    network: NetworkOpt = DEFAULT_NETWORK,
) -> None:
    """Add a department staff account."""
    dept = login.partition("/")[0]
    NetworkDir(network).genesis().department(dept)
    with open_identity(network) as ident:
        print_users([ident.users.create_staff(login, name, dept, role, password)])


@users_app.command("add-citizen")
@reports_errors
def add_citizen(
    resident_id: Annotated[str, typer.Argument(help="Resident identity number (18 chars).")],
    name: NameOpt,
    password: PasswordOpt,
    network: NetworkOpt = DEFAULT_NETWORK,
) -> None:
    """Register a citizen (the check digit is validated)."""
    with open_identity(network) as ident:
        print_users([ident.users.create_citizen(resident_id, name, password)])


@users_app.command("add-enterprise")
@reports_errors
def add_enterprise(
    uscc: Annotated[str, typer.Argument(help="Unified social credit code (18 chars).")],
    name: NameOpt,
    legal_rep: Annotated[str, typer.Option("--legal-rep", help="Legal representative.")],
    legal_rep_id: Annotated[
        str, typer.Option("--legal-rep-id", help="Legal representative's resident id number.")
    ],
    password: PasswordOpt,
    network: NetworkOpt = DEFAULT_NETWORK,
) -> None:
    """Register an enterprise with its legal representative."""
    with open_identity(network) as ident:
        user = ident.users.create_enterprise(uscc, name, legal_rep, legal_rep_id, password)
        print_users([user])


@users_app.command("list")
@reports_errors
def list_users(
    dept: Annotated[str | None, typer.Option("--dept", help="Only this department.")] = None,
    network: NetworkOpt = DEFAULT_NETWORK,
) -> None:
    """List users."""
    with open_identity(network) as ident:
        print_users(ident.users.list(dept))


@users_app.command("role")
@reports_errors
def set_role(
    user_id: Annotated[str, typer.Argument(help="Staff user id, e.g. tax/li.")],
    role: Annotated[str, typer.Argument(help=ROLE_HELP)],
    network: NetworkOpt = DEFAULT_NETWORK,
) -> None:
    """Assign a role to a staff account."""
    with open_identity(network) as ident:
        print_users([ident.users.set_role(user_id, role)])
        ident.log.append("cli", "action", {"route": "role_assigned", "target": user_id})


def _status_command(action: str, status: str) -> None:
    @users_app.command(action)
    @reports_errors
    def change(
        user_id: Annotated[str, typer.Argument(help="User id.")],
        network: NetworkOpt = DEFAULT_NETWORK,
    ) -> None:
        with open_identity(network) as ident:
            if status == "unlock":
                user = ident.users.unlock(user_id)
            else:
                user = ident.users.set_status(user_id, status)
                if status != "active":
                    ident.provider.end_user_sessions(user_id)
            ident.log.append("cli", "action", {"route": f"user_{action}", "target": user_id})
            print_users([user])

    change.__doc__ = {
        "suspend": "Suspend an account (it cannot log in).",
        "activate": "Reactivate a suspended account.",
        "revoke": "Revoke an account for good.",
        "unlock": "Clear a lockout after failed logins.",
    }[action]


for _action, _status in (
    ("suspend", "suspended"),
    ("activate", "active"),
    ("revoke", "revoked"),
    ("unlock", "unlock"),
):
    _status_command(_action, _status)


@users_app.command("totp")
@reports_errors
def enable_totp(
    user_id: Annotated[str, typer.Argument(help="Staff user id.")],
    network: NetworkOpt = DEFAULT_NETWORK,
) -> None:
    """Turn on the TOTP second factor; prints the key once, for the user's authenticator app."""
    with open_identity(network) as ident:
        user, key = ident.users.enable_totp(user_id)
        console.print(f"TOTP on for {escape(user.id)}; give the user this (shown once):")
        console.print(totp.provisioning_uri(key, user.login, "govchain"), markup=False)


def demo_code(network: Path, login: str, *, wait: bool = True) -> str:
    """The one-time code a demo staff account can log in with now (``govchain demo`` gives
    every staff account a key worked out from the chain id and the login). Once this time
    step's and the next one's codes are used, wait for the next step (``wait``) or fail."""
    chain_id = NetworkDir(network).genesis().chain_id
    with open_identity(network) as ident:
        user = ident.users.find_login(login)
        if user is None or user.kind != "staff" or user.totp_key != demo_key(chain_id, login).hex():
            raise CliError(
                f"{login} has no demo one-time code: only staff accounts of a network started "
                "with 'govchain demo' use their demo key (an authenticator app gives the others' "
                "codes)"
            )
        while True:
            found = current_code(ident.users, chain_id, login)
            if found is not None:
                return found[0]
            if not wait:
                raise CliError(f"the codes of {login} for now are used: try again in 30 s")
            # Both codes the provider accepts now are used: the next step brings a new one.
            time.sleep(totp.STEP_S - time.time() % totp.STEP_S + 0.05)


@users_app.command("demo-otp")
@reports_errors
def print_demo_code(
    login: Annotated[str, typer.Argument(help="A demo staff login, e.g. market/officer.")],
    network: NetworkOpt = DEFAULT_NETWORK,
) -> None:
    """Print the one-time code a demo staff account logs in with now (demo networks only)."""
    console.print(demo_code(network, login), markup=False)


@clients_app.command("add")
@reports_errors
def add_client(
    client_id: Annotated[str, typer.Argument(help="Client id, e.g. permits-app.")],
    name: NameOpt,
    redirect_uri: Annotated[
        list[str], typer.Option("--redirect-uri", help="Allowed redirect URI (repeat).")
    ],
    confidential: Annotated[
        bool, typer.Option("--confidential", help="Give the client a secret.")
    ] = False,
    network: NetworkOpt = DEFAULT_NETWORK,
) -> None:
    """Register an application or the portal with the login service."""
    with open_identity(network) as ident:
        client, secret = ident.provider.register_client(client_id, name, redirect_uri, confidential)
    console.print(f"client {escape(client.client_id)} registered: {escape(client.name)}")
    for uri in client.redirect_uris:
        console.print(f"  redirect {escape(uri)}")
    if secret:
        console.print("client secret (shown once; store it in the app's configuration):")
        console.print(secret, markup=False)


@log_app.command("verify")
@reports_errors
def verify_log(network: NetworkOpt = DEFAULT_NETWORK) -> None:
    """Recompute the access log's hash chain."""
    with open_identity(network) as ident:
        result = ident.log.verify()
    console.print(f"access log verified: {result['size']} entries, head {result['head']}")


@log_app.command("show")
@reports_errors
def show_log(
    user: Annotated[
        str | None, typer.Option("--user", help="Only this user, newest first.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    network: NetworkOpt = DEFAULT_NETWORK,
) -> None:
    """Show access-log entries."""
    with open_identity(network) as ident:
        entries = ident.log.history(user, limit) if user else ident.log.entries()[-limit:]
    table = new_table()
    for col in ("seq", "time_ms", "user", "event", "detail"):
        table.add_column(col)
    for e in entries:
        table.add_row(str(e.seq), str(e.time_ms), escape(e.user), e.event, escape(str(e.detail)))
    print_table(table)


# --- member keys ------------------------------------------------------------------------------

AsOpt = Annotated[
    str | None,
    typer.Option(
        "--as", help="Admin member that signs [default: <dept>/admin].", show_default=False
    ),
]
ActorOpt = Annotated[str, typer.Option("--actor", help="Staff user acting, e.g. tax/admin.")]
CaseOpt = Annotated[str, typer.Option("--case", help="Case (办件) id.")]
PurposeOpt = Annotated[str, typer.Option("--purpose", help="Declared purpose.")]


def _admin(network: Path, dept: str, member: str | None) -> MemberAdmin:
    net = NetworkDir(network)
    signer = member or f"{dept}/admin"
    return MemberAdmin(
        net.genesis(),
        dept,
        signer,
        net.member_key(signer).keypair.private,
        net.root_key(dept).keypair.private,
    )


def _submit(client: NodeClient, tx_bytes: bytes) -> dict[str, object]:
    doc: dict[str, object] = client.post("/v1/transactions", tx_bytes, wait="true")
    print_receipt(doc)
    receipt = doc["receipt"]
    if not isinstance(receipt, dict) or receipt.get("status") != "ok":
        raise typer.Exit(1)
    return doc


@members_app.command("issue")
@reports_errors
def issue(
    member_id: Annotated[str, typer.Argument(help="New member, <dept>/<name>.")],
    role: Annotated[str, typer.Option("--role", help="admin, officer, auditor or service.")],
    actor: ActorOpt,
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="Hex key held by the member [default: generate one]."),
    ] = None,
    member: AsOpt = None,
    case: CaseOpt = "",
    purpose: PurposeOpt = "",
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Certify a member key with the department root and register it on the ledger."""
    dept = member_id.partition("/")[0]
    admin = _admin(network, dept, member)
    net = NetworkDir(network)
    if public_key is None:
        path = net.member_key_path(member_id)
        if path.exists():
            raise CliError(f"{path} already exists")
        kp = net.suite().generate_keypair()
        key = kp.public
    else:
        try:
            key = bytes.fromhex(public_key)
        except ValueError:
            raise CliError("--public-key is not hex") from None
    with NodeClient(url) as client:
        state = client.get(f"/v1/state/{root_key(dept).decode()}")
        if state.get("value") is None:
            console.print(f"registering the root credential of {escape(dept)} first")
            _submit(client, admin.set_root(actor, case, purpose).encode())
        _submit(client, admin.issue(member_id, role, key, actor, case, purpose).encode())
    if public_key is None:
        # Only once the member is on the ledger: a refused issue leaves no key file behind.
        write_key(path, member_id, net.genesis().suite, kp)
        console.print(f"key pair written to {escape(str(path))} (0600)")


def _change_command(action: str) -> None:
    @members_app.command(action)
    @reports_errors
    def change(
        member_id: Annotated[str, typer.Argument(help="Member, <dept>/<name>.")],
        actor: ActorOpt,
        member: AsOpt = None,
        case: CaseOpt = "",
        purpose: PurposeOpt = "",
        network: NetworkOpt = DEFAULT_NETWORK,
        url: UrlOpt = DEFAULT_URL,
    ) -> None:
        admin = _admin(network, member_id.partition("/")[0], member)
        with NodeClient(url) as client:
            _submit(client, admin.change(action, member_id, actor, case, purpose).encode())

    change.__doc__ = {
        "suspend": "Suspend a member key (its new transactions are rejected).",
        "resume": "Reactivate a suspended member key.",
        "revoke": "Revoke a member key for good.",
    }[action]


for _action in ("suspend", "resume", "revoke"):
    _change_command(_action)
