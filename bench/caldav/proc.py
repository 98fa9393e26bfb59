"""Run a tool as a whole process and measure it: wall time and peak resident memory.

Peak memory is the tool's own ``ru_maxrss`` from :func:`os.wait4` (KiB on Linux): the
kernel's high-water mark of the process, interpreter and libraries included. The tool is
started through :mod:`bench.caldav.launcher` (why: see there), which also times it, so the
launcher's own start-up is not counted. Output goes to temporary files, so a chatty tool
cannot block on a full pipe while it is timed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 3600.0
LAUNCHER = Path(__file__).with_name("launcher.py")


@dataclass(frozen=True)
class Run:
    command: tuple[str, ...]
    seconds: float
    peak_rss_kib: int
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> Run:
        """This run, or an error that shows what the tool said."""
        if self.returncode != 0:
            raise ToolFailed(self)
        return self


@dataclass(frozen=True)
class Outcome:
    """A tool's measured sync: how many items it wrote, and why it failed (``None``: it
    did not; a failed run is recorded and reported, not fatal)."""

    run: Run
    writes: int
    error: str | None = None


def tail(text: str, lines: int = 3, width: int = 400) -> str:
    """The last few non-empty lines of ``text``, on one line, for a report."""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " / ".join(kept)[-width:]


class ToolFailed(RuntimeError):
    def __init__(self, run: Run) -> None:
        super().__init__(
            f"{' '.join(run.command)} exited {run.returncode}\n"
            f"--- stdout\n{run.stdout[-4000:]}\n--- stderr\n{run.stderr[-4000:]}"
        )
        self.run = run


def _kill(process: subprocess.Popen[bytes]) -> None:
    """The launcher and the tool: the launcher leads a process group of its own."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def measure(
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = TIMEOUT,
) -> Run:
    """Run ``command`` to its end; killed after ``timeout`` seconds."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        result = Path(scratch) / "result.json"
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-S", str(LAUNCHER), str(result), *command],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
        killer = threading.Timer(timeout, _kill, [process])
        killer.start()
        try:
            process.wait()
        finally:
            killer.cancel()
        measured = (
            json.loads(result.read_text())
            if result.exists()
            else {"seconds": time.perf_counter() - started, "peak_rss_kib": 0, "returncode": -9}
        )
        out.seek(0)
        err.seek(0)
        return Run(
            command=tuple(command),
            seconds=float(measured["seconds"]),
            peak_rss_kib=int(measured["peak_rss_kib"]),
            returncode=int(measured["returncode"]),
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )
