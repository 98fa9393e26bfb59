"""Radicale and Xandikos as subprocesses on free loopback ports, with stock settings.

Big calendars are written straight into a server's storage before it starts
(:func:`prefill`): creating 50,000 events over HTTP would take hours, as Radicale slows to a
few creates per second on a big calendar. Radicale keeps one file per object in a folder and
builds its item cache with its own ``--verify-storage``; Xandikos keeps one git repository
per calendar.

Radicale runs with htpasswd auth (Basic auth is exercised for real) and one setting
changed: ``[reporting] max_expand_occurrence`` (default 10,000) caps the events one REPORT may
return, and vdirsyncer 0.21 fetches every item it has no status for in a single
``calendar-multiget``, so on a calendar of more than 10,000 events its first sync fails with
HTTP 400; calsyncd fetches in batches of 200 and is not affected. Xandikos serves
``/alice/`` without auth, with stock settings.

The same approach as ``tests/caldav/servers.py``, kept separate so the benchmark does not
depend on test code.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

Kind = Literal["radicale", "xandikos"]
USER = "alice"
PASSWORD = "secret"
START_TIMEOUT = 60.0

_RADICALE_CONFIG = """\
[server]
hosts = 127.0.0.1:{port}
[auth]
type = htpasswd
htpasswd_filename = {users}
htpasswd_encryption = plain
delay = 0
[storage]
filesystem_folder = {storage}
[web]
type = none
[logging]
level = warning
[reporting]
max_expand_occurrence = 1000000
"""

_MKCALENDAR = b"""<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop>
    <C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</C:mkcalendar>
"""


def free_port() -> int:
    """A loopback port free right now (Radicale does not accept port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server; its calendars live under :attr:`home`."""

    kind: Kind
    folder: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def home(self) -> str:
        return f"/{USER}/" if self.kind == "radicale" else f"/{USER}/calendars/"

    @property
    def auth(self) -> tuple[str, str] | None:
        return (USER, PASSWORD) if self.kind == "radicale" else None

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def path(self, calendar: str) -> str:
        return f"{self.home}{calendar}/"

    def calendar_url(self, calendar: str) -> str:
        return f"http://127.0.0.1:{self.port}{self.path(calendar)}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=self.auth, trust_env=False, timeout=120.0)

    def make_calendar(self, name: str) -> str:
        """Create an empty calendar (``MKCALENDAR``); returns its path."""
        path = self.path(name)
        with self.client() as client:
            answer = client.request(
                "MKCALENDAR",
                path,
                content=_MKCALENDAR,
                headers={"Content-Type": "application/xml; charset=utf-8"},
            )
        if answer.status_code != 201:
            raise RuntimeError(f"MKCALENDAR {path} on {self.kind}: {answer.status_code}")
        return path

    def stop(self) -> None:
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)


def storage(kind: Kind, folder: Path) -> Path:
    """Where a server started in ``folder`` keeps the calendars of ``alice``."""
    if kind == "radicale":
        return folder / "collections" / "collection-root" / USER
    return folder / "data" / USER / "calendars"


def _command(kind: Kind, folder: Path, port: int) -> list[str]:
    if kind == "radicale":
        config = folder / "radicale.conf"
        users = folder / "users"
        users.write_text(f"{USER}:{PASSWORD}\n")
        config.write_text(
            _RADICALE_CONFIG.format(port=port, users=users, storage=folder / "collections")
        )
        storage(kind, folder).mkdir(parents=True, exist_ok=True)
        return [sys.executable, "-m", "radicale", "-C", str(config)]
    (folder / "state").mkdir(exist_ok=True)
    return [
        sys.executable,
        "-m",
        "xandikos.web",
        "--directory",
        str(folder / "data"),
        "--defaults",
        "--current-user-principal",
        f"/{USER}/",
        "--listen-address",
        "127.0.0.1",
        "--port",
        str(port),
        "--state-dir",
        str(folder / "state"),
        "--no-detect-systemd",
    ]


def start(kind: Kind, folder: Path) -> Server:
    """Start a server in ``folder`` and wait until it answers (three ports are tried)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "server.log"
    for _ in range(3):
        port = free_port()
        command = _command(kind, folder, port)
        with log.open("ab") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        server = Server(kind, folder, port, process)
        if _wait_ready(server):
            return server
        server.stop()
    raise RuntimeError(f"{kind} did not start; log:\n{log.read_text()[-4000:]}")


def _wait_ready(server: Server) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not server.alive:
            return False
        with contextlib.suppress(httpx.TransportError), server.client() as client:
            if client.request("OPTIONS", server.home).status_code < 500:
                return True
        time.sleep(0.05)
    return False


# -- calendars written into the storage of a server before it starts --------------------------


def prefill(kind: Kind, folder: Path, calendars: Mapping[str, Mapping[str, bytes]]) -> None:
    """Write ``calendars`` ({name: {resource name: body}}) into the storage a server started
    in ``folder`` will use."""
    for name, files in calendars.items():
        target = storage(kind, folder) / name
        target.mkdir(parents=True)
        for file_name, data in files.items():
            (target / file_name).write_bytes(data)
        if kind == "radicale":
            props = {"tag": "VCALENDAR", "D:displayname": name}
            (target / ".Radicale.props").write_text(json.dumps(props))
        else:
            _commit_xandikos(target, sorted(files), name)
    if kind == "radicale":
        _warm_radicale(folder)


def _warm_radicale(folder: Path) -> None:
    """Build Radicale's item cache and sync history with ``--verify-storage``, which skips
    fsync: the server would otherwise build them on first use with two fsyncs per object."""
    config = folder / "verify.conf"
    config.write_text(f"[storage]\nfilesystem_folder = {folder / 'collections'}\n")
    subprocess.run(
        [sys.executable, "-m", "radicale", "-C", str(config), "--verify-storage"],
        check=True,
        capture_output=True,
        timeout=3600,
    )


def _commit_xandikos(target: Path, names: list[str], displayname: str) -> None:
    """Make ``target`` a Xandikos calendar: a git repository with every file committed."""
    from dulwich import porcelain  # noqa: PLC0415 - Xandikos' own dependency, needed only here
    from dulwich.repo import Repo  # noqa: PLC0415

    (target / ".xandikos").write_text(f"[DEFAULT]\ntype = calendar\ndisplayname = {displayname}\n")
    repo = Repo.init(str(target))
    try:
        porcelain.add(repo, paths=[str(target / n) for n in [".xandikos", *names]])
        porcelain.commit(
            repo,
            message=b"prefilled by the calsyncd benchmark",
            author=b"bench <bench@calsyncd.invalid>",
            committer=b"bench <bench@calsyncd.invalid>",
        )
    finally:
        repo.close()
