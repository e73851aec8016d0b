"""Helper of ``test_documented_commands``: the shell commands that README.md and docs/*.md show,
read from their code blocks (with the output and exit status they show), and checked against
the real ``govchain`` command tree; the commands their text names, checked the same way. The
output's shape is compared in ``output_shapes``.

How a code block is read:

- Only blocks a reader would paste into a shell are read: fences without a language or with
  ``sh``, ``shell``, ``bash``, ``console`` or ``text`` (``json`` and ``python`` blocks are not).
- A block with at least one ``$ `` prompt is a *session*: each ``$ `` line is a command, and the
  lines after it, up to the next prompt, are the output it shows. Without a prompt, every line
  that is not blank or a comment is a command (a script, like the README's quick start).
- A command continues on the next line after a trailing ``\\`` or while a quote is open.
- Shell words come from ``shlex`` (quoted arguments stay one word, ``# ...`` is a comment); the
  words end at the first shell operator (``|``, ``;``, ``>``, ``&``, ``&&`` ...): what follows
  is another program (``| head``, ``; echo "exit=$?"``) or a redirection, not ``govchain``'s.
- A ``govchain`` command is one whose program (after ``time`` and ``NAME=value`` words) is
  ``govchain`` or a path ending in ``/govchain`` (``.venv/bin/govchain``).
- A word ``...`` or ``…`` means the docs left arguments out (as in ``share read tax.arrears ...
  --purpose X``): such a command is checked for its command and option names only.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from output_shapes import ELISIONS, EXIT_LINE
from typer.core import TyperGroup, TyperOption

REPO = Path(__file__).resolve().parents[2]
"""The repository: README.md and docs/ are read from here."""
SHELL_LANGUAGES = frozenset({"", "sh", "shell", "bash", "console", "text"})
"""Fence languages whose blocks hold shell commands or sessions."""
PROMPT = "$ "
"""The prompt that marks a command in a session block."""
_FENCE = re.compile(r"^(\s*)```\s*([\w+-]*)\s*$")
_OPERATOR_CHARS = frozenset("();<>|&")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_OPTION = re.compile(r"^-{1,2}[A-Za-z][\w-]*")


@dataclass(frozen=True, slots=True)
class DocCommand:
    """One shell command shown in a document."""

    file: str
    """The document, relative to the repository (``docs/cli.md``)."""
    line: int
    """Line number (1-based) of the command's first line in the document."""
    text: str
    """The command as the shell reads it: prompt removed, continuation lines joined."""
    words: tuple[str, ...]
    """Its shell words up to the first shell operator (pipe, redirection, ``;``, ``&``)."""
    output: tuple[str, ...]
    """The output lines the document shows after it (session blocks only; may be empty)."""
    session: bool
    """Whether it comes from a session block (``$ `` prompts followed by real output)."""
    language: str
    """The language of its code block's fence (``sh``, ``console``, ``text``, or empty)."""

    @property
    def where(self) -> str:
        """``file:line``, for failure messages."""
        return f"{self.file}:{self.line}"

    @property
    def govchain_args(self) -> tuple[str, ...] | None:
        """The arguments after the ``govchain`` program, or None for another program."""
        words = list(self.words)
        while words and (words[0] == "time" or _ASSIGNMENT.match(words[0])):
            words.pop(0)
        if words and (words[0] == "govchain" or words[0].endswith("/govchain")):
            return tuple(words[1:])
        return None

    @property
    def elided(self) -> bool:
        """Whether the docs left some of its arguments out (``...``)."""
        return any(w in ELISIONS for w in self.words)


def document_files() -> list[Path]:
    """README.md and every docs/*.md, in a fixed order."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@dataclass(frozen=True, slots=True)
class _Block:
    """A fenced code block of a shell language."""

    first_line: int
    """Line number (1-based) of the block's first content line."""
    language: str
    """The fence's language (lower case; empty when none is given)."""
    lines: tuple[str, ...]
    """Its lines, dedented by the fence's indent."""


def _blocks(text: str) -> Iterator[_Block]:
    """The fenced code blocks of a shell language in a Markdown text."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, language = len(opening.group(1)), opening.group(2).lower()
        start = i + 1
        i = start
        while i < len(lines) and not _FENCE.match(lines[i]):
            i += 1
        if language in SHELL_LANGUAGES:
            yield _Block(start + 1, language, tuple(line[indent:] for line in lines[start:i]))
        i += 1  # the closing fence


def shell_words(command: str) -> tuple[str, ...] | None:
    """The shell words of ``command`` up to its first shell operator; None while a quote is
    still open (the command continues on the next line)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words: list[str] = []
    try:
        for word in lexer:
            if word and set(word) <= _OPERATOR_CHARS:
                # "2>" reaches the lexer as "2" then ">": the 2 belongs to the redirection.
                if word.startswith(">") and words and words[-1].isdigit():
                    words.pop()
                break
            words.append(word)
    except ValueError:  # "No closing quotation"
        return None
    return tuple(words)


def _is_complete(command: str) -> bool:
    """Whether ``command`` ends here (no trailing backslash, no open quote)."""
    return not command.endswith("\\") and shell_words(command) is not None


def _join(command: str, line: str) -> str:
    """Continue ``command`` with the next line, as the shell does."""
    if command.endswith("\\"):
        return command[:-1].rstrip() + " " + line.strip()
    return command + "\n" + line  # inside an open quote the newline is part of the word


def _name(path: Path) -> str:
    """How failure messages name a document: relative to the repository when inside it."""
    return path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)


def read_commands(path: Path) -> list[DocCommand]:
    """Every shell command in the shell code blocks of the document at ``path``, in order."""
    name = _name(path)
    found: list[DocCommand] = []
    for block in _blocks(path.read_text(encoding="utf-8")):
        session = any(line.startswith(PROMPT) for line in block.lines)
        i = 0
        while i < len(block.lines):
            line = block.lines[i]
            stripped = line.strip()
            if session and not line.startswith(PROMPT):
                i += 1  # output before the first prompt
                continue
            if not session and (not stripped or stripped.startswith("#")):
                i += 1
                continue
            first = i
            command = line[len(PROMPT) :] if session else stripped
            i += 1
            while not _is_complete(command) and i < len(block.lines):
                command = _join(command, block.lines[i])
                i += 1
            output: list[str] = []
            if session:
                while i < len(block.lines) and not block.lines[i].startswith(PROMPT):
                    output.append(block.lines[i])
                    i += 1
            words = shell_words(command.rstrip("\\"))
            found.append(
                DocCommand(
                    file=name,
                    line=block.first_line + first,
                    text=command,
                    words=words or (),
                    output=tuple(output),
                    session=session,
                    language=block.language,
                )
            )
    return found


def documented_commands() -> list[DocCommand]:
    """Every shell command shown in README.md and docs/*.md."""
    return [c for path in document_files() for c in read_commands(path)]


# --- the command tree -------------------------------------------------------------------------
#
# Typer (0.29) carries its own copy of click (``typer._click``): the command tree, its contexts
# and its errors are those classes, not the ``click`` package's. Only Typer's public names are
# used here: ``TyperGroup`` for groups, ``TyperOption`` for options, ``TyperException`` (the base
# of its usage errors), ``typer.BadParameter`` and ``typer.Exit``.

CliCommand = Any
"""A command of the tree ``typer.main.get_command`` builds (a ``TyperGroup`` or a command)."""
_MISSING_FILE = re.compile(r"does not exist\.$")


@dataclass(frozen=True, slots=True)
class Parsed:
    """What the command tree made of a documented command line (without running it)."""

    command: CliCommand | None
    """The sub-command the line resolves to (None when a command name is unknown)."""
    error: str | None
    """The parser's error for the line, or None when it parses."""


def parse_command(root: CliCommand, args: Sequence[str], *, elided: bool = False) -> Parsed:
    """Resolve ``args`` through the command groups under ``root`` and parse them as
    ``govchain`` would before running (``make_context`` on each group, then on the command):
    unknown commands and options, missing required options and arguments, extra arguments and
    bad values are errors. Nothing is executed. A file argument that must exist and does not
    is not an error (``projects import systems.csv``: the reader brings the file).

    ``elided``: the docs left arguments out, so missing or extra arguments are not errors
    (unknown commands and options still are)."""
    command = root
    name = "govchain"
    parent: Any = None
    rest = list(args)
    try:
        while True:
            ctx = command.make_context(name, list(rest), parent=parent, resilient_parsing=elided)
            if not isinstance(command, TyperGroup):
                return Parsed(command, _unknown_options(command, rest) if elided else None)
            # What the group left for its sub-command (click's own ``invoke`` reads it so).
            remaining = [*ctx._protected_args, *ctx.args]
            if not remaining:
                return Parsed(command, f"'{ctx.command_path}' needs a command")
            sub_name, sub, rest = command.resolve_command(ctx, remaining)
            if sub is None or sub_name is None:
                return Parsed(None, f"No such command '{remaining[0]}'.")
            command, name, parent = sub, sub_name, ctx
    except typer.BadParameter as e:
        if _MISSING_FILE.search(e.format_message()):
            return Parsed(command, None)
        return Parsed(command, e.format_message())
    except typer.TyperException as e:  # the usage errors: no such option, missing, extra ...
        return Parsed(command, e.format_message())
    except typer.Exit:  # --help
        return Parsed(command, None)


def _unknown_options(command: CliCommand, words: Sequence[str]) -> str | None:
    """The parser's "no such option" message for the first word of ``words`` that looks like
    an option ``command`` does not have (resilient parsing, used for elided lines, lets them
    pass)."""
    known = option_names(command) | {"--help"}
    for word in words:
        option = word.split("=", 1)[0]
        if _OPTION.match(option) and option not in known:
            return f"No such option: {option}"
    return None


def option_names(command: CliCommand) -> set[str]:
    """Every option string of ``command`` (``--network``, ``-n`` ...)."""
    names: set[str] = set()
    for param in command.params:
        if isinstance(param, TyperOption):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


# --- documented exit status ---------------------------------------------------------------


def expected_exit(command: DocCommand) -> int | None:
    """The exit status the docs show for ``command`` (an ``(exit N)`` or ``exit=N`` line), 1
    when its output shows an error (a line starting with ``error``), else 0; None when the
    docs show no output at all (only success can be expected then, see the test)."""
    for line in command.output:
        shown = EXIT_LINE.match(line.strip())
        if shown:
            return int(shown.group(1) or shown.group(2))
    if any(line.split()[0].startswith("error") for line in command.output if line.split()):
        return 1
    return 0 if command.output else None


# --- commands named in the text ---------------------------------------------------------------

_INLINE = re.compile(r"`((?:\.venv/bin/)?govchain [^`]+)`")


@dataclass(frozen=True, slots=True)
class Mention:
    """A ``govchain`` command named in a document's text (inline code, as in docs/cli.md's
    table: ``govchain network join DEPT --name NAME [-n DIR]``)."""

    file: str
    """The document, relative to the repository."""
    line: int
    """Line number (1-based) where the inline code starts."""
    text: str
    """The inline code, without backticks (Markdown's ``\\|`` read as ``|``)."""

    @property
    def where(self) -> str:
        """``file:line``, for failure messages."""
        return f"{self.file}:{self.line}"


def read_mentions(path: Path) -> list[Mention]:
    """The ``govchain`` commands named in inline code outside the code blocks of ``path``."""
    name = _name(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    inside = False
    for i, line in enumerate(lines):  # blank the code blocks, keep the line numbers
        fence = _FENCE.match(line) is not None
        if fence or inside:
            lines[i] = ""
        inside ^= fence
    text = "\n".join(lines)
    return [
        Mention(
            name,
            text.count("\n", 0, m.start()) + 1,
            " ".join(m.group(1).replace("\\|", "|").split()),
        )
        for m in _INLINE.finditer(text)
    ]


def _alternatives(phrase: str) -> list[str]:
    """``phrase`` split at each ``|`` outside brackets: ``list|show ID|review ID [-x a|b]``."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(phrase):
        if char in "[(":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "|" and depth == 0:
            parts.append(phrase[start:i])
            start = i + 1
    parts.append(phrase[start:])
    return [p.strip() for p in parts]


def mention_errors(root: CliCommand, mention: Mention) -> list[str]:
    """What in ``mention`` the command tree does not have: a sub-command name that does not
    exist under its group, an option (``--x``, ``-x``) the named command does not take. Words
    in capitals and values are placeholders and are not checked. ``a|b`` names alternatives at
    the level of the group whose command ``a`` is (``service list|search TEXT|show CODE``,
    ``enterprise show|agent add …``), and ``a/b`` alternative sub-commands (``suspend/resume``);
    a ``|`` inside brackets is a value's (``[--suite intl|gm]``)."""
    words = mention.text.split(maxsplit=1)
    return _phrase_errors(root, "govchain", words[1] if len(words) > 1 else "")


def _phrase_errors(command: CliCommand, path: str, phrase: str) -> list[str]:
    if not isinstance(command, TyperGroup):
        wanted = set()
        for word in phrase.split():
            option = _OPTION.match(word.strip("[](),"))
            if option:
                wanted.add(option.group(0))
        missing = sorted(wanted - option_names(command) - {"--help"})
        return [f"'{path}' has no option {o}" for o in missing]
    head, _, rest = phrase.strip().partition(" ")
    if not head or head in ELISIONS or head.startswith(("-", "[")):
        return []  # the group itself (``govchain user …``) or its own options
    group = command.commands.get(head)
    if isinstance(group, TyperGroup):
        # A group named alone: any alternatives are among its own commands.
        return _phrase_errors(group, f"{path} {head}", rest)
    errors: list[str] = []
    for alternative in _alternatives(phrase):
        head, _, rest = alternative.partition(" ")
        if not head or head in ELISIONS:
            continue
        names = [head] if head in command.commands else head.split("/")
        for name in names:
            sub = command.commands.get(name)
            if sub is None:
                errors.append(f"'{path}' has no command '{name}'")
            else:
                errors += _phrase_errors(sub, f"{path} {name}", rest)
    return errors
