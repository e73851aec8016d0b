"""Fixtures of the contract-runtime tests: the in-memory ledger network of tests/ledger."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ledger"))
