"""Run a command and write its wall time, peak RSS and exit code as JSON to a file.

Usage: ``python -S launcher.py RESULT COMMAND [ARG …]``. :mod:`bench.caldav.proc` starts the
tools through this small process rather than directly, because on Linux a child's
``ru_maxrss`` includes the high-water mark of the memory it was forked from: a tool started
straight from the benchmark (hundreds of MiB after building big calendars) would report the
benchmark's peak as its own. Forked from this launcher (~10 MiB), the tool's figure is its
own. Standard library only, and not imported as part of the ``bench`` package.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    result, command = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    with open(result, "w") as out:
        json.dump(
            {
                "seconds": seconds,
                "peak_rss_kib": usage.ru_maxrss,
                "returncode": os.waitstatus_to_exitcode(status),
            },
            out,
        )


if __name__ == "__main__":
    main()
