"""What the analytics index keeps of supervision: every reported fact and published inspection
result (``sv_facts``), and the alerts (``sv_alerts``). Risk scores, indicators and dashboards
read these tables, never the node's state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import orjson

from govchain.analytics.extract import Extractor, TxFacts

CONTRACT = "supervision"
"""Contract whose transactions are read."""
OUTCOME_VALUES = {"pass": 0, "issues": 1, "fail": 2}
"""Value of a published inspection result as an ``inspection`` fact."""
CHINA = dt.timezone(dt.timedelta(hours=8))

FACTS_DDL = """CREATE TABLE sv_facts (
    height BIGINT NOT NULL,
    position INTEGER NOT NULL,
    batch VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    uscc VARCHAR NOT NULL,
    industry VARCHAR NOT NULL,
    division VARCHAR NOT NULL,
    value BIGINT NOT NULL,
    department VARCHAR NOT NULL
)"""
ALERTS_DDL = """CREATE TABLE sv_alerts (
    height BIGINT NOT NULL,
    tx_id VARCHAR NOT NULL,
    indicator VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    figures VARCHAR NOT NULL,
    inputs INTEGER NOT NULL,
    department VARCHAR NOT NULL
)"""


def month_of(time_ms: int) -> str:
    """The month (``YYYY-MM``, China Standard Time) of a block time."""
    return dt.datetime.fromtimestamp(time_ms / 1000, CHINA).strftime("%Y-%m")


def fact_rows(facts: TxFacts) -> Iterable[tuple[Any, ...]]:
    """Rows of ``sv_facts``: a reported batch's rows, or a published result (an inspection fact
    of the month it was published, batch ``<plan>/<uscc>``)."""
    a = facts.args
    if facts.method == "report":
        for uscc, industry, division, value in a["rows"]:
            yield (
                facts.height,
                facts.position,
                a["batch"],
                a["kind"],
                a["period"],
                uscc,
                industry,
                division,
                value,
                facts.department,
            )
    else:
        yield (
            facts.height,
            facts.position,
            f"{a['plan_id']}/{a['uscc']}",
            "inspection",
            month_of(facts.time_ms),
            a["uscc"],
            "",
            "",
            OUTCOME_VALUES[a["outcome"]],
            facts.department,
        )


def alert_rows(facts: TxFacts) -> Iterable[tuple[Any, ...]]:
    """The row of ``sv_alerts`` of a recorded alert."""
    a = facts.args["alert"]
    yield (
        facts.height,
        facts.tx_id,
        a["indicator"],
        a["subject"],
        a["period"],
        orjson.dumps(a["figures"], option=orjson.OPT_SORT_KEYS).decode(),
        len(a["inputs"]),
        facts.department,
    )


EXTRACTORS = [
    Extractor("sv_facts", FACTS_DDL, CONTRACT, frozenset({"report", "publish"}), fact_rows),
    Extractor("sv_alerts", ALERTS_DDL, CONTRACT, frozenset({"alert"}), alert_rows),
]
"""The supervision tables of the analytics index."""
