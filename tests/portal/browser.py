"""Helpers of the browser tests: Debian's Chromium driven by Playwright; every page a test
visits is measured, audited and checked at phone width, and some are photographed.

- **Audit.** axe-core (``vendor/axe-4.10.3.min.js``) with the WCAG 2.x A/AA rules up to 2.2.
  It is added to every page with ``BrowserContext.add_init_script``: the browser runs it before
  the page's own scripts, outside the page's Content Security Policy, so the tests see the
  portal with its CSP enforced (``add_script_tag`` would insert an inline script, which the
  CSP refuses, as it should; ``bypass_csp`` would hide CSP breakage from the tests).
- **Weight.** What a page costs to load with an empty cache: the document and every resource
  it loaded (the Resource Timing entries, the larger of bytes transferred and the encoded
  body, so a resource found in the cache counts in full).
- **Phone.** At 390×844 CSS pixels the page must not scroll sideways.
- **Console.** No error (a CSP refusal, a failed script, a 4xx resource) and no exception.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium (``make test`` installs the ``chromium`` package)."""
AXE = Path(__file__).with_name("vendor") / "axe-4.10.3.min.js"
"""axe-core, from npm (``scripts/vendor-assets.sh``)."""
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
"""The axe rules run: WCAG 2.0, 2.1 and 2.2, levels A and AA."""
BLOCKING = ("serious", "critical")
"""Violation impacts that fail a test."""
DESKTOP = {"width": 1280, "height": 800}
"""Desktop viewport."""
PHONE = {"width": 390, "height": 844}
"""Phone viewport (an iPhone 12 to 15 in CSS pixels)."""
MAX_PAGE_BYTES = 200_000
"""Heaviest a page may be, with everything it loads."""
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "images" / "portal"
"""Where the screenshots go (``docs/portal.md`` shows them)."""

_RUN_AXE = """async (tags) => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
  const brief = (v) => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(' ') + ' — ' + (n.failureSummary || ''))});
  return {violations: r.violations.map(brief), passes: r.passes.length,
          incomplete: r.incomplete.map((v) => v.id)};
}"""
_WEIGHT = """() => {
  const size = (e) => Math.max(e.transferSize || 0, e.encodedBodySize || 0);
  let total = 0;
  for (const e of performance.getEntriesByType('navigation')) total += size(e);
  for (const e of performance.getEntriesByType('resource')) total += size(e);
  return total;
}"""
_FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  return {tag: e.tagName.toLowerCase(), name: e.getAttribute('name') || '',
          type: e.getAttribute('type') || '', href: e.getAttribute('href') || '',
          text: (e.innerText || e.value || '').trim().slice(0, 80),
          action: e.form ? e.form.getAttribute('action') || '' : '',
          // A date input's calendar button is inside the input's own (closed) shadow tree:
          // the browser draws its focus ring, which the page's style cannot reach or hide.
          visible: s.outlineStyle !== 'none' || s.boxShadow !== 'none'
                   || (e.type === 'date' && !e.matches(':focus'))};
}"""


def launch(playwright: Playwright) -> Browser:
    """Start Debian's Chromium headless; fail (never skip) when it is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the portal's browser tests need Debian's Chromium "
            "(`apt-get install chromium`; `make test` installs it). They never download a "
            "browser (no `playwright install`)."
        )
    fonts = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    )
    if not fonts.stdout.strip():
        pytest.fail(
            "no Chinese font is installed: the pages would show boxes instead of Chinese (in "
            "the screenshots too) and their widths would be wrong. Install Debian's "
            "fonts-wqy-microhei (or fonts-noto-cjk)."
        )
    # --no-sandbox: the tests run as root in a container, where Chromium's sandbox cannot start.
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
    )


@dataclass
class Audit:
    """What was found on one page."""

    name: str
    """The step, or the page's path."""
    url: str
    """Its address."""
    status: int
    """HTTP status of the document (0 if unknown)."""
    violations: list[dict[str, Any]]
    """axe violations (id, impact, help, nodes)."""
    passes: int
    """axe rules that passed."""
    incomplete: list[str]
    """axe rules that need a person to judge."""
    weight: int
    """Bytes of the page and everything it loaded (empty cache)."""
    phone_width: int
    """``scrollWidth`` of the document at 390 CSS pixels wide."""
    console: list[str]
    """Console errors and uncaught exceptions since the previous audit."""

    def problems(self) -> list[str]:
        """Why this page fails (empty when it does not)."""
        out = [
            f"{self.name} ({self.url}): axe {v['impact']} {v['id']}: {v['help']}: "
            + "; ".join(v["nodes"][:3])
            for v in self.violations
            if v["impact"] in BLOCKING
        ]
        if self.weight >= MAX_PAGE_BYTES:
            out.append(f"{self.name} ({self.url}): {self.weight} bytes (limit {MAX_PAGE_BYTES})")
        if self.phone_width > PHONE["width"]:
            out.append(f"{self.name} ({self.url}): {self.phone_width} px wide on a phone")
        out += [f"{self.name} ({self.url}): console: {c}" for c in self.console]
        return out


@dataclass
class Audits:
    """Every page the browser tests audited (one list for the module)."""

    pages: list[Audit] = field(default_factory=list)
    """In the order visited."""

    def summary(self) -> str:
        """Figures for ``docs/portal.md``."""
        impacts: dict[str, int] = {}
        for a in self.pages:
            for v in a.violations:
                impacts[v["impact"]] = impacts.get(v["impact"], 0) + 1
        heaviest = max(self.pages, key=lambda a: a.weight, default=None)
        lines = [
            f"{len(self.pages)} page views audited ({len({a.name for a in self.pages})} pages), "
            f"axe rules passed per page {min((a.passes for a in self.pages), default=0)}–"
            f"{max((a.passes for a in self.pages), default=0)}, "
            f"violations by impact {impacts or 'none'}",
        ]
        if heaviest is not None:
            lines.append(f"heaviest page {heaviest.name}: {heaviest.weight} bytes")
        lines += [
            f"  {a.name}: {a.status} {a.weight} B, {a.phone_width}px, axe {a.passes} passed, "
            f"{[v['id'] + '/' + str(v['impact']) for v in a.violations]} "
            f"incomplete {a.incomplete}"
            for a in self.pages
        ]
        return "\n".join(lines)


class Visitor:
    """One person in their own browser context (cookies, language), on one tab."""

    def __init__(
        self, browser: Browser, base_url: str, audits: Audits, locale: str = "zh-CN"
    ) -> None:
        self.context = browser.new_context(
            viewport=DESKTOP,  # type: ignore[arg-type]
            locale=locale,
            base_url=base_url,
            accept_downloads=True,
        )
        self.context.add_init_script(path=AXE)
        self.page: Page = self.context.new_page()
        self.base_url = base_url
        self.audits = audits
        self.mine: list[Audit] = []
        self._console: list[str] = []
        self._status = 0
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self._console.append(f"exception {exc}"))
        self.page.on("response", self._on_response)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # An error page (404, 403) is loaded with its status: that is not a broken resource.
        document = message.location.get("url") == self.page.url
        if document and message.text.startswith("Failed to load resource"):
            return
        self._console.append(message.text)

    def _on_response(self, response: Any) -> None:
        if response.request.is_navigation_request() and response.frame == self.page.main_frame:
            self._status = response.status

    # --- moving around ----------------------------------------------------------------------

    def goto(self, path: str, shot: str | None = None) -> Audit:
        """Open a page and audit it."""
        self.page.goto(path)
        return self.check(shot)

    def path(self) -> str:
        """The current page's path and query."""
        return self.page.url.removeprefix(self.base_url)

    def check(self, shot: str | None = None) -> Audit:
        """Audit the page now shown (and save its screenshots as ``<shot>-desktop.png`` and
        ``<shot>-phone.png``)."""
        page = self.page
        page.wait_for_load_state("load")
        weight = int(page.evaluate(_WEIGHT))
        found = page.evaluate(_RUN_AXE, WCAG_TAGS)
        if shot:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SHOTS / f"{shot}-desktop.png")
        page.set_viewport_size(PHONE)  # type: ignore[arg-type]
        try:
            phone_width = int(page.evaluate("document.documentElement.scrollWidth"))
            if shot:
                page.screenshot(path=SHOTS / f"{shot}-phone.png")
        finally:
            page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
        name = shot or re.sub(r"\?.*", "", self.path())
        audit = Audit(
            name,
            page.url,
            self._status,
            found["violations"],
            found["passes"],
            found["incomplete"],
            weight,
            phone_width,
            self._console[:],
        )
        self._console.clear()
        self.audits.pages.append(audit)
        self.mine.append(audit)
        return audit

    def problems(self) -> list[str]:
        """Why the pages this visitor audited fail (empty when none does)."""
        return [p for a in self.mine for p in a.problems()]

    # --- the keyboard -------------------------------------------------------------------------

    def focused(self) -> dict[str, Any] | None:
        """The focused element (tag, name, type, href, text, form action, focus visible)."""
        found: dict[str, Any] | None = self.page.evaluate(_FOCUS)
        return found

    def tab_to(self, matches: Any, limit: int = 80, backwards: bool = False) -> dict[str, Any]:
        """Press Tab (Shift+Tab) until ``matches(focused)`` holds; every element passed on the
        way must show where the focus is (WCAG 2.4.7)."""
        for _ in range(limit):
            self.page.keyboard.press("Shift+Tab" if backwards else "Tab")
            now = self.focused()
            if now is None:
                continue
            assert now["visible"], f"no visible focus on {now} at {self.page.url}"
            if matches(now):
                return now
        raise AssertionError(f"Tab never reached the element on {self.page.url}")

    def close(self) -> None:
        """Close the context."""
        with contextlib.suppress(Error):  # closed already (the browser went first)
            self.context.close()
