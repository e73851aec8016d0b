"""The text features the duplication review compares: words and character bigrams.

A description is normalised (NFKC, lower case), cut into words with rjieba, and also into the
bigrams of its Chinese characters and letters. Words carry the meaning when two texts use the
same terms; bigrams still match when a reworded text splits or joins words differently
(挂号预约 / 预约挂号服务) or uses a term jieba does not know. Both kinds go into one TF-IDF
vector (``w:`` and ``c:`` prefixes keep them apart); words that every government system
description uses (支持, 提供, 实现, 平台 ...) are dropped, since they tell systems apart no
better than punctuation.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

STOPWORDS = frozenset(
    """
    的 了 和 与 及 以及 或 等 对 将 把 为 于 在 由 从 向 按 并 可 能
    能够 可以 进行 开展 实现 支持 提供 具备 具有 包括 包含 涵盖 相关 有关
    各类 各项 各级 全面 统一 一体化 一体 功能 模块 系统 平台 应用 服务平台
    建设 建立 构建 搭建 打造 推进 推动 完善 加强 提升 提高 优化 用于 通过
    基于 面向 满足 需求 工作 业务 管理系统 信息化 信息系统 智慧 数字 数字化
    智能 智能化 全省 全市 省级 市级 县级 区级 其 该 本 此 之 个 项 一 二
    三 等等 同时 即 自动 在线 线上 及时
    """.split()  # noqa: SIM905 (a word list is easier to read and edit as text)
)
"""Words that say nothing about which system a text describes."""


def normalise(text: str) -> str:
    """Return ``text`` in NFKC, lower case."""
    return unicodedata.normalize("NFKC", text).lower()


@lru_cache(maxsize=65536)
def features(text: str) -> tuple[str, ...]:
    """Return the words (``w:``) and character bigrams (``c:``) of ``text``."""
    # Imported here: loading jieba's dictionary costs ~0.2 s, paid only when reviewing.
    import rjieba

    flat = normalise(text)
    out = [
        "w:" + w
        for w in (w.strip() for w in rjieba.cut(flat))
        if w and w not in STOPWORDS and any(c.isalnum() for c in w)
    ]
    for part in _runs(flat):
        out.extend("c:" + part[i : i + 2] for i in range(len(part) - 1))
    return tuple(out)


def _runs(text: str) -> list[str]:
    """Split ``text`` into runs of letters and digits (punctuation and spaces end a run)."""
    runs: list[str] = []
    current: list[str] = []
    for ch in text:
        if ch.isalnum():
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def document(entry: Mapping[str, Any]) -> str:
    """Return the text of a registry entry compared as a whole: name, purpose, functions."""
    parts = [str(entry.get("name", "")), str(entry.get("purpose", ""))]
    parts.extend(str(f) for f in entry.get("functions", ()))
    return "\n".join(parts)


def entry_features(entry: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, ...]]]:
    """Return the features of an entry as a whole (those of ``document``, whose line breaks
    end every word and bigram) and those of each of its functions, cutting each text once."""
    functions = [features(str(f)) for f in entry.get("functions", ())]
    whole = [*features(str(entry.get("name", ""))), *features(str(entry.get("purpose", "")))]
    for f in functions:
        whole.extend(f)
    return whole, functions


def given(features: Any) -> Any:
    """The analyzer of vectorisers fed features already cut (``entry_features``)."""
    return features


def resources(entry: Mapping[str, Any]) -> frozenset[str]:
    """Return the data resources an entry uses or produces, normalised for comparison."""
    names = [*entry.get("uses", ()), *entry.get("produces", ())]
    return frozenset(normalise(str(n)).strip() for n in names if str(n).strip())


def keywords(text: str) -> frozenset[str]:
    """Return the plain word set of ``text`` (the keyword-overlap baseline compares these)."""
    return frozenset(f for f in features(text) if f.startswith("w:"))
