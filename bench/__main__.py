"""``make bench``: run the benchmarks and write ``bench/results/``.

Usage: ``python -m bench [planner] [--sizes 10000,100000]``
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import planner

RESULTS = Path(__file__).parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("suites", nargs="*", default=["planner"], choices=["planner"])
    parser.add_argument("--sizes", default="10000,100000", help="calendar sizes, comma-separated")
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    RESULTS.mkdir(exist_ok=True)
    machine = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if "planner" in args.suites:
        print("| scenario     |  events |    planning |   peak mem |   steps |")
        print("|--------------|--------:|------------:|-----------:|--------:|")
        rows = planner.main(sizes)
        out = RESULTS / "planner.json"
        out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
        print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
