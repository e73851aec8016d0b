"""GB/T 4754-2017 industries: the shipped table, lookups, validation and search."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govchain.errors import NotFound, SchemaViolation
from govchain.procedures.industries import (
    LEVELS,
    industry,
    load_industries,
    path_of,
    search_industries,
    section_of,
    validate_industry_code,
)

TABLE = load_industries()
CODES = list(TABLE)

# Known answers: the section of every division, from the code table of GB/T 4754-2017 (§5):
# A 01-05, B 06-12, C 13-43, D 44-46, E 47-50, F 51-52, G 53-60, H 61-62, I 63-65, J 66-69,
# K 70, L 71-72, M 73-75, N 76-79, O 80-82, P 83, Q 84-85, R 86-90, S 91-96, T 97.
SECTION_OF_DIVISION = {
    f"{n:02d}": letter
    for letter, (lo, hi) in {
        "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52),
        "G": (53, 60), "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70),
        "L": (71, 72), "M": (73, 75), "N": (76, 79), "O": (80, 82), "P": (83, 83),
        "Q": (84, 85), "R": (86, 90), "S": (91, 96), "T": (97, 97),
    }.items()
    for n in range(lo, hi + 1)
}  # fmt: skip

# Known answers: names of GB/T 4754-2017 entries the permit rules rely on (standard's table).
NAMES = {
    "H": "住宿和餐饮业",
    "62": "餐饮业",
    "6210": "正餐服务",
    "6220": "快餐服务",
    "6231": "茶馆服务",
    "6110": "旅游饭店",
    "5211": "百货零售",
    "5212": "超级市场零售",
    "5213": "便利店零售",
    "5221": "粮油零售",
    "5251": "西药零售",
    "5411": "公共电汽车客运",
    "543": "道路货物运输",
    "5431": "普通货物道路运输",
    "4710": "住宅房屋建筑",
    "4790": "其他房屋建筑业",
    "48": "土木工程建筑业",
    "8040": "理发及美容服务",
    "8051": "洗浴服务",
    "8052": "足浴服务",
    "9011": "歌舞厅娱乐活动",
    "9051": "文化活动服务",
    "6513": "应用软件开发",
    "37": "铁路、船舶、航空航天和其他运输设备制造业",
    "97": "国际组织",
}


def test_every_section_and_division_is_shipped() -> None:
    sections = [e for e in TABLE.values() if e.level == "section"]
    divisions = [e for e in TABLE.values() if e.level == "division"]
    assert [e.code for e in sections] == list("ABCDEFGHIJKLMNOPQRST")
    assert [e.code for e in divisions] == [f"{n:02d}" for n in range(1, 98)]
    assert {e.code: e.parent for e in divisions} == SECTION_OF_DIVISION
    assert all(e.parent is None for e in sections)
    assert all(e.zh and e.en for e in TABLE.values())
    assert not [e.en for e in TABLE.values() if any("\u4e00" <= ch <= "\u9fff" for ch in e.en)]


@pytest.mark.parametrize(("code", "zh"), sorted(NAMES.items()))
def test_known_names(code: str, zh: str) -> None:
    assert industry(code).zh == zh


def test_path_and_section() -> None:
    assert [e.code for e in path_of("6210")] == ["H", "62", "621", "6210"]
    assert [e.level for e in path_of("6210")] == list(LEVELS)
    assert [e.code for e in path_of("H")] == ["H"]
    assert section_of("5437").code == "G"
    assert section_of("8053").zh == "居民服务、修理和其他服务业"
    assert industry(" h ").code == "H"


def test_unknown_code_is_not_found() -> None:
    with pytest.raises(NotFound) as caught:
        industry("6219")
    assert caught.value.fields["industry"] == "6219"
    with pytest.raises(NotFound):
        path_of("U")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("6210", "6210"), (" h6210 ", "6210"), ("H", "H"), ("o", "O"), ("01", "01"), ("G543", "543")],
)
def test_validate_accepts(raw: str, expected: str) -> None:
    assert validate_industry_code(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "malformed"),
        (6210, "malformed"),
        ("", "malformed"),
        ("6", "malformed"),
        ("62100", "malformed"),
        ("6A", "malformed"),
        ("U", "malformed"),
        ("９７", "malformed"),
        ("98", "unknown"),
        ("6219", "unknown"),
        ("F6210", "unknown"),
    ],
)
def test_validate_refuses(raw: object, reason: str) -> None:
    with pytest.raises(SchemaViolation) as caught:
        validate_industry_code(raw)
    assert caught.value.fields == {"field": "industry", "reason": reason}


def test_search() -> None:
    assert [e.code for e in search_industries("便利店")] == ["5213"]
    assert {"5213", "52", "F"} <= {e.code for e in search_industries("RETAIL")}
    assert {e.code for e in search_industries("洗浴")} == {"805", "8051"}
    assert search_industries("  ") == []
    assert search_industries("no such industry") == []


@given(st.sampled_from(CODES))
def test_table_is_a_tree(code: str) -> None:
    path = path_of(code)
    assert path[-1] == TABLE[code]
    assert [e.level for e in path] == list(LEVELS[: len(path)])
    for upper, lower in itertools.pairwise(path):
        assert lower.parent == upper.code
        if lower.level in ("group", "class"):
            assert lower.code[:-1] == upper.code
    assert validate_industry_code(code) == code
    if path[0].code != code:
        assert validate_industry_code(path[0].code + code) == code
