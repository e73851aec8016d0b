"""Notices for people and departments: the portal's notification centre (消息中心).

A notice tells a recipient that something happened that concerns them ("your case was
decided", "a department read your data", "a step of your department is overdue"). It is not a
ledger record: the event itself is on-chain and the notice links to it (``link``, ``source``).

Recipients are strings of three forms:

=================  ============================================================
``dept:<id>``      a department (its staff see it)
``uscc:<USCC>``    an enterprise (its legal representative and agents see it)
anything else      a user's subject (``citizen/…``, ``enterprise/…``, ``<dept>/<name>``)
=================  ============================================================

**Storage.** A ``NoticeBoard`` keeps every notice in memory and, when it has a path, appends
each change as one JSON line to that file (``{"op": "post", ...}`` or ``{"op": "read",
...}``), flushed before the call returns; opening the file replays it. A last line cut short
by a crash is dropped (and cut off the file); a bad line anywhere else is ``IntegrityError``.
The board of a running API application (``board_for``) lives in the node's data directory, or
in memory for an in-memory node. All methods are thread-safe.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import orjson

from govchain.errors import IntegrityError, SchemaViolation

LANGUAGES = ("zh", "en")
"""Languages every title and body carries."""
FILE_NAME = "notices.jsonl"
"""Name of the board's file in a node's data directory."""
MAX_TEXT = 2000
"""Longest title or body text, in characters."""
MAX_LINK = 512
"""Longest link, in characters."""
MAX_SOURCE_BYTES = 4096
"""Largest ``source`` object, JSON-encoded."""
MAX_LIMIT = 500
"""Most notices one ``list`` call returns."""
MAX_MARK = 1000
"""Most ids one ``mark_read`` call takes."""

_DEPT = re.compile(r"dept:[a-z][a-z0-9_\-]{0,31}\Z")
_USCC = re.compile(r"uscc:[0-9A-HJ-NP-RTUWXY]{18}\Z")
_SUBJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,127}\Z")
_KIND = re.compile(r"[a-z][a-z0-9_.\-]{0,63}\Z")


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice to one recipient."""

    id: str
    """Board-unique id (``n`` and a sequence number)."""
    recipient: str
    """``dept:<id>``, ``uscc:<USCC>`` or a user's subject."""
    kind: str
    """What happened, a dotted name (``case.decided``, ``data.read``, ``agent.authorised``)."""
    title: dict[str, str]
    """Short title by language (``zh`` and ``en``)."""
    body: dict[str, str]
    """Text by language (``zh`` and ``en``); may be empty strings."""
    link: str
    """A path of this site to follow up (``/cases/…``), or empty."""
    source: dict[str, Any]
    """Where it came from (transaction id, case number, contract …), JSON values only."""
    created_ms: int
    """When it was posted (milliseconds since the Unix epoch)."""
    read: bool
    """Whether the recipient marked it read."""

    def text(self, lang: str) -> tuple[str, str]:
        """Return the title and body in ``lang`` (Chinese when that language is missing)."""
        return self.title.get(lang) or self.title["zh"], self.body.get(lang, self.body["zh"])


def check_recipient(recipient: str) -> str:
    """Return ``recipient`` if it is a department, enterprise or subject recipient; raise
    ``SchemaViolation`` otherwise."""
    if not isinstance(recipient, str):
        raise SchemaViolation("recipient must be a string", field="recipient")
    if recipient.startswith("dept:"):
        ok = _DEPT.match(recipient) is not None
    elif recipient.startswith("uscc:"):
        ok = _USCC.match(recipient) is not None
    else:
        ok = _SUBJECT.match(recipient) is not None
    if not ok:
        raise SchemaViolation(f"not a notice recipient: {recipient!r}", field="recipient")
    return recipient


def _check_texts(value: Mapping[str, str], field: str, *, required: bool) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise SchemaViolation(f"{field} must map zh and en to text", field=field)
    unknown = sorted(set(value) - set(LANGUAGES))
    if unknown:
        raise SchemaViolation(f"{field}: unknown language {unknown[0]!r}", field=field)
    out: dict[str, str] = {}
    for lang in LANGUAGES:
        text = value.get(lang)
        if not isinstance(text, str) or (required and not text.strip()):
            raise SchemaViolation(f"{field}.{lang} must be a non-empty string", field=field)
        if len(text) > MAX_TEXT:
            raise SchemaViolation(f"{field}.{lang} is over {MAX_TEXT} characters", field=field)
        out[lang] = text
    return out


def _check_link(link: str) -> str:
    # Only a path of this site: a notice must never send a person to another site.
    if not isinstance(link, str) or len(link) > MAX_LINK:
        raise SchemaViolation("link must be a path of at most 512 characters", field="link")
    if link and (
        not link.startswith("/") or link.startswith("//") or any(c in link for c in "\\\t\r\n ")
    ):
        raise SchemaViolation("link must be a path of this site (/…)", field="link")
    return link


def _check_source(source: Mapping[str, Any] | None) -> dict[str, Any]:
    if source is None:
        return {}
    if not isinstance(source, Mapping):
        raise SchemaViolation("source must be an object", field="source")
    try:
        encoded = orjson.dumps(dict(source), option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise SchemaViolation(f"source is not JSON: {exc}", field="source") from exc
    if len(encoded) > MAX_SOURCE_BYTES:
        raise SchemaViolation(f"source is over {MAX_SOURCE_BYTES} bytes", field="source")
    decoded: dict[str, Any] = orjson.loads(encoded)
    return decoded


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class NoticeBoard:
    """Notices by recipient, in memory and (with a path) in an append-only JSON-lines file."""

    def __init__(
        self, path: Path | str | None = None, *, clock_ms: Callable[[], int] | None = None
    ):
        self._lock = threading.Lock()
        self._clock = clock_ms or _wall_clock_ms
        self._by_recipient: dict[str, list[Notice]] = {}
        self._where: dict[str, tuple[str, int]] = {}  # id -> (recipient, index in its list)
        self._keys: dict[tuple[str, str], str] = {}  # (recipient, key) -> id
        self._unread: dict[str, int] = {}
        self._seq = 0
        self._file: IO[bytes] | None = None
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self._replay(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")  # noqa: SIM115 - kept open until close()

    # --- writing ----------------------------------------------------------------------------

    def post(
        self,
        recipient: str,
        kind: str,
        title: Mapping[str, str],
        body: Mapping[str, str],
        *,
        link: str = "",
        source: Mapping[str, Any] | None = None,
        key: str = "",
    ) -> Notice:
        """Post a notice to ``recipient`` and return it.

        ``title`` and ``body`` map ``zh`` and ``en`` to text (the title non-empty). ``key``
        makes posting idempotent: a second post with the same key to the same recipient
        returns the first notice unchanged (e.g. a listener that sees a block again after a
        restart). Bad input is ``SchemaViolation`` and posts nothing."""
        check_recipient(recipient)
        if not isinstance(kind, str) or _KIND.match(kind) is None:
            raise SchemaViolation(f"not a notice kind: {kind!r}", field="kind")
        titles = _check_texts(title, "title", required=True)
        bodies = _check_texts(body, "body", required=False)
        link = _check_link(link)
        src = _check_source(source)
        if not isinstance(key, str) or len(key) > 256:
            raise SchemaViolation("key must be a string of at most 256 characters", field="key")
        with self._lock:
            if key and (recipient, key) in self._keys:
                return self._get(self._keys[(recipient, key)])
            self._seq += 1
            notice = Notice(
                id=f"n{self._seq}",
                recipient=recipient,
                kind=kind,
                title=titles,
                body=bodies,
                link=link,
                source=src,
                created_ms=int(self._clock()),
                read=False,
            )
            record: dict[str, Any] = {"op": "post", **_as_record(notice)}
            if key:
                record["key"] = key
            self._write(record)
            self._add(notice, key)
            return notice

    def mark_read(self, recipient: str, ids: Iterable[str]) -> int:
        """Mark the notices ``ids`` of ``recipient`` read; return how many were unread.

        Ids of other recipients' notices, unknown ids and notices already read are ignored,
        so a person cannot learn or change anything of another recipient's notices."""
        check_recipient(recipient)
        wanted = list(ids)
        if len(wanted) > MAX_MARK:
            raise SchemaViolation(f"at most {MAX_MARK} ids at once", field="ids")
        with self._lock:
            changed = [i for i in dict.fromkeys(wanted) if self._unread_of(recipient, i)]
            if changed:
                self._write({"op": "read", "recipient": recipient, "ids": changed})
                self._apply_read(recipient, changed)
            return len(changed)

    def mark_all_read(self, recipient: str) -> int:
        """Mark every notice of ``recipient`` read; return how many were unread."""
        check_recipient(recipient)
        with self._lock:
            changed = [n.id for n in self._by_recipient.get(recipient, ()) if not n.read]
            if changed:
                self._write({"op": "read", "recipient": recipient, "ids": changed})
                self._apply_read(recipient, changed)
            return len(changed)

    # --- reading ----------------------------------------------------------------------------

    def list(self, recipient: str, *, unread_only: bool = False, limit: int = 50) -> list[Notice]:
        """Return the newest ``limit`` notices of ``recipient``, newest first (only the unread
        ones with ``unread_only``)."""
        check_recipient(recipient)
        if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
            raise SchemaViolation(f"limit must be from 1 to {MAX_LIMIT}", field="limit")
        out: list[Notice] = []
        with self._lock:
            for notice in reversed(self._by_recipient.get(recipient, ())):
                if unread_only and notice.read:
                    continue
                out.append(notice)
                if len(out) == limit:
                    break
        return out

    def unread_count(self, recipient: str) -> int:
        """Return how many notices of ``recipient`` are unread."""
        check_recipient(recipient)
        with self._lock:
            return self._unread.get(recipient, 0)

    def close(self) -> None:
        """Close the board's file (the board keeps answering from memory; writes then fail)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    # --- inside -----------------------------------------------------------------------------

    def _get(self, notice_id: str) -> Notice:
        recipient, index = self._where[notice_id]
        return self._by_recipient[recipient][index]

    def _unread_of(self, recipient: str, notice_id: str) -> bool:
        where = self._where.get(notice_id) if isinstance(notice_id, str) else None
        if where is None or where[0] != recipient:
            return False
        return not self._by_recipient[recipient][where[1]].read

    def _add(self, notice: Notice, key: str) -> None:
        notices = self._by_recipient.setdefault(notice.recipient, [])
        self._where[notice.id] = (notice.recipient, len(notices))
        notices.append(notice)
        if key:
            self._keys[(notice.recipient, key)] = notice.id
        if not notice.read:
            self._unread[notice.recipient] = self._unread.get(notice.recipient, 0) + 1

    def _apply_read(self, recipient: str, ids: Iterable[str]) -> None:
        notices = self._by_recipient[recipient]
        for notice_id in ids:
            index = self._where[notice_id][1]
            if not notices[index].read:
                notices[index] = replace(notices[index], read=True)
                self._unread[recipient] -= 1

    def _write(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        if self._file is None:
            raise IntegrityError(f"notice board {self.path} is closed", path=str(self.path))
        self._file.write(orjson.dumps(record) + b"\n")
        # Flushed to the OS before the caller goes on: a crash of the process loses nothing.
        self._file.flush()

    def _replay(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        lines = data.split(b"\n")
        tail = lines.pop()  # empty when the file ends with a newline
        if tail:
            # A line cut short by a crash during its write: drop it from the file as well, so
            # that the next line appended starts on a line of its own.
            with open(path, "r+b") as handle:
                handle.truncate(len(data) - len(tail))
        for number, line in enumerate(lines, start=1):
            try:
                record = orjson.loads(line)
                if record["op"] == "post":
                    notice = _from_record(record)
                    self._add(notice, str(record.get("key", "")))
                    self._seq = max(self._seq, int(notice.id[1:]))
                elif record["op"] == "read":
                    recipient = record["recipient"]
                    ids = [i for i in record["ids"] if self._unread_of(recipient, i)]
                    self._apply_read(recipient, ids)
                else:
                    raise ValueError(f"unknown op {record['op']!r}")
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
                raise IntegrityError(
                    f"notice board {path} line {number} is corrupt: {exc}",
                    path=str(path),
                    line=number,
                ) from exc


def _as_record(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id,
        "recipient": notice.recipient,
        "kind": notice.kind,
        "title": notice.title,
        "body": notice.body,
        "link": notice.link,
        "source": notice.source,
        "created_ms": notice.created_ms,
    }


def _from_record(record: Mapping[str, Any]) -> Notice:
    notice_id = record["id"]
    if not isinstance(notice_id, str) or not notice_id.startswith("n"):
        raise ValueError(f"bad notice id {notice_id!r}")
    created = record["created_ms"]
    if type(created) is not int:
        raise ValueError("created_ms is not an integer")
    return Notice(
        id=notice_id,
        recipient=check_recipient(record["recipient"]),
        kind=str(record["kind"]),
        title=_check_texts(record["title"], "title", required=True),
        body=_check_texts(record["body"], "body", required=False),
        link=_check_link(record["link"]),
        source=dict(record["source"]),
        created_ms=created,
        read=False,
    )


_BOARD_LOCK = threading.Lock()


def board_for(app_state: Any) -> NoticeBoard:
    """Return the notice board of an API application's state (made on first use and kept
    there as ``notices``): in ``<data dir>/notices.jsonl`` when the settings name the node's
    data directory, in memory otherwise; closed with the node."""
    board: NoticeBoard | None = getattr(app_state, "notices", None)
    if board is None:
        with _BOARD_LOCK:
            board = getattr(app_state, "notices", None)
            if board is None:
                settings = getattr(app_state, "settings", None)
                data_dir = getattr(settings, "data_dir", None)
                board = NoticeBoard(None if data_dir is None else Path(data_dir) / FILE_NAME)
                node = getattr(app_state, "node", None)
                if node is not None:
                    node.on_close.append(board.close)
                app_state.notices = board
    return board


def recipients_for(subject: str, *, dept: str = "", usccs: Iterable[str] = ()) -> tuple[str, ...]:
    """Return the recipients whose notices a person sees: their own subject, their
    department's (staff) and those of the enterprises they act for."""
    out = [subject]
    if dept:
        out.append(f"dept:{dept}")
    out.extend(f"uscc:{u}" for u in usccs)
    return tuple(dict.fromkeys(out))


__all__ = [
    "FILE_NAME",
    "LANGUAGES",
    "Notice",
    "NoticeBoard",
    "board_for",
    "check_recipient",
    "recipients_for",
]
