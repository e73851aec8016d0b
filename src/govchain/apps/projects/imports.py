"""Reading registry entries from CSV, XLSX and JSON files, all or nothing: a file with any
problem is refused with every problem's place (line), field and reason, and nothing from it is
imported.

**CSV and XLSX** hold one entry per row under a header row naming the columns, in any order,
by field name or by its Chinese name:

===================  ===============  ========================================================
column               中文列名          cell
===================  ===============  ========================================================
``id``               编号              ``SYS-HEALTH-0012``
``status``           状态              ``in_use`` / ``in_development`` / ``pending``
                                       (or 在用 / 在建 / 待审)
``department``       部门代码          ``health``
``department_name``  部门名称          ``省卫生健康委员会``
``name``             名称              system, project or application name
``purpose``          建设目标          what it is for, a paragraph
``functions``        功能              one function per line, or separated by ``；`` / ``;``
``uses``             使用数据          data resources read, as ``functions`` (may be empty)
``produces``         产生数据          data resources produced, as ``functions`` (may be empty)
``users``            用户              user groups, as ``functions``
``user_count``       用户数            integer (``12000`` or ``12,000``)
``budget_fen``       预算（分）        integer, in fen
``platform``         平台              ``省政务云`` ...
``start_date``       开始日期          ``YYYY-MM-DD`` (or a date cell)
``end_date``         结束日期          ``YYYY-MM-DD``, a date cell, or empty
===================  ===============  ========================================================

Every column is required. Texts are trimmed and put in Unicode NFC; empty rows are skipped.
A CSV file is UTF-8 (with or without a byte-order mark) or, failing that, GB 18030 (what
Chinese spreadsheet programs write); a problem's ``line`` is the line of the file where its row
starts. In an XLSX workbook the first worksheet is read; ``line`` is the row number.

**JSON** is an array of entries (objects with the fields above, exact values: no trimming), or
an object ``{"entries": [...]}``; a problem's ``line`` is the index of the entry in the array
(from 0). A problem of the whole file has line 0 and field ``""``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from govchain.apps.projects.contract import MAX_BATCH
from govchain.apps.projects.records import FIELDS, INTEGER_FIELDS, LIST_FIELDS, problems_of
from govchain.errors import SchemaViolation
from govchain.ledger.encoding import canonical_unchecked

CSV = "text/csv"
"""Media type of CSV files."""
JSON = "application/json"
"""Media type of JSON files."""
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
"""Media type of XLSX workbooks."""
FORMATS = {CSV: "csv", JSON: "json", XLSX: "xlsx"}
"""Media type -> format name."""
SUFFIXES = {".csv": CSV, ".json": JSON, ".xlsx": XLSX}
"""File name suffix -> media type."""

COLUMNS = (
    ("id", "编号"),
    ("status", "状态"),
    ("department", "部门代码"),
    ("department_name", "部门名称"),
    ("name", "名称"),
    ("purpose", "建设目标"),
    ("functions", "功能"),
    ("uses", "使用数据"),
    ("produces", "产生数据"),
    ("users", "用户"),
    ("user_count", "用户数"),
    ("budget_fen", "预算（分）"),
    ("platform", "平台"),
    ("start_date", "开始日期"),
    ("end_date", "结束日期"),
)
"""Each field's column, by field name and by Chinese name."""
STATUS_NAMES = {"在用": "in_use", "在建": "in_development", "待审": "pending"}
"""Chinese status names accepted in CSV and XLSX cells."""
MAX_ENTRIES = 20_000
"""Most entries one file may hold."""
MAX_PROBLEMS = 1000
"""Most problems listed (the count says how many there were)."""

_SEPARATORS = re.compile(r"[\r\n；;]+")
_GROUPED = re.compile(r"\d{1,3}(,\d{3})+")


def _key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip().lower()


_HEADERS = {_key(alias): field for field, zh in COLUMNS for alias in (field, zh)}


@dataclass(frozen=True, slots=True)
class LineProblem:
    """One problem of an imported file."""

    line: int
    """Where: the line (CSV), row (XLSX) or array index (JSON); 0 for the whole file."""
    field: str
    """The field (column) at fault, '' for the whole row or file."""
    reason: str
    """What is wrong."""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"line": self.line, "field": self.field, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One entry read from a file."""

    line: int
    """Where it is in the file (as ``LineProblem.line``)."""
    entry: dict[str, Any]
    """The entry (checked: acceptable for registration)."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did (or, dry, would do)."""

    format: str
    """``csv``, ``xlsx`` or ``json``."""
    count: int
    """Entries in the file."""
    by_status: dict[str, int]
    """How many of each status."""
    dry_run: bool
    """Whether it only checked the file."""
    transactions: list[dict[str, Any]]
    """Per transaction: ``tx_id``, ``count``, ``first`` and ``last`` id, ``height``."""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "format": self.format,
            "count": self.count,
            "by_status": self.by_status,
            "dry_run": self.dry_run,
            "transactions": self.transactions,
        }


class ImportRefused(SchemaViolation):
    """A file was refused: ``problems`` lists each ``{line, field, reason}``, ``count`` how
    many there were; nothing from it was imported."""

    code = "import_refused"


def refuse(problems: list[LineProblem], what: str = "the file") -> ImportRefused:
    """Return the refusal of a file with ``problems`` (sorted by line)."""
    ordered = sorted(problems, key=lambda p: p.line)
    first = ordered[0]
    place = f"line {first.line}" + (f", {first.field}" if first.field else "")
    return ImportRefused(
        f"{what} has {len(ordered)} problem(s); nothing was imported. {place}: {first.reason}",
        problems=[p.to_json() for p in ordered[:MAX_PROBLEMS]],
        count=len(ordered),
    )


def media_type_of(content_type: str, filename: str = "") -> str:
    """Return the media type of an upload from its ``Content-Type`` (parameters dropped) or,
    when that says nothing useful, its file name; ``SchemaViolation`` if neither is known."""
    media = content_type.split(";")[0].strip().lower()
    if media in FORMATS:
        return media
    for suffix, known in SUFFIXES.items():
        if filename.lower().endswith(suffix):
            return known
    raise SchemaViolation(
        f"unknown file type {media or filename!r}: send {CSV}, {JSON} or {XLSX}",
        field="content-type",
    )


def parse_file(data: bytes, media_type: str) -> list[ImportRow]:
    """Read every entry of a file of ``media_type``; ``ImportRefused`` listing every problem."""
    if media_type == CSV:
        return parse_csv(data)
    if media_type == XLSX:
        return parse_xlsx(data)
    if media_type == JSON:
        return parse_json(data)
    raise SchemaViolation(f"unknown file type {media_type!r}", field="content-type")


# --- cells --------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A cell as text, trimmed and in NFC."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFC", str(value)).strip()


def _cell(field: str, value: Any) -> tuple[Any, str]:
    """Return a cell's value for ``field`` and why it cannot be read ('' if it can)."""
    if field in LIST_FIELDS:
        return [t.strip() for t in _SEPARATORS.split(_text(value)) if t.strip()], ""
    if field in INTEGER_FIELDS:
        if isinstance(value, bool):
            return None, "must be an integer"
        if isinstance(value, int):
            return value, ""
        if isinstance(value, float):
            if value.is_integer():
                return int(value), ""
            return None, f"must be an integer, not {value}"
        text = _text(value)
        if _GROUPED.fullmatch(text):
            text = text.replace(",", "")
        if text.isascii() and text.isdigit():
            return int(text), ""
        return None, "is required (an integer)" if not text else f"must be an integer, not {text}"
    text = _text(value)
    if field == "status":
        return STATUS_NAMES.get(text, text), ""
    return text, ""


def _header(cells: list[Any], line: int) -> tuple[list[str | None], list[LineProblem]]:
    """Map each header cell to its field (``None``: an empty column)."""
    fields: list[str | None] = []
    problems: list[LineProblem] = []
    for value in cells:
        name = _text(value)
        field = _HEADERS.get(_key(name)) if name else None
        if name and field is None:
            problems.append(LineProblem(line, name, "is not a column of the registry"))
        elif field is not None and field in fields:
            problems.append(LineProblem(line, field, "is a repeated column"))
        fields.append(field)
    problems += [
        LineProblem(line, f, "column is missing from the header") for f in FIELDS if f not in fields
    ]
    return fields, problems


def _rows(rows: list[tuple[int, list[Any]]], what: str) -> list[ImportRow]:
    """Read the entries of a table whose first non-empty row is the header."""
    table = [(line, cells) for line, cells in rows if any(_text(c) for c in cells)]
    if not table:
        raise refuse([LineProblem(0, "", "holds no header and no entries")], what)
    (header_line, header), body = table[0], table[1:]
    fields, problems = _header(header, header_line)
    if problems:
        raise refuse(problems, what)
    if not body:
        raise refuse([LineProblem(header_line, "", "no entries below the header")], what)
    if len(body) > MAX_ENTRIES:
        raise refuse([LineProblem(0, "", f"holds more than {MAX_ENTRIES} entries")], what)
    column = {f: i for i, f in enumerate(fields) if f is not None}
    out: list[ImportRow] = []
    for line, cells in body:
        problems += [
            LineProblem(line, "", f"a value in column {i + 1}, which has no header")
            for i, value in enumerate(cells)
            if (i >= len(fields) or fields[i] is None) and _text(value)
        ]
        entry: dict[str, Any] = {}
        bad: dict[str, str] = {}
        for field in FIELDS:
            i = column[field]
            entry[field], reason = _cell(field, cells[i] if i < len(cells) else None)
            if reason:
                bad[field] = reason
        problems += [LineProblem(line, f, r) for f, r in bad.items()]
        problems += [
            LineProblem(line, p.field, p.reason) for p in problems_of(entry) if p.field not in bad
        ]
        out.append(ImportRow(line, entry))
    problems += _repeated(out)
    if problems:
        raise refuse(problems, what)
    return out


def _repeated(rows: list[ImportRow]) -> list[LineProblem]:
    """Problems of ids that appear twice in one file."""
    first: dict[Any, int] = {}
    out = []
    for row in rows:
        ident = row.entry.get("id")
        if not isinstance(ident, str) or not ident:
            continue
        if ident in first:
            out.append(
                LineProblem(row.line, "id", f"repeats the id {ident} of line {first[ident]}")
            )
        else:
            first[ident] = row.line
    return out


# --- formats ------------------------------------------------------------------------------------


def parse_csv(data: bytes) -> list[ImportRow]:
    """Read the entries of a CSV file (see the module docstring)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise refuse(
                [LineProblem(0, "", f"is neither UTF-8 nor GB 18030 text: {exc}")]
            ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[Any]]] = []
    start = 1
    try:
        for cells in reader:
            rows.append((start, list(cells)))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise refuse([LineProblem(start, "", f"is not CSV: {exc}")]) from None
    return _rows(rows, "the CSV file")


def parse_xlsx(data: bytes) -> list[ImportRow]:
    """Read the entries of the first worksheet of an XLSX workbook."""
    import openpyxl

    rows: list[tuple[int, list[Any]]] = []
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles, data validation and extensions it does not read:
            # none of them matters to the values.
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                if not book.worksheets:
                    raise refuse([LineProblem(0, "", "has no worksheet")], "the workbook")
                sheet = book.worksheets[0]
                for n, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                    rows.append((n, list(values)))
                    if n > MAX_ENTRIES + 100:
                        break
            finally:
                book.close()
    except ImportRefused:
        raise
    except Exception as exc:  # a damaged upload can fail anywhere in the zip and XML readers
        raise refuse([LineProblem(0, "", f"is not an XLSX workbook: {exc}")], "the file") from None
    return _rows(rows, "the workbook")


def parse_json(data: bytes) -> list[ImportRow]:
    """Read the entries of a JSON file: an array, or ``{"entries": [...]}``."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise refuse([LineProblem(0, "", f"is not JSON: {exc}")], "the JSON file") from None
    if isinstance(doc, dict) and list(doc) == ["entries"]:
        doc = doc["entries"]
    if not isinstance(doc, list) or not doc:
        raise refuse(
            [LineProblem(0, "", 'must be a non-empty array of entries, or {"entries": [...]}')],
            "the JSON file",
        )
    if len(doc) > MAX_ENTRIES:
        raise refuse([LineProblem(0, "", f"holds more than {MAX_ENTRIES} entries")])
    problems = [
        LineProblem(i, p.field, p.reason) for i, obj in enumerate(doc) for p in problems_of(obj)
    ]
    rows = [ImportRow(i, obj) for i, obj in enumerate(doc) if isinstance(obj, dict)]
    problems += _repeated(rows)
    if problems:
        raise refuse(problems, "the JSON file")
    return rows


# --- transactions -------------------------------------------------------------------------------


def chunks(rows: list[ImportRow], max_bytes: int) -> list[list[ImportRow]]:
    """Split rows into ``register_many`` calls of at most ``MAX_BATCH`` entries whose encoded
    entries fit in ``max_bytes``; ``ImportRefused`` naming each entry too large for any."""
    out: list[list[ImportRow]] = []
    size = 0
    too_large: list[LineProblem] = []
    for row in rows:
        n = len(canonical_unchecked(row.entry)) + 1
        if n > max_bytes:
            too_large.append(
                LineProblem(
                    row.line, "", f"the entry is {n} bytes; a transaction holds {max_bytes}"
                )
            )
            continue
        if not out or len(out[-1]) >= MAX_BATCH or size + n > max_bytes:
            out.append([])
            size = 0
        out[-1].append(row)
        size += n
    if too_large:
        raise refuse(too_large)
    return out
