"""Recommendations: known answers on a tiny fixed history (with their reasons), eligibility
from an enterprise's industry, life-event bundles, the popularity baseline; and properties:
never a service the person already has a case for, never more than ``k``."""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.apps.enterprise.permits import permits_for
from govchain.portal.recommend import (
    BUNDLE,
    CERTAIN,
    ELIGIBLE,
    POPULAR,
    Attributes,
    EnterpriseFacts,
    Model,
    build_model,
    popular,
    recommend,
)
from govchain.sdk import find_app

REGISTRATION = "330100-DJ-0001"


def definition(code: str, category: str, *events: str) -> dict[str, Any]:
    """A published definition, reduced to what the recommender reads."""
    return {
        "code": code,
        "name": {"zh": f"事项{code}", "en": f"service {code}"},
        "category": category,
        "life_events": list(events),
    }


TINY = [
    definition("A", "registration", "start_business"),
    definition("B", "permit", "start_business"),
    definition("C", "permit", "open_premises"),
    definition("D", "deregistration", "close_business"),
    definition("E", "certification"),
]
"""Five services: registration, two permits, deregistration, a certificate."""
TINY_HISTORY = [["A", "B", "C"], ["A", "B", "D"], ["A", "B", "C"], ["E"], ["A", "X"]]
"""Four people's services in order (X is not published)."""


@cache
def enterprise_definitions() -> list[dict[str, Any]]:
    """The enterprise service's published definitions."""
    return find_app("enterprise").definitions()


def test_the_model_counts_what_came_next_and_who_used_what() -> None:
    model = build_model(TINY, TINY_HISTORY)
    assert model.following == {"A": {"B": 3}, "B": {"C": 2, "D": 1}}
    assert model.popularity == {"A": 4, "B": 3, "C": 2, "D": 1, "E": 1}
    assert model.sequences == 5 and set(model.services) == {"A", "B", "C", "D", "E"}
    assert build_model(TINY, [["C", "C", "D"]]).following == {"C": {"D": 1}}  # a repeat is once


def test_known_answers_on_a_tiny_history() -> None:
    """Worked by hand from TINY_HISTORY: after B, C came next 2 times in 3 and D once; A and B
    are the person's own; E only has its users (1 of the 4 that A has)."""
    model = build_model(TINY, TINY_HISTORY)
    found = recommend(["A", "B"], Attributes(), model, k=5)
    assert [(s.code, s.method, s.score) for s in found] == [
        ("C", "next", CERTAIN * 2 // 3 + POPULAR * 2 // 4),
        ("D", "next", CERTAIN * 1 // 3 + POPULAR * 1 // 4),
        ("E", "popular", POPULAR * 1 // 4),
    ]
    assert found[0].reason == {
        "zh": "因为您申请了「事项B」",
        "en": "Because you applied for service B",
    }
    assert found[2].reason == {"zh": "很多人办理了此事项", "en": "Many people use this service"}
    assert [s.code for s in recommend(["A", "B"], Attributes(), model, k=2)] == ["C", "D"]
    # The previous service weighs half: after A alone, B is what came next.
    first = recommend(["A"], Attributes(), model, k=1)[0]
    assert (first.code, first.method) == ("B", "next")


def test_a_viewed_guide_counts_half_an_application() -> None:
    model = build_model(TINY, TINY_HISTORY)
    found = recommend(["E"], Attributes(viewed=("B",)), model, k=2)
    assert [(s.code, s.method, s.score) for s in found] == [
        ("C", "next", (CERTAIN * 2 // 3 >> 1) + POPULAR * 2 // 4),
        ("D", "next", (CERTAIN * 1 // 3 >> 1) + POPULAR * 1 // 4),
    ]
    assert found[0].reason["en"] == "Because you looked at service B"


def test_eligibility_from_the_enterprises_industry() -> None:
    model = build_model(enterprise_definitions(), [])
    restaurant = EnterpriseFacts("杭州市西湖区味美餐饮有限公司", "6210", "餐饮服务")
    found = recommend([REGISTRATION], Attributes((restaurant,)), model, k=5)
    # GB/T 4754 6210 (正餐服务) needs the food business licence, the fire safety inspection and
    # the sewage discharge licence (data/permit-rules.json); the licence also belongs to
    # starting a business, which the registration began.
    needs = {n.code: n for n in permits_for("6210", "餐饮服务")}
    assert [(s.code, s.score) for s in found] == [
        ("330100-XK-0001", ELIGIBLE + BUNDLE),
        ("330100-XK-0005", ELIGIBLE),
        ("330100-XK-0007", ELIGIBLE),
    ]
    for s in found:
        assert s.method == "eligibility"
        assert (
            s.reason["en"]
            == f"Your enterprise {restaurant.name} needs it: {needs[s.code].why['en']}"
        )
        assert s.reason["zh"] == f"您的企业「{restaurant.name}」需要：{needs[s.code].why['zh']}"
    # Permits it already applied for are not suggested again.
    later = recommend([REGISTRATION, "330100-XK-0001"], Attributes((restaurant,)), model, k=5)
    assert [s.code for s in later] == ["330100-XK-0005", "330100-XK-0007"]
    # An enterprise being closed needs no new permits (and nothing else goes on here).
    closing = EnterpriseFacts(restaurant.name, "6210", "餐饮服务", "deregistering")
    assert recommend([REGISTRATION], Attributes((closing,)), model, k=5) == []


def test_permits_the_rules_do_not_name_only_come_as_popular() -> None:
    """A software company needs no permit: what others did next is no ground for one."""
    sequences = [[REGISTRATION, "330100-XK-0001", "330100-XK-0007"]] * 5
    sequences += [[REGISTRATION, "330100-ZX-0001"]]
    model = build_model(enterprise_definitions(), sequences)
    software = EnterpriseFacts("杭州市滨江区云启科技有限公司", "6513", "软件开发")
    found = recommend([REGISTRATION], Attributes((software,)), model, k=5)
    assert found[0].code == "330100-ZX-0001" and found[0].method == "next"
    assert [s.method for s in found if s.code == "330100-XK-0001"] == ["popular"]
    # Without the enterprise's facts the same history does suggest the permit as the next step.
    blind = recommend([REGISTRATION], Attributes(), model, k=1)[0]
    assert (blind.code, blind.method) == ("330100-XK-0001", "next")


def test_life_event_bundle() -> None:
    model = build_model(enterprise_definitions(), [])
    found = recommend([REGISTRATION], Attributes(), model, k=5)
    # The services published for starting a business, by code (none has users yet).
    assert [s.code for s in found] == [
        "330100-BA-0001",
        "330100-BA-0002",
        "330100-BA-0003",
        "330100-XK-0001",
        "330100-XK-0002",
    ]
    assert {s.method for s in found} == {"bundle"} and {s.score for s in found} == {BUNDLE}
    assert found[0].reason == {"zh": "属于「开办企业」一件事", "en": "Part of starting a business"}
    assert recommend([], Attributes(), model, k=5) == []  # nothing to go on


def test_the_popularity_baseline() -> None:
    model = build_model(TINY, TINY_HISTORY)
    assert [(s.code, s.score) for s in popular(["B"], model, k=3)] == [
        ("A", POPULAR),
        ("C", POPULAR * 2 // 4),
        ("D", POPULAR * 1 // 4),
    ]
    assert popular([], model, k=0) == [] and recommend([], Attributes(), model, k=0) == []


# --- properties ----------------------------------------------------------------------------


@cache
def codes() -> list[str]:
    """The enterprise service's codes, and one that is not published."""
    return [d["code"] for d in enterprise_definitions()] + ["330100-XX-9999"]


INDUSTRIES = ["6210", "5212", "5213", "5251", "6513", "5431", "4710", "8040", "61", "51", "9999"]
SCOPES = [
    "",
    "餐饮服务",
    "食品销售；日用百货销售",
    "仅销售预包装食品",
    "药品零售",
    "第三类医疗器械",
    "道路货物运输",
]


@st.composite
def situations(draw: st.DrawFn) -> tuple[list[str], Attributes, Model, int]:
    """A history of cases, what the person is, a model from others' sequences, and ``k``."""
    code = st.sampled_from(codes())
    history = draw(st.lists(code, max_size=8))
    firms = draw(
        st.lists(
            st.builds(
                EnterpriseFacts,
                st.just("杭州市某某有限公司"),
                st.sampled_from(INDUSTRIES),
                st.sampled_from(SCOPES),
                st.sampled_from(["active", "deregistering"]),
            ),
            max_size=2,
        )
    )
    viewed = draw(st.lists(code, max_size=4))
    sequences = draw(st.lists(st.lists(code, max_size=6), max_size=12))
    k = draw(st.integers(min_value=0, max_value=8))
    model = build_model(enterprise_definitions(), sequences)
    return history, Attributes(tuple(firms), tuple(viewed)), model, k


@settings(max_examples=150, deadline=None)
@given(situations())
def test_never_a_service_the_person_has_and_never_more_than_k(
    situation: tuple[list[str], Attributes, Model, int],
) -> None:
    history, attributes, model, k = situation
    found = recommend(history, attributes, model, k)
    assert len(found) <= k
    assert not {s.code for s in found} & set(history)
    assert len({s.code for s in found}) == len(found)
    assert all(s.code in model.services for s in found)
    assert all(s.reason["zh"] and s.reason["en"] for s in found)
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert found == recommend(list(history), attributes, model, k)  # deterministic
    base = popular(history, model, k)
    assert len(base) <= k and not {s.code for s in base} & set(history)
