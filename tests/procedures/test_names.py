"""Enterprise names: structure, characters, forbidden words and uniqueness in the area."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govchain.errors import InvalidInput
from govchain.procedures.divisions import division_index, is_district, short_name
from govchain.procedures.name_words import FORMS, INDUSTRY_WORDS
from govchain.procedures.names import (
    FORBIDDEN_WORDS,
    HANGZHOU_DIVISIONS,
    MAX_NAME_LENGTH,
    NameParts,
    NameRefused,
    check_name,
    name_key,
    normalise_trade_name,
    parse_name,
)

AREA = HANGZHOU_DIVISIONS


def parts(division: str, trade: str, industry: str, form: str, branch: str = "") -> NameParts:
    return NameParts(division, AREA[division], trade, industry, form, branch)


# Shapes taken from 《企业名称登记管理规定》 art. 6-7 and registered Hangzhou names.
ACCEPTED = [
    ("杭州恒瑞科技有限公司", parts("杭州市", "恒瑞", "科技", "有限公司")),
    ("杭州市恒瑞科技有限公司", parts("杭州市", "恒瑞", "科技", "有限公司")),
    ("杭州市西湖区恒瑞餐饮管理有限公司", parts("西湖区", "恒瑞", "餐饮管理", "有限公司")),
    ("杭州滨江区鑫达网络科技有限公司", parts("滨江区", "鑫达", "网络科技", "有限公司")),
    ("恒瑞（杭州）科技有限公司", parts("杭州市", "恒瑞", "科技", "有限公司")),
    ("恒瑞科技(杭州)有限公司", parts("杭州市", "恒瑞", "科技", "有限公司")),
    ("博创（杭州市余杭区）信息技术有限公司", parts("余杭区", "博创", "信息技术", "有限公司")),
    ("建德恒瑞物流有限公司", parts("建德市", "恒瑞", "物流", "有限公司")),
    ("桐庐县瑞丰达建筑工程有限责任公司", parts("桐庐县", "瑞丰达", "建筑工程", "有限责任公司")),
    ("淳安嘉禾茶叶农民专业合作社", parts("淳安县", "嘉禾", "茶叶", "农民专业合作社")),
    ("杭州恒瑞科技股份有限公司", parts("杭州市", "恒瑞", "科技", "股份有限公司")),
    ("杭州明德餐饮个人独资企业", parts("杭州市", "明德", "餐饮", "个人独资企业")),
    ("杭州泰和投资合伙企业（有限合伙）", parts("杭州市", "泰和", "投资", "合伙企业（有限合伙）")),
    ("杭州泰和投资管理中心（有限合伙）", parts("杭州市", "泰和", "投资管理中心", "（有限合伙）")),
    ("杭州恒瑞科技有限公司西湖分公司", parts("西湖区", "恒瑞", "科技", "分公司", "西湖")),
    ("杭州恒瑞科技有限公司分公司", parts("杭州市", "恒瑞", "科技", "分公司")),
    ("  杭州恒瑞科技有限公司 ", parts("杭州市", "恒瑞", "科技", "有限公司")),
]


@pytest.mark.parametrize(("name", "expected"), ACCEPTED)
def test_accepted(name: str, expected: NameParts) -> None:
    assert parse_name(name, AREA) == expected
    assert check_name(name, AREA, ()) == expected


REFUSED = [
    ("杭州恒瑞科技", "structure", "form"),
    ("杭州恒瑞有限公司", "structure", "industry"),
    ("杭州科技有限公司", "structure", "trade_name"),
    ("杭州餐饮科技有限公司", "structure", "trade_name"),
    ("杭州萧山科技有限公司", "structure", "trade_name"),
    ("恒瑞科技有限公司", "structure", "division"),
    ("杭州瑞科技有限公司", "length", "瑞"),
    ("杭州" + "恒" * MAX_NAME_LENGTH + "科技有限公司", "length", ""),
    ("杭州ABC科技有限公司", "characters", "A"),
    ("杭州恒瑞2科技有限公司", "characters", "2"),
    ("杭州恒瑞 科技有限公司", "characters", " "),
    ("杭州恒瑞·科技有限公司", "characters", "·"),
    ("杭州恆瑞科技有限公司", "characters", "恆"),
    ("杭州（恒瑞）（西湖）科技有限公司", "characters", ""),
    ("（杭州）恒瑞科技有限公司", "characters", ""),
    ("西湖区恒瑞科技有限公司", "division", "西湖区"),
    ("上海市恒瑞科技有限公司", "division", "上海市"),
    ("恒瑞（上海）科技有限公司", "division", "上海"),
    ("杭州恒瑞（杭州）科技有限公司", "division", "杭州"),
    ("中国恒瑞科技有限公司", "forbidden_word", "中国"),
    ("杭州中华科技有限公司", "forbidden_word", "中华"),
    ("杭州恒瑞国际贸易有限公司", "forbidden_word", "国际"),
    ("杭州第一餐饮管理有限公司", "forbidden_word", "第一"),
    ("杭州恒瑞科技有限公司第一分公司", "forbidden_word", "第一"),
]


@pytest.mark.parametrize(("name", "reason", "word"), REFUSED)
def test_refused(name: str, reason: str, word: str) -> None:
    with pytest.raises(NameRefused) as caught:
        check_name(name, AREA, ())
    assert (caught.value.reason, caught.value.fields["reason"]) == (reason, reason)
    if word:
        assert caught.value.word == word
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.code == "name_refused"


@pytest.mark.parametrize("word", sorted(FORBIDDEN_WORDS))
def test_every_forbidden_word_is_refused(word: str) -> None:
    with pytest.raises(NameRefused) as caught:
        check_name(f"杭州恒瑞{word}科技有限公司", AREA, ())
    assert (caught.value.reason, caught.value.word) == ("forbidden_word", word)


def test_taken_means_same_trade_name_and_industry_in_the_area() -> None:
    registered = {name_key(parse_name("杭州恒瑞科技有限公司", AREA))}
    for same in (
        "杭州市西湖区恒瑞科技股份有限公司",
        "恒瑞（杭州）科技有限责任公司",
        "建德恒瑞科技有限公司",
    ):
        with pytest.raises(NameRefused) as caught:
            check_name(same, AREA, registered)
        assert (caught.value.reason, caught.value.word) == ("taken", "恒瑞")
    # Another industry, another trade name, or a branch of the company: free.
    for other in ("杭州恒瑞物流有限公司", "杭州恒泰科技有限公司", "杭州恒瑞科技有限公司西湖分公司"):
        check_name(other, AREA, registered)


def test_normalise_trade_name() -> None:
    assert normalise_trade_name("恆瑞") == "恒瑞"
    assert normalise_trade_name(" 華 達 ") == "华达"
    assert normalise_trade_name("\uf900瑞") == "豈瑞"  # a compatibility ideograph is unified
    assert normalise_trade_name("（杭州）") == "杭州"


def test_division_spellings() -> None:
    # GB/T 2260: 330106 西湖区 is a district of 330100 杭州市; 330122 桐庐县 a county; 330182
    # 建德市 a county-level city.
    assert [is_district(c) for c in ("330106", "330114", "330122", "330182", "330100")] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert (short_name("杭州市"), short_name("桐庐县"), short_name("西湖区")) == (
        "杭州",
        "桐庐",
        "西湖",
    )
    index = division_index(AREA)
    assert index.spellings["杭州西湖区"] == index.spellings["杭州市西湖区"] == ("西湖区", "330106")
    assert index.spellings["建德"] == ("建德市", "330182")
    assert "西湖区" not in index.spellings and "西湖区" in index.districts
    assert index.places["西湖"] == ("西湖区", "330106")
    assert division_index(dict(reversed(list(AREA.items())))) == index


def test_the_area_decides_which_divisions_are_accepted() -> None:
    # An area of one district and one county-level city: the district's city is not in it, so
    # the district cannot be written in the only accepted way (after its city, art. 7).
    small = {"西湖区": "330106", "建德市": "330182"}
    assert check_name("建德恒瑞物流有限公司", small, ()).division_code == "330182"
    for name, word in (
        ("杭州市西湖区恒瑞物流有限公司", "杭州市"),
        ("西湖区恒瑞物流有限公司", "西湖区"),
    ):
        with pytest.raises(NameRefused) as caught:
            check_name(name, small, ())
        assert (caught.value.reason, caught.value.word) == ("division", word)


DIVISION_SPELLINGS = {  # as written in a name -> the division it names
    "杭州": "杭州市",
    "杭州市": "杭州市",
    "杭州市西湖区": "西湖区",
    "杭州西湖区": "西湖区",
    "桐庐": "桐庐县",
    "桐庐县": "桐庐县",
    "建德市": "建德市",
}
TRADE = st.text(alphabet="恒瑞鑫华盛达信泰嘉宏汇丰博创明德顺诚益隆兴昌荣", min_size=2, max_size=3)
INDUSTRY = st.lists(st.sampled_from(sorted(INDUSTRY_WORDS)), min_size=1, max_size=2).map("".join)
COMPANY_FORMS = st.sampled_from([f for f in FORMS if f != "分公司"])


@given(st.sampled_from(sorted(DIVISION_SPELLINGS)), TRADE, INDUSTRY, COMPANY_FORMS, st.booleans())
def test_well_formed_names_parse_back(
    division: str, trade: str, industry: str, form: str, bracketed: bool
) -> None:
    name = (
        f"{trade}（{division}）{industry}{form}"
        if bracketed
        else f"{division}{trade}{industry}{form}"
    )
    got = parse_name(name, AREA)
    assert (got.form, got.trade_name + got.industry_words) == (form, trade + industry)
    assert len(got.trade_name) >= 2 and got.industry_words
    if len(trade) == 2 or bracketed:
        assert (got.trade_name, got.industry_words) == (trade, industry)
    assert (got.division, got.division_code) == (
        DIVISION_SPELLINGS[division],
        AREA[DIVISION_SPELLINGS[division]],
    )
    # The key ignores the division's spelling and place and the form.
    assert name_key(got) == name_key(
        parse_name(f"杭州{got.trade_name}{got.industry_words}有限公司", AREA)
    )


@given(
    TRADE,
    st.integers(min_value=0, max_value=12),
    st.characters(categories=["Lu", "Ll", "Nd", "Po", "Zs"]),
)
def test_any_non_chinese_character_is_refused(trade: str, where: int, ch: str) -> None:
    name = f"杭州{trade}科技有限公司"
    where = 1 + where % (len(name) - 1)  # inside the name: surrounding spaces are trimmed
    with pytest.raises(NameRefused) as caught:
        parse_name(name[:where] + ch + name[where:], AREA)
    assert caught.value.reason == "characters"
