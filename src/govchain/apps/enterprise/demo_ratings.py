"""Demo ratings (好差评) of the demo's finished cases, so that the service figures and the
follow-up queue have something to show.

Each applicant of a finished case rates it (fixed seed: mostly satisfied, some not); the demo
citizen's own cases are left unrated, for them to rate in the portal. Half of the dissatisfied
ratings are answered by the handling department's officer, the others wait in its follow-up
queue.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from govchain.errors import GovchainError
from govchain.node.casedesk import CaseDesk
from govchain.node.ratingdesk import answer, rate
from govchain.procedures.ratings import BAD, RATEABLE

SEED = 20261207
"""Seed of the levels and comments."""
LEVELS = (5, 5, 5, 4, 4, 4, 3, 2, 1)
"""Levels drawn from (two of nine dissatisfied)."""
COMMENTS = {
    5: ("办理很快，一次都没跑", "网上提交后第二天就受理了", ""),
    4: ("材料要求清楚", "进度能随时查到", ""),
    3: ("等待时间有点长", ""),
    2: ("补正通知没有说清楚缺什么", "电话一直打不通"),
    1: ("同样的材料交了两次", "超过承诺时限才办结"),
}
"""Comments by level ('' for none)."""
ANSWERS = (
    "已电话联系申请人说明原因，并在办事指南中补充说明",
    "已核实情况，对经办人员进行提醒，并优化补正告知模板",
)
"""Answers of the department to a follow-up."""


def seed_ratings(desk: CaseDesk, numbers: Sequence[str], skip_applicant: str) -> str:
    """Rate the finished cases among ``numbers`` (not those of ``skip_applicant``); answer half
    of the dissatisfied ones; return a line saying what was done."""
    rng = random.Random(SEED)
    rates = []
    for number in numbers:
        case = desk.case(number)
        if case["status"] not in RATEABLE or case["applicant"] == skip_applicant:
            continue
        level = rng.choice(LEVELS)
        comment = rng.choice(COMMENTS[level])
        rates.append(rate(desk, case["applicant"], "demo", number, level, comment))
    results = _commit(desk, rates)
    bad = [r for r in results if r["level"] <= BAD]
    answers = [
        answer(desk, r["dept"], f"{r['dept']}/officer", "officer", r["case"], ANSWERS[i % 2])
        for i, r in enumerate(bad[::2])
    ]
    _commit(desk, answers)
    return (
        f"ratings demo: {len(results)} finished cases rated, {len(bad)} dissatisfied "
        f"({len(answers)} answered, {len(bad) - len(answers)} waiting for their department)"
    )


def _commit(desk: CaseDesk, txs: Sequence[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for outcome in desk.commit(list(txs), timeout_s=60.0):
        if isinstance(outcome, GovchainError):
            raise outcome
        out.append(outcome)
    return out
