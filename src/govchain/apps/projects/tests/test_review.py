"""The review: ranked candidates with function-level evidence, and the recommendation, measured
on the shipped evaluation set and on hand-written cases."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
import pytest

from govchain.apps.projects.baseline import KeywordOverlap
from govchain.apps.projects.contract import evidence_problem
from govchain.apps.projects.evaluation import load_evaluation
from govchain.apps.projects.measures import half, measure, registry_of
from govchain.apps.projects.records import validate_entry
from govchain.apps.projects.review import Reviewer

DATASET = load_evaluation()
ENTRIES = registry_of(DATASET)
BY_ID = {e["id"]: e for e in ENTRIES}
LABELS = {lab["application"]: lab for lab in DATASET["labels"]}


@lru_cache(maxsize=1)
def reviewer() -> Reviewer:
    return Reviewer(ENTRIES)


def application(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "APP-2099-0001",
        "status": "pending",
        "department": "health",
        "department_name": "省卫生健康委员会",
        "name": "新建项目",
        "purpose": "建设一个新的政务信息系统。",
        "functions": ["信息登记"],
        "uses": [],
        "produces": [],
        "users": ["工作人员"],
        "user_count": 100,
        "budget_fen": 100_000_000,
        "platform": "省政务云",
        "start_date": "2027-01-04",
        "end_date": "",
    }
    base.update(fields)
    return validate_entry(base)


def test_a_reworded_copy_of_a_system_in_use_is_found_first_and_reused() -> None:
    system = next(e for e in DATASET["registry"] if e["id"] == "SYS-HEALTH-0001")
    # The same system described in other words, its functions in another order.
    reworded = application(
        name="全省统一" + system["name"].replace("平台", "服务系统"),
        purpose="为群众和医疗机构提供服务：" + system["purpose"][::-1][:40][::-1],
        functions=[f"支持{f}" for f in reversed(system["functions"])],
        uses=list(system["uses"]),
    )
    review = reviewer().review(reworded)
    assert review.candidates[0].id == "SYS-HEALTH-0001"
    assert review.recommendation == "reuse" and review.target == "SYS-HEALTH-0001"
    assert review.candidates[0].coverage == 1000
    assert review.reasons[0].startswith("在用系统「")


def test_every_labelled_duplicate_of_the_set_ranks_a_duplicate_first_nine_times_in_ten() -> None:
    figures = measure(reviewer(), DATASET)
    assert figures.duplicates >= 90
    assert figures.precision_at_1 >= 900
    assert figures.recall_at_5 >= 900
    assert figures.macro_f1 >= 850


def test_an_unrelated_application_is_not_recommended_for_reuse() -> None:
    unrelated = application(
        department="agriculture",
        name="远洋渔船北斗定位与船员管理系统",
        purpose="对远洋渔船实施北斗卫星定位监控，管理船员持证上岗和出海报备。",
        functions=[
            "渔船北斗定位轨迹实时监控",
            "船员证书登记与有效期提醒",
            "出海作业报备与返港登记",
            "越界捕捞电子围栏报警",
        ],
    )
    review = reviewer().review(unrelated)
    assert review.recommendation == "build" and review.target is None
    assert all(c.coverage < 500 for c in review.candidates)
    assert review.reasons[0].startswith(("没有系统或项目", "登记库中没有"))


def test_labelled_new_builds_with_no_relation_are_never_recommended_for_reuse() -> None:
    fresh = [
        a
        for a in DATASET["applications"]
        if LABELS[a["id"]]["expected"] == "build" and not LABELS[a["id"]]["relations"]
    ]
    assert len(fresh) >= 10
    assert [a["id"] for a in fresh if reviewer().review(a).recommendation == "reuse"] == []


def test_the_evidence_names_matching_functions_both_sides_and_fits_the_contract() -> None:
    app_id = next(
        a for a, lab in LABELS.items() if lab["expected"] == "reuse" and half(a) == "test"
    )
    review = reviewer().review(BY_ID[app_id])
    doc = review.to_json()
    assert evidence_problem(doc, app_id) == ""
    orjson.loads(orjson.dumps(doc))  # JSON, and no floats anywhere
    assert "." not in orjson.dumps(doc).decode().replace("。", "").split('"reasons"')[0]
    best = review.candidates[0]
    target = BY_ID[best.id]
    for m in best.functions:
        assert 0 <= m.function < len(BY_ID[app_id]["functions"])
        assert 0 <= m.matches < len(target["functions"])
        assert reviewer().thresholds.match <= m.score <= 1000
    assert [c.score for c in review.candidates] == sorted(
        (c.score for c in review.candidates), reverse=True
    )


@pytest.mark.parametrize("entry", DATASET["registry"], ids=lambda e: str(e["id"]))
def test_an_exact_copy_under_another_id_is_found_first_with_every_function(
    entry: dict[str, Any],
) -> None:
    # Every system and project of the set, not a sample: a copy must never be missed.
    copy = {**entry, "id": "APP-2099-0002", "status": "pending"}
    review = reviewer().review(copy)
    first = review.candidates[0]
    assert first.id == entry["id"] or first.coverage == 1000
    found = next(c for c in review.candidates if c.id == entry["id"])
    assert found.coverage == 1000
    assert [(m.function, m.matches) for m in found.functions] == [
        (i, i) for i in range(len(entry["functions"]))
    ]
    # A copy of a system in use is reused; of a project in development, joined, unless a
    # system in use covers it too (reuse comes first).
    if entry["status"] == "in_use":
        assert review.recommendation == "reuse"
    else:
        assert review.recommendation in ("join", "reuse")
        assert review.recommendation == "reuse" or review.target == entry["id"]


def test_merge_candidates_pair_the_labelled_merges_and_never_an_application_with_itself() -> None:
    pairs = reviewer().merge_candidates()
    found = {(p.first, p.second) for p in pairs}
    assert all(p.first < p.second for p in pairs)
    labelled = {
        tuple(sorted((a, other)))
        for a, lab in LABELS.items()
        if lab["expected"] == "merge"
        for other, rel in lab["relations"].items()
        if other.startswith("APP-") and rel == "same"
    }
    assert labelled
    assert len(labelled & found) / len(labelled) >= 0.9


def test_the_keyword_baseline_ranks_an_identical_copy_first() -> None:
    entry = DATASET["registry"][0]
    baseline = KeywordOverlap(ENTRIES)
    review = baseline.review({**entry, "id": "APP-2099-0003", "status": "pending"})
    assert review.candidates[0].id == entry["id"]
    assert review.candidates[0].score == 1000


def test_an_empty_registry_recommends_build_and_pairs_nothing() -> None:
    empty = Reviewer([])
    review = empty.review(application())
    assert review.recommendation == "build" and review.candidates == ()
    assert review.reasons[0].startswith("登记库中没有")
    assert empty.merge_candidates() == []
