"""Real CalDAV servers for the tests: Radicale, Xandikos and Cyrus IMAP as subprocesses on
loopback.

:func:`start` runs one in a folder (its storage, state and log), on a free port, and returns
once it answers; :meth:`DavServer.stop` ends it. Calendars are made with ``MKCALENDAR``
(:meth:`DavServer.make_calendar`) or, for big ones, written straight into the storage before
the server starts (:func:`prefill`; Radicale and Xandikos only): Radicale keeps one file per
object in a folder, Xandikos one git repository per calendar.

Radicale runs with htpasswd auth (``alice``/``secret``, so Basic auth is exercised for real);
Xandikos has no auth without TLS and serves ``/alice/`` to anyone; Cyrus checks Basic auth
through SASL, accepting any password (:mod:`caldav.cyrus` says how it is run).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
from pydantic import SecretStr

from caldav import cyrus
from calsyncd.providers.caldav import Auth, CaldavCalendar, Retry
from calsyncd.providers.caldav.davxml import mkcalendar

Kind = Literal["radicale", "xandikos", "cyrus"]
KINDS: tuple[Kind, ...] = ("radicale", "xandikos", "cyrus")
USER = "alice"
PASSWORD = "secret"
START_TIMEOUT = 30.0
FAST_RETRY = Retry(attempts=3, base=0.05, cap=0.2)

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
level = {level}
"""


def free_port() -> int:
    """A loopback port free right now (Radicale does not accept port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DavServer:
    """A running server; ``home`` is the path its calendars live under."""

    kind: Kind
    folder: Path
    port: int
    process: subprocess.Popen[bytes]
    scratch: Path | None = None
    """Cyrus: the folder of its configuration and spool (see :mod:`caldav.cyrus`)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def home(self) -> str:
        return {
            "radicale": f"/{USER}/",
            "xandikos": f"/{USER}/calendars/",
            "cyrus": f"/dav/calendars/user/{USER}/",
        }[self.kind]

    @property
    def auth(self) -> tuple[str, str] | None:
        return None if self.kind == "xandikos" else (USER, PASSWORD)

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def client(self) -> httpx.Client:
        """A synchronous client for "another client" edits, with this server's auth."""
        return httpx.Client(base_url=self.url, auth=self.auth, trust_env=False, timeout=30.0)

    def path(self, calendar: str) -> str:
        return f"{self.home}{calendar}/"

    def make_calendar(self, name: str | None = None, displayname: str | None = None) -> str:
        """Create a calendar (``MKCALENDAR``); returns its path."""
        path = self.path(name or f"cal-{uuid.uuid4().hex[:12]}")
        # Cyrus 3.6 fails an assertion (500) on a body setting no property: send none.
        body = b"" if displayname is None and self.kind == "cyrus" else mkcalendar(displayname)
        with self.client() as client:
            answer = client.request(
                "MKCALENDAR",
                path,
                content=body,
                headers={"Content-Type": "application/xml; charset=utf-8"} if body else {},
            )
        assert answer.status_code == 201, (answer.status_code, answer.text)
        return path

    def remove_calendar(self, path: str) -> None:
        """Delete a calendar and everything in it."""
        with self.client() as client:
            answer = client.delete(path)
        assert answer.status_code in (200, 204, 404), (answer.status_code, answer.text)

    def open(
        self,
        calendar: str | None,
        http: httpx.AsyncClient,
        *,
        where: str | None = None,
        **options: object,
    ) -> CaldavCalendar:
        """The provider on ``calendar`` (a path, URL or name), authenticated as needed."""
        auth = self.credentials()
        options.setdefault("retry", FAST_RETRY)
        return CaldavCalendar(
            self.url,
            calendar,
            where=where or f"{self.kind}/{calendar}",
            http=http,
            auth=auth,
            username=USER if auth else None,
            **options,  # type: ignore[arg-type]
        )

    def credentials(self) -> Auth | None:
        """What a connection to this server is configured with."""
        return None if self.kind == "xandikos" else Auth(USER, SecretStr(PASSWORD))

    def stop(self) -> None:
        if self.alive:
            self.process.terminate()  # Cyrus's master ends its services before it exits
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.scratch is not None:
            cyrus.remove(self.scratch, self.folder)


def storage(kind: Kind, folder: Path) -> Path:
    """Where a server started in ``folder`` keeps the calendars of ``alice`` (Radicale and
    Xandikos: Cyrus keeps them in mailboxes)."""
    assert kind != "cyrus", "Cyrus's storage is not written behind its back"
    if kind == "radicale":
        return folder / "collections" / "collection-root" / USER
    return folder / "data" / USER / "calendars"


def _command(kind: Kind, folder: Path, port: int, radicale_settings: str) -> list[str]:
    if kind == "radicale":
        config = folder / "radicale.conf"
        users = folder / "users"
        users.write_text(f"{USER}:{PASSWORD}\n")
        level = os.environ.get("CALSYNCD_TEST_RADICALE_LOG", "warning")
        config.write_text(
            _RADICALE_CONFIG.format(
                port=port, users=users, storage=folder / "collections", level=level
            )
            + radicale_settings
        )
        storage(kind, folder).mkdir(parents=True, exist_ok=True)  # the principal folder
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


def start(kind: Kind, folder: Path, *, radicale_settings: str = "") -> DavServer:
    """Start a server in ``folder`` and wait until it answers (three ports are tried);
    ``radicale_settings`` (INI sections) are added to Radicale's configuration."""
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        port, imap_port, scratch = free_port(), free_port(), None
        if kind == "cyrus":
            scratch = cyrus.scratch(folder)
            command = cyrus.configure(scratch, port, imap_port, USER)
        else:
            command = _command(kind, folder, port, radicale_settings)
        with (folder / "server.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Cyrus's master ends by signalling its whole process group: give it its own,
                # or it also ends the other test workers' servers.
                start_new_session=kind == "cyrus",
            )
        server = DavServer(kind, folder, port, process, scratch)
        if _wait_ready(server, imap_port):
            return server
        server.stop()
    raise RuntimeError(f"{kind} did not start; log:\n{server.log.read_text()[-4000:]}")


def _wait_ready(server: DavServer, imap_port: int) -> bool:
    """Whether the server answers before :data:`START_TIMEOUT` (Cyrus: once the user is
    provisioned over IMAP)."""
    deadline = time.monotonic() + START_TIMEOUT
    provisioned = server.kind != "cyrus"
    while time.monotonic() < deadline:
        if not server.alive:
            return False
        if not provisioned:
            provisioned = cyrus.provision(imap_port, USER, PASSWORD, timeout=5.0)
        else:
            with contextlib.suppress(httpx.TransportError), server.client() as client:
                if client.request("OPTIONS", server.home).status_code < 500:
                    return True
        time.sleep(0.05)
    return False


# -- writing calendars into the storage of a stopped server -----------------------------------


def prefill(
    kind: Kind,
    folder: Path,
    name: str,
    files: Mapping[str, bytes],
    displayname: str | None = None,
) -> str:
    """Write a calendar with ``files`` ({resource name: body}) into the storage a server
    started in ``folder`` will use (before it starts); returns the calendar's path."""
    path = _write_calendar(kind, folder, name, files, displayname)
    if kind == "radicale":
        _warm_radicale(folder)
    return path


def prefill_many(kind: Kind, folder: Path, calendars: Mapping[str, Mapping[str, bytes]]) -> None:
    """:func:`prefill` for several calendars ({name: files}), Radicale's cache built once."""
    for name, files in calendars.items():
        _write_calendar(kind, folder, name, files, None)
    if kind == "radicale":
        _warm_radicale(folder)


def _write_calendar(
    kind: Kind, folder: Path, name: str, files: Mapping[str, bytes], displayname: str | None
) -> str:
    target = storage(kind, folder) / name
    target.mkdir(parents=True)
    for file_name, data in files.items():
        (target / file_name).write_bytes(data)
    if kind == "radicale":
        props = {"tag": "VCALENDAR", "D:displayname": displayname or name}
        (target / ".Radicale.props").write_text(json.dumps(props))
        return f"/{USER}/{name}/"
    _commit_xandikos(target, sorted(files), displayname or name)
    return f"/{USER}/calendars/{name}/"


def _warm_radicale(folder: Path) -> None:
    """Build Radicale's item cache and sync history with its own ``--verify-storage``, which
    skips fsync: on first use the server would build them with two fsyncs per object
    (~13 ms each: 130 s for 10,000 objects on the test machine)."""
    config = folder / "verify.conf"
    config.write_text(f"[storage]\nfilesystem_folder = {folder / 'collections'}\n")
    subprocess.run(
        [sys.executable, "-m", "radicale", "-C", str(config), "--verify-storage"],
        check=True,
        capture_output=True,
        timeout=600,
    )


def _commit_xandikos(target: Path, names: list[str], displayname: str) -> None:
    """Make ``target`` a Xandikos calendar: a git repository with every file committed."""
    from dulwich import porcelain
    from dulwich.repo import Repo

    (target / ".xandikos").write_text(f"[DEFAULT]\ntype = calendar\ndisplayname = {displayname}\n")
    repo = Repo.init(str(target))
    try:
        porcelain.add(repo, paths=[str(target / n) for n in [".xandikos", *names]])
        porcelain.commit(
            repo,
            message=b"prefilled by the calsyncd tests",
            author=b"tests <tests@calsyncd.invalid>",
            committer=b"tests <tests@calsyncd.invalid>",
        )
    finally:
        repo.close()
