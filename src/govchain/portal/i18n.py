"""Languages of the portal: Chinese first, English available (gettext catalogues, Babel).

Message ids in the templates and code are English; the ``.po`` files of
``locale/zh/LC_MESSAGES/`` (one per area of the portal, merged) give each its Chinese. The
catalogues are read with Babel when the portal starts and compiled in memory (no ``.mo`` files to
keep in step). ``tests/portal/test_i18n.py`` extracts every message
of the templates and code and fails on one without a translation.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from importlib import resources

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("zh", "en")
"""Languages offered, the first the default."""
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
"""Each language in itself, for the switch."""
COOKIE = "govchain_lang"
"""Cookie remembering the choice."""


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """Return the translations of a language (English is the message ids themselves)."""
    if lang == "en" or lang not in LANGUAGES:
        return gettext.NullTranslations()
    merged = catalogue(lang)
    buf = io.BytesIO()
    write_mo(buf, merged)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def catalogue(lang: str) -> Catalog:
    """All ``.po`` files of a language merged into one catalogue."""
    folder = resources.files("govchain.portal").joinpath(f"locale/{lang}/LC_MESSAGES")
    merged = Catalog(locale=lang)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".po"):
            with entry.open("rb") as f:
                for message in read_po(f, locale=lang):
                    if message.id:
                        merged[message.id] = message
    return merged


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language of a request: the remembered choice, else the browser's first offered
    language we have, else Chinese."""
    if cookie in LANGUAGES:
        return str(cookie)
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return LANGUAGES[0]


def text(lang: str, zh_en: object) -> str:
    """Pick a definition's ``{zh, en}`` text in the language (falling back to the other)."""
    if isinstance(zh_en, dict):
        other = "en" if lang == "zh" else "zh"
        return str(zh_en.get(lang) or zh_en.get(other) or "")
    return str(zh_en or "")
