"""The ``govchain`` command (entry point ``govchain.cli.main:app``)."""

from __future__ import annotations

import typer

from govchain.cli import (
    analytics,
    apps,
    audit,
    backup,
    cases,
    cluster,
    contracts,
    credentials,
    enterprises,
    funds,
    identity,
    network,
    notary,
    policies,
    projects,
    queries,
    ratings,
    server,
    services,
    session,
    sharing,
    supervision,
    transactions,
)

app = typer.Typer(
    name="govchain",
    help="govchain: a permissioned ledger for e-government (区块链+政务服务).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command("init")(network.init)
app.command("up")(server.up)
app.command("demo")(server.demo)
app.add_typer(transactions.app, name="tx")
app.add_typer(sharing.app, name="share")
app.command("query")(queries.query)
app.command("status")(queries.status)
app.command("verify")(audit.verify)
app.command("verify-receipt")(audit.verify_receipt)
backup.register(app)
app.add_typer(identity.users_app, name="user")
app.add_typer(identity.clients_app, name="client")
app.add_typer(identity.members_app, name="member")
app.add_typer(identity.log_app, name="access-log")
app.add_typer(contracts.app, name="contract")
app.add_typer(apps.app, name="app")
app.add_typer(notary.app, name="notary")
app.add_typer(cluster.app, name="network")
app.add_typer(cluster.node_app, name="node")
app.command("login")(session.login)
app.command("logout")(session.logout)
app.add_typer(services.app, name="service")
app.add_typer(cases.app, name="case")
app.add_typer(enterprises.app, name="enterprise")
app.add_typer(credentials.app, name="credential")
app.add_typer(projects.app, name="projects")
app.add_typer(policies.app, name="policy")
app.add_typer(supervision.app, name="supervision")
app.add_typer(funds.app, name="funds")
app.add_typer(analytics.app, name="analytics")
app.add_typer(ratings.app, name="rating")

if __name__ == "__main__":
    app()
