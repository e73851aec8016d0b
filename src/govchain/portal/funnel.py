"""The application funnel of each service, read from the click log.

A person *started* a service's application when the portal showed them its first page
(``/services/<code>/apply``); they *submitted* one when it showed them the confirmation page of a
case of that service (``/cases/<number>/confirmation``, shown once, right after submission).
People are the click log's pseudonyms, so the counts name nobody. New batches are read once:
the funnel keeps what it has counted and reads only the batches written since.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from govchain.portal.clicklog import ClickLog

START = "/services/"
"""Prefix of a service's pages; its application starts at ``/services/<code>/apply``."""
CONFIRMATION = "/confirmation"
"""Suffix of the page shown right after a case is submitted."""

Counts = tuple[set[str], set[str], set[str]]
"""Per service: pseudonyms that started, pseudonyms that submitted, case numbers submitted."""


class Funnel:
    """Per service, who started and who submitted an application in the portal."""

    def __init__(self, log: ClickLog, service_of: Callable[[str], str | None]) -> None:
        self.log = log
        self.service_of = service_of
        self._lock = threading.Lock()
        self._next = 0
        self._counts: dict[str, Counts] = {}

    def _entry(self, service: str) -> Counts:
        found = self._counts.get(service)
        if found is None:
            found = self._counts[service] = (set(), set(), set())
        return found

    def _read(self, number: int) -> None:
        for event in self.log.events_of(number):
            path: str = event["path"]
            if event["kind"] == "search":
                continue
            if path.startswith(START) and path.endswith("/apply"):
                code = path[len(START) : -len("/apply")]
                if code and "/" not in code:
                    self._entry(code)[0].add(event["who"])
            elif path.startswith("/cases/") and path.endswith(CONFIRMATION):
                number_ = path[len("/cases/") : -len(CONFIRMATION)]
                service = self.service_of(number_)
                if service is not None:
                    _, submitted, cases = self._entry(service)
                    submitted.add(event["who"])
                    cases.add(number_)

    def __call__(self) -> dict[str, Counts]:
        """The counts over every kept event (batches written since the last call are read)."""
        with self._lock:
            self.log.flush()
            self._next = max(self._next, self.log.first_kept)
            while self._next < self.log.size:
                self._read(self._next)
                self._next += 1
            return {k: (set(a), set(b), set(c)) for k, (a, b, c) in self._counts.items()}
