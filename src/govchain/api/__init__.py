"""The HTTP API of a node (FastAPI): transactions, blocks, state, checkpoints, log proofs.

``govchain.api.app.create_app(node, settings)`` builds the application; ``govchain up`` serves
it. (Nothing is imported here, so that ``govchain.api.settings`` stays cheap to import.)
"""
