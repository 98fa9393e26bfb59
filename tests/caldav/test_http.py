"""HTTP behaviour: retries on 429/503/connection errors honouring Retry-After, bounded
concurrency per server, and errors that name the calendar."""

from __future__ import annotations

import re
import time

import anyio
import httpx
import pytest

from caldav.helpers import Recorder, client, event
from caldav.servers import DavServer
from calsyncd.config.connections import CaldavConnection
from calsyncd.config.rules import Endpoint
from calsyncd.errors import CalendarNotFound, RateLimited, TemporaryError
from calsyncd.providers.caldav import CaldavCalendar, Retry
from calsyncd.providers.caldav.client import parse_retry_after
from calsyncd.providers.registry import open_calendar

pytestmark = pytest.mark.anyio


class Flaky(Recorder):
    """Answers the first ``failures`` requests with ``status`` (or a connection error)."""

    def __init__(self, failures: int, status: int | None, retry_after: str | None = None):
        self.failures = failures

        async def fail(request: httpx.Request) -> httpx.Response | None:
            if self.failures <= 0:
                return None
            self.failures -= 1
            if status is None:
                raise httpx.ConnectError("connection refused", request=request)
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return httpx.Response(status, headers=headers, text="slow down")

        super().__init__(answer=fail)


@pytest.mark.parametrize(
    ("status", "retry_after"), [(429, "0"), (503, "0"), (503, None), (None, None)]
)
async def test_transient_failures_are_retried(
    dav_server: DavServer, dav_calendar: str, status: int | None, retry_after: str | None
) -> None:
    recorder = Flaky(2, status, retry_after)
    async with client(recorder) as http:
        calendar = dav_server.open(dav_calendar, http, retry=Retry(attempts=3, base=0.01))
        made = await calendar.create(event("retry@x.example"), "k-retry")
    assert recorder.counts() == {"PUT": 3}
    assert [s.status for s in recorder.sent][-1] == 201
    assert made.id.endswith("k-retry.ics")


async def test_retry_after_is_honoured(dav_server: DavServer, dav_calendar: str) -> None:
    recorder = Flaky(1, 429, "0.3")
    async with client(recorder) as http:
        calendar = dav_server.open(dav_calendar, http, retry=Retry(attempts=2, base=5.0))
        started = time.monotonic()
        await calendar.list_changes(None)
    assert 0.3 <= time.monotonic() - started < 3.0


async def test_giving_up_carries_the_servers_hint() -> None:
    recorder = Flaky(10, 429, "7")
    async with client(recorder) as http:
        calendar = CaldavCalendar(
            "http://127.0.0.1:9/",
            "/cal/",
            where="team/cal",
            http=http,
            retry=Retry(attempts=2, max_wait=1.0),
        )
        with pytest.raises(RateLimited) as caught:
            await calendar.list_changes(None)
    assert caught.value.retry_after == 7.0
    assert len(recorder.sent) == 1  # longer than max_wait: not slept through
    assert str(caught.value).startswith("team/cal: PROPFIND http://127.0.0.1:9/cal/: HTTP 429")


async def test_unreachable_server_is_a_temporary_error() -> None:
    async with client(Recorder()) as http:
        calendar = CaldavCalendar(
            "http://127.0.0.1:9/",
            "/cal/",
            where="team/cal",
            http=http,
            retry=Retry(attempts=2, base=0.01),
        )
        with pytest.raises(TemporaryError) as caught:
            await calendar.list_changes(None)
    assert str(caught.value).startswith("team/cal: PROPFIND http://127.0.0.1:9/cal/: ")


async def test_requests_in_flight_are_bounded_per_server(
    dav_server: DavServer, dav_calendar: str
) -> None:
    recorder = Recorder()
    async with client(recorder) as http:
        first = dav_server.open(dav_calendar, http, max_concurrency=2)
        second = dav_server.open(dav_calendar, http, max_concurrency=2)

        made = [
            await first.create(event(f"par-{n}@x.example", day=n), f"k-par-{n}") for n in range(12)
        ]
        recorder.in_flight_max = 0

        async def read(n: int) -> None:
            calendar = first if n % 2 else second
            await calendar.get(made[n].id)

        async with anyio.create_task_group() as tasks:
            for n in range(12):
                tasks.start_soon(read, n)
    assert recorder.in_flight_max == 2


class CountsWrites(Recorder):
    """Counts the writes in flight at once; answers the first PUT 423 Locked, as Xandikos
    does when another client's write holds its git lock."""

    def __init__(self) -> None:
        self.locked = False
        self.writes = 0
        self.writes_max = 0

        async def answer(request: httpx.Request) -> httpx.Response | None:
            if request.method not in ("PUT", "DELETE"):
                return None
            if not self.locked:
                self.locked = True
                return httpx.Response(423, text="locked")
            self.writes += 1
            self.writes_max = max(self.writes_max, self.writes)
            return None

        async def alter(request: httpx.Request, response: httpx.Response) -> httpx.Response:
            if request.method in ("PUT", "DELETE"):
                self.writes -= 1
            return response

        super().__init__(answer=answer, alter=alter)


async def test_writes_to_one_server_take_turns_and_423_is_retried(
    dav_server: DavServer, dav_calendar: str
) -> None:
    recorder = CountsWrites()
    async with client(recorder) as http:
        calendars = [dav_server.open(dav_calendar, http, max_concurrency=4) for _ in range(2)]
        made = []

        async def make(n: int) -> None:
            made.append(await calendars[n % 2].create(event(f"turn-{n}@x.example", day=n), f"k{n}"))

        async with anyio.create_task_group() as tasks:
            for n in range(8):
                tasks.start_soon(make, n)
        async with anyio.create_task_group() as tasks:
            for n, item in enumerate(made):
                tasks.start_soon(calendars[n % 2].delete, item.id, item.etag)
        listed = await calendars[0].list_changes(None)
    assert recorder.locked  # the refused write was sent again
    assert listed.items == []
    assert recorder.writes_max == 1


async def test_calendar_deleted_under_a_path_is_calendar_not_found(
    dav_server: DavServer, dav_calendar: str
) -> None:
    async with client(Recorder()) as http:
        calendar = dav_server.open(dav_calendar, http, where="team/work")
        cursor = (await calendar.list_changes(None)).cursor
        with dav_server.client() as plain:
            assert plain.delete(dav_calendar).status_code in (200, 204)
        with pytest.raises(CalendarNotFound) as caught:
            await dav_server.open(dav_calendar, http, where="team/work").list_changes(cursor)
    # Radicale refuses the ctag PROPFIND, Xandikos answers it and refuses the REPORT.
    assert re.match(r"team/work: (PROPFIND|REPORT) http://", str(caught.value))


def test_retry_after_forms() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_connection_settings_reach_every_request() -> None:
    """The registry opens a configured connection: credentials, timeout, concurrency."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            207, text='<multistatus xmlns="DAV:"><sync-token>t</sync-token></multistatus>'
        )

    connection = CaldavConnection.model_validate(
        {
            "type": "caldav",
            "url": "https://dav.example/",
            "username": "alice",
            "password": "pw-2b-hidden",
            "timeout": "5s",
            "max_concurrency": 2,
        }
    )
    endpoint = Endpoint(connection="team", calendar="/alice/work/")
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        calendar = open_calendar("team", connection, endpoint, http=http)
        assert isinstance(calendar, CaldavCalendar)
        assert calendar.where == "team//alice/work/"
        assert calendar.capabilities.max_concurrency == 2
        changes = await calendar.list_changes(None)
    assert changes.full
    assert [(r.method, r.url) for r in seen] == [
        ("PROPFIND", "https://dav.example/alice/work/"),  # its ctag
        ("REPORT", "https://dav.example/alice/work/"),  # its members
    ]
    for request in seen:
        assert request.headers["authorization"] == "Basic YWxpY2U6cHctMmItaGlkZGVu"
        assert request.extensions["timeout"] == {
            "connect": 5.0,
            "read": 5.0,
            "write": 5.0,
            "pool": 5.0,
        }
