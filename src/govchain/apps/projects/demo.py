"""Demo data of the duplication review: the evaluation set's registry and applications on the
demo network, and a few decisions.

The data bureau (``data``, 大数据发展管理局) keeps the registry: it imports the systems in use
and the projects in development, and files the applications of departments that run no node.
A department that runs a node files its own applications (so its staff see them as theirs).
Then the data bureau's approver decides three applications, one changing the review's
recommendation, so the portal shows decisions beside pending work. Idempotent: a registry that
already holds entries is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from govchain.apps.projects.evaluation import load_evaluation
from govchain.apps.projects.service import desk_for

REVIEWER = "data"
"""The demo's registry keeper and reviewing department (the data bureau)."""
DECIDED = 3
"""Applications the demo decides."""


def _actor(app_state: Any, login: str) -> str:
    """The user id of a demo login (the login itself when the account does not exist)."""
    identity = getattr(app_state, "identity", None)
    found = identity.users.find_login(login) if identity is not None else None
    return str(found.id) if found is not None else login


def seed(node: Any, app_state: Any, network_dir: Any) -> list[str]:
    """Import the evaluation set into the demo registry and record a few decisions."""
    desk = desk_for(app_state)
    held = desk.entries(limit=1)["total"]
    if held:
        return [f"duplication review: the registry already holds {held} entries; nothing seeded"]
    members = {d.id for d in node.genesis.departments}
    keeper = REVIEWER if REVIEWER in members else sorted(members)[0]
    dataset = load_evaluation()
    filed: dict[str, list[dict[str, Any]]] = {keeper: list(dataset["registry"])}
    for app in dataset["applications"]:
        by = app["department"] if app["department"] in members else keeper
        filed.setdefault(by, []).append(app)
    lines = []
    for dept, entries in sorted(filed.items()):
        report = desk.import_file(
            dept,
            _actor(app_state, f"{dept}/officer"),
            orjson.dumps(entries),
            "application/json",
        )
        lines.append(
            f"duplication review: {dept} registered {report.count} "
            f"{'entry' if report.count == 1 else 'entries'} "
            f"({', '.join(f'{n} {s}' for s, n in sorted(report.by_status.items()))})"
        )
    lines += _decide(desk, dataset, keeper, members, _actor(app_state, f"{keeper}/approver"))
    return lines


def _decide(
    desk: Any, dataset: Mapping[str, Any], keeper: str, members: set[str], actor: str
) -> list[str]:
    """Decide the first applications of different expected recommendations."""
    labels = {lab["application"]: lab for lab in dataset["labels"]}
    done: list[str] = []
    seen: set[str] = set()
    for app in dataset["applications"]:
        label = labels[app["id"]]
        if len(done) == DECIDED or label["expected"] in seen or app["department"] == keeper:
            continue
        review = desk.review(app["id"])
        recommendation, target = review["recommendation"], review["target"]
        reason = "同意审查建议：" + review["reasons"][0]
        if len(done) == DECIDED - 1 and recommendation != "build":
            # A reviewer may overrule the review, giving the reason; the decision records both.
            recommendation, target = "build", None
            reason = "现有系统的技术架构无法承载本申请的业务量，经论证同意在公共平台上单独建设。"
        desk.decide(keeper, actor, app["id"], recommendation, target, reason[:1000])
        seen.add(label["expected"])
        done.append(f"duplication review: {keeper} decided {app['id']}: {recommendation}")
    return done
