"""The ``govchain`` command line (Typer + Rich)."""
