"""Suite-wide: every log record the suite produces goes to one file, and at the end the file
is scanned for the secrets the identity tests handled (passwords, tokens, codes, keys).

A secret found in the logs fails the run (exit status 1) and names the record's line.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from log_scan import find_leaks

_LOG_DIR = Path(tempfile.mkdtemp(prefix="govchain-test-logs-"))
LOG_FILE = _LOG_DIR / "suite.log"
"""Where the suite's log records go."""
_handler = logging.FileHandler(LOG_FILE, encoding="utf-8")
_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
_LOGGERS = ("govchain", "uvicorn", "uvicorn.access", "uvicorn.error", "httpx", "authlib", "fastapi")


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_handler)
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)


def suite_secrets() -> set[str]:
    """Secrets registered by the identity tests (see tests/api/identity_helpers.py)."""
    helpers = sys.modules.get("identity_helpers")
    found: set[str] = set(getattr(helpers, "SEEN_SECRETS", ()))
    return {s for s in found if len(s) >= 8}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _handler.flush()
    text = LOG_FILE.read_text(encoding="utf-8", errors="replace")
    leaks = find_leaks(text, suite_secrets(), str(LOG_FILE))
    if leaks:
        sys.stderr.write("\nsecrets found in the logs of the test suite:\n  " + "\n  ".join(leaks))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        shutil.rmtree(_LOG_DIR, ignore_errors=True)
