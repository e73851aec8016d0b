"""Regenerate ``data/evaluation.json`` from the archetypes and print its counts:
``python -m govchain.apps.projects.evaluation [--seed N] [--check]`` (``--check`` writes
nothing and fails if the file differs from what the seed gives)."""

from __future__ import annotations

import argparse
import sys

from govchain.apps.projects.evaluation.dataset import (
    SEED,
    build_evaluation,
    dumps_evaluation,
    source_path,
)


def main(argv: list[str] | None = None) -> int:
    """Build the set, write it (or compare it) and print its counts; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m govchain.apps.projects.evaluation")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed (default {SEED})")
    parser.add_argument("--check", action="store_true", help="compare with the file only")
    args = parser.parse_args(argv)
    doc = build_evaluation(args.seed)
    text = dumps_evaluation(doc)
    path = source_path()
    if args.check:
        same = path.exists() and path.read_text(encoding="utf-8") == text
        print(f"{path}: {'up to date' if same else 'differs from the generator'}")
        return 0 if same else 1
    path.write_text(text, encoding="utf-8")
    counts = doc["counts"]
    print(f"wrote {path} (seed {args.seed}, {len(text.encode('utf-8'))} bytes)")
    print(f"archetypes: {counts['archetypes']}  roles: {counts['roles']}")
    print(f"registry: {counts['registry']}  applications: {counts['applications']}")
    print(f"entries: {counts['entries']}  expected: {counts['expected']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
