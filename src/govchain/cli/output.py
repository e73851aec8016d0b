"""Terminal output and error reporting shared by every command.

Errors end a command with a red ``error: ...`` line on stderr and exit code 1: a
``GovchainError`` prints its message, an HTTP problem response prints ``error [code]: detail``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

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
    """Return the first ``n`` characters of a hex id followed by an ellipsis."""
    return hex_id if len(hex_id) <= n else hex_id[:n] + "…"
