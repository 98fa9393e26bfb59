"""``make bench``: run the benchmarks and write ``bench/results/``.

Usage: ``python -m bench [planner] [compare] [--sizes N,N,…] [compare options]``; with no
suite named, both run, each at its own default sizes (planner: 10000,100000; compare:
1000,10000,50000). ``compare`` (:mod:`bench.caldav`) needs vdirsyncer 0.21 in
``.venv-bench-vdirsyncer/`` and matplotlib (the ``bench`` extra); ``make bench`` installs both.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import planner
from bench.caldav import compare

RESULTS = Path(__file__).parent / "results"
SUITES = ("planner", "compare")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("suites", nargs="*", help=f"any of {', '.join(SUITES)} (default: all)")
    parser.add_argument(
        "--sizes",
        default=None,
        help="calendar sizes, comma-separated (default: planner 10000,100000; "
        "compare 1000,10000,50000)",
    )
    compare.add_arguments(parser)
    args = parser.parse_args()
    suites = args.suites or SUITES
    unknown = sorted(set(suites) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite {', '.join(unknown)} (choose from {', '.join(SUITES)})")
    RESULTS.mkdir(exist_ok=True)
    if "planner" in suites:
        run_planner(args.sizes or "10000,100000")
    if "compare" in suites:
        return compare.main(args, RESULTS)
    return 0


def run_planner(sizes_text: str) -> None:
    sizes = tuple(int(s) for s in sizes_text.split(","))
    machine = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print("| scenario     |  events |    planning |   peak mem |   steps |")
    print("|--------------|--------:|------------:|-----------:|--------:|")
    rows = planner.main(sizes)
    out = RESULTS / "planner.json"
    out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    raise SystemExit(main())
