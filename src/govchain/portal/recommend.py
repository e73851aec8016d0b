"""Recommendations, "you may also need" (您可能还需要): each suggestion says why it is made.

Pure functions over data, no I/O. Three methods a person can check for themselves:

- **Eligibility.** The permit rules (``apps.enterprise.permits.permits_for``) say from an
  enterprise's industry and business scope which permits and filings it needs, with the law;
  shown as "your enterprise needs it: <the rule's reason>".
- **What people did next.** ``build_model`` counts, over every person's sequence of services
  (their cases in submission order, or the service guides they viewed), how often service B came
  right after service A; shown as "because you applied for A" (or "looked at A").
- **Life-event bundles.** The services published for the same life event (一件事) as one the
  person started; shown as "part of starting a business".

Services the person already has a case for (open or finished) are never suggested. A service
that many people use fills the list when the three methods find fewer than ``k``; ``popular``
alone is the baseline the benchmark compares with. Scores are integers (parts per million of a
certain suggestion), ties broken by service code, so the same data always gives the same list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from govchain.apps.enterprise.permits import permits_for
from govchain.errors import GovchainError

EVENT_NAMES: Mapping[str, Mapping[str, str]] = {
    "start_business": {"zh": "开办企业", "en": "starting a business"},
    "open_premises": {"zh": "开设经营场所", "en": "opening premises"},
    "construction_project": {"zh": "工程建设项目", "en": "a construction project"},
    "close_business": {"zh": "企业注销", "en": "closing a business"},
    "school_enrolment": {"zh": "子女入学", "en": "a child's school enrolment"},
    "buy_home": {"zh": "购房", "en": "buying a home"},
    "newborn": {"zh": "新生儿出生", "en": "a new-born"},
}
"""Life events (一件事) by key, as the reasons name them (zh, en)."""

CERTAIN = 1_000_000
"""Score of a certain suggestion (scores are parts per million of it)."""
ELIGIBLE = 700_000
"""What a permit rule adds: the law says the enterprise needs it."""
BUNDLE = 150_000
"""What sharing a life event with a service the person used adds."""
POPULAR = 100_000
"""What the most used service adds (others in proportion to their users)."""
CONTEXT = 3
"""How many of the person's latest services (and, apart, viewed guides) predict the next."""
PERMIT_CATEGORIES = frozenset({"permit", "filing"})
"""Categories the permit rules decide for an enterprise."""
GONE = frozenset({"deregistering", "deregistered", "revoked", "cancelled"})
"""Registry statuses of an enterprise that needs no new permits."""


POPULAR_REASON: Mapping[str, str] = {
    "zh": "很多人办理了此事项",
    "en": "Many people use this service",
}
"""Reason of a suggestion made only because many people use the service."""


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """What the recommender knows of a published service."""

    code: str
    """Service code."""
    name: Mapping[str, str]
    """Its name (zh, en)."""
    category: str
    """``registration``, ``permit``, ``filing``, ``deregistration`` …"""
    life_events: tuple[str, ...]
    """Life events it is published for."""


@dataclass(frozen=True, slots=True)
class EnterpriseFacts:
    """An enterprise a person acts for, as the registry describes it."""

    name: str
    """Its registered name."""
    industry: str
    """GB/T 4754 industry code."""
    scope: str
    """Business scope (经营范围)."""
    status: str = "active"
    """Registry status (an enterprise being closed needs no new permits)."""


@dataclass(frozen=True, slots=True)
class Attributes:
    """What the recommender may use about a person besides their cases."""

    enterprises: tuple[EnterpriseFacts, ...] = ()
    """Enterprises they act for (legal representative or authorised agent)."""
    viewed: tuple[str, ...] = ()
    """Service guides they viewed, oldest first (from the click log)."""


@dataclass(frozen=True, slots=True)
class Model:
    """Counts learnt from everyone's sequences of services, and the published services."""

    services: Mapping[str, ServiceInfo]
    """Published services by code (only these are suggested)."""
    following: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """For each service A, how many times each service B came right after it."""
    popularity: Mapping[str, int] = field(default_factory=dict)
    """For each service, how many people's sequences hold it."""
    sequences: int = 0
    """Sequences the counts come from."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A service suggested to a person, and why."""

    code: str
    """Service code."""
    reason: Mapping[str, str]
    """Why it is suggested (zh, en)."""
    score: int
    """Integer score (``CERTAIN`` = certain); higher first."""
    method: str
    """``eligibility``, ``next``, ``bundle`` or ``popular``: what gave the reason."""


def service_info(definition: Mapping[str, object]) -> ServiceInfo:
    """The recommender's view of a published service definition."""
    name = definition.get("name")
    events = definition.get("life_events")
    return ServiceInfo(
        code=str(definition["code"]),
        name=dict(name) if isinstance(name, Mapping) else {"zh": str(name), "en": str(name)},
        category=str(definition.get("category", "other")),
        life_events=tuple(str(e) for e in events) if isinstance(events, list | tuple) else (),
    )


def build_model(
    definitions: Iterable[Mapping[str, object]], sequences: Iterable[Sequence[str]]
) -> Model:
    """Count what came next after each service over everyone's ``sequences`` (one per person,
    in order: cases by submission, guide views by time), and how many people used each.

    Services that are not published are left out; a service repeated at once (a guide viewed
    twice) counts once."""
    services = {s.code: s for s in map(service_info, definitions)}
    following: dict[str, Counter[str]] = {}
    popularity: Counter[str] = Counter()
    count = 0
    for seq in sequences:
        known = [c for c in seq if c in services]
        if not known:
            continue
        count += 1
        popularity.update(set(known))
        for a, b in pairwise(known):
            if a != b:
                following.setdefault(a, Counter())[b] += 1
    return Model(
        services=services,
        following={a: dict(c) for a, c in following.items()},
        popularity=dict(popularity),
        sequences=count,
    )


def _name(model: Model, code: str, lang: str) -> str:
    info = model.services.get(code)
    if info is None:
        return code
    other = "en" if lang == "zh" else "zh"
    return info.name.get(lang) or info.name.get(other) or code


def _next_after(
    history: Sequence[str], viewed: Sequence[str], model: Model
) -> dict[str, tuple[int, str, str]]:
    """Per candidate: (score, the service that led to it, ``applied``/``viewed``). The latest
    service weighs most (halved for each step back); a viewed guide weighs half an application.
    The best single ground is kept, so that the reason names one service."""
    out: dict[str, tuple[int, str, str]] = {}
    grounds = [(a, i, "applied") for i, a in enumerate(reversed(history[-CONTEXT:]))]
    grounds += [(a, i + 1, "viewed") for i, a in enumerate(reversed(viewed[-CONTEXT:]))]
    for a, shift, how in grounds:
        nexts = model.following.get(a)
        if not nexts:
            continue
        total = sum(nexts.values())
        for b, n in nexts.items():
            score = (CERTAIN * n // total) >> shift
            if score > out.get(b, (0, "", ""))[0]:
                out[b] = (score, a, how)
    return out


def _eligible(
    attributes: Attributes, model: Model
) -> dict[str, tuple[EnterpriseFacts, Mapping[str, str]]]:
    """Per permit or filing an active enterprise of the person needs: the enterprise and the
    rule's reason (the first enterprise in the given order that needs it)."""
    out: dict[str, tuple[EnterpriseFacts, Mapping[str, str]]] = {}
    for ent in attributes.enterprises:
        if ent.status in GONE:
            continue
        try:
            needs = permits_for(ent.industry, ent.scope)
        except GovchainError:
            continue  # an industry code the rules do not know: no rule applies
        for need in needs:
            if need.code in model.services:
                out.setdefault(need.code, (ent, need.why))
    return out


def recommend(
    person_history: Sequence[str], attributes: Attributes, model: Model, k: int = 5
) -> list[Suggestion]:
    """Up to ``k`` services for a person whose cases are ``person_history`` (service codes,
    oldest first), best first, each with its reason; never one they already have a case for."""
    if k <= 0:
        return []
    have = set(person_history)
    eligible = _eligible(attributes, model)
    decided = bool(attributes.enterprises)
    nexts = _next_after(person_history, attributes.viewed, model)
    started = {
        e for c in person_history if c in model.services for e in model.services[c].life_events
    }
    top = max(model.popularity.values(), default=0)
    scored: list[Suggestion] = []
    for code, info in model.services.items():
        if code in have:
            continue
        # Once the rules have spoken for the person's enterprises, a permit they do not name is
        # one the law does not ask of them: what others did next, or a bundle, is no ground
        # for it; it can still come last, as what many people use.
        ruled_out = decided and info.category in PERMIT_CATEGORIES and code not in eligible
        parts: dict[str, int] = {}
        if code in eligible:
            parts["eligibility"] = ELIGIBLE
        if code in nexts and not ruled_out:
            parts["next"] = nexts[code][0]
        shared = sorted(set(info.life_events) & started)
        if shared and not ruled_out:
            parts["bundle"] = BUNDLE
        pop = model.popularity.get(code, 0)
        if pop and top:
            parts["popular"] = POPULAR * pop // top
        if not parts:
            continue
        # A rule of law is the strongest ground there is: shown whenever one applies.
        method = "eligibility" if "eligibility" in parts else max(parts, key=lambda m: parts[m])
        if method == "eligibility":
            ent, why = eligible[code]
            reason = {
                "zh": f"您的企业「{ent.name}」需要：{why.get('zh', '')}",
                "en": f"Your enterprise {ent.name} needs it: {why.get('en', '')}",
            }
        elif method == "next":
            _, origin, how = nexts[code]
            verb = {"applied": ("申请了", "applied for"), "viewed": ("查看了", "looked at")}[how]
            reason = {
                "zh": f"因为您{verb[0]}「{_name(model, origin, 'zh')}」",
                "en": f"Because you {verb[1]} {_name(model, origin, 'en')}",
            }
        elif method == "bundle":
            event = EVENT_NAMES.get(shared[0], {"zh": shared[0], "en": shared[0]})
            reason = {"zh": f"属于「{event['zh']}」一件事", "en": f"Part of {event['en']}"}
        else:
            reason = dict(POPULAR_REASON)
        scored.append(Suggestion(code, reason, sum(parts.values()), method))
    scored.sort(key=lambda s: (-s.score, s.code))
    return scored[:k]


def popular(person_history: Sequence[str], model: Model, k: int = 5) -> list[Suggestion]:
    """The baseline: the ``k`` services most people used, less those the person has."""
    if k <= 0:
        return []
    have = set(person_history)
    top = max(model.popularity.values(), default=0) or 1
    ranked = sorted(
        (c for c in model.popularity if c in model.services and c not in have),
        key=lambda c: (-model.popularity[c], c),
    )
    return [
        Suggestion(c, dict(POPULAR_REASON), POPULAR * model.popularity[c] // top, "popular")
        for c in ranked[:k]
    ]
