"""Crypto suites, chosen once per network at genesis: ``intl`` and ``gm``."""
