"""Helpers of the hostile-input suite.

Every test here plays an attacker or a careless operator against the real ``calsyncd``
process: a hostile server (the fault proxy's ``tamper`` hook in front of a real CalDAV
server, or answering alone), a hostile feed, invitation or rule file. Each test bounds what
it waits for, measures what the process spent, and prints one figure line (``pytest -s``;
the session summary repeats them, ``docs/reliability.md`` quotes them):

- :func:`calsyncd` runs one command and measures its wall time and its own peak RSS (its
  ``VmHWM``, read while it runs: ``wait4``'s ``ru_maxrss`` starts at the test runner's RSS,
  which a spawned child inherits);
- :func:`hostile_daemon` runs ``calsyncd run`` under a :class:`HealthWatch` that asks
  ``/healthz`` every 0.2 s with a 1 s deadline for as long as the test lasts, and reads the
  daemon's peak RSS (``VmHWM``) and how long SIGTERM takes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cli.conftest import Project
from daemon.conftest import Daemon, clean_env
from faults.support import running_daemon
from figures import report_figures

HEALTH_DEADLINE = 1.0
"""``/healthz`` must answer within this, whatever a hostile peer does."""
RSS_LIMIT_MIB = 300.0
"""The daemon (and one command) must stay under this peak RSS."""
TRACEBACK = "Traceback (most recent call last)"


def report(name: str, **figures: object) -> str:
    """Print a test's figures as one line and keep it for the session summary."""
    return report_figures("hostile-input figures", "HOSTILE", name, **figures)


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        assert TRACEBACK not in text, text[-4000:]


# -- one command, measured -------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """A finished process: exit code, output, wall time and its own peak RSS."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mib: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def measured(
    argv: list[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Measured:
    """Run ``argv`` to its end and measure it; a process still running after ``timeout``
    seconds is killed and fails the test (a hang is a finding, not a slow pass)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        peak_kib = 0
        while True:
            peak_kib = max(peak_kib, _vm_hwm_kib(process.pid))
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                process.kill()
                os.wait4(process.pid, 0)
                process.returncode = -9
                out.seek(0)
                err.seek(0)
                raise AssertionError(
                    f"{argv[3:]} still running after {timeout}s: "
                    f"{(out.read() + err.read()).decode(errors='replace')[-2000:]}"
                )
            time.sleep(0.02)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            returncode=process.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            seconds=seconds,
            peak_rss_mib=(peak_kib or usage.ru_maxrss) / 1024,  # Linux: KiB
        )


def _vm_hwm_kib(pid: int) -> int:
    """A running process's peak RSS so far (0 once it has exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def calsyncd(
    project: Project, *args: str, timeout: float = 60.0, env: Mapping[str, str] | None = None
) -> Measured:
    """``calsyncd --config <project> ARGS…`` as an operator runs it, measured."""
    argv = [sys.executable, "-m", "calsyncd", "--config", str(project.config), *args]
    return measured(argv, timeout=timeout, env=clean_env(**dict(env or {})), cwd=project.root)


# -- the daemon under a health watch ---------------------------------------------------------


class HealthWatch:
    """Asks ``/healthz`` every 0.2 s (1 s deadline) in a thread until stopped; keeps the
    slowest answer and every failure."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples = 0
        self.slowest = 0.0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="health-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _watch(self) -> None:
        with httpx.Client(timeout=HEALTH_DEADLINE, trust_env=False) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    answer = client.get(self.url)
                    ok = answer.status_code == 200
                    why = f"HTTP {answer.status_code}"
                except httpx.HTTPError as exc:
                    ok, why = False, type(exc).__name__
                took = time.monotonic() - started
                self.samples += 1
                self.slowest = max(self.slowest, took)
                if not ok or took > HEALTH_DEADLINE:
                    self.failures.append(f"{why} after {took:.2f}s")
                self._stop.wait(0.2)

    def check(self) -> None:
        """Every answer came within the deadline (and there were answers)."""
        assert self.samples > 0, "no /healthz answer was asked for"
        assert not self.failures, self.failures[:5]
        assert self.slowest < HEALTH_DEADLINE, self.slowest


@dataclass
class HostileDaemon:
    """A running daemon, its health watch, and what it cost."""

    daemon: Daemon
    watch: HealthWatch
    stop_seconds: float | None = None
    figures: dict[str, object] = field(default_factory=dict)

    def peak_rss_mib(self) -> float:
        """The daemon's peak resident memory so far (``VmHWM``)."""
        status = Path(f"/proc/{self.daemon.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc/PID/status")

    def stop(self, within: float) -> float:
        """SIGTERM; the seconds until it exited, which must be 0 and within ``within``."""
        self.figures["peak_rss_mib"] = round(self.peak_rss_mib(), 1)
        self.watch.check()
        self.watch.stop()
        started = time.monotonic()
        self.daemon.signal(signal.SIGTERM)
        try:
            code = self.daemon.process.wait(within + 5)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"no exit {within + 5}s after SIGTERM") from None
        self.stop_seconds = time.monotonic() - started
        assert code == 0, (code, self.daemon.text[-3000:])
        assert self.stop_seconds <= within, self.stop_seconds
        assert_no_traceback(self.daemon.text)
        assert self.figures["peak_rss_mib"] < RSS_LIMIT_MIB, self.figures  # type: ignore[operator]
        self.figures.update(
            healthz_slowest_ms=round(self.watch.slowest * 1000),
            healthz_asked=self.watch.samples,
            sigterm_exit_s=round(self.stop_seconds, 2),
        )
        return self.stop_seconds


@contextmanager
def hostile_daemon(
    project: Project, *, interval: str = "1s", shutdown_timeout: str = "5s", **env: str
) -> Iterator[HostileDaemon]:
    """``calsyncd run`` on ``project`` under a :class:`HealthWatch`; killed if a test left
    it running. Call :meth:`HostileDaemon.stop` to check health, memory and SIGTERM."""
    with running_daemon(
        project, interval=interval, shutdown_timeout=shutdown_timeout, **env
    ) as daemon:
        watch = HealthWatch(daemon.url("/healthz"))
        watch.start()
        try:
            yield HostileDaemon(daemon, watch)
        finally:
            watch.stop()


def grep(texts: Iterable[str], needles: Iterable[str]) -> list[str]:
    """Each needle found in any of ``texts`` (empty: none leaked)."""
    haystack = "\n".join(texts)
    return [needle for needle in needles if needle and needle in haystack]
