"""Pytest fixtures for the CalDAV servers, shared by ``tests/caldav`` and the conformance run.

One Radicale, one Xandikos and one Cyrus serve the whole session, whichever test folder asks
first (the fixtures may be imported into several modules: a reference count stops each server
after its last user); every test gets fresh calendars on them.

Cyrus comes from Debian packages that ``make test`` installs; where they are missing its tests
are skipped saying so — except under ``CI``, where that is a failure.
"""

from __future__ import annotations

import atexit
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from caldav import cyrus
from caldav.servers import KINDS, DavServer, Kind, start


class _Pool:
    def __init__(self) -> None:
        self.servers: dict[Kind, DavServer] = {}
        self.users: Counter[Kind] = Counter()

    def acquire(self, kind: Kind, folder: Path) -> DavServer:
        if kind not in self.servers:
            self.servers[kind] = start(kind, folder)
        self.users[kind] += 1
        return self.servers[kind]

    def release(self, kind: Kind) -> None:
        self.users[kind] -= 1
        if self.users[kind] <= 0:
            server = self.servers.pop(kind)
            server.stop()
            assert not server.alive

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop()


_POOL = _Pool()
atexit.register(_POOL.stop_all)  # an interrupted session still leaves no server behind


def _shared(kind: Kind, factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    if kind == "cyrus" and (reason := cyrus.missing()) is not None:
        if os.environ.get("CI"):
            pytest.fail(f"Cyrus is needed under CI: {reason}")
        pytest.skip(reason)
    server = _POOL.acquire(kind, factory.mktemp(kind))
    yield server
    _POOL.release(kind)


@pytest.fixture(scope="session")
def radicale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    yield from _shared("radicale", tmp_path_factory)


@pytest.fixture(scope="session")
def xandikos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    yield from _shared("xandikos", tmp_path_factory)


@pytest.fixture(scope="session")
def cyrus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    yield from _shared("cyrus", tmp_path_factory)


@pytest.fixture(scope="session", params=KINDS)
def dav_server(request: pytest.FixtureRequest) -> DavServer:
    """Each test that uses it runs once per server."""
    server: DavServer = request.getfixturevalue(f"{request.param}_server")
    return server


@pytest.fixture
def dav_calendar(dav_server: DavServer) -> Iterator[str]:
    """The path of a new, empty calendar on ``dav_server`` (see :func:`fresh_calendar`)."""
    yield from fresh_calendar(dav_server)


def fresh_calendar(server: DavServer) -> Iterator[str]:
    """A new calendar for one test. On Cyrus it is deleted after the test: Cyrus allows a UID
    once per account, and the tests of a session share one account."""
    path = server.make_calendar()
    yield path
    if server.kind == "cyrus":
        server.remove_calendar(path)
