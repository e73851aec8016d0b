"""Options shared by several commands, as ``Annotated`` aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from govchain.cli.client import DEFAULT_URL

DEFAULT_NETWORK = Path("var/demo")
"""Network directory used when none is given: the one ``govchain demo`` (``make run``) creates."""

NetworkOpt = Annotated[
    Path,
    typer.Option(
        "--network",
        "-n",
        envvar="GOVCHAIN_NETWORK",
        help="Network directory (genesis.json and keys).",
        file_okay=False,
    ),
]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        envvar="GOVCHAIN_DATA",
        help="Node data directory [default: <network>/data/embedded].",
        file_okay=False,
    ),
]
UrlOpt = Annotated[
    str, typer.Option("--url", "-u", envvar="GOVCHAIN_URL", help="URL of the node's API.")
]

__all__ = ["DEFAULT_NETWORK", "DEFAULT_URL", "DataOpt", "NetworkOpt", "UrlOpt"]
