"""The service catalogue: list, show and search service definitions in Chinese and English.

Known results on ten definitions written after real matters of a municipal service catalogue,
each with the law and article that grounds it (市场主体登记管理条例 arts. 21, 31 and 33;
食品安全法 art. 35; 公共场所卫生管理条例 art. 8; 药品管理法 art. 51; 道路运输条例
art. 24; 建筑法 art. 7; 消防法 art. 15; 公司法 (2023) art. 239; 母婴保健法 art. 23).

Hypothesis properties: a service is found first by its own Chinese name, and a catalogue
updated step by step (add, new version, remove) answers exactly like one built from scratch.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from govchain.errors import Conflict, NotFound, SchemaViolation
from govchain.procedures import catalogue as catalogue_module
from govchain.procedures.catalogue import MAX_QUERY, Catalogue, Hit


def _m(mid: str, zh: str, en: str) -> dict[str, Any]:
    return {"id": mid, "name": {"zh": zh, "en": en}}


def _step(sid: str, zh: str, en: str, dept: str) -> dict[str, Any]:
    return {"id": sid, "name": {"zh": zh, "en": en}, "dept": dept}


ACCEPT = _step("accept", "受理", "Acceptance", "market")

ESTABLISH: dict[str, Any] = {
    "code": "330100-QY-0001",
    "version": 1,
    "category": "registration",
    "name": {"zh": "企业设立登记", "en": "Enterprise establishment registration"},
    "summary": {
        "zh": "申请设立公司、合伙企业等市场主体，领取营业执照",
        "en": "Register a new company or partnership and obtain its business licence",
    },
    "owner": "market",
    "co_handlers": ["tax", "hrss"],
    "keywords": ["开办企业", "营业执照"],
    "legal_basis": ["《中华人民共和国市场主体登记管理条例》第二十一条"],
    "materials": [
        _m("application", "公司登记（备案）申请书", "Company registration application"),
        _m("articles", "公司章程", "Articles of association"),
        _m("rep_id", "法定代表人身份证明", "Identity document of the legal representative"),
        _m("premises", "住所使用证明", "Proof of business premises"),
    ],
    "steps": [
        ACCEPT,
        _step("review", "审查", "Review", "market"),
        _step("issue", "颁发营业执照", "Issue the business licence", "market"),
    ],
    "life_events": ["start_business"],
}
FOOD: dict[str, Any] = {
    "code": "330100-XK-0101",
    "version": 1,
    "category": "permit",
    "name": {"zh": "食品经营许可", "en": "Food business permit"},
    "summary": {
        "zh": "从事食品销售和餐饮服务活动，应当依法取得食品经营许可",
        "en": "Selling food or running catering services requires a food business permit",
    },
    "owner": "market",
    "co_handlers": [],
    "keywords": ["餐饮", "食品经营许可证"],
    "legal_basis": ["《中华人民共和国食品安全法》第三十五条", "《食品经营许可和备案管理办法》"],
    "materials": [
        _m("application", "食品经营许可申请书", "Food business permit application"),
        _m("licence", "营业执照", "Business licence"),
        _m("rules", "食品安全管理制度", "Food safety management rules"),
        _m("plan", "经营场所平面图", "Floor plan of the business premises"),
    ],
    "steps": [
        ACCEPT,
        _step("inspect", "现场核查", "On-site inspection", "market"),
        _step("decide", "许可决定", "Permit decision", "market"),
    ],
}
HYGIENE: dict[str, Any] = {
    "code": "330100-XK-0201",
    "version": 1,
    "category": "permit",
    "name": {"zh": "公共场所卫生许可", "en": "Public place hygiene permit"},
    "summary": {
        "zh": "宾馆、商场、美容美发等公共场所开业前取得卫生许可证",
        "en": "Hotels, shops and salons need a hygiene permit before opening",
    },
    "owner": "health",
    "keywords": ["卫生许可证"],
    "legal_basis": ["《公共场所卫生管理条例》第八条"],
    "materials": [
        _m("application", "卫生许可申请表", "Hygiene permit application form"),
        _m("licence", "营业执照", "Business licence"),
        _m("staff", "从业人员健康合格证明", "Health certificates of the staff"),
        _m("test", "卫生检测报告", "Hygiene test report"),
    ],
    "steps": [
        _step("accept", "受理", "Acceptance", "health"),
        _step("inspect", "现场审查", "On-site review", "health"),
    ],
}
PHARMACY: dict[str, Any] = {
    "code": "330100-XK-0301",
    "version": 1,
    "category": "permit",
    "name": {"zh": "药品经营许可（零售）", "en": "Drug business permit (retail)"},
    "summary": {"zh": "开办药品零售企业", "en": "Open a retail pharmacy"},
    "owner": "mpa",
    "legal_basis": ["《中华人民共和国药品管理法》第五十一条"],
    "materials": [
        _m("pharmacist", "执业药师注册证", "Licensed pharmacist registration certificate"),
        _m("licence", "营业执照", "Business licence"),
        _m("premises", "经营场所证明", "Proof of business premises"),
    ],
    "steps": [_step("review", "审查", "Review", "mpa")],
}
FREIGHT: dict[str, Any] = {
    "code": "330100-XK-0401",
    "version": 1,
    "category": "permit",
    "name": {"zh": "道路货物运输经营许可", "en": "Road freight transport business permit"},
    "summary": {"zh": "从事道路货物运输经营", "en": "Operate road freight transport"},
    "owner": "transport",
    "legal_basis": ["《中华人民共和国道路运输条例》第二十四条"],
    "materials": [
        _m("vehicles", "车辆行驶证", "Vehicle registration certificates"),
        _m("drivers", "驾驶员从业资格证", "Driver qualification certificates"),
        _m("safety", "安全生产管理制度", "Work safety management rules"),
    ],
    "steps": [_step("review", "审查", "Review", "transport")],
}
BUILDING: dict[str, Any] = {
    "code": "330100-XK-0501",
    "version": 1,
    "category": "permit",
    "name": {"zh": "建筑工程施工许可", "en": "Construction permit for building works"},
    "summary": {"zh": "建筑工程开工前申领施工许可证", "en": "Obtain a construction permit"},
    "owner": "housing",
    "legal_basis": ["《中华人民共和国建筑法》第七条", "《建筑工程施工许可管理办法》"],
    "materials": [
        _m("planning", "建设工程规划许可证", "Planning permit for the construction project"),
        _m("contract", "施工合同", "Construction contract"),
        _m("safety", "安全施工措施资料", "Construction safety measures"),
    ],
    "steps": [_step("review", "审查", "Review", "housing")],
}
FIRE: dict[str, Any] = {
    "code": "330100-JC-0601",
    "version": 1,
    "category": "inspection",
    "name": {"zh": "消防安全检查", "en": "Fire safety inspection"},
    "summary": {
        "zh": "公众聚集场所投入使用、营业前消防安全检查",
        "en": "Fire safety inspection before a crowded venue opens",
    },
    "owner": "fire",
    "co_handlers": ["housing"],
    "legal_basis": ["《中华人民共和国消防法》第十五条"],
    "materials": [
        _m("application", "消防安全检查申请表", "Fire safety inspection application"),
        _m("licence", "营业执照", "Business licence"),
    ],
    "steps": [_step("inspect", "现场检查", "On-site inspection", "fire")],
}
SIMPLE_DEREG: dict[str, Any] = {
    "code": "330100-QY-0003",
    "version": 1,
    "category": "deregistration",
    "name": {"zh": "企业简易注销登记", "en": "Simplified enterprise deregistration"},
    "summary": {
        "zh": "未发生债权债务或已清偿完毕的企业，经公示后简易注销",
        "en": "Deregistration after public notice for enterprises without debts",
    },
    "owner": "market",
    "co_handlers": ["tax", "hrss", "customs"],
    "keywords": ["简易注销"],
    "legal_basis": ["《中华人民共和国市场主体登记管理条例》第三十三条"],
    "materials": [
        _m("pledge", "全体投资人承诺书", "Commitment letter of all investors"),
        _m("licence", "营业执照", "Business licence"),
    ],
    "steps": [ACCEPT, _step("notice", "公示", "Public notice", "market")],
}
DEREG: dict[str, Any] = {
    "code": "330100-QY-0002",
    "version": 1,
    "category": "deregistration",
    "name": {"zh": "企业注销登记", "en": "Enterprise deregistration"},
    "summary": {
        "zh": "企业清算完毕后申请注销登记，终止市场主体资格",
        "en": "Deregister an enterprise after liquidation",
    },
    "owner": "market",
    "co_handlers": ["tax", "hrss", "customs"],
    "legal_basis": [
        "《中华人民共和国市场主体登记管理条例》第三十一条",
        "《中华人民共和国公司法》第二百三十九条",
    ],
    "materials": [
        _m("application", "注销登记申请书", "Deregistration application"),
        _m("report", "清算报告", "Liquidation report"),
        _m("tax", "清税证明", "Tax clearance certificate"),
        _m("licence", "营业执照", "Business licence"),
    ],
    "steps": [ACCEPT, _step("review", "审查", "Review", "market")],
}
BIRTH: dict[str, Any] = {
    "code": "330100-GR-0001",
    "version": 1,
    "category": "certification",
    "name": {"zh": "出生医学证明", "en": "Medical certificate of birth"},
    "summary": {"zh": "新生儿出生医学证明首次签发", "en": "First issue of a birth certificate"},
    "owner": "health",
    "legal_basis": ["《中华人民共和国母婴保健法》第二十三条"],
    "materials": [
        _m("parents", "父母身份证件", "Identity documents of the parents"),
        _m("record", "住院分娩记录", "Hospital delivery record"),
    ],
    "steps": [_step("issue", "签发", "Issue", "health")],
    "life_events": ["birth"],
}
ALL = [ESTABLISH, FOOD, HYGIENE, PHARMACY, FREIGHT, BUILDING, FIRE, SIMPLE_DEREG, DEREG, BIRTH]


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return Catalogue(ALL)


def codes(hits: list[Hit]) -> list[str]:
    return [h.code for h in hits]


# --- search -----------------------------------------------------------------------------------


def test_food_ranks_the_food_permit_first(cat: Catalogue) -> None:
    hits = cat.search("食品")
    assert hits[0].code == FOOD["code"]
    assert hits[0].name_zh == "食品经营许可"
    assert hits[0].name_en == "Food business permit"
    assert hits[0].matched == ("食品",)


def test_deregistration_finds_both(cat: Catalogue) -> None:
    hits = cat.search("注销")
    assert set(codes(hits)) == {DEREG["code"], SIMPLE_DEREG["code"]}
    assert all(h.matched == ("注销",) for h in hits)


def test_exact_name_comes_first_even_inside_a_longer_name(cat: Catalogue) -> None:
    assert cat.search("企业注销登记")[0].code == DEREG["code"]
    assert cat.search("企业简易注销登记")[0].code == SIMPLE_DEREG["code"]


def test_english_query_with_another_word_for_permit(cat: Catalogue) -> None:
    hits = cat.search("food business licence")
    assert hits[0].code == FOOD["code"]
    assert hits[0].matched == ("food", "business", "licence")


def test_english_is_case_insensitive_with_plurals_and_spelling(cat: Catalogue) -> None:
    assert cat.search("FIRE Safety")[0].code == FIRE["code"]
    # "certificates" is indexed as "certificate"; "Medical certificate of birth" has it in its name.
    assert cat.search("birth certificates")[0].code == BIRTH["code"]
    # US spelling of the word every business licence material uses.
    licensed = cat.search("business license", limit=20)
    assert {h.code for h in licensed} >= {FOOD["code"], DEREG["code"], FIRE["code"]}
    assert cat.search("drivers")[0].code == FREIGHT["code"]
    # Function words are not indexed: alone they find nothing, inside a name they still match.
    assert cat.search("of the") == []
    assert cat.search("medical certificate of birth")[0].code == BIRTH["code"]


def test_code_is_searchable(cat: Catalogue) -> None:
    assert cat.search("330100-XK-0401")[0].code == FREIGHT["code"]


def test_partial_word_finds_the_whole_word(cat: Catalogue) -> None:
    # 营业执 is cut into 营业 + 执; the whole query inside the keyword 营业执照 lifts the
    # establishment registration above the matters that only ask for a licence.
    hits = cat.search("营业执")
    assert hits[0].code == ESTABLISH["code"]
    assert "营业" in hits[0].matched


def test_bigram_fallback_when_no_word_is_indexed(cat: Catalogue) -> None:
    # A clipped query: jieba cuts 防安检 into 防 + 安检 and 路货运 into 路 + 货运, words no
    # definition has, so the bigrams of the query are matched against the names instead.
    hits = cat.search("防安检")
    assert codes(hits) == [FIRE["code"]]
    assert hits[0].matched == ("防安",)
    hits = cat.search("路货运")
    assert codes(hits) == [FREIGHT["code"]]
    assert hits[0].matched == ("路货",)
    # Bigrams shared by two names find both; the shorter name first.
    assert codes(cat.search("品经许")) == [FOOD["code"], PHARMACY["code"]]


def test_query_without_any_hit(cat: Catalogue) -> None:
    assert cat.search("潜水艇") == []
    assert cat.search("submarine") == []


def test_filters(cat: Catalogue) -> None:
    assert codes(cat.search("营业执照", owner="health")) == [HYGIENE["code"]]
    permits = cat.search("许可", category="permit")
    assert set(codes(permits)) == {
        FOOD["code"],
        HYGIENE["code"],
        PHARMACY["code"],
        FREIGHT["code"],
        BUILDING["code"],
    }
    assert cat.search("许可", category="deregistration") == []


def test_limit_and_tie_order(cat: Catalogue) -> None:
    hits = cat.search("营业执照", limit=3)
    assert len(hits) == 3
    full = cat.search("营业执照", limit=50)
    assert full[:3] == hits
    keys = [(-h.score, h.code) for h in full]
    assert keys == sorted(keys)


def test_scores_are_integers_and_stable(cat: Catalogue) -> None:
    first = cat.search("食品经营")
    assert all(isinstance(h.score, int) for h in first)
    assert Catalogue(reversed(ALL)).search("食品经营") == first


@pytest.mark.parametrize("query", ["", "   ", "x" * (MAX_QUERY + 1)])
def test_bad_queries_are_refused_with_the_field(cat: Catalogue, query: str) -> None:
    with pytest.raises(SchemaViolation) as err:
        cat.search(query)
    assert err.value.fields["field"] == "q"


@pytest.mark.parametrize("limit", [0, -1, 201])
def test_bad_limit_is_refused(cat: Catalogue, limit: int) -> None:
    with pytest.raises(SchemaViolation) as err:
        cat.search("食品", limit=limit)
    assert err.value.fields["field"] == "limit"


def test_longest_query_is_accepted(cat: Catalogue) -> None:
    query = ("食品经营许可 " * MAX_QUERY)[:MAX_QUERY]
    assert cat.search(query)[0].code == FOOD["code"]


# --- list and show ----------------------------------------------------------------------------


def test_list_sorted_and_filtered(cat: Catalogue) -> None:
    everything = [d["code"] for d in cat.list()]
    assert everything == sorted(d["code"] for d in ALL)
    assert [d["code"] for d in cat.list(owner="health")] == [BIRTH["code"], HYGIENE["code"]]
    assert [d["code"] for d in cat.list(category="deregistration")] == [
        DEREG["code"],
        SIMPLE_DEREG["code"],
    ]
    # dept matches owners and co-handlers.
    assert [d["code"] for d in cat.list(dept="customs")] == [DEREG["code"], SIMPLE_DEREG["code"]]
    assert [d["code"] for d in cat.list(dept="housing")] == [FIRE["code"], BUILDING["code"]]
    assert [d["code"] for d in cat.list(owner="market", category="permit")] == [FOOD["code"]]
    assert cat.list(owner="nobody") == []


def test_get_returns_a_copy_not_the_callers_object() -> None:
    defn = {**FOOD, "keywords": ["餐饮"]}
    c = Catalogue([defn])
    defn["keywords"].append("外卖")
    assert c.get(FOOD["code"])["keywords"] == ["餐饮"]
    assert c.search("外卖") == []
    assert dict(c.get(FOOD["code"])) == {**FOOD, "keywords": ["餐饮"]}


def test_get_unknown_names_the_code(cat: Catalogue) -> None:
    with pytest.raises(NotFound) as err:
        cat.get("330100-XX-9999")
    assert err.value.fields["service"] == "330100-XX-9999"
    assert "330100-XX-9999" in str(err.value)


# --- updates ----------------------------------------------------------------------------------


def test_new_version_replaces_the_old() -> None:
    c = Catalogue(ALL)
    assert codes(c.search("外卖")) == []
    v2 = {**FOOD, "version": 2, "keywords": ["餐饮", "网络订餐", "外卖"]}
    c.add(v2)
    assert len(c) == len(ALL)
    assert codes(c.search("外卖")) == [FOOD["code"]]
    assert c.get(FOOD["code"])["version"] == 2
    # A version without the keyword takes it out of the index again.
    c.add({**FOOD, "version": 3, "name": {"zh": "食品经营许可（新）", "en": "Food permit"}})
    assert c.search("外卖") == []
    assert c.search("食品")[0].name_zh == "食品经营许可（新）"


def test_older_version_is_refused_same_version_replays() -> None:
    c = Catalogue([{**FOOD, "version": 2}])
    with pytest.raises(Conflict) as err:
        c.add(FOOD)
    assert err.value.fields == {"service": FOOD["code"], "version": 1, "current": 2}
    c.add({**FOOD, "version": 2})
    assert len(c) == 1


def test_remove() -> None:
    c = Catalogue(ALL)
    c.remove(DEREG["code"])
    assert DEREG["code"] not in c
    assert codes(c.search("注销")) == [SIMPLE_DEREG["code"]]
    assert DEREG["code"] not in [d["code"] for d in c.list()]
    with pytest.raises(NotFound):
        c.get(DEREG["code"])
    with pytest.raises(NotFound) as err:
        c.remove(DEREG["code"])
    assert err.value.fields["service"] == DEREG["code"]
    c.remove(SIMPLE_DEREG["code"])
    assert c.search("注销") == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": ""}, "code"),
        ({"version": 0}, "version"),
        ({"version": True}, "version"),
        ({"owner": None}, "owner"),
        ({"name": {"en": "No Chinese name"}}, "name.zh"),
        ({"name": {"zh": "（）", "en": "x"}}, "name.zh"),
        ({"keywords": "餐饮"}, "keywords"),
        ({"co_handlers": ["tax", 7]}, "co_handlers[1]"),
        ({"materials": [{"id": "x", "name": {"zh": ""}}]}, "materials[0].name.zh"),
        ({"steps": ["review"]}, "steps[0]"),
        ({"summary": {"zh": "概述", "en": 3}}, "summary.en"),
    ],
)
def test_malformed_definitions_are_refused_with_the_field(
    change: dict[str, Any], field: str
) -> None:
    c = Catalogue()
    with pytest.raises(SchemaViolation) as err:
        c.add({**FOOD, **change})
    assert err.value.fields["field"] == field
    assert len(c) == 0


# --- properties -------------------------------------------------------------------------------

OBJECTS = ["食品", "药品", "医疗器械", "道路运输", "建筑", "消防", "卫生", "烟草", "出版", "排污"]
ACTIONS = ["经营许可", "备案", "登记", "变更", "注销", "年检", "核准", "延续"]
SUBJECTS = ["", "企业", "个体工商户", "农民专业合作社"]
MATERIALS = ["营业执照", "申请书", "身份证明", "场所证明", "食品安全管理制度", "检测报告"]


@st.composite
def definitions(draw: st.DrawFn, code: str) -> dict[str, Any]:
    name = draw(st.sampled_from(SUBJECTS)) + draw(st.sampled_from(OBJECTS))
    name += draw(st.sampled_from(ACTIONS))
    mats = draw(st.lists(st.sampled_from(MATERIALS + OBJECTS + ACTIONS), max_size=6))
    return {
        "code": code,
        "version": 1,
        "category": draw(st.sampled_from(["permit", "registration", "deregistration"])),
        "name": {"zh": name, "en": ""},
        "summary": {"zh": "".join(draw(st.lists(st.sampled_from(OBJECTS + ACTIONS), min_size=1)))},
        "owner": draw(st.sampled_from(["market", "health", "mpa"])),
        "keywords": draw(st.lists(st.sampled_from(OBJECTS + ACTIONS), max_size=3)),
        "materials": [_m(f"m{i}", z, "") for i, z in enumerate(mats)],
    }


@st.composite
def catalogues(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 12))
    return [draw(definitions(f"330100-T-{i:04d}")) for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(defs=catalogues())
def test_every_service_is_found_first_by_its_own_chinese_name(defs: list[dict[str, Any]]) -> None:
    # First, or behind only services of the very same name (generated names may repeat).
    c = Catalogue(defs + ALL)
    for d in defs + ALL:
        name = d["name"]["zh"]
        hits = c.search(name, limit=len(defs) + len(ALL))
        place = codes(hits).index(d["code"])
        assert all(h.name_zh == name for h in hits[: place + 1]), (name, hits[: place + 1])


WORDS = OBJECTS + ACTIONS + MATERIALS + ["food", "permits", "business licence", "营业执", "品经"]


@settings(max_examples=80, deadline=None)
@given(
    defs=catalogues(),
    words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
    limit=st.integers(1, 5),
    owner=st.sampled_from([None, "market", "health"]),
)
def test_a_short_list_is_the_top_of_the_long_one(
    defs: list[dict[str, Any]], words: list[str], limit: int, owner: str | None
) -> None:
    # With 200 (the largest limit) no candidate is ever skipped; a short list skips the
    # documents that cannot reach it, and must still be exactly the top of the long one.
    c = Catalogue(defs + ALL)
    for query in ("".join(words), " ".join(words)):
        assert c.search(query, limit, owner) == c.search(query, 200, owner)[:limit]


class IncrementalMatchesRebuilt(RuleBasedStateMachine):
    """Adding, replacing and removing one by one must leave the same index (document counts,
    lengths, postings) as building the final set at once: compared through search results."""

    def __init__(self) -> None:
        super().__init__()
        self.catalogue = Catalogue()
        self.model: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}

    @rule(slot=st.integers(0, 5), data=st.data())
    def add(self, slot: int, data: st.DataObject) -> None:
        code = f"330100-S-{slot:04d}"
        defn = data.draw(definitions(code))
        defn["version"] = self.versions.get(code, 0) + 1
        self.versions[code] = defn["version"]
        self.catalogue.add(defn)
        self.model[code] = defn

    @rule(slot=st.integers(0, 5))
    def remove(self, slot: int) -> None:
        code = f"330100-S-{slot:04d}"
        if code in self.model:
            self.catalogue.remove(code)
            del self.model[code]
        else:
            with pytest.raises(NotFound):
                self.catalogue.remove(code)

    @invariant()
    def same_answers(self) -> None:
        rebuilt = Catalogue(self.model.values())
        assert [d["code"] for d in self.catalogue.list()] == sorted(self.model)
        for q in ["食品", "注销登记", "营业执照", "企业药品备案", "器械", "场所证明"]:
            full = self.catalogue.search(q, limit=50)
            assert full == rebuilt.search(q, limit=50)
            # The cut-off before ranking keeps exactly the top of the full list.
            for limit in (1, 3):
                assert self.catalogue.search(q, limit=limit) == full[:limit]
            assert self.catalogue.search(q, limit=50, owner="health") == [
                h for h in full if self.model[h.code]["owner"] == "health"
            ]


IncrementalMatchesRebuilt.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestIncrementalMatchesRebuilt = IncrementalMatchesRebuilt.TestCase


def test_kept_scores_follow_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Scores of words held by many services are kept between searches; with the threshold at
    # one service every word's are, and must still be dropped when the index changes.
    monkeypatch.setattr(catalogue_module, "CACHE_DF", 1)
    run_state_machine_as_test(
        IncrementalMatchesRebuilt,
        settings=settings(max_examples=20, stateful_step_count=20, deadline=None),
    )
