"""``govchain login`` / ``govchain logout``: log a person in through the node's OpenID Connect
provider and keep the session for the commands that act as them (``service``, ``case``,
``enterprise``).

The command line is the OIDC client ``cli`` (public, PKCE): ``login`` runs the authorization
code flow over HTTP, posting the login form as a browser would, and keeps the token response in
``<network>/sessions/<login>.json`` (mode 0600, ``/`` of a staff login written ``+``). Later
commands send its access token and rotate it with the refresh token when it expired; a file lock
makes two commands running at once refresh only once (presenting an already rotated refresh
token ends the whole session). Tokens and passwords are never printed.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import html
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import typer
from rich.markup import escape

from govchain.cli.client import NodeClient
from govchain.cli.identity import demo_code, open_identity
from govchain.cli.options import DEFAULT_NETWORK, DEFAULT_URL, NetworkOpt, UrlOpt
from govchain.cli.output import (
    CliError,
    ProblemError,
    console,
    err_console,
    json_text,
    new_grid,
    new_table,
    print_table,
    reports_errors,
)
from govchain.identity.tokens import b64u
from govchain.node.network import NetworkDir

CLIENT_ID = "cli"
"""OIDC client id of the command line."""
CLIENT_NAME = "命令行"
"""Display name the client is registered with."""
REDIRECT_URI = "http://127.0.0.1/cli/callback"
"""Redirect URI of the client: never opened, the code is read from the 302 ``location``."""
REFRESH_MARGIN_MS = 30_000
"""An access token this close to its expiry is refreshed first (clock skew, slow calls)."""

LoginOpt = Annotated[
    str | None,
    typer.Option(
        "--login",
        "-l",
        envvar="GOVCHAIN_LOGIN",
        help="Whose session to use (see govchain login); default: the only one.",
        show_default=False,
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the node's JSON answer (for scripts).")
]


@dataclass(frozen=True, slots=True)
class Session:
    """A login session kept by the command line."""

    login: str
    """What the person logged in with (resident id, USCC or ``dept/name``)."""
    user: str
    """User id (``citizen/…`` pseudonym, ``enterprise/…`` or ``dept/name``)."""
    kind: str
    """``citizen``, ``enterprise`` or ``staff``."""
    dept: str
    """Staff department ('' for others)."""
    role: str
    """Staff role ('' for others)."""
    access_token: str
    """Bearer token of the API calls."""
    refresh_token: str
    """Token that obtains the next access token (rotated on each use)."""
    id_token: str
    """ID token, the hint of the logout."""
    expires_ms: int
    """When the access token expires (local clock, ms since the epoch)."""

    def to_json(self) -> dict[str, Any]:
        """Return the stored form."""
        return {f: getattr(self, f) for f in self.__slots__}

    @staticmethod
    def from_json(obj: Any) -> Session:
        """Read the stored form."""
        if not isinstance(obj, dict):
            raise CliError("a session file must hold a JSON object: log in again")
        texts = [f for f in Session.__slots__ if f != "expires_ms"]
        if (
            any(type(obj.get(f)) is not str for f in texts)
            or type(obj.get("expires_ms")) is not int
        ):
            raise CliError("the session file is damaged: log in again")
        return Session(**{f: obj[f] for f in Session.__slots__})


def session_path(network: Path, login: str) -> Path:
    """Return where the session of ``login`` is kept."""
    if not login or "\x00" in login or login.startswith(".") or "\\" in login:
        raise CliError(f"{login!r} is not a login")
    return network / "sessions" / (login.replace("/", "+") + ".json")


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_session(path: Path, session: Session) -> None:
    """Keep a session (mode 0600)."""
    _write_private(path, orjson.dumps(session.to_json(), option=orjson.OPT_INDENT_2))


def read_session(path: Path) -> Session:
    """Read a kept session."""
    try:
        return Session.from_json(orjson.loads(path.read_bytes()))
    except FileNotFoundError:
        raise CliError("not logged in") from None
    except orjson.JSONDecodeError:
        raise CliError(f"{path} is not a session file: log in again") from None


def find_session(network: Path, login: str | None) -> Path:
    """Return the session file of ``login``, or of the only session when none is named."""
    if login:
        path = session_path(network, login)
        if not path.exists():
            raise CliError(f"{login} is not logged in: run 'govchain login {login}' first")
        return path
    found = sorted((network / "sessions").glob("*.json"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise CliError("nobody is logged in: run 'govchain login LOGIN' first")
    names = ", ".join(read_login(p) for p in found)
    raise CliError(f"several sessions ({names}): say which with --login or $GOVCHAIN_LOGIN")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock of the session (one refresh at a time across processes)."""
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _token_request(url: str, form: dict[str, str]) -> dict[str, Any]:
    """POST to the token endpoint; return the token response or raise ``CliError``."""
    try:
        r = httpx.post(url.rstrip("/") + "/oidc/token", data=form, timeout=30)
    except httpx.TransportError as exc:
        raise CliError(f"cannot reach the node at {url}: {exc}") from None
    try:
        doc: Any = r.json()
    except ValueError:
        doc = None
    if r.status_code != 200 or not isinstance(doc, dict) or "access_token" not in doc:
        err = doc if isinstance(doc, dict) else {}
        reason = err.get("error_description") or err.get("error") or f"HTTP {r.status_code}"
        raise _TokenRefused(str(err.get("error", "")), str(reason))
    return doc


class _TokenRefused(CliError):
    """The token endpoint refused a grant (RFC 6749 ``error``)."""

    def __init__(self, error: str, reason: str) -> None:
        super().__init__(f"the login service refused: {reason}")
        self.error = error


class SessionEnded(CliError):
    """The login session behind a kept session file has ended (logged out, expired, revoked);
    the file is removed."""


def _session_from(
    login: str, tokens: dict[str, Any], me: dict[str, Any], started_ms: int
) -> Session:
    return Session(
        login=login,
        user=str(me["id"]),
        kind=str(me["kind"]),
        dept=str(me.get("dept") or ""),
        role=str(me.get("role") or ""),
        access_token=str(tokens["access_token"]),
        refresh_token=str(tokens.get("refresh_token") or ""),
        id_token=str(tokens.get("id_token") or ""),
        expires_ms=started_ms + int(tokens["expires_in"]) * 1000,
    )


def _refreshed(url: str, path: Path) -> Session:
    """Return the session of ``path``, refreshed first if its access token expired."""
    with _locked(path):
        # Read under the lock: another command may have rotated the tokens meanwhile.
        session = read_session(path)
        if session.expires_ms - REFRESH_MARGIN_MS > _now_ms():
            return session
        if not session.refresh_token:
            raise CliError(f"the session of {session.login} expired: log in again")
        started = _now_ms()
        try:
            tokens = _token_request(
                url,
                {
                    "grant_type": "refresh_token",
                    "refresh_token": session.refresh_token,
                    "client_id": CLIENT_ID,
                },
            )
        except _TokenRefused as exc:
            if exc.error != "invalid_grant":
                raise
            path.unlink(missing_ok=True)
            raise SessionEnded(
                f"the session of {session.login} has ended ({exc.message.split(': ', 1)[-1]}): "
                f"run 'govchain login {session.login}' again"
            ) from None
        fresh = replace(
            session,
            access_token=str(tokens["access_token"]),
            refresh_token=str(tokens.get("refresh_token") or ""),
            id_token=str(tokens.get("id_token") or session.id_token),
            expires_ms=started + int(tokens["expires_in"]) * 1000,
        )
        save_session(path, fresh)
        return fresh


def read_login(path: Path) -> str:
    """Return the login a session file is named after."""
    return path.name.removesuffix(".json").replace("+", "/")


def current_session(network: Path, url: str, login: str | None) -> Session:
    """Return the session of ``login`` (or the only one) with a valid access token."""
    return _refreshed(url, find_session(network, login))


def user_client(network: Path, url: str, login: str | None) -> NodeClient:
    """Return a client of the node that acts as the logged-in person."""
    return NodeClient(url, token=current_session(network, url, login).access_token)


# --- output of the service, case and enterprise commands ----------------------------------------

CST = timezone(timedelta(hours=8), "CST")
"""China Standard Time (UTC+8 all year: no daylight saving), the time of deadlines."""


def local_time(ms: int) -> str:
    """Return a time in ms since the epoch as ``YYYY-MM-DD HH:MM:SS CST`` ('-' for 0)."""
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms // 1000, CST).strftime("%Y-%m-%d %H:%M:%S CST")


def yuan(fen: int) -> str:
    """Return an amount in fen as yuan with two decimals (integer arithmetic)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100:,}.{abs(fen) % 100:02d} 元"


def print_json(value: Any) -> None:
    """Print a JSON document in full on one line (``--json``)."""
    sys.stdout.write(json_text(value) + "\n")
    sys.stdout.flush()


# --- reporting the API's problem documents -------------------------------------------------------

P = ParamSpec("P")
R = TypeVar("R")


def problem_lines(exc: ProblemError) -> list[str]:
    """Return the detail lines of a problem: each field of ``form_invalid``, each place of
    ``definition_refused``."""
    doc = exc.doc
    lines: list[str] = []
    for err in doc.get("errors") or []:
        if isinstance(err, dict):
            lines.append(f"{err.get('field') or '(form)'}: {err.get('message', '')}")
    for p in doc.get("problems") or []:
        if isinstance(p, dict):
            lines.append(f"{p.get('place') or '(definition)'}: {p.get('reason', '')}")
    return lines


def print_problem(exc: ProblemError) -> None:
    """Print ``error [code]: detail`` and the problem's detail lines on stderr."""
    err_console.print(f"[bold red]error {escape(f'[{exc.code}]')}:[/] [red]{escape(exc.detail)}[/]")
    for line in problem_lines(exc):
        err_console.print(f"  {escape(line)}")
    if exc.status == 401:
        err_console.print("  the login session is no longer valid: log in again (govchain login)")


def reports_problems(command: Callable[P, R]) -> Callable[P, R]:
    """Like ``reports_errors``, and a problem's fields and places are listed under it."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ProblemError as exc:
            print_problem(exc)
            raise typer.Exit(exc.exit_code) from None

    return reports_errors(run)


# --- login and logout ----------------------------------------------------------------------------

_ALERT = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)


class _UnknownClient(CliError):
    """The provider does not know the ``cli`` client."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = os.environ.get("GOVCHAIN_PASSWORD") or typer.prompt("password", hide_input=True)
    if not password:
        raise CliError("no password given")
    return password


def _authorize(http: httpx.Client, login: str, password: str, otp: str) -> tuple[str, str]:
    """Post the login form; return the code and its PKCE verifier."""
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "state": state,
        "code_challenge": b64u(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256",
    }
    form = {**params, "login": login, "password": password, "otp": otp}
    try:
        r = http.post("/oidc/authorize", data=form)
    except httpx.TransportError as exc:
        raise CliError(f"cannot reach the node at {http.base_url}: {exc}") from None
    if r.status_code == 302:
        query = parse_qs(urlsplit(r.headers.get("location", "")).query)
        if query.get("state") != [state]:
            raise CliError("the login service answered with another state: not logged in")
        if "error" in query:
            reason = query.get("error_description", query["error"])[0]
            raise CliError(f"the login service refused: {reason}")
        return query["code"][0], verifier
    if r.status_code in (401, 429):
        alert = _ALERT.search(r.text)
        reason = html.unescape(alert.group(1)) if alert else f"HTTP {r.status_code}"
        raise CliError(f"login refused: {reason}")
    try:
        doc = r.json()
    except ValueError:
        doc = {}
    if isinstance(doc, dict) and doc.get("error") == "invalid_client":
        raise _UnknownClient(str(doc.get("detail", "unknown client")))
    detail = doc.get("detail") if isinstance(doc, dict) else None
    raise CliError(f"login failed: {detail or f'HTTP {r.status_code}'}")


def _register_client(network: Path) -> bool:
    """Register the ``cli`` client in a local network directory's identity store; return
    whether it could."""
    if not NetworkDir(network).exists():
        return False
    with open_identity(network) as ident:
        ident.provider.register_client(CLIENT_ID, CLIENT_NAME, [REDIRECT_URI])
    return True


@reports_errors
def login(
    login_name: Annotated[
        str, typer.Argument(metavar="LOGIN", help="Resident id, USCC or staff login (tax/li).")
    ],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    otp: Annotated[
        str,
        typer.Option(
            "--otp",
            envvar="GOVCHAIN_OTP",
            help="One-time code (TOTP) of the account's authenticator; staff need one when "
            "the network requires it (govchain demo does).",
        ),
    ] = "",
    demo_otp: Annotated[
        bool,
        typer.Option(
            "--demo-otp",
            help="Work out the one-time code of a demo staff account from the network "
            "directory (govchain user demo-otp; demo networks only).",
        ),
    ] = False,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Log in through the node's unified login; the session is kept for later commands.

    The password comes from --password-stdin, $GOVCHAIN_PASSWORD or a prompt; a staff
    account's one-time code from --otp (or --demo-otp on the demo)."""
    password = _read_password(password_stdin)
    if demo_otp:
        if otp:
            raise CliError("give --otp or --demo-otp, not both")
        otp = demo_code(network, login_name)
    with httpx.Client(base_url=url.rstrip("/"), timeout=30) as http:
        try:
            code, verifier = _authorize(http, login_name, password, otp)
        except _UnknownClient:
            if not _register_client(network):
                raise CliError(
                    f"the login service does not know the client {CLIENT_ID!r}: an "
                    f"administrator runs 'govchain client add {CLIENT_ID} --name {CLIENT_NAME} "
                    f"--redirect-uri {REDIRECT_URI}'"
                ) from None
            console.print(f"registered the OIDC client {CLIENT_ID!r} of the command line")
            code, verifier = _authorize(http, login_name, password, otp)
    started = _now_ms()
    tokens = _token_request(
        url,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": CLIENT_ID,
        },
    )
    with NodeClient(url, token=str(tokens["access_token"])) as client:
        me = client.get("/v1/identity/me")
    session = _session_from(login_name, tokens, me, started)
    path = session_path(network, login_name)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(path):
        save_session(path, session)
    who = f"{session.dept} {session.role}" if session.kind == "staff" else session.kind
    console.print(
        f"logged in as {escape(str(me.get('name', '')))} ({escape(session.user)}, {escape(who)})"
    )
    console.print(
        f"session kept in {escape(str(path))} (0600); its access token is valid until "
        f"{local_time(session.expires_ms)} and is renewed by later commands"
    )


@reports_errors
def logout(
    login_name: Annotated[
        str | None,
        typer.Argument(metavar="[LOGIN]", help="Whose session [default: the only one]."),
    ] = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """End a login session at the node (every token of it stops working) and forget it."""
    path = find_session(network, login_name)
    try:
        # The logout names the session by a valid ID token: renew an expired one first.
        session = _refreshed(url, path)
    except SessionEnded:
        console.print(f"the session of {escape(read_login(path))} had already ended: forgotten")
        return
    try:
        r = httpx.post(
            url.rstrip("/") + "/oidc/logout", data={"id_token_hint": session.id_token}, timeout=30
        )
    except httpx.TransportError as exc:
        raise CliError(f"cannot reach the node at {url}: {exc}") from None
    if r.status_code >= 400:
        raise CliError(f"the logout failed: HTTP {r.status_code}")
    with NodeClient(url, token=session.access_token) as client:
        try:
            client.get("/v1/identity/me")
        except ProblemError as exc:
            if exc.status != 401:
                raise
        else:
            raise CliError("the node did not end the session: it is kept; try again")
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".lock").unlink(missing_ok=True)
    console.print(f"logged out {escape(session.login)}: the session is ended and forgotten")


__all__ = [
    "CLIENT_ID",
    "REDIRECT_URI",
    "JsonOpt",
    "LoginOpt",
    "Session",
    "current_session",
    "find_session",
    "local_time",
    "login",
    "logout",
    "new_grid",
    "new_table",
    "print_json",
    "print_problem",
    "print_table",
    "reports_problems",
    "session_path",
    "user_client",
    "yuan",
]
