"""``python -m govchain``: the command line."""

from govchain.cli.main import app

app()
