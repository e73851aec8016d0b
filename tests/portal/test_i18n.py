"""Languages: every message of the portal's templates and code has a Chinese translation, and
every page renders in Chinese (the default) and in English, saying so in ``<html lang>``."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from babel.messages.extract import extract_from_dir

from conftest import Client, Site, pages_to_visit
from govchain.portal import i18n

PORTAL = Path(str(resources.files("govchain.portal")))
"""The portal package's folder (templates, code, catalogues)."""
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
"""How Babel reads each kind of file."""
OPTIONS = {
    "**/templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "trim_blocks": "True",
        "lstrip_blocks": "True",
    }
}
"""The templates' syntax (as ``web.environment`` sets it)."""
KEYWORDS: dict[str, None] = {"_": None, "gettext": None, "N_": None}
"""Marks of a message: ``_``/``gettext`` translate, ``N_`` (``messages.py``) only marks."""
HTML_LANG = re.compile(r"<html\b[^>]*\blang=\"([^\"]+)\"")
CJK = re.compile(r"[\u4e00-\u9fff]")


def extracted() -> dict[str, list[str]]:
    """Every message id of the portal, with where it is used (``file:line``)."""
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PORTAL), METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def test_the_extraction_finds_the_templates_and_the_code() -> None:
    messages = extracted()
    files = {where.split(":")[0] for places in messages.values() for where in places}
    assert "templates/base.html" in files and "messages.py" in files
    assert "Log in" in messages and "supplement_requested" in messages
    assert len(messages) > 50


def test_every_message_has_a_chinese_translation() -> None:
    catalogue = i18n.catalogue("zh")
    missing, empty, fuzzy = [], [], []
    for msgid, places in sorted(extracted().items()):
        entry = catalogue.get(msgid)
        where = f"{msgid!r} ({', '.join(places[:3])})"
        if entry is None:
            missing.append(where)
        elif not (entry.string if isinstance(entry.string, str) else all(entry.string)):
            empty.append(where)
        elif entry.fuzzy:  # gettext does not use a fuzzy translation: it shows English
            fuzzy.append(where)
    report = [
        *(f"no Chinese translation: {m}" for m in missing),
        *(f"empty translation: {m}" for m in empty),
        *(f"fuzzy (unused) translation: {m}" for m in fuzzy),
    ]
    assert not report, f"{len(report)} messages:\n" + "\n".join(report)


def test_no_translation_in_the_catalogues_is_empty() -> None:
    catalogue = i18n.catalogue("zh")
    empty = [m.id for m in catalogue if m.id and not m.string]
    assert not empty, empty
    assert len(catalogue) > 50


def test_the_translations_are_used() -> None:
    zh = i18n.translations("zh")
    assert zh.gettext("Log in") == i18n.catalogue("zh")["Log in"].string
    assert CJK.search(zh.gettext("Log in"))
    assert i18n.translations("en").gettext("Log in") == "Log in"


def render_all(c: Client, paths: list[str]) -> dict[str, str]:
    """GET every page; return ``path → <html lang>``."""
    langs = {}
    for path in paths:
        r = c.get(path)
        assert r.status_code in (200, 403, 404), (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html"), path
        found = HTML_LANG.search(r.text)
        assert found, f"{path} has no <html lang>"
        langs[path] = found.group(1)
        title = re.search(r"<title>(.*?)</title>", r.text, re.S)
        assert title and title.group(1).strip(), f"{path} has no title"
    return langs


def test_every_page_renders_in_both_languages(site: Site) -> None:
    pages = pages_to_visit(site)
    for who, paths in pages.items():
        c = site.client()
        if who != "anonymous":
            c.login(site.logins["citizen" if who == "citizen" else "market/officer"])
        zh = render_all(c, paths)
        assert set(zh.values()) == {"zh-CN"}, zh  # Chinese first
        home = c.get("/").text
        assert CJK.search(re.search(r"<title>(.*?)</title>", home, re.S).group(1))  # type: ignore[union-attr]
        switched = c.get("/lang/en", params={"next": paths[-1]})
        assert (switched.status_code == 303 and switched.headers["location"] == paths[-1]) or (
            "%" in switched.headers["location"]
        )
        en = render_all(c, paths)  # remembered in the cookie
        assert set(en.values()) == {"en"}, en
        assert "Log in" in c.get("/login").text or "Log out" in c.get("/").text
        back = c.get("/lang/zh", params={"next": "/"})
        assert back.status_code == 303
        assert HTML_LANG.search(c.get("/").text).group(1) == "zh-CN"  # type: ignore[union-attr]


def test_the_browser_language_is_the_default_choice(site: Site) -> None:
    c = site.client()
    english = c.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert HTML_LANG.search(english.text).group(1) == "en"  # type: ignore[union-attr]
    other = c.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert HTML_LANG.search(other.text).group(1) == "zh-CN"  # type: ignore[union-attr]
    c.get("/lang/zh")
    chosen = c.get("/", headers={"Accept-Language": "en-GB"})
    assert HTML_LANG.search(chosen.text).group(1) == "zh-CN"  # type: ignore[union-attr]
