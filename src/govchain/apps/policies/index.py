"""What the analytics index keeps of enterprise policies (its extractors): the policies
proposed and published, the facts attested and revoked, and the grants decided without an
application and declined — for dashboards of what was granted, to whom, on which facts.

Tables (every row carries the ``height`` and ``position`` of its transaction):

==========================  ===================================================================
``policy_proposals``        one row per proposal: id, issuer, mode, level, category, validity,
                            cap and budget (fen), the eligibility rule (JSON)
``policy_approvals``        one row per approval (publication): id, version, department, actor
``policy_attestations``     one row per attested fact: attestation id, enterprise, attribute,
                            value (JSON), department
``policy_revocations``      one row per revoked attestation, with the reason
``policy_grants``           one row per grant: policy, version, enterprise, amount (fen), the
                            facts relied on (JSON)
``policy_declines``         one row per declined grant, with the reason
==========================  ===================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from govchain.analytics.extract import Extractor, TxFacts

CONTRACT = "policies"
"""Contract the extractors read."""


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _proposal_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    p = f.args["policy"]
    yield (
        p["id"], f.result["version"], p["issuer"], p["mode"], p["level"], p["category"],
        p["valid_from"], p["valid_until"], p["benefit"]["cap_fen"], p["budget_fen"],
        _json(p["eligibility"]), f.height, f.position, f.tx_id,
    )  # fmt: skip


def _approval_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    yield (
        f.args["policy_id"], f.args["version"], f.department, f.actor, f.height, f.position,
        f.tx_id,
    )  # fmt: skip


def _attestation_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    for att_id, fact in zip(f.result["ids"], f.args["facts"], strict=True):
        yield (
            att_id, fact["uscc"], fact["attribute"], _json(fact["value"]), f.department,
            f.height, f.position, f.tx_id,
        )  # fmt: skip


def _revocation_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    yield (f.args["attestation"], f.args["reason"], f.department, f.height, f.position, f.tx_id)


def _grant_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    g = f.result
    yield (
        g["policy"], g["version"], g["uscc"], g["amount_fen"], _json(g["facts"]),
        g.get("case", ""), f.department, f.height, f.position, f.tx_id,
    )  # fmt: skip


def _decline_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    a = f.args
    yield (a["policy_id"], a["uscc"], a["reason"], f.actor, f.height, f.position, f.tx_id)


EXTRACTORS = [
    Extractor(
        "policy_proposals",
        "CREATE TABLE policy_proposals (policy VARCHAR, version BIGINT, issuer VARCHAR, "
        "mode VARCHAR, level VARCHAR, category VARCHAR, valid_from VARCHAR, "
        "valid_until VARCHAR, cap_fen BIGINT, budget_fen BIGINT, eligibility VARCHAR, "
        "height BIGINT, position INTEGER, tx_id VARCHAR)",
        CONTRACT,
        frozenset({"propose"}),
        _proposal_rows,
    ),
    Extractor(
        "policy_approvals",
        "CREATE TABLE policy_approvals (policy VARCHAR, version BIGINT, department VARCHAR, "
        "actor VARCHAR, height BIGINT, position INTEGER, tx_id VARCHAR)",
        CONTRACT,
        frozenset({"approve"}),
        _approval_rows,
    ),
    Extractor(
        "policy_attestations",
        "CREATE TABLE policy_attestations (attestation VARCHAR, uscc VARCHAR, "
        "attribute VARCHAR, value VARCHAR, department VARCHAR, height BIGINT, "
        "position INTEGER, tx_id VARCHAR)",
        CONTRACT,
        frozenset({"attest"}),
        _attestation_rows,
    ),
    Extractor(
        "policy_revocations",
        "CREATE TABLE policy_revocations (attestation VARCHAR, reason VARCHAR, "
        "department VARCHAR, height BIGINT, position INTEGER, tx_id VARCHAR)",
        CONTRACT,
        frozenset({"revoke"}),
        _revocation_rows,
    ),
    Extractor(
        "policy_grants",
        "CREATE TABLE policy_grants (policy VARCHAR, version BIGINT, uscc VARCHAR, "
        "amount_fen BIGINT, facts VARCHAR, case_number VARCHAR, department VARCHAR, "
        "height BIGINT, "
        "position INTEGER, tx_id VARCHAR)",
        CONTRACT,
        frozenset({"grant"}),
        _grant_rows,
    ),
    Extractor(
        "policy_declines",
        "CREATE TABLE policy_declines (policy VARCHAR, uscc VARCHAR, reason VARCHAR, "
        "actor VARCHAR, height BIGINT, position INTEGER, tx_id VARCHAR)",
        CONTRACT,
        frozenset({"decline"}),
        _decline_rows,
    ),
]
"""The tables of enterprise policies in the analytics index."""
