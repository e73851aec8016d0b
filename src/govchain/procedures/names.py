"""Enterprise names (企业名称): structure, forbidden words and uniqueness in a registration area.

Rules applied, from 《企业名称登记管理规定》 (State Council, 2020) and its 实施办法 (SAMR, 2023):

* A name is administrative division + trade name (字号) + industry or business feature +
  organisational form (art. 6). This registry asks for all four parts: it records one main
  industry per enterprise, so the cross-industry exemption of art. 6 is not offered.
* The division is one of the registration area, at county level or above (art. 7), full
  (``杭州市``) or without its suffix (``杭州``). A district (市辖区) is used only after its city
  (``杭州市西湖区``). The division may instead follow the trade name, in brackets
  (``恒瑞（杭州）科技有限公司``).
* Standard Chinese characters only (art. 5): no Latin letters, digits, punctuation or
  traditional forms; brackets only around a division or a partnership's form.
* The trade name has two or more characters (art. 8) and is not itself a division or an
  industry word. The industry words are taken from a vocabulary of GB/T 4754-style terms.
* No word that harms national dignity, misuses the names of the Party, state organs or armed
  forces, or may mislead the public (art. 11, 12 and the 禁限用规则): ``FORBIDDEN_WORDS``.
* Within one registration authority a name may not repeat the trade name of a registered name
  of the same industry (art. 17); ``name_key`` is that comparison made deterministic.

Every check is a dictionary lookup per position of the name: cost grows with its length only.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from govchain.errors import InvalidInput
from govchain.procedures.divisions import HANGZHOU_DIVISIONS as HANGZHOU_DIVISIONS
from govchain.procedures.divisions import DivisionIndex, division_index
from govchain.procedures.name_words import (
    FORBIDDEN_REASONS,
    FORMS,
    INDUSTRY_WORDS,
    TRADITIONAL,
)

FORBIDDEN_WORDS: frozenset[str] = frozenset(FORBIDDEN_REASONS)
"""Words refused anywhere in a name outside its division (reasons in ``FORBIDDEN_REASONS``)."""

MAX_NAME_LENGTH = 50
"""Longest name this registry accepts, in characters."""
MIN_TRADE_NAME = 2
"""Fewest characters of a trade name (art. 8)."""

_OPEN, _CLOSE = "（", "）"
_BRANCH = "分公司"
_COMPANY_FORMS = ("股份有限公司", "有限责任公司", "有限公司")
_FORBIDDEN_LENGTHS = tuple(sorted({len(w) for w in FORBIDDEN_WORDS}))
_INDUSTRY_MAX = max(len(w) for w in INDUSTRY_WORDS)


class NameRefused(InvalidInput):
    """An enterprise name is refused; ``reason`` is ``structure``, ``forbidden_word``,
    ``length``, ``characters``, ``division`` or ``taken`` and ``word`` names the culprit."""

    code = "name_refused"

    def __init__(self, message: str, *, reason: str, word: str = "") -> None:
        super().__init__(message, reason=reason, word=word)
        self.reason = reason
        self.word = word


@dataclass(frozen=True, slots=True)
class NameParts:
    """An enterprise name split into its parts."""

    division: str
    """Full name of the most specific division in the name (``西湖区`` for ``杭州市西湖区``)."""
    division_code: str
    """Its GB/T 2260 code."""
    trade_name: str
    """The trade name (字号)."""
    industry_words: str
    """The industry or business feature (``餐饮管理``)."""
    form: str
    """The organisational form (``有限公司``, ``合伙企业（有限合伙）``, ``分公司`` ...)."""
    branch: str = ""
    """For a branch (分公司): its place between the company's name and ``分公司`` (may be empty)."""


def _is_hanzi(ch: str) -> bool:
    """Whether ``ch`` is a CJK unified ideograph (basic block or extension A)."""
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def _check_characters(name: str) -> None:
    """Refuse any character but standard Chinese characters and brackets."""
    for ch in name:
        if ch in TRADITIONAL:
            raise NameRefused(
                f"use the standard (simplified) character {TRADITIONAL[ch]} instead of {ch}",
                reason="characters",
                word=ch,
            )
        if not (_is_hanzi(ch) or ch in (_OPEN, _CLOSE)):
            raise NameRefused(
                f"an enterprise name uses Chinese characters only, not {ch!r}",
                reason="characters",
                word=ch,
            )


def _scan_forbidden(text: str) -> None:
    """Refuse the first forbidden word found in ``text``."""
    for i in range(len(text)):
        for n in _FORBIDDEN_LENGTHS:
            word = text[i : i + n]
            if word in FORBIDDEN_REASONS:
                raise NameRefused(
                    f"the word {word} may not be used: {FORBIDDEN_REASONS[word]}",
                    reason="forbidden_word",
                    word=word,
                )


def _segmentable(text: str) -> list[bool]:
    """``ok[i]``: whether ``text[i:]`` is a sequence of industry words (``ok[-1]`` is true)."""
    n = len(text)
    ok = [False] * (n + 1)
    ok[n] = True
    for i in range(n - 1, -1, -1):
        ok[i] = any(
            ok[i + k] and text[i : i + k] in INDUSTRY_WORDS
            for k in range(2, min(_INDUSTRY_MAX, n - i) + 1)
        )
    return ok


def _industry_start(text: str) -> int:
    """Index where the industry words begin: the longest suffix made of industry words that
    leaves at least two characters of trade name (-1 if none; 0 or 1 if too little is left)."""
    ok = _segmentable(text)
    starts = [i for i in range(len(text)) if ok[i]]
    good = [i for i in starts if i >= MIN_TRADE_NAME]
    return good[0] if good else (starts[-1] if starts else -1)


def _split_form(name: str) -> tuple[str, str]:
    """Return (name without its form, form); refuse a name without one."""
    for form in FORMS:  # longest first
        if name.endswith(form) and len(name) > len(form):
            return name[: -len(form)], form
    raise NameRefused(
        "the name must end with an organisational form such as 有限公司",
        reason="structure",
        word="form",
    )


def _division_error(body: str, area: DivisionIndex) -> NameRefused:
    """The refusal for a body that starts with no division of the area."""
    for n in range(3, min(8, len(body)) + 1):
        head = body[:n]
        if head in area.districts:
            return NameRefused(
                f"the district {head} must follow its city's name (e.g. 杭州市{head})",
                reason="division",
                word=head,
            )
        if head.endswith(("省", "市", "县")):
            return NameRefused(
                f"{head} is not a division of this registration area", reason="division", word=head
            )
    return NameRefused(
        "the name must begin with the division (e.g. 杭州) or give it in brackets after the "
        "trade name",
        reason="structure",
        word="division",
    )


def _parse_body(body: str, form: str, area: DivisionIndex) -> NameParts:
    """Split ``division + trade name + industry words`` (the name without its form)."""
    lead = next(
        (
            body[:n]
            for n in range(min(area.longest, len(body)), 1, -1)
            if body[:n] in area.spellings
        ),
        "",
    )
    rest = body[len(lead) :]
    bracket, split_at = "", -1
    if _OPEN in rest or _CLOSE in rest:
        i, j = rest.find(_OPEN), rest.find(_CLOSE)
        if i < 1 or j < i or rest.count(_OPEN) > 1 or rest.count(_CLOSE) > 1:
            raise NameRefused(
                "brackets may only enclose a division placed after the trade name",
                reason="characters",
                word=rest,
            )
        bracket, after = rest[i + 1 : j], rest[j + 1 :]
        rest, split_at = rest[:i] + after, (i if after else -1)
        if lead:
            raise NameRefused(
                f"the name gives its division twice ({lead}, （{bracket}）)",
                reason="division",
                word=bracket,
            )
        if bracket not in area.spellings:
            raise NameRefused(
                f"（{bracket}） is not a division of this registration area",
                reason="division",
                word=bracket,
            )
    _scan_forbidden(rest)
    if not lead and not bracket:
        raise _division_error(body, area)
    division, code = area.spellings[lead or bracket]
    if split_at >= 0:  # 恒瑞（杭州）科技: what follows the bracket is the industry part
        start = split_at if _segmentable(rest[split_at:])[0] else -1
    else:
        start = _industry_start(rest)
    if start < 0:
        raise NameRefused(
            "the name must state the industry or business feature (e.g. 科技, 餐饮管理) before "
            "the organisational form",
            reason="structure",
            word="industry",
        )
    trade, industry_words = rest[:start], rest[start:]
    if not trade:
        raise NameRefused("the name has no trade name", reason="structure", word="trade_name")
    if len(trade) < MIN_TRADE_NAME:
        raise NameRefused(
            "the trade name needs at least two Chinese characters", reason="length", word=trade
        )
    if trade in area.places or trade in INDUSTRY_WORDS:
        raise NameRefused(
            f"{trade} is a division or industry word and cannot be the trade name",
            reason="structure",
            word="trade_name",
        )
    return NameParts(division, code, trade, industry_words, form)


def parse_name(name: str, divisions: Mapping[str, str]) -> NameParts:
    """Split an enterprise name into its parts, checking it against the rules of this module
    for a registration area given as ``{division name: GB/T 2260 code}``; raise ``NameRefused``
    naming the rule broken."""
    text = name.strip().replace("(", _OPEN).replace(")", _CLOSE)
    _check_characters(text)
    if len(text) > MAX_NAME_LENGTH:
        raise NameRefused(
            f"an enterprise name has at most {MAX_NAME_LENGTH} characters, not {len(text)}",
            reason="length",
            word=text,
        )
    area = division_index(divisions)
    body, form = _split_form(text)
    if form != _BRANCH:
        return _parse_body(body, form, area)
    # A branch: its company's full name, maybe a place, then 分公司 (…科技有限公司西湖分公司).
    cut = max(body.rfind(f) + len(f) if f in body else -1 for f in _COMPANY_FORMS)
    if cut < 0:
        raise NameRefused(
            "a branch name begins with the full name of its company",
            reason="structure",
            word="form",
        )
    company, place = body[:cut], body[cut:]
    _scan_forbidden(place)
    parent = parse_name(company, divisions)
    division, code = area.places.get(place, (parent.division, parent.division_code))
    return NameParts(division, code, parent.trade_name, parent.industry_words, _BRANCH, place)


def normalise_trade_name(name: str) -> str:
    """Return ``name`` folded for comparison: compatibility forms unified (NFKC), traditional
    forms of common characters mapped to the standard ones, spaces and brackets removed."""
    folded = unicodedata.normalize("NFKC", name)
    return "".join(TRADITIONAL.get(ch, ch) for ch in folded if not ch.isspace() and ch not in "()")


def name_key(parts: NameParts) -> str:
    """Return the key a registry stores to keep names unique in its area: the normalised trade
    name and industry words (division and form do not make two names different)."""
    key = f"{normalise_trade_name(parts.trade_name)}|{normalise_trade_name(parts.industry_words)}"
    if parts.form == _BRANCH:
        key += f"|{_BRANCH}|{normalise_trade_name(parts.branch)}"
    return key


def check_name(name: str, divisions: Mapping[str, str], taken: Collection[str]) -> NameParts:
    """Check a proposed name for an area (``{division name: GB/T 2260 code}``) against the
    rules and against ``taken`` (the ``name_key`` of every registered or reserved name);
    return its parts or raise ``NameRefused``."""
    parts = parse_name(name, divisions)
    if name_key(parts) in taken:
        raise NameRefused(
            f"a name with the trade name {parts.trade_name} and the industry words "
            f"{parts.industry_words} is already registered in this area",
            reason="taken",
            word=parts.trade_name,
        )
    return parts
