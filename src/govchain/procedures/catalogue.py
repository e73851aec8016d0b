"""The service catalogue (政务服务事项目录): list, show and search service definitions.

A :class:`Catalogue` is an in-memory inverted index over the current version of every published
service definition. The node keeps it up to date as definitions are published: :meth:`add`
replaces an older version of the same code, :meth:`remove` withdraws a service.

Ranking
-------
Words are cut by ``govchain.sharing.search.tokens`` (jieba's search mode, lower-cased), so Chinese
and English text go through one path. English words are also reduced by a crude plural strip and
to British spelling (``permits`` -> ``permit``, ``licenses`` -> ``licence``), on both the
definitions and the query.

A definition's words are counted per field with a weight: code and names ×3, keywords ×2,
summary, material names, legal basis and step names ×1. A word's count in a field is the number
of that field's texts containing it (one text per material, step or law), times the weight; the
definition's length is the weighted number of words. The score is BM25 (k1 = 1.2, b = 0.75)
over these counts, plus a bonus when the whole query is a definition's name (twice the highest
BM25 the query can reach, so a service searched by its exact name always comes first) or a part
of a name or keyword (once that bound, so 营业执 lifts 营业执照). Scores are multiplied by 1,000
and rounded to integers so that results are stable; ties go to the smaller code.

When no word of the query is in the index at all (an unsegmented or mistyped query such as
防安检), the same ranking runs over the Chinese character bigrams of the query against the
bigrams of the names and keywords (防安 in 消防安全检查).

English function words (of, the, and ...) are not indexed.

A search reads only the posting lists of the query's words, rarest first, and stops bringing in
new candidates once the remaining words cannot lift an unseen definition into the result: its
cost grows with how many definitions hold the query's words, not with the size of the
catalogue. A query made only of words most services hold (许可, permit) still scores all of them.
"""

from __future__ import annotations

import builtins
import copy
import heapq
import math
import re
import threading
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from govchain.errors import Conflict, NotFound, SchemaViolation
from govchain.sharing.search import tokens

MAX_QUERY = 200
"""Longest accepted query, in characters."""
MAX_LIMIT = 200
"""Most hits one search returns."""
K1 = 1.2
"""BM25 term-frequency saturation."""
B = 0.75
"""BM25 length normalisation."""
SCALE = 1000
"""Scores are BM25 times this, rounded to an integer."""
CACHE_DF = 200
"""Words held by at least this many services keep their scores between searches."""
WEIGHTS: Mapping[str, int] = MappingProxyType(
    {"name": 3, "keywords": 2, "summary": 1, "materials": 1, "legal_basis": 1, "steps": 1}
)
"""Weight of a word found in each field."""

# CJK Unified Ideographs, extension A and the compatibility block: the characters bigrams are
# made of (punctuation such as 《》（） breaks a run, so no bigram spans it).
_CJK_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_SPELLING = {"license": "licence", "center": "centre", "defense": "defence"}
# English function words are in most English texts: as query words they would bring most of
# the catalogue into the candidates and weigh next to nothing in the ranking.
_STOPWORDS = frozenset(
    ["a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with"]
)


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result."""

    code: str
    """Service code, e.g. ``330100-QY-0001``."""
    score: int
    """BM25 × 1000 plus the whole-query bonus, rounded; higher is better."""
    name_zh: str
    """Chinese name of the service."""
    name_en: str
    """English name of the service (empty if it has none)."""
    matched: tuple[str, ...]
    """The query words (or bigrams, on the fallback) found in this service, in query order."""


@dataclass(frozen=True, slots=True)
class _Doc:
    """What the index keeps about one definition."""

    code: str
    """Service code."""
    defn: Mapping[str, Any]
    """The definition as added (a private deep copy, read-only at the top level)."""
    version: int
    """Its version."""
    owner: str
    """Owning department."""
    category: str
    """Category, e.g. ``permit``."""
    depts: frozenset[str]
    """Owner and co-handling departments."""
    name_zh: str
    """Chinese name."""
    name_en: str
    """English name."""
    words: dict[str, int]
    """Weighted count of each indexed word."""
    grams: dict[str, int]
    """Count of each Chinese bigram of the names and keywords."""
    names: tuple[str, ...]
    """Names, lower-case with spaces collapsed: an exact-name query."""
    phrases: str
    """Names and keywords, lower-case with spaces collapsed, newline-separated: a query inside
    one of them."""


class _Index:
    """One inverted index: term -> {code: weighted count}, with each document's length."""

    __slots__ = ("_cache", "_norms", "lengths", "postings", "total")

    def __init__(self) -> None:
        self.postings: dict[str, dict[str, int]] = {}
        self.lengths: dict[str, int] = {}
        self.total = 0
        self._norms: dict[str, float] | None = None
        self._cache: dict[str, dict[str, float]] = {}

    def _changed(self) -> None:
        # Every BM25 figure depends on the document count and the average length.
        self._norms = None
        self._cache.clear()

    def insert(self, code: str, counts: Mapping[str, int]) -> None:
        """Index ``counts`` as the document ``code`` (which must not be indexed)."""
        self._changed()
        length = sum(counts.values())
        self.lengths[code] = length
        self.total += length
        for term, n in counts.items():
            self.postings.setdefault(term, {})[code] = n

    def delete(self, code: str, counts: Mapping[str, int]) -> None:
        """Remove the document ``code`` indexed with ``counts``."""
        self._changed()
        self.total -= self.lengths.pop(code)
        for term in counts:
            posting = self.postings[term]
            del posting[code]
            if not posting:
                del self.postings[term]

    def term_scores(self, term: str) -> tuple[Mapping[str, float], float]:
        """Return the BM25 score of ``term`` in each document holding it (not to be changed by
        the caller), and the highest score the term can give (``idf * (k1 + 1)``)."""
        posting = self.postings[term]
        n, df = len(self.lengths), len(posting)
        top = math.log(1.0 + (n - df + 0.5) / (df + 0.5)) * (K1 + 1.0)
        scores = self._cache.get(term)
        if scores is None:
            if self._norms is None:
                avg = self.total / n if self.total else 1.0
                self._norms = {c: K1 * (1.0 - B + B * d / avg) for c, d in self.lengths.items()}
            norms = self._norms
            scores = {code: top * tf / (tf + norms[code]) for code, tf in posting.items()}
            # Words most services hold (许可, permit, 营业执照) are in most queries and are the
            # long lists: keep their scores until the index changes. Short lists are cheaper to
            # recompute than to keep.
            if df >= CACHE_DF:
                self._cache[term] = scores
        return scores, top


def _term(word: str) -> str:
    """Return the index form of a word: English words lose a plural ending, US spellings
    become British, English function words become ``""`` (not indexed); anything else is kept
    as it is."""
    if word.isascii() and word.isalpha():
        if word in _STOPWORDS:
            return ""
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
            word = word[:-2]
        elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        return _SPELLING.get(word, word)
    return word


def _terms(text: str) -> set[str]:
    """Return the index forms of the words of ``text``."""
    return {t for t in map(_term, tokens(text)) if t}


def _bigrams(text: str) -> builtins.list[str]:
    """Return the bigrams of the runs of Chinese characters in ``text``, in order."""
    return [run[i : i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)]


def _flat(text: str) -> str:
    """Lower-case ``text`` and collapse its whitespace (how whole-query matches compare)."""
    return " ".join(text.lower().split())


def _string(value: Any, field: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise SchemaViolation(f"{field} must be a non-empty string", field=field)
    return value


def _texts(value: Any, field: str) -> builtins.list[str]:
    """Return a zh/en text object's texts (``{"zh": ..., "en": ...}``; ``en`` may be absent)."""
    if not isinstance(value, Mapping):
        raise SchemaViolation(f"{field} must be an object with zh and en texts", field=field)
    zh = _string(value.get("zh"), f"{field}.zh")
    return [zh, _string(value.get("en"), f"{field}.en", required=False)]


def _items(defn: Mapping[str, Any], field: str) -> builtins.list[Any]:
    value = defn.get(field, [])
    if not isinstance(value, list):
        raise SchemaViolation(f"{field} must be a list", field=field)
    return value


def _named(defn: Mapping[str, Any], field: str) -> builtins.list[str]:
    """Return the zh and en names of the objects listed in ``field`` (materials, steps)."""
    out: builtins.list[str] = []
    for i, item in enumerate(_items(defn, field)):
        if not isinstance(item, Mapping):
            raise SchemaViolation(f"{field}[{i}] must be an object", field=f"{field}[{i}]")
        out += _texts(item.get("name"), f"{field}[{i}].name")
    return out


def _document(defn: Mapping[str, Any]) -> tuple[str, _Doc]:
    """Read the searched fields of a definition; refuse it with the field at fault."""
    if not isinstance(defn, Mapping):
        raise SchemaViolation("a service definition must be an object", field="")
    code = _string(defn.get("code"), "code")
    version = defn.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SchemaViolation("version must be a positive integer", field="version")
    owner = _string(defn.get("owner"), "owner")
    category = _string(defn.get("category"), "category")
    name_zh, name_en = _texts(defn.get("name"), "name")
    if not _terms(name_zh):
        raise SchemaViolation("name.zh has no searchable word", field="name.zh")
    co = [_string(d, f"co_handlers[{i}]") for i, d in enumerate(_items(defn, "co_handlers"))]
    keywords = [_string(k, f"keywords[{i}]") for i, k in enumerate(_items(defn, "keywords"))]
    laws = [_string(t, f"legal_basis[{i}]") for i, t in enumerate(_items(defn, "legal_basis"))]
    summary = _texts(defn["summary"], "summary") if "summary" in defn else []
    fields = {
        "name": [code, name_zh, name_en],
        "keywords": keywords,
        "summary": summary,
        "materials": _named(defn, "materials"),
        "legal_basis": laws,
        "steps": _named(defn, "steps"),
    }
    words: dict[str, int] = {}
    for field, texts in fields.items():
        weight = WEIGHTS[field]
        for text in texts:
            for term in _terms(text):
                words[term] = words.get(term, 0) + weight
    grams: dict[str, int] = {}
    for text in [name_zh, name_en, *keywords]:
        for gram in set(_bigrams(text)):
            grams[gram] = grams.get(gram, 0) + 1
    names = sorted({_flat(n) for n in (name_zh, name_en) if n.strip()})
    return code, _Doc(
        code=code,
        defn=MappingProxyType(copy.deepcopy(dict(defn))),
        version=version,
        owner=owner,
        category=category,
        depts=frozenset([owner, *co]),
        name_zh=name_zh,
        name_en=name_en,
        words=words,
        grams=grams,
        names=tuple(names),
        phrases="\n".join(names + [_flat(k) for k in keywords]),
    )


def check_query(query: Any) -> str:
    """Return ``query`` stripped, or raise ``SchemaViolation(field="q")`` if it is not a
    string of 1 to ``MAX_QUERY`` characters."""
    if not isinstance(query, str) or not query.strip():
        raise SchemaViolation("the search query must not be empty", field="q")
    if len(query) > MAX_QUERY:
        raise SchemaViolation(f"the search query is longer than {MAX_QUERY} characters", field="q")
    return query.strip()


class Catalogue:
    """The current version of every published service definition, indexed for search.

    Safe to use from several threads: the node adds definitions from its commit thread while
    API requests search."""

    def __init__(self, definitions: Iterable[Mapping[str, Any]] = ()) -> None:
        self._docs: dict[str, _Doc] = {}
        # Codes by owner, category and exact name: filters and the exact-name bonus as set
        # operations rather than a look at every candidate.
        self._by_owner: dict[str, set[str]] = {}
        self._by_category: dict[str, set[str]] = {}
        self._by_name: dict[str, set[str]] = {}
        # Each document's phrases again: the one substring test of the whole-query bonus.
        self._phrases: dict[str, str] = {}
        self._words = _Index()
        self._grams = _Index()
        self._sorted: builtins.list[str] | None = None
        # One lock for writes and reads: dict iteration fails if another thread resizes it.
        self._lock = threading.Lock()
        for defn in definitions:
            self.add(defn)

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, code: object) -> bool:
        return code in self._docs

    def add(self, defn: Mapping[str, Any]) -> None:
        """Index ``defn``, replacing the indexed version of its code if there is one.

        Raises ``SchemaViolation`` (naming the field) if a searched field is malformed, and
        ``Conflict`` if the catalogue already holds a newer version of the service."""
        code, doc = _document(defn)
        with self._lock:
            old = self._docs.get(code)
            if old is not None:
                if old.version > doc.version:
                    raise Conflict(
                        f"service {code} is at version {old.version}, not older {doc.version}",
                        service=code,
                        version=doc.version,
                        current=old.version,
                    )
                self._unindex(code, old)
            self._docs[code] = doc
            self._phrases[code] = doc.phrases
            self._by_owner.setdefault(doc.owner, set()).add(code)
            for name in doc.names:
                self._by_name.setdefault(name, set()).add(code)
            self._by_category.setdefault(doc.category, set()).add(code)
            self._words.insert(code, doc.words)
            self._grams.insert(code, doc.grams)
            self._sorted = None

    def remove(self, code: str) -> None:
        """Withdraw the service ``code`` from the catalogue (``NotFound`` if absent)."""
        with self._lock:
            doc = self._docs.get(code)
            if doc is None:
                raise NotFound(f"no service {code!r} in the catalogue", service=code)
            self._unindex(code, doc)
            del self._docs[code]
            del self._phrases[code]
            self._sorted = None

    def _unindex(self, code: str, doc: _Doc) -> None:
        self._words.delete(code, doc.words)
        self._grams.delete(code, doc.grams)
        keys = [(self._by_owner, doc.owner), (self._by_category, doc.category)]
        for groups, key in keys + [(self._by_name, name) for name in doc.names]:
            groups[key].discard(code)
            if not groups[key]:
                del groups[key]

    def get(self, code: str) -> Mapping[str, Any]:
        """Return the current definition of the service ``code`` (``NotFound`` if absent)."""
        doc = self._docs.get(code)
        if doc is None:
            raise NotFound(f"no service {code!r} in the catalogue", service=code)
        return doc.defn

    def list(
        self, owner: str | None = None, category: str | None = None, dept: str | None = None
    ) -> builtins.list[Mapping[str, Any]]:
        """Return the definitions, sorted by code, of the services owned by ``owner``, of
        ``category``, and handled by ``dept`` (as owner or co-handler); ``None`` matches all."""
        with self._lock:
            if self._sorted is None:
                self._sorted = sorted(self._docs)
            docs = [self._docs[c] for c in self._sorted]
        return [
            d.defn
            for d in docs
            if (owner is None or d.owner == owner)
            and (category is None or d.category == category)
            and (dept is None or dept in d.depts)
        ]

    def search(
        self,
        query: str,
        limit: int = 20,
        owner: str | None = None,
        category: str | None = None,
    ) -> builtins.list[Hit]:
        """Return up to ``limit`` services matching ``query``, best first (ties by code),
        optionally only those owned by ``owner`` or of ``category``.

        Raises ``SchemaViolation`` with ``field="q"`` for an empty or over-long query and
        ``field="limit"`` for a limit outside 1..``MAX_LIMIT``."""
        q = check_query(query)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
            raise SchemaViolation(f"limit must be 1 to {MAX_LIMIT}", field="limit")
        wanted: dict[str, builtins.list[str]] = {}
        for word in tokens(q):
            if term := _term(word):
                wanted.setdefault(term, []).append(word)
        with self._lock:
            index = self._words
            present = sorted(t for t in wanted if t in index.postings)
            if not present:
                index = self._grams
                wanted = {g: [g] for g in _bigrams(q)}
                present = sorted(g for g in wanted if g in index.postings)
            if not present:
                return []
            ranked = self._rank(index, present, list(wanted), _flat(q), limit, owner, category)
            best = [(score, self._docs[code]) for score, code in ranked]
        lowered = q.lower()
        hits = []
        for score, doc in best:
            held = doc.words if index is self._words else doc.grams
            words = {w for t in present if t in held for w in wanted[t]}
            order = sorted(words, key=lambda w: (lowered.find(w), -len(w), w))
            hits.append(Hit(doc.code, score, doc.name_zh, doc.name_en, tuple(order)))
        return hits

    def _rank(
        self,
        index: _Index,
        present: builtins.list[str],
        wanted: builtins.list[str],
        phrase: str,
        limit: int,
        owner: str | None,
        category: str | None,
    ) -> builtins.list[tuple[int, str]]:
        """Return the ``(score, code)`` of the best ``limit`` documents holding one of the
        ``present`` terms, scored as the module docstring says.

        Terms are merged rarest first. Once the ``limit``-th best score so far beats what the
        remaining terms could add to any document not yet seen, those terms only top up the
        documents already held (a dict intersection) instead of bringing in their whole
        posting lists: 食品 + 许可 touches the few hundred 食品 services, not every permit."""
        allowed: set[str] | None = None
        if owner is not None:
            allowed = self._by_owner.get(owner, set())
        if category is not None:
            in_category = self._by_category.get(category, set())
            allowed = in_category if allowed is None else allowed & in_category
        lists = sorted(((*index.term_scores(t), t) for t in present), key=lambda x: (-x[1], x[2]))
        remaining = sum(top for _, top, _ in lists)
        bonus = self._bonus(index, present, wanted, phrase, remaining, allowed)
        scores: dict[str, float] = {}
        topping_up = False
        for i, (contrib, top, _) in enumerate(lists):
            remaining -= top
            if topping_up:
                for code in scores.keys() & contrib.keys():
                    scores[code] += contrib[code]
                continue
            if allowed is not None:
                contrib = {c: v for c, v in contrib.items() if c in allowed}
            if i == 0:
                # The bonus joins after the first term, before any term could be skipped:
                # every document's sum is then the same, whichever terms were skipped.
                scores = dict(contrib)
                get = scores.get
                for code, extra in bonus.items():
                    scores[code] = get(code, 0.0) + extra
            else:
                get = scores.get
                for code, v in contrib.items():
                    scores[code] = get(code, 0.0) + v
            if remaining > 0.0 and len(scores) >= limit:
                kth = heapq.nlargest(limit, scores.values())[-1]
                # A margin of two rounded points: an unseen document then rounds strictly lower.
                topping_up = (kth - remaining) * SCALE > 2.0
        pool = scores.items()
        if len(scores) > limit:
            # Only services within one rounded point of the limit-th best can make the list
            # once scores are rounded and ties go by code.
            floor = (round(heapq.nlargest(limit, scores.values())[-1] * SCALE) - 1) / SCALE
            pool = {c: s for c, s in pool if s >= floor}.items()
        ranked = sorted((-round(score * SCALE), code) for code, score in pool)[:limit]
        return [(-neg, code) for neg, code in ranked]

    def _bonus(
        self,
        index: _Index,
        present: builtins.list[str],
        wanted: builtins.list[str],
        phrase: str,
        bound: float,
        allowed: set[str] | None,
    ) -> dict[str, float]:
        """Return the whole-query bonus of each document holding a ``present`` term whose
        names or keywords contain ``phrase``: ``2 * bound`` if it is a name, else ``bound``.

        Found without looking at every candidate: a Chinese phrase's bigrams are all among the
        bigrams of a text containing it, so only the documents holding its rarest bigram are
        tested; a phrase without any is looked for among the documents holding every query
        word (so an English phrase counts in a name only in whole words)."""
        grams = _bigrams(phrase)
        if grams:
            keys = [self._grams.postings.get(g) for g in grams]
        else:
            keys = [index.postings.get(t) for t in wanted]
        held = sorted((k for k in keys if k is not None), key=len)
        if not held or len(held) < len(keys):
            return {}
        pool: Set[str] = held[0].keys()
        for k in [] if grams else held[1:]:
            pool = pool & k.keys()
        if allowed is not None:
            pool = pool & allowed
        phrases = self._phrases
        found: Set[str] = {code for code in pool if phrase in phrases[code]}
        if grams and found:
            # Only documents holding one of the query's words compete (as in the word index).
            postings = [index.postings[t] for t in present]
            if len(postings) == 1:
                found = found & postings[0].keys()
            else:
                found = {c for c in found if any(c in p for p in postings)}
        out = dict.fromkeys(found, bound)
        for code in self._by_name.get(phrase, set()) & found:
            out[code] = 2 * bound
        return out
