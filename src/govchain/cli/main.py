"""The ``govchain`` command (entry point ``govchain.cli.main:app``)."""

from __future__ import annotations

import typer

from govchain.cli import audit, network, queries, server, sharing, transactions

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

if __name__ == "__main__":
    app()
