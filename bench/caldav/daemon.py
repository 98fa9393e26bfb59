"""The calsyncd daemon (``calsyncd run``) driven over its HTTP port, timed by its own metrics.

A cycle is asked for with ``POST /rules/{rule}/sync``; its in-process duration is the change
of ``calsyncd_reconcile_duration_seconds_sum`` across it, once ``_count`` has gone up by one.
The rule's interval is a week, so no timer-driven cycle gets in between. ``/metrics`` is
polled every :data:`POLL` seconds while a cycle runs: each poll is served on the daemon's
event loop, so polling much faster would slow the very cycle being measured.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass

import httpx

from bench.caldav.calsyncd_tool import CalsyncdProject
from bench.caldav.proc import tail

POLL = 0.025
TIMEOUT = 1800.0
_SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Counters:
    """A rule's series in one scrape of ``/metrics``."""

    cycles: float
    seconds: float
    ok: float
    writes: float


def counters(text: str, rule: str) -> Counters:
    values: dict[str, float] = {}
    for name, labels, value in _SAMPLE.findall(text):
        if f'rule="{rule}"' not in labels:
            continue
        if name == "calsyncd_reconcile_total" and 'result="ok"' in labels:
            values["ok"] = float(value)
        elif name == "calsyncd_changes_total":
            values["writes"] = values.get("writes", 0.0) + float(value)
        elif name == "calsyncd_reconcile_duration_seconds_sum":
            values["seconds"] = float(value)
        elif name == "calsyncd_reconcile_duration_seconds_count":
            values["cycles"] = float(value)
    return Counters(
        values.get("cycles", 0.0),
        values.get("seconds", 0.0),
        values.get("ok", 0.0),
        values.get("writes", 0.0),
    )


@dataclass(frozen=True)
class Cycle:
    seconds: float
    writes: int
    error: str | None = None
    """Why the cycle did not end ``ok`` (the daemon's log says more)."""


class Daemon:
    """``calsyncd run`` on ``project``'s daemon settings (written with a health port)."""

    def __init__(self, project: CalsyncdProject, rule: str) -> None:
        if project.health_port is None:
            raise ValueError("the project's daemon settings have no health port")
        port = project.health_port
        self.project = project
        self.rule = rule
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False)
        self.log = project.root / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Daemon:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.project.command("run", daemon=True),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.project.env(),
            )
        self._wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _wait_ready(self) -> None:
        """Until ``/readyz`` says the first (start-up) cycle is done."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            self._alive()
            try:
                if self.http.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the daemon was not ready after {TIMEOUT} s; see {self.log}")

    def _alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = self.log.read_text()[-4000:]
            raise RuntimeError(f"the daemon exited {self.process.returncode}:\n{tail}")

    def counters(self) -> Counters:
        answer = self.http.get("/metrics")
        answer.raise_for_status()
        return counters(answer.text, self.rule)

    def cycle(self) -> Cycle:
        """Ask for one cycle and wait for it; its in-process duration from the metrics."""
        before = self.counters()
        answer = self.http.post(f"/rules/{self.rule}/sync")
        if answer.status_code != 202:
            raise RuntimeError(f"trigger: {answer.status_code} {answer.text}")
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            time.sleep(POLL)
            after = self.counters()
            if after.cycles > before.cycles:
                if after.cycles != before.cycles + 1:
                    raise RuntimeError(f"more than one cycle ran: {before} -> {after}")
                seconds = after.seconds - before.seconds
                writes = round(after.writes - before.writes)
                if after.ok != before.ok + 1:
                    log = tail(self.log.read_text(errors="replace"), lines=2)
                    return Cycle(seconds, writes, f"the cycle did not end ok: {log}")
                return Cycle(seconds, writes)
            self._alive()
        raise RuntimeError(f"the triggered cycle did not finish in {TIMEOUT} s")
