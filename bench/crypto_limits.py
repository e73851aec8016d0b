"""Print and record the signature limits of this machine for every crypto suite.

Usage: ``python bench/crypto_limits.py [--seconds 1.0]``; writes
``bench/results/crypto_limits.json``.
The measuring code is ``govchain.crypto.limits.measure_limits`` so other benchmarks can reuse it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

from govchain.crypto import SUITE_NAMES
from govchain.crypto.limits import CryptoLimits, measure_limits

RESULTS = Path(__file__).resolve().parent / "results" / "crypto_limits.json"
LIBRARIES = ("pynacl", "cryptography", "tongsuopy")


def main(argv: list[str] | None = None) -> int:
    """Measure every suite, print a table, write the JSON file; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="duration of each figure")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    rows: list[CryptoLimits] = [measure_limits(name, args.seconds) for name in SUITE_NAMES]

    print(f"{'suite':<6} {'sign/s':>10} {'verify/s 1 core':>16} {'verify/s all cores':>19}")
    for row in rows:
        print(
            f"{row['suite']:<6} {row['sign_per_s']:>10,.0f} {row['verify_per_s_1core']:>16,.0f}"
            f" {row['verify_per_s_all_cores']:>19,.0f}"
        )
    print(f"cores: {os.cpu_count()}")

    report = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds_per_figure": args.seconds,
        "machine": {
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": sys.version.split()[0],
            # Other jobs on the machine lower the all-cores figure; this says how busy it was.
            "load_average_1m_before": load_before,
            "libraries": {name: metadata.version(name) for name in LIBRARIES},
        },
        "suites": {row["suite"]: row for row in rows},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
