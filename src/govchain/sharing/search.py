"""Catalogue search in Chinese and English.

Text is lower-cased and cut into words with rjieba (jieba's search mode, which also yields the
shorter words inside long ones: 社会保险 -> 社会, 保险, 社会保险); English words pass through as
they are. A resource scores 3 per query word found in its id or name, 1 per word found in its
description, legal basis or field names and descriptions, and 2 more if the whole query appears
in its name or description as typed.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from govchain.sharing.model import Resource

MAX_QUERY = 200
"""Longest accepted query."""


@lru_cache(maxsize=4096)
def tokens(text: str) -> frozenset[str]:
    """Return the search words of ``text``."""
    # Imported on the first search: loading jieba's dictionary takes ~0.2 s and ~30 MiB, which
    # every node process paid at start-up whether or not anyone searched the catalogue.
    import rjieba

    words = rjieba.cut_for_search(text.lower())
    return frozenset(w for w in (w.strip() for w in words) if w and any(c.isalnum() for c in w))


def _texts(r: Resource) -> tuple[str, str]:
    title = f"{r.id.replace('.', ' ').replace('_', ' ')} {r.name}"
    body = " ".join(
        [r.description, r.legal_basis]
        + [f"{f.name.replace('_', ' ')} {f.description}" for f in r.fields]
    )
    return title, body


def search(resources: Iterable[Resource], query: str) -> list[tuple[int, Resource]]:
    """Return ``(score, resource)`` of every resource matching ``query``, best first."""
    wanted = tokens(query.strip())
    q = query.strip().lower()
    hits: list[tuple[int, Resource]] = []
    for r in resources:
        title, body = _texts(r)
        t_words, b_words = tokens(title), tokens(body)
        score = sum(3 if w in t_words else 1 if w in b_words else 0 for w in wanted)
        if q and (q in r.name.lower() or q in r.description.lower()):
            score += 2
        if score:
            hits.append((score, r))
    hits.sort(key=lambda h: (-h[0], h[1].id))
    return hits
