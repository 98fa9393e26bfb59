"""The real ``calsyncd run`` process on a throw-away project of local calendar folders.

Every daemon listens on a free port (``health.listen: 127.0.0.1:0``; the port is read from its
``http listening`` log line), logs JSON lines at ``info``, and is killed in teardown if a test
left it running. Waiting is polling with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import pytest

T = TypeVar("T")

SETTINGS = """\
rules: ../rules
state: ../state/calsyncd.db
health: {{listen: "127.0.0.1:0"}}
log: {{level: info, format: json}}
defaults: {{interval: {interval}}}
shutdown_timeout: {shutdown_timeout}
"""


def wait_until(check: Callable[[], T | None], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def ics(uid: str, title: str, start: datetime | None = None) -> str:
    """One event, two days from now unless told otherwise."""
    begin = start or datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    end = begin + timedelta(hours=1)
    fmt = "%Y%m%dT%H%M%SZ"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsyncd tests//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{begin:{fmt}}\r\n"
        f"DTSTART:{begin:{fmt}}\r\nDTEND:{end:{fmt}}\r\nSUMMARY:{title}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def write_atomically(path: Path, text: str) -> None:
    """As an editor saves: a temporary file renamed over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


@dataclass
class Project:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config" / "calsyncd.yaml"

    @property
    def rules_file(self) -> Path:
        return self.root / "rules" / "rules.yaml"

    def calendar(self, name: str) -> Path:
        return self.root / "calendars" / name

    def put(self, calendar: str, uid: str, title: str) -> None:
        write_atomically(self.calendar(calendar) / f"{uid}.ics", ics(f"{uid}@test", title))

    def titles(self, calendar: str) -> set[str]:
        """The SUMMARY of every event in a calendar folder."""
        found = set()
        for path in self.calendar(calendar).glob("*.ics"):
            for line in path.read_text().splitlines():
                if line.startswith("SUMMARY:"):
                    found.add(line.removeprefix("SUMMARY:"))
        return found

    def settings(self, *, interval: str = "1s", shutdown_timeout: str = "10s") -> None:
        self.config.write_text(
            SETTINGS.format(interval=interval, shutdown_timeout=shutdown_timeout)
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "calsyncd", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
            check=False,
        )


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CALSYNCD_", "NOTIFY_SOCKET", "WATCHDOG_"))
    }
    env.update(extra)
    return env


def rule(name: str, source: str, target: str, *, connection: str = "loc", extra: str = "") -> str:
    return (
        f"  - name: {name}\n"
        f"    source: {{connection: {connection}, calendar: {source}}}\n"
        f"    target: {{connection: loc, calendar: {target}}}\n{extra}"
    )


LOCAL = "connections:\n  loc: {type: local, path: ../calendars}\n"


@dataclass
class Daemon:
    """A running ``calsyncd run``; ``output`` collects stdout and stderr as they come."""

    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)
    port: int = 0

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.output.append(line)

    def start_reading(self) -> None:
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        for stream in (self.process.stdout, self.process.stderr):
            reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
            reader.start()
            self.readers.append(reader)

    @property
    def text(self) -> str:
        return "".join(self.output)

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """The JSON log lines so far (those with ``event == name``)."""
        found = []
        for line in list(self.output):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and (name is None or record.get("event") == name):
                found.append(record)
        return found

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url(path), timeout=5)

    def post(self, path: str) -> httpx.Response:
        return httpx.post(self.url(path), timeout=5)

    def status(self) -> dict[str, Any]:
        document: dict[str, Any] = self.get("/status").json()
        return document

    def metric(self, line_start: str) -> float | None:
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(line_start + " "):
                return float(line.rsplit(" ", 1)[1])
        return None

    def wait_ready(self, timeout: float = 15.0) -> None:
        wait_until(lambda: self.get("/readyz").status_code == 200, timeout, "/readyz 200")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then the exit code (fails if it takes longer than ``timeout``)."""
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float = 15.0) -> int:
        code = self.process.wait(timeout)
        self.close()
        return code

    def close(self) -> None:
        for reader in self.readers:
            reader.join(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    for folder in ("config", "rules", "calendars", "state"):
        (root / folder).mkdir(parents=True)
    made = Project(root)
    made.settings()
    return made


@pytest.fixture
def start(project: Project) -> Iterator[Callable[..., Daemon]]:
    """``start(wait_listening=True, **env)`` starts the daemon of ``project``."""
    started: list[Daemon] = []

    def launch(*, wait_listening: bool = True, **env: str) -> Daemon:
        process = subprocess.Popen(
            [sys.executable, "-m", "calsyncd", "--config", str(project.config), "run"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(**env),
            cwd=project.root,
        )
        daemon = Daemon(process)
        started.append(daemon)
        daemon.start_reading()
        if wait_listening:
            found = wait_until(
                lambda: daemon.events("http listening") or process.poll() is not None,
                15,
                "the daemon to listen",
            )
            assert isinstance(found, list), daemon.text
            daemon.port = int(found[0]["port"])
        return daemon

    yield launch
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait(10)
        daemon.close()
