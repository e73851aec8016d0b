"""The service SDK: what a government service (an ``apps/<name>/`` package) builds on.

Contract code imports its building blocks from here (``from govchain.sdk import Contract,
entry, view, Failed``) — inside the contract sandbox these are the only names it can import.
Service code uses ``App`` to describe itself and ``ContractHarness`` to test its contract.
"""

from govchain.contracts.model import Contract, Failed, entry, migration, view
from govchain.sdk.app import App, discover_apps, find_app

__all__ = [
    "App",
    "Contract",
    "Failed",
    "discover_apps",
    "entry",
    "find_app",
    "migration",
    "view",
]
