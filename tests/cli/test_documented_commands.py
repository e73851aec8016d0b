"""The commands README.md and docs/*.md show, followed literally (issue 17, item 8).

1. Every ``govchain`` command in a code block parses against the real command tree (Typer's
   copy of click): its commands and options exist, its required options and arguments are
   there. Nothing is run; every failure is reported at once, with ``file:line`` and the
   parser's message. Commands named in the text (docs/cli.md's table: ``govchain network join
   DEPT --name NAME [-n DIR]``) name existing commands and options. How blocks and shell syntax
   are read: tests/cli/doc_commands.py.
2. docs/cli.md's session (real output) runs in a fresh directory: ``init``, ``up`` in the
   background on a free port, ``export``, each command, ``kill -TERM`` of the node, ``verify``.
   Each command's exit status and output have the documented shape
   (:func:`output_shapes.shape_difference`). Not run: the commands after that ``verify``, which
   need bytes of the stored chain changed by hand (tests/cli/test_cli.py and the store-audit
   tests cover them).
3. The README's ``sh`` blocks run, in order, in a fresh working directory, against a fresh
   ``govchain demo`` (the ``make run`` they follow; ``var/demo`` is its directory, and
   ``--network`` / ``--url`` point at it where a command takes them); each exits 0 (and has the
   documented shape where the README shows output). ``govchain login`` reads the password
   from the demo's logins file (``--password-stdin``) where the README types it. Not run:
   ``make ...`` lines (``make run`` is the demo started here, ``make test`` is this suite,
   ``make bench`` takes minutes) and commands that serve until Ctrl-C (``govchain up``,
   ``demo``, ``network up``, ``node run``).

Output runs into a pipe with ``COLUMNS=80`` (a narrow terminal, piped): no table cell may be
cut to ``…`` (data lost). The other sessions in docs/ need etcd, several departments, a
deployed service's history or hand-made files: (1) checks them.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import typer.main
from doc_commands import (
    REPO,
    CliCommand,
    DocCommand,
    Mention,
    document_files,
    documented_commands,
    expected_exit,
    mention_errors,
    option_names,
    parse_command,
    read_commands,
    read_mentions,
)
from output_shapes import cut_cells, output_shape, shape_difference
from test_cli import ENV, GOVCHAIN, free_port

from govchain.cli.main import app

RUN_ENV = {
    **{
        k: v
        for k, v in ENV.items()
        if k not in {"GOVCHAIN_URL", "GOVCHAIN_NETWORK", "GOVCHAIN_LOGIN", "GOVCHAIN_TOKEN"}
    },
    "COLUMNS": "80",
    "PYTHONUNBUFFERED": "1",  # stdout and stderr share one pipe: keep their order
}
"""Environment of the commands run: a narrow terminal's width, piped; the demo seeded small."""
SERVING = {("up",), ("demo",), ("network", "up"), ("node", "run")}
"""Commands that serve until Ctrl-C: the README's are not run (the demo is started here)."""
SHELL_PROGRAMS = {"printf", "echo", "mkdir", "cat"}
"""Other programs a README block may run (through bash, in the working directory)."""
CLI_MD_LAST = "govchain verify --network net"
"""The last command of docs/cli.md's session that is run: the ones after it need a byte of the
stored chain changed by hand (tests/cli/test_cli.py and the store-audit tests cover them)."""
README_LANGUAGES = {"sh", "shell", "bash", "console"}
"""The README's blocks that are run (its plain block is the source tree)."""
_LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")


@pytest.fixture(scope="module")
def root() -> CliCommand:
    """The real ``govchain`` command tree."""
    return typer.main.get_command(app)


# --- 1. every documented command parses -------------------------------------------------------


def test_every_documented_command_parses(root: CliCommand, monkeypatch: pytest.MonkeyPatch) -> None:
    # A new account's password is prompted for when parsing (the docs type it at the prompt,
    # or set it in the environment, which the prompt reads first).
    monkeypatch.setenv("GOVCHAIN_NEW_PASSWORD", "Documented-password-1")
    commands = [c for c in documented_commands() if c.govchain_args is not None]
    # The reader finds the commands: a change that hid them from it would pass vacuously.
    assert len(commands) > 80
    assert {c.file for c in commands} >= {"README.md", "docs/cli.md", "docs/data-sharing.md"}
    failures = []
    for command in commands:
        args = command.govchain_args or ()
        parsed = parse_command(root, args, elided=command.elided)
        if parsed.error is not None:
            failures.append(f"{command.where}: govchain {' '.join(args)}\n    {parsed.error}")
    assert not failures, "documented commands that do not parse:\n" + "\n".join(failures)


def test_every_command_named_in_the_text_exists(root: CliCommand) -> None:
    mentions = [m for path in document_files() for m in read_mentions(path)]
    assert len(mentions) > 80
    failures = [
        f"{m.where}: `{m.text}`\n    {e}" for m in mentions for e in mention_errors(root, m)
    ]
    assert not failures, "commands named in the docs that do not exist:\n" + "\n".join(failures)


def test_the_parser_reports_what_drifts(root: CliCommand) -> None:
    """The checks above catch what issue 17 found by hand."""
    notary_batch = ("notary", "batch", "records", "--as", "hrss/admin")
    assert parse_command(root, notary_batch).error == "Missing option '--receipts-out'."
    assert "No such option: --nope" in (parse_command(root, ("query", "k", "--nope")).error or "")
    assert "No such command 'qeury'" in (parse_command(root, ("qeury", "k")).error or "")
    elided = ("share", "read", "tax.arrears", "...", "--purpose", "x", "--bogus")
    assert parse_command(root, elided, elided=True).error == "No such option: --bogus"
    assert parse_command(root, elided[:-1], elided=True).error is None
    # A file the reader brings need not exist where the docs are checked.
    assert parse_command(root, ("projects", "import", "no-such.csv")).error is None

    def named(text: str) -> list[str]:
        return mention_errors(root, Mention("docs/x.md", 1, text))

    assert named("govchain notary notarise FILE|batch DIR --receipts-out F|revoke|verify") == []
    assert named("govchain notary notarise FILE|batch DIR --receipt-dir F") == [
        "'govchain notary batch' has no option --receipt-dir"
    ]
    assert named("govchain enterprise show|agent add|agent drop …") == [
        "'govchain enterprise agent' has no command 'drop'"
    ]
    assert named("govchain member suspend/resume/revoke DEPT/NAME --actor STAFF") == []
    assert named("govchain init DIR [--suite intl|gm]") == []
    assert named("govchain query --verify") == ["'govchain query' has no option --verify"]


# --- running commands -------------------------------------------------------------------------


@dataclass
class Node:
    """A ``govchain up`` / ``govchain demo`` started by the test."""

    proc: subprocess.Popen[bytes]
    """The serving process."""
    log: Path
    """Its stdout and stderr."""
    url: str
    """Its API."""

    def lines(self) -> list[str]:
        """What it printed so far, without the server's log records."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return [line for line in text.splitlines() if not _LOG_RECORD.match(line)]

    def stop(self) -> int:
        """SIGTERM (graceful: it commits what is queued and exits 0), as Ctrl-C would."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def launch(argv: list[str], cwd: Path, log: Path, port: int, env: dict[str, str]) -> Node:
    """Start a serving ``govchain`` command (``up``, ``demo``) on ``port``, without waiting."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(GOVCHAIN), *argv], cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    return Node(proc, log, f"http://127.0.0.1:{port}")


def wait_ready(node: Node, timeout: float = 180) -> Node:
    """Wait until ``node``'s ``/v1/health`` answers (the demo answers once it is seeded)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            assert node.proc.poll() is None, node.log.read_text()
            try:
                if httpx.get(node.url + "/v1/health", timeout=2).status_code == 200:
                    return node
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "node did not come up:\n" + node.log.read_text()
            time.sleep(0.2)
    except BaseException:
        node.stop()
        raise


@dataclass
class Outcome:
    """One documented command, run."""

    command: DocCommand
    """What the docs show."""
    argv: list[str]
    """What was run."""
    returncode: int
    """Its exit status."""
    output: str
    """Its stdout and stderr, in order."""


def run(
    argv: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None
) -> tuple[int, str]:
    """Run a command to completion; its exit status and combined output."""
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout


def check(outcome: Outcome, expected: int | None) -> list[str]:
    """What is wrong with ``outcome``: exit status (``expected``, or 0 when the docs show no
    output), shape of the output (when the docs show it), values cut in tables."""
    problems = []
    where = f"{outcome.command.where}: {outcome.command.text.splitlines()[0]}"
    want = 0 if expected is None else expected
    if outcome.returncode != want:
        problems.append(f"exit status {outcome.returncode}, documented {want}")
    if outcome.command.output:
        difference = shape_difference(outcome.command.output, outcome.output.splitlines())
        if difference:
            problems.append(difference)
    cut = cut_cells(outcome.output.splitlines())
    if cut:
        problems.append(f"table values cut in a pipe: {cut}")
    if not problems:
        return []
    shown = "\n      ".join(outcome.output.splitlines()[:40])
    return [
        f"{where}\n    ran: {' '.join(outcome.argv)}\n    "
        + "\n    ".join(problems)
        + f"\n    output:\n      {shown}"
    ]


def _serving(args: tuple[str, ...]) -> bool:
    return args[:1] in SERVING or args[:2] in SERVING


# --- 2. docs/cli.md's session (first: the README's demo seeds meanwhile) --------------------


def test_cli_md_session_has_the_documented_shape(demo: tuple[Node, Path], tmp_path: Path) -> None:
    # The demo is requested only to start it now (see the fixture); it binds its port once
    # seeded, so that port is not free for this session's node even if the system says so.
    taken = demo[0].url
    env = dict(RUN_ENV)
    session = [c for c in read_commands(REPO / "docs" / "cli.md") if c.session]
    last = [c.text for c in session].index(CLI_MD_LAST)  # ValueError: CLI_MD_LAST is stale
    commands = session[: last + 1]
    ports: dict[str, str] = {}  # documented "127.0.0.1:8711" -> the port used here
    node: Node | None = None
    seen = 0  # lines of the node's output already compared
    failures: list[str] = []

    def localise(word: str) -> str:
        for documented, real in ports.items():
            word = word.replace(documented, real)
        return word

    try:
        for command in commands:
            words = [localise(w) for w in command.words]
            args = command.govchain_args
            if words[0] == "export":
                env.update(w.partition("=")[::2] for w in words[1:])
                continue
            if words[0] == "kill":  # kill -TERM <pid of govchain up>
                assert node is not None, command.where
                code = node.stop()
                lines = node.lines()
                failures += check(Outcome(command, words, code, "\n".join(lines[seen:])), 0)
                node = None
                continue
            assert args is not None, f"{command.where}: how to run {words[0]}?"
            argv = [localise(w) for w in args]
            if _serving(args):
                assert node is None, command.where
                documented = argv[argv.index("--port") + 1]
                port = free_port()
                while taken.endswith(f":{port}"):
                    port = free_port()
                ports[f"127.0.0.1:{documented}"] = f"127.0.0.1:{port}"
                argv[argv.index("--port") + 1] = str(port)
                node = wait_ready(launch(argv, tmp_path, tmp_path / "up.log", port, env))
                lines = node.lines()
                seen = len(lines)
                failures += check(Outcome(command, argv, 0, "\n".join(lines)), 0)
                continue
            code, output = run([str(GOVCHAIN), *argv], tmp_path, env)
            failures += check(Outcome(command, argv, code, output), expected_exit(command))
    finally:
        if node is not None:
            node.stop()
    assert not failures, "docs/cli.md's session differs:\n" + "\n".join(failures)


# --- 3. the README on a fresh demo ------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Path]]:
    """``govchain demo`` (what ``make run`` starts) in a fresh directory, on a free port;
    started, not waited for: it seeds its data while docs/cli.md's session runs (the two
    share the machine's two cores instead of taking turns)."""
    base = tmp_path_factory.mktemp("readme")
    port = free_port()
    directory = base / "demo"
    argv = ["demo", "--dir", str(directory), "--port", str(port)]
    node = launch(argv, base, base / "demo.log", port, RUN_ENV)
    try:
        yield node, directory
    finally:
        node.stop()


def _demo_password(directory: Path) -> str:
    """The password of the demo logins, from the logins file (its first line says it)."""
    first = (directory / "demo-logins.txt").read_text(encoding="utf-8").splitlines()[0]
    found = re.search(r"password (\S+)", first)
    assert found, first
    return found.group(1)


def test_readme_commands_run_on_a_fresh_demo(
    root: CliCommand, demo: tuple[Node, Path], tmp_path: Path
) -> None:
    node, directory = demo
    wait_ready(node)
    commands = [c for c in read_commands(REPO / "README.md") if c.language in README_LANGUAGES]
    ran: list[str] = []  # file:line of each govchain command run
    skipped: list[str] = []  # and of each one not run, with why
    failures: list[str] = []
    for command in commands:
        words = [w.replace("var/demo", str(directory)) for w in command.words]
        args = command.govchain_args
        if not words:
            continue
        if words[0] == "make":
            skipped.append(f"{command.where} {command.text}: make (see the module docstring)")
            continue
        if args is None:
            assert words[0] in SHELL_PROGRAMS, f"{command.where}: how to run {words[0]}?"
            text = command.text.replace("var/demo", str(directory))
            code, output = run(["bash", "-c", text], tmp_path, RUN_ENV)
            failures += check(Outcome(command, ["bash", "-c", text], code, output), 0)
            continue
        if _serving(args):
            skipped.append(f"{command.where} {command.text}: serves until Ctrl-C")
            continue
        argv = [w.replace("var/demo", str(directory)) for w in args]
        parsed = parse_command(root, argv)
        assert parsed.command is not None, (command.where, parsed.error)
        options = option_names(parsed.command)
        if "--network" in options and not {"--network", "-n"} & set(argv):
            argv += ["--network", str(directory)]
        if "--url" in options and not {"--url", "-u"} & set(argv):
            argv += ["--url", node.url]
        stdin = None
        if argv[0] == "login":  # the README types the password at the prompt
            argv.append("--password-stdin")
            stdin = _demo_password(directory) + "\n"
        code, output = run([str(GOVCHAIN), *argv], tmp_path, RUN_ENV, stdin)
        ran.append(command.where)
        failures += check(
            Outcome(command, ["govchain", *argv], code, output), expected_exit(command)
        )
    # Every govchain command of the quick start ran (a reader change would show here).
    assert len(ran) >= 9, (ran, skipped)
    assert not failures, "README commands that fail:\n" + "\n".join(failures)


def test_shape_comparison() -> None:
    """Known answers of the comparison the runs use."""
    table = [
        "┏━━━━━┳━━━━━━┓",
        "┃ key ┃ name ┃",
        "┡━━━━━╇━━━━━━┩",
        "│ a   │ 1    │",
        "└─────┴──────┘",
        "2 match(es)",
    ]
    assert output_shape(table) == ["table: key | name", "2"]
    assert output_shape(["status  ok", "", "(exit 1)", "…  (more follows)"]) == ["status", "…"]
    assert shape_difference(["status ok", "block 1"], ["status failed", "block 2"]) is None
    assert shape_difference(["status ok", "...", "done"], ["status x", "a", "b", "done"]) is None
    assert shape_difference(["...", "done"], ["done"]) is None
    assert shape_difference(["a x", "…", "…"], ["a y"]) is None
    assert shape_difference(["a x", "...", "b"], ["a y", "c"]) is not None
    assert shape_difference(["status ok"], ["block 1"]) is not None
    assert shape_difference(["status ok"], ["status ok", "portal on x"]) is not None
    assert shape_difference(table, [*table[:3], "│ b   │ 2    │", *table[3:]]) is None
    assert cut_cells(["│ custo… │ 1 │", "│ customs │ 2 │"]) == ["custo…"]


SAMPLE = """# Sample

```sh
make run    # install, then start
            #   portal: http://127.0.0.1:8700/
.venv/bin/govchain tx put k '{"a": 1}' \\
    --as market/admin    # a comment
```

```json
{"govchain": "not a command"}
```

  ```console
  $ govchain init net --demo
  network govchain-demo (intl)
  ...
  $ govchain up --network net &          # then, in another shell:
  $ time govchain notary batch records --as hrss/admin --receipts-out receipts
  real	0m2.017s
  $ govchain service search "food business licence" | head -6
  $ govchain verify --network net; echo "exit=$?"
  exit=1
  $ govchain tx call network propose --args '{"action": "add",
        "dept": "housing"}' --as market/admin
  $ govchain share read tax.arrears ... --purpose 信用评价 2>/dev/null
  error [wrong_purpose]: grant g-1 is for another purpose
  ```
"""


def test_reading_code_blocks(tmp_path: Path) -> None:
    """Known answers of the reader: blocks, prompts, continuations, shell syntax, output."""
    doc = tmp_path / "sample.md"
    doc.write_text(SAMPLE, encoding="utf-8")
    commands = read_commands(doc)
    assert [(c.line, c.words[:3]) for c in commands] == [
        (4, ("make", "run")),
        (6, (".venv/bin/govchain", "tx", "put")),
        (15, ("govchain", "init", "net")),
        (18, ("govchain", "up", "--network")),
        (19, ("time", "govchain", "notary")),
        (21, ("govchain", "service", "search")),
        (22, ("govchain", "verify", "--network")),
        (24, ("govchain", "tx", "call")),
        (26, ("govchain", "share", "read")),
    ]
    put, init, up, batch, search, verify, propose, read = commands[1:]
    assert put.govchain_args == ("tx", "put", "k", '{"a": 1}', "--as", "market/admin")
    assert not put.session and put.output == ()
    assert init.session and init.output == ("network govchain-demo (intl)", "...")
    assert up.govchain_args == ("up", "--network", "net")
    assert batch.govchain_args == ("notary", "batch", "records", *batch.words[5:])
    assert search.govchain_args == ("service", "search", "food business licence")
    assert verify.words[-1] == "net" and expected_exit(verify) == 1
    assert propose.govchain_args is not None
    assert propose.govchain_args[5] == '{"action": "add",\n      "dept": "housing"}'
    assert read.elided and read.govchain_args == (
        "share", "read", "tax.arrears", "...", "--purpose", "信用评价"
    )  # fmt: skip
    assert expected_exit(read) == 1 and expected_exit(init) == 0 and expected_exit(put) is None
