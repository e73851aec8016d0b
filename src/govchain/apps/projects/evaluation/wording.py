"""Rewording: one archetype function, name or purpose, said another way each time.

A function sentence is drawn from its parts (``archetypes.Function``): a verb (its own
alternatives or a synonym from the vocabulary's table), an object, a manner, a result clause
and an actor, each one of its alternatives; then one of eleven sentence patterns used in
government project documents::

    支持{a}{m}{v}{o}        提供{m}{v}{o}的功能 / 提供{o}{v}功能   实现{o}的{m}{v}
    {a}可{m}{v}{o}          具备{m}{v}{o}的能力                  对{o}进行{m}{v}
    {o}{m}{v}               {o}可由{a}{m}{v}                     面向{a}提供{o}{m}{v}服务
    {m}{v}{o}               {o}{v}管理

Around that: a qualifier (全省/全市 before the object; 在线, 实时, 移动端 ... before the verb
when the vocabulary says it fits), a prepositional manner (依托…, 通过…, 按照…) moved to the
front as its own clause, and the result clause kept or left out. Patterns whose grammar a
manner would break (实现{o}的{m}{v} with 向居民…) are not drawn for it.
"""

from __future__ import annotations

import random
import re

from govchain.apps.projects.evaluation.archetypes import Archetype, Function, Wording

FRONTABLE = (
    "依托",
    "通过",
    "基于",
    "按照",
    "根据",
    "结合",
    "利用",
    "针对",
    "围绕",
    "依据",
    "运用",
    "对接",
)
"""Prepositions of a manner that may stand as a clause of its own before the sentence."""
ADVERB_TAILS = (
    "自动",
    "实时",
    "统一",
    "在线",
    "智能",
    "批量",
    "动态",
    "定期",
    "全程",
    "即时",
    "快速",
)
"""Adverbs a manner may end with, kept before the verb when the manner moves to the front."""
NOT_AFTER_OBJECT = ("对", "与", "和", "同", "给")
"""Manners starting with these cannot follow the object (their own object would be lost)."""
SCOPE_NOUNS = (
    "数据",
    "信息",
    "指标",
    "档案",
    "态势",
    "情况",
    "资源",
    "分布",
    "名录",
    "台账",
    "底数",
)
"""Endings of objects that a whole area (全省 / 全市) may qualify: data, not single documents."""
NO_SCOPE = ("全", "省", "市", "本", "个人", "各")
"""Beginnings of objects that already say whose they are."""
SHORT_MANNER = 6
"""Longest manner that still reads well inside a noun phrase (实现…的{m}{v})."""
PREPOSITIONS = (
    "在",
    "按",
    "通过",
    "向",
    "从",
    "对",
    "与",
    "和",
    "同",
    "给",
    "由",
    "为",
    "经",
    "以",
)
"""Beginnings of manners that are prepositional phrases: not inside a noun phrase either."""
ACTOR_PATTERNS = frozenset({"can", "by", "for"})
"""Patterns that need an actor."""
OPENINGS = {"support": "支持", "provide": "提供", "realise": "实现", "capable": "具备"}
"""First word of patterns that open with one: not again at the start of the result clause."""
PATTERNS = (
    ("support", 3),
    ("provide", 2),
    ("realise", 2),
    ("can", 2),
    ("capable", 1),
    ("jinxing", 2),
    ("nominal", 2),
    ("by", 1),
    ("for", 1),
    ("bare", 2),
    ("manage", 1),
)
"""Sentence patterns and their weights."""
_MARK = re.compile(r"\{([^{}]+)\}")


def verb_choices(f: Function, wording: Wording) -> tuple[str, ...]:
    """Return the verbs ``f`` may be said with: its own, then the table's synonyms."""
    out = list(f.verbs)
    entry = None if f.fixed_verb else wording.verbs.get(f.verbs[0])
    if entry is not None:
        out += [s for s in entry.synonyms if s not in out]
    return tuple(out)


def plain_sentence(f: Function) -> str:
    """Return the plain wording of ``f``: every first alternative, pattern 支持…."""
    m = f.manners[0] if f.manners else ""
    a = f.actors[0] if f.actors else ""
    r = f"，{f.results[0]}" if f.results else ""
    return f"支持{a}{m}{f.verbs[0]}{f.objects[0]}{r}"


def _allowed(pattern: str, manner: str, actor: str, jinxing: bool, has_manner: bool) -> bool:
    """Whether ``pattern`` reads well with this manner (``has_manner``: a real one, not a
    mode word), actor and verb."""
    if pattern in ACTOR_PATTERNS and not actor:
        return False
    short = not has_manner or (
        len(manner) <= SHORT_MANNER and not manner.startswith(FRONTABLE + PREPOSITIONS)
    )
    if pattern in ("realise", "for") and not short:
        return False
    if pattern == "jinxing" and not (jinxing and short):
        return False
    if pattern in ("nominal", "by") and manner.startswith(NOT_AFTER_OBJECT):
        return False
    return not (pattern == "manage" and manner)


def _main(pattern: str, a: str, m: str, v: str, o: str, rng: random.Random) -> str:
    """The main clause of ``pattern``."""
    if pattern == "support":
        return f"支持{a}{m}{v}{o}"
    if pattern == "provide":
        if m:
            return f"提供{m}{v}{o}的功能"
        return f"提供{o}{v}{rng.choice(('功能', '服务'))}"
    if pattern == "realise":
        return f"实现{o}的{m}{v}"
    if pattern == "can":
        return f"{a}可{m}{v}{o}"
    if pattern == "capable":
        return f"具备{m}{v}{o}的能力"
    if pattern == "jinxing":
        return f"对{o}进行{m}{v}"
    if pattern == "nominal":
        return f"{o}{m}{v}"
    if pattern == "by":
        return f"{o}可由{a}{m}{v}"
    if pattern == "for":
        return f"面向{a}提供{o}{m}{v}服务"
    if pattern == "bare":
        return f"{m}{v}{o}"
    return f"{o}{v}管理" if not v.endswith("管理") else f"{o}{v}"


def _repeats(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` share a two-character word (统一 + 统一管理 reads 统一统一管理)."""
    return any(a[i : i + 2] in b for i in range(len(a) - 1))


def render_function(f: Function, rng: random.Random, wording: Wording, scope: str) -> str:
    """Return one wording of ``f``; ``scope`` (全省 or 全市) may qualify its object."""
    entry = None if f.fixed_verb else wording.verbs.get(f.verbs[0])
    obj = rng.choice(f.objects)
    manner = rng.choice(f.manners) if f.manners and rng.randrange(5) else ""
    if _repeats(manner, obj):
        manner = ""
    verbs = [v for v in verb_choices(f, wording) if not _repeats(manner, v)] or list(f.verbs)
    verb = rng.choice(verbs)
    actor = rng.choice(f.actors) if f.actors else ""
    result = rng.choice(f.results) if f.results and rng.randrange(5) else ""
    front = ""
    if manner.startswith(FRONTABLE) and len(manner) >= 4 and rng.randrange(3) == 0:
        # 对接公安数据自动 -> 对接公安数据，…自动核验…: the adverb stays with the verb.
        tail = next((t for t in ADVERB_TAILS if manner.endswith(t)), "")
        front, manner = manner[: len(manner) - len(tail)], tail
    has_manner = bool(manner)
    if not manner and entry is not None and entry.modes and rng.randrange(3) == 0:
        mode = rng.choice(entry.modes)
        if not _repeats(mode, verb + obj):
            manner = mode
    if rng.randrange(4) == 0 and obj.endswith(SCOPE_NOUNS) and not obj.startswith(NO_SCOPE):
        obj = scope + obj
    jinxing = entry.jinxing if entry is not None else False
    patterns = [
        (p, w)
        for p, w in PATTERNS
        if _allowed(p, manner, actor, jinxing, has_manner)
        and not (result and result.startswith(OPENINGS.get(p, "-")))
    ]
    pattern = rng.choices([p for p, _ in patterns], weights=[w for _, w in patterns])[0]
    if pattern == "support" and actor and rng.randrange(3) == 0:
        actor = ""
    main = _main(pattern, actor, manner, verb, obj, rng)
    if front:
        main = f"{front}，{main}"
    return f"{main}，{result}" if result else main


def render_name(arch: Archetype, rng: random.Random, wording: Wording, city: str) -> str:
    """Return a name for a system of kind ``arch`` run by ``city`` ('' for the province)."""
    name = rng.choice(arch.names)
    suffix = next((s for s in wording.name_suffixes if name.endswith(s)), "")
    if suffix and rng.randrange(2):
        core = name[: -len(suffix)]
        fitting = [s for s in wording.name_new_suffixes if not core.endswith(s[:2])]
        name = core + rng.choice(fitting)
    styled = any(s in name for s in wording.name_styles)
    if suffix and not styled and rng.randrange(4) == 0:
        name = rng.choice(wording.name_styles) + name
        styled = True
    if city:
        return city + name if rng.randrange(4) else name
    if rng.randrange(2):
        prefixes = [p for p in wording.name_province_prefixes if not (styled and "统一" in p)]
        name = rng.choice(prefixes) + name
    return name


def render_purpose(arch: Archetype, rng: random.Random, wording: Wording, city: str) -> str:
    """Return a wording of ``arch``'s purpose for ``city`` ('' for the province)."""

    def pick(match: re.Match[str]) -> str:
        return rng.choice(wording.purpose_words.get(match.group(1), (match.group(1),)))

    body = _MARK.sub(pick, arch.purpose)
    if city:
        body = body.replace("全省", "全市")
    if rng.randrange(5) < 2:
        # Two 为… clauses in a row read badly: a purpose of that kind takes another lead.
        leads = [s for s in wording.purpose_leads if not (body[0] == s[0] == "为")]
        body = rng.choice(leads) + body
    if rng.randrange(5) < 2:
        body += rng.choice(wording.purpose_closings)
    return body


def plain_purpose(arch: Archetype) -> str:
    """Return ``arch``'s purpose with every marked word as written."""
    return _MARK.sub(lambda m: m.group(1), arch.purpose)
