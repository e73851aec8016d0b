"""Terminal output and error reporting shared by every command.

Errors end a command with a red ``error: ...`` line on stderr and exit code 1: a
``GovchainError`` prints its message, an HTTP problem response prints ``error [code]: detail``.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from govchain.errors import GovchainError

console = Console(soft_wrap=True)
"""Standard output."""
err_console = Console(stderr=True, soft_wrap=True)
"""Standard error."""


class CliError(Exception):
    """An error a command reports and exits with (``exit_code``)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class ProblemError(CliError):
    """The node answered with an ``application/problem+json`` error."""

    def __init__(self, status: int, code: str, detail: str, doc: dict[str, Any]) -> None:
        super().__init__(f"[{code}]: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.doc = doc


def fail(message: str, exit_code: int = 1) -> NoReturn:
    """Print ``error: message`` in red and exit."""
    err_console.print(f"[bold red]error:[/] [red]{escape(message)}[/]")
    raise typer.Exit(exit_code)


P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so that expected errors end it with a message, not a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ProblemError as exc:
            err_console.print(
                f"[bold red]error {escape(f'[{exc.code}]')}:[/] [red]{escape(exc.detail)}[/]"
            )
            raise typer.Exit(exc.exit_code) from None
        except CliError as exc:
            fail(exc.message, exc.exit_code)
        except GovchainError as exc:
            fail(exc.message)

    return run


def json_text(value: Any) -> str:
    """Return ``value`` as compact JSON text that keeps non-ASCII characters readable."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def short(hex_id: str, n: int = 16) -> str:
    """Return the first ``n`` characters of a hex id followed by an ellipsis (in a terminal;
    into a pipe or a file the whole id: scripts read what is printed)."""
    if not console.is_terminal:
        return hex_id
    return hex_id if len(hex_id) <= n else hex_id[:n] + "…"


def new_table(*columns: str, title: str | None = None) -> Table:
    """Return a table whose long values wrap onto more lines instead of being cut short."""
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, overflow="fold")
    return table


def new_grid() -> Table:
    """Return a two-column grid of labels and values."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    return grid


def print_table(table: Table) -> None:
    """Print a table; into a pipe or file at its natural width, so no value is folded or cut
    (scripts read whole ids and hashes)."""
    if console.is_terminal:
        console.print(table)
        return
    wide = Console(width=100_000, soft_wrap=True, no_color=True, highlight=False)
    with wide.capture() as captured:
        wide.print(table)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines())
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
