"""The ``ics`` provider beyond the shared contract: HTTP behaviour and errors, the single
file's cache, refusals and atomic rewrites."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import anyio
import httpx
import pytest
from conformance import samples
from conformance.backends import BROKEN_EVENT, BROKEN_UID, write_file
from conformance.contract import marked
from conformance.feedserver import Fault, FeedServer

from calsyncd.errors import (
    AuthError,
    CalendarNotFound,
    PermanentError,
    PreconditionFailed,
    ProviderError,
    RateLimited,
    TemporaryError,
)
from calsyncd.model.ical import serialize_calendar
from calsyncd.providers import _files
from calsyncd.providers.ics import IcsFeed, IcsFile, parse_retry_after, redact_url
from calsyncd.providers.ics import feed as ics_feed
from calsyncd.providers.ics import file as ics_file

pytestmark = pytest.mark.anyio


def write_feed(path: Path, count: int, *, title: str = "t") -> None:
    objs = [samples.single(f"ev-{n}@feed.example", title=f"{title}{n}") for n in range(count)]
    write_file(path, serialize_calendar(objs, name="Feed"))


# -- URLs and headers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://alice:s3cret@dav.example/cal.ics", "https://dav.example/cal.ics"),
        ("https://h.example/feed.ics?token=s3cret&x=1", "https://h.example/feed.ics?***"),
        (
            "https://calendar.google.example/calendar/ical/a%40b.c/private-0123456789abcdef0123/basic.ics",
            "https://calendar.google.example/calendar/ical/a%40b.c/***/basic.ics",
        ),
        ("http://127.0.0.1:8080/holidays.ics", "http://127.0.0.1:8080/holidays.ics"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert 80 <= (parse_retry_after(later) or 0) <= 90
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


# -- HTTP feed -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        (Fault(401), AuthError, None),
        (Fault(403), AuthError, None),
        (Fault(404), CalendarNotFound, None),
        (Fault(429, {"Retry-After": "7"}), RateLimited, 7.0),
        (Fault(503, {"Retry-After": "30"}), RateLimited, 30.0),
        (Fault(500), TemporaryError, None),
        (Fault(502), TemporaryError, None),
        (Fault(400), PermanentError, None),
    ],
)
async def test_http_errors_map_into_the_error_tree(
    feed_path: Path,
    feed_server: FeedServer,
    http_client: httpx.AsyncClient,
    case: tuple[Fault, type[ProviderError], float | None],
) -> None:
    fault, error, retry_after = case
    write_feed(feed_path, 1)
    host_port = feed_server.url("/").removeprefix("http://").rstrip("/")
    url = f"http://bob:hunter2@{host_port}/private/feed.ics?key=s3cret"
    feed_server.faults.append(fault)
    async with IcsFeed(url, where="conn/holidays", http=http_client) as feed:
        with pytest.raises(error) as caught:
            await feed.list_changes(None)
    message = str(caught.value)
    assert type(caught.value) is error
    assert message.startswith("conn/holidays: GET http://")
    assert f"/private/feed.ics?***: HTTP {fault.status}" in message
    assert "hunter2" not in message
    assert "s3cret" not in message
    assert "bob" not in message
    if retry_after is not None:
        assert isinstance(caught.value, TemporaryError)
        assert caught.value.retry_after == retry_after
    assert feed_server.requests[0]["Authorization"].startswith("Basic ")


async def test_connection_refused_is_temporary(http_client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    async with IcsFeed(
        f"http://127.0.0.1:{port}/x.ics?t=secret", where="c/f", http=http_client
    ) as f:
        with pytest.raises(
            TemporaryError, match=r"c/f: GET http://127\.0\.0\.1:\d+/x\.ics\?\*\*\*"
        ):
            await f.list_changes(None)


async def test_html_instead_of_a_calendar_is_temporary(
    feed_path: Path, feed_server: FeedServer, http_client: httpx.AsyncClient
) -> None:
    feed_path.write_text("<html><body>Please log in</body></html>")
    async with IcsFeed(feed_server.url("/feed.ics"), where="c/f", http=http_client) as feed:
        with pytest.raises(TemporaryError, match="not an iCalendar document"):
            await feed.list_changes(None)


async def test_oversized_feed_is_refused(
    feed_path: Path, feed_server: FeedServer, http_client: httpx.AsyncClient
) -> None:
    write_feed(feed_path, 30)
    url = feed_server.url("/feed.ics")
    async with IcsFeed(url, where="c/f", http=http_client, max_bytes=1000) as feed:
        with pytest.raises(PermanentError, match="larger than 1000 bytes"):
            await feed.list_changes(None)


async def test_last_modified_alone_gives_conditional_get(
    feed_path: Path, http_client: httpx.AsyncClient
) -> None:
    write_feed(feed_path, 2)
    with FeedServer({"/f.ics": feed_path}, etags=False) as server:
        async with IcsFeed(server.url("/f.ics"), where="c/f", http=http_client) as feed:
            full = await feed.list_changes(None)
            quiet = await feed.list_changes(full.cursor)
            assert quiet.items == []
            assert server.counts == {200: 1, 304: 1}
            assert "If-Modified-Since" in server.requests[-1]
            write_feed(feed_path, 3)
            later = feed_path.stat().st_mtime + 5
            os.utime(feed_path, (later, later))
            changed = await feed.list_changes(quiet.cursor)
            assert [i.id for i in changed.items] == ["ev-2@feed.example"]


async def test_server_without_validators_still_lists_only_changes(
    feed_path: Path, http_client: httpx.AsyncClient
) -> None:
    write_feed(feed_path, 3)
    with FeedServer({"/f.ics": feed_path}, etags=False, dates=False) as server:
        async with IcsFeed(server.url("/f.ics"), where="c/f", http=http_client) as feed:
            full = await feed.list_changes(None)
            same = await feed.list_changes(full.cursor)  # identical bytes: nothing parsed
            assert same.items == []
            assert same.deleted == []
            assert not same.full
            write_feed(feed_path, 2, title="renamed")
            changed = await feed.list_changes(same.cursor)
            assert sorted(i.id for i in changed.items) == ["ev-0@feed.example", "ev-1@feed.example"]
            assert changed.deleted == ["ev-2@feed.example"]
            assert server.counts == {200: 3}


async def test_get_reuses_the_parsed_feed_on_304(
    feed_path: Path,
    feed_server: FeedServer,
    http_client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_feed(feed_path, 3)
    parses = []
    real = ics_feed.read_snapshot
    monkeypatch.setattr(
        ics_feed, "read_snapshot", lambda *a, **k: parses.append(1) or real(*a, **k)
    )
    async with IcsFeed(feed_server.url("/feed.ics"), where="c/f", http=http_client) as feed:
        await feed.list_changes(None)
        item = await feed.get("ev-1@feed.example")
        assert item.obj.master is not None
        assert item.obj.master.title == "t1"
    assert feed_server.counts == {200: 1, 304: 1}
    assert len(parses) == 1


async def test_feed_without_injected_client_owns_and_closes_one(
    feed_path: Path, feed_server: FeedServer
) -> None:
    write_feed(feed_path, 1)
    feed = IcsFeed(feed_server.url("/feed.ics"), where="c/f")
    async with feed:
        assert len((await feed.list_changes(None)).items) == 1
        client = feed._own_http
        assert client is not None
    assert client.is_closed
    await feed.aclose()  # idempotent


# -- file feed -------------------------------------------------------------------------------


async def test_file_url_feed(tmp_path: Path) -> None:
    path = tmp_path / "with space.ics"
    write_feed(path, 2)
    async with IcsFeed(path.as_uri(), where="c/f") as feed:
        assert len((await feed.list_changes(None)).items) == 2


async def test_missing_feed_file_is_calendar_not_found(tmp_path: Path) -> None:
    async with IcsFeed(str(tmp_path / "nope.ics"), where="c/f") as feed:
        with pytest.raises(CalendarNotFound, match=r"nope\.ics"):
            await feed.list_changes(None)


def test_unsupported_scheme_is_refused() -> None:
    with pytest.raises(PermanentError, match="c/f: unsupported feed URL scheme 'ftp'"):
        IcsFeed("ftp://example.org/x.ics", where="c/f")


# -- writable single file --------------------------------------------------------------------


async def test_missing_file_is_empty_and_made_on_first_write(tmp_path: Path) -> None:
    path = tmp_path / "busy.ics"
    async with IcsFile(path, where="c/busy", name="Busy") as cal:
        assert (await cal.list_changes(None)).items == []
        assert not path.exists()
        await cal.create(marked(samples.single("a@x"), "k1"), "k1")
    text = path.read_text()
    assert text.startswith("BEGIN:VCALENDAR")
    assert "X-WR-CALNAME:Busy" in text
    assert sorted(os.listdir(tmp_path)) == ["busy.ics"]


async def test_missing_folder_is_calendar_not_found(tmp_path: Path) -> None:
    async with IcsFile(tmp_path / "no" / "busy.ics", where="c/busy") as cal:
        with pytest.raises(CalendarNotFound, match=r"no/busy\.ics"):
            await cal.list_changes(None)


async def test_repeated_writes_parse_the_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "busy.ics"
    write_feed(path, 5)
    parses = []
    real = ics_file.read_snapshot
    monkeypatch.setattr(
        ics_file, "read_snapshot", lambda *a, **k: parses.append(1) or real(*a, **k)
    )
    async with IcsFile(path, where="c/busy") as cal:
        full = await cal.list_changes(None)
        for n in range(10):
            await cal.create(marked(samples.single(f"new-{n}@x"), f"k{n}"), f"k{n}")
        changes = await cal.list_changes(full.cursor)
        assert len(changes.items) == 10
    assert len(parses) == 1


async def test_unchanged_file_listing_reads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "busy.ics"
    write_feed(path, 3)
    async with IcsFile(path, where="c/busy") as cal:
        full = await cal.list_changes(None)
        monkeypatch.setattr(_files, "read_versioned", lambda p: pytest.fail(f"read {p}"))
        quiet = await cal.list_changes(full.cursor)
    assert quiet.items == []
    assert quiet.cursor == full.cursor


async def test_same_uid_from_another_key_is_a_precondition_failure(tmp_path: Path) -> None:
    async with IcsFile(tmp_path / "busy.ics", where="c/busy") as cal:
        first = await cal.create(marked(samples.single("dup@x", title="one"), "k1"), "k1")
        with pytest.raises(PreconditionFailed, match="dup@x"):
            await cal.create(marked(samples.single("dup@x", title="two"), "k2"), "k2")
        again = await cal.create(marked(samples.single("other@x"), "k1"), "k1")
        assert again == first


async def test_writes_are_refused_while_the_file_has_broken_objects(tmp_path: Path) -> None:
    path = tmp_path / "busy.ics"
    write_feed(path, 1)
    text = path.read_text()
    path.write_text(text.replace("END:VCALENDAR", BROKEN_EVENT + "END:VCALENDAR"))
    before = path.read_bytes()
    async with IcsFile(path, where="c/busy") as cal:
        listed = await cal.list_changes(None)
        assert len(listed.items) == 1
        assert [s.id for s in listed.skipped] == [BROKEN_UID]
        with pytest.raises(PermanentError, match="cannot be read"):
            await cal.create(marked(samples.single("n@x"), "k"), "k")
    assert path.read_bytes() == before


async def test_concurrent_writes_are_serialised(tmp_path: Path) -> None:
    path = tmp_path / "busy.ics"
    async with IcsFile(path, where="c/busy") as cal:
        async with anyio.create_task_group() as tg:
            for n in range(12):
                obj = marked(samples.single(f"c-{n}@x"), f"k{n}")
                tg.start_soon(cal.create, obj, f"k{n}")
        listed = await cal.list_changes(None)
    assert len(listed.items) == 12
    async with IcsFile(path, where="c/busy") as fresh:  # what is on disk, not the cache
        assert len((await fresh.list_changes(None)).items) == 12


async def test_rewrite_keeps_the_calendar_name(tmp_path: Path) -> None:
    path = tmp_path / "busy.ics"
    write_feed(path, 1)  # named "Feed"
    async with IcsFile(path, where="c/busy") as cal:
        await cal.create(marked(samples.single("n@x"), "k"), "k")
    assert "X-WR-CALNAME:Feed" in path.read_text()


async def test_file_replaced_during_a_write_is_a_precondition_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "busy.ics"
    write_feed(path, 1)
    async with IcsFile(path, where="c/busy") as cal:
        await cal.list_changes(None)
        real = ics_file.serialize_calendar

        def racing(*args: object, **kwargs: object) -> bytes:
            write_feed(path, 2, title="other writer")  # lands between our read and our rename
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(ics_file, "serialize_calendar", racing)
        with pytest.raises(PreconditionFailed):
            await cal.create(marked(samples.single("n@x"), "k"), "k")
    assert "other writer1" in path.read_text()


# -- unreadable objects ----------------------------------------------------------------------

NO_UID_EVENT = "BEGIN:VEVENT\r\nDTSTART:20300101T100000Z\r\nSUMMARY:no uid\r\nEND:VEVENT\r\n"


def break_event(path: Path, uid: str) -> None:
    """Make the VEVENT of ``uid`` unreadable (its DTSTART garbage), as a sloppy tool would."""
    lines = path.read_bytes().decode().split("\r\n")
    at = lines.index(f"UID:{uid}")
    start = next(i for i in range(at, -1, -1) if lines[i] == "BEGIN:VEVENT")
    end = lines.index("END:VEVENT", at)
    for i in range(start, end):
        if lines[i].startswith("DTSTART"):
            lines[i] = "DTSTART:garbage"
    write_file(path, "\r\n".join(lines).encode())


async def test_skips_name_the_uid_or_the_position(tmp_path: Path) -> None:
    path = tmp_path / "feed.ics"
    write_feed(path, 2)
    text = path.read_text().replace("END:VCALENDAR", BROKEN_EVENT + NO_UID_EVENT + "END:VCALENDAR")
    path.write_text(text)
    async with IcsFeed(str(path), where="c/f") as feed:
        changes = await feed.list_changes(None)
    assert len(changes.items) == 2
    ids = [s.id for s in changes.skipped]
    assert ids[0] == BROKEN_UID
    assert len(ids) == 2
    assert ids[1].startswith(f"{path}#")
    for skip in changes.skipped:
        assert str(path) in skip.reason
    assert BROKEN_UID in changes.skipped[0].reason


async def test_object_turning_unreadable_is_not_deleted_until_gone(tmp_path: Path) -> None:
    path = tmp_path / "feed.ics"
    write_feed(path, 3)
    async with IcsFeed(path.as_uri(), where="c/f") as feed:
        full = await feed.list_changes(None)
        break_event(path, "ev-1@feed.example")
        broken = await feed.list_changes(full.cursor)
        assert broken.items == []
        assert broken.deleted == []
        assert [s.id for s in broken.skipped] == ["ev-1@feed.example"]
        still = await feed.list_changes(broken.cursor)  # unchanged file: nothing to say
        assert still.deleted == []
        write_feed(path, 1)  # ev-1 (broken) and ev-2 removed
        gone = await feed.list_changes(still.cursor)
        assert sorted(gone.deleted) == ["ev-1@feed.example", "ev-2@feed.example"]
        assert gone.skipped == []
