"""The HTTP API of a node (FastAPI): transactions, blocks, state, checkpoints, log proofs.

``create_app(node, settings)`` builds the application; ``govchain up`` serves it.
"""

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
