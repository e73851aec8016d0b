"""What the analytics index keeps of fund supervision (its extractors), and how the flags read
it back: the index, not the node's state, is what the rules and the detector look at.

Tables (every row carries the ``height`` and ``position`` of its transaction):

=======================  ======================================================================
``funds_projects``       one row per project: owner department, category, unit, quantity,
                         budget, start, related projects (JSON)
``funds_milestones``     one row per milestone: planned amount and due date
``funds_payees``         one row per payee of a project
``funds_evidence``       one row per notarised evidence item
``funds_disbursements``  one row per disbursement (its id is the call's result)
``funds_flags``          one row per flag raised: rule, subject, projects (JSON)
``funds_flag_cases``     one row per flag's case (its handling is the case's, on the case
                         engine): flag, case number, department, actor
=======================  ======================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import orjson

from govchain.analytics.extract import Extractor, TxFacts
from govchain.apps.funds.records import Disbursement, Evidence, FundsData, project_of

CONTRACT = "funds"
"""Contract the extractors read."""


def _project_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    p = f.args["project"]
    yield (
        p["id"], p["name"], p["fund"], p["category"], p["unit"], p["quantity"],
        p["budget_fen"], p["start_date"], f.department, orjson.dumps(p["related"]).decode(),
        f.height, f.position, f.tx_id,
    )  # fmt: skip


def _milestone_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    p = f.args["project"]
    for m in p["milestones"]:
        yield (p["id"], m["id"], m["name"], m["amount_fen"], m["due"], f.height, f.position)


def _payee_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    p = f.args["project"]
    for payee in p["payees"]:
        yield (p["id"], payee["id"], payee["name"], f.height, f.position)


def _evidence_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    a = f.args
    yield (
        a["digest"], a["project"], a["milestone"], a["kind"], a["title"], f.department,
        f.height, f.position, f.tx_id,
    )  # fmt: skip


def _disbursement_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    a = f.args
    yield (
        f.result["id"], a["project"], a["milestone"], a["payee"], a["amount_fen"], a["paid_on"],
        f.department, f.height, f.position, f.tx_id,
    )  # fmt: skip


def _flag_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    a = f.args
    yield (
        f.result["id"], a["rule"], a["subject"], orjson.dumps(a["projects"]).decode(),
        f.department, f.height, f.position, f.tx_id,
    )  # fmt: skip


def _case_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    yield (f.args["flag"], f.args["case"], f.department, f.actor, f.time_ms, f.height, f.position)


def _x(table: str, columns: str, methods: Iterable[str], rows: Any) -> Extractor:
    return Extractor(
        table=table,
        ddl=f"CREATE TABLE {table} ({columns})",
        contract=CONTRACT,
        methods=frozenset(methods),
        rows=rows,
    )


EXTRACTORS = [
    _x(
        "funds_projects",
        "project VARCHAR, name VARCHAR, fund VARCHAR, category VARCHAR, unit VARCHAR, "
        "quantity BIGINT, budget_fen BIGINT, start_date VARCHAR, department VARCHAR, "
        "related VARCHAR, height BIGINT, position INTEGER, tx_id VARCHAR",
        ["create_project"],
        _project_rows,
    ),
    _x(
        "funds_milestones",
        "project VARCHAR, milestone VARCHAR, name VARCHAR, amount_fen BIGINT, due VARCHAR, "
        "height BIGINT, position INTEGER",
        ["create_project"],
        _milestone_rows,
    ),
    _x(
        "funds_payees",
        "project VARCHAR, payee VARCHAR, name VARCHAR, height BIGINT, position INTEGER",
        ["create_project"],
        _payee_rows,
    ),
    _x(
        "funds_evidence",
        "digest VARCHAR, project VARCHAR, milestone VARCHAR, kind VARCHAR, title VARCHAR, "
        "department VARCHAR, height BIGINT, position INTEGER, tx_id VARCHAR",
        ["add_evidence"],
        _evidence_rows,
    ),
    _x(
        "funds_disbursements",
        "id VARCHAR, project VARCHAR, milestone VARCHAR, payee VARCHAR, amount_fen BIGINT, "
        "paid_on VARCHAR, department VARCHAR, height BIGINT, position INTEGER, tx_id VARCHAR",
        ["disburse"],
        _disbursement_rows,
    ),
    _x(
        "funds_flags",
        "flag VARCHAR, rule VARCHAR, subject VARCHAR, projects VARCHAR, department VARCHAR, "
        "height BIGINT, position INTEGER, tx_id VARCHAR",
        ["raise_flag"],
        _flag_rows,
    ),
    _x(
        "funds_flag_cases",
        "flag VARCHAR, case_number VARCHAR, department VARCHAR, actor VARCHAR, "
        "time_ms BIGINT, height BIGINT, position INTEGER",
        ["link_case"],
        _case_rows,
    ),
]
"""The tables of fund supervision in the analytics index."""


class IndexReader(Protocol):
    """What ``load_data`` needs of an index (``govchain.analytics.index.AnalyticsIndex`` is
    one): the height it reached and one read-only statement at a time."""

    @property
    def height(self) -> int:
        """Height of the last indexed block."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one SELECT; return its rows."""
        ...


def load_data(index: IndexReader) -> FundsData:
    """Return the fund data the index holds (projects, disbursements and evidence in commit
    order, and the rule/subject pairs flagged already), as of its current height."""
    height = int(index.height)
    q = index.query
    milestones: dict[str, list[dict[str, Any]]] = {}
    for project, mid, name, amount, due in q(
        "SELECT project, milestone, name, amount_fen, due FROM funds_milestones "
        "WHERE height <= ? ORDER BY height, position, rowid",
        [height],
    ):
        milestones.setdefault(project, []).append(
            {"id": mid, "name": name, "amount_fen": int(amount), "due": due}
        )
    payees: dict[str, list[dict[str, Any]]] = {}
    for project, payee, name in q(
        "SELECT project, payee, name FROM funds_payees WHERE height <= ? "
        "ORDER BY height, position, rowid",
        [height],
    ):
        payees.setdefault(project, []).append({"id": payee, "name": name})
    projects = {}
    for row in q(
        "SELECT project, name, fund, category, unit, quantity, budget_fen, start_date, "
        "department, related FROM funds_projects WHERE height <= ? ORDER BY project",
        [height],
    ):
        pid = row[0]
        projects[pid] = project_of(
            {
                "id": pid, "name": row[1], "fund": row[2], "category": row[3], "unit": row[4],
                "quantity": row[5], "budget_fen": row[6], "start_date": row[7], "dept": row[8],
                "related": orjson.loads(row[9]), "payees": payees.get(pid, []),
                "milestones": milestones.get(pid, []),
            }
        )  # fmt: skip
    disbursements = tuple(
        Disbursement(r[0], r[1], r[2], r[3], int(r[4]), r[5], int(r[6]), int(r[7]))
        for r in q(
            "SELECT id, project, milestone, payee, amount_fen, paid_on, height, position "
            "FROM funds_disbursements WHERE height <= ? ORDER BY height, position",
            [height],
        )
    )
    evidence = tuple(
        Evidence(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]))
        for r in q(
            "SELECT digest, project, milestone, kind, height, position FROM funds_evidence "
            "WHERE height <= ? ORDER BY height, position",
            [height],
        )
    )
    flagged = frozenset(
        (str(r[0]), str(r[1]))
        for r in q("SELECT rule, subject FROM funds_flags WHERE height <= ?", [height])
    )
    return FundsData(height, projects, disbursements, evidence, flagged)
