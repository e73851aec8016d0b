"""Structured logs: one JSON object per line (``govchain up --log-format json``).

Each line has ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger`` and ``message``;
a line logged while a request is served (the access log among them) also has its
``request_id``, ``method`` and ``path`` (``api.telemetry`` sets them; the path never carries the
query string, which may hold secrets), and an access-log line its ``status`` and ``client``.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The HTTP request being served, as logs name it."""

    request_id: str
    """The request's id (``X-Request-ID``: the client's if well formed, else a new one)."""
    method: str
    """HTTP method."""
    path: str
    """Path, without the query string."""


CURRENT_REQUEST: ContextVar[RequestContext | None] = ContextVar("govchain_request", default=None)
"""The request the current task serves (``None`` outside requests)."""

ACCESS_LOGGER = "uvicorn.access"
"""Logger of the HTTP access log; its arguments are ``(client, method, path, version,
status)``."""


class JsonFormatter(logging.Formatter):
    """Formats each record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line (without the line feed)."""
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = CURRENT_REQUEST.get()
        if request is not None:
            doc["request_id"] = request.request_id
            doc["method"] = request.method
            doc["path"] = request.path
        args = record.args
        if record.name == ACCESS_LOGGER and isinstance(args, tuple) and len(args) == 5:
            doc["client"] = str(args[0])
            doc["status"] = args[4]
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()
