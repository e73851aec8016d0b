"""Analytics: an index of the committed blocks in an embedded DuckDB database, rebuilt from the
ledger on demand and verified against it, and the decision-support queries that read it.

``extract`` (what a block says, and per-service extractors), ``schema`` (the index's own
tables), ``index`` (the index), ``verify`` (index against ledger), ``follow`` (a node's
follower), ``queries`` and ``decisions`` (decision support), ``export`` (CSV and XLSX).
"""
