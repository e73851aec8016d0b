"""Demo data of notarisation: example calls for the demo network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DEMO_DOCUMENTS = (
    ("market/admin", "营业执照副本 (business licence copy), 杭州某某餐饮有限公司"),
    ("tax/admin", "完税证明 (tax clearance certificate) 2026-0001"),
    ("hrss/admin", "社保缴费记录 (social insurance payment record) 2026-Q3"),
)
"""(member, document text) of the demo notarisations."""


def demo_calls(hash_fn: Callable[[bytes], bytes]) -> list[tuple[str, str, dict[str, Any]]]:
    """Return ``(member, method, args)`` of the demo notarisations (network hash of the text)."""
    return [
        (
            member,
            "notarise",
            {"digest": hash_fn(text.encode()).hex(), "title": text[:60]},
        )
        for member, text in DEMO_DOCUMENTS
    ]
