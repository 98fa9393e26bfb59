"""Listings: sync tokens and their rejection, 507 truncation, multiget batches, servers
without sync-collection, resources that are not events, unreadable resources."""

from __future__ import annotations

import re

import httpx
import pytest

from caldav.helpers import Recorder, client, delete, event, put, put_raw
from caldav.servers import DavServer
from calsyncd.model.ical import serialize_object
from calsyncd.providers.caldav.calendar import CaldavCalendar

pytestmark = pytest.mark.anyio

TODO = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//EN\r\nBEGIN:VTODO\r\nUID:todo-1\r\n"
    "DTSTAMP:20300101T000000Z\r\nSUMMARY:a task\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)
UNREADABLE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//EN\r\nBEGIN:VEVENT\r\nUID:bad-1\r\n"
    "DTSTAMP:20300101T000000Z\r\nDTSTART;TZID=Nowhere/Special:20300101T100000\r\n"
    "DTEND;TZID=Nowhere/Special:20300101T110000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
"""Cyrus refuses it without the DTEND (valid-calendar-data)."""


def tampered(cursor: str, calendar: CaldavCalendar, token: str) -> str:
    """``cursor`` with its sync token replaced (a token the server does not know)."""
    state = calendar._decode(cursor)
    assert state is not None
    assert state.token is not None
    return calendar._encode(type(state)(state.collection, token=token))


async def test_rejected_token_gives_a_full_listing(
    dav_server: DavServer, dav_calendar: str
) -> None:
    put(dav_server, dav_calendar, event("tok-1@x.example"))
    recorder = Recorder()
    async with client(recorder) as http:
        calendar = dav_server.open(dav_calendar, http)
        cursor = (await calendar.list_changes(None)).cursor
        assert cursor is not None
        recorder.clear()
        changes = await calendar.list_changes(tampered(cursor, calendar, "http://x/sync/1"))
    assert changes.full
    assert [i.obj.uid for i in changes.items] == ["tok-1@x.example"]
    rejected = {"radicale": 403, "xandikos": 412, "cyrus": 403}[dav_server.kind]
    assert [s.status for s in recorder.sent if s.report == "sync-collection"] == [rejected, 207]
    assert all(b"<limit" not in s.body for s in recorder.sent)


async def test_incremental_listing_sees_foreign_changes_and_skips_tasks(
    dav_server: DavServer, dav_calendar: str
) -> None:
    first = put(dav_server, dav_calendar, event("inc-1@x.example"))
    put_raw(dav_server, dav_calendar + "todo.ics", TODO)
    recorder = Recorder()
    async with client(recorder) as http:
        calendar = dav_server.open(dav_calendar, http)
        full = await calendar.list_changes(None)
        assert [i.obj.uid for i in full.items] == ["inc-1@x.example"]
        assert full.skipped == []
        put(dav_server, dav_calendar, event("inc-2@x.example"))
        delete(dav_server, first)
        recorder.clear()
        changes = await calendar.list_changes(full.cursor)
    assert not changes.full
    assert [i.obj.uid for i in changes.items] == ["inc-2@x.example"]
    assert changes.deleted == [first]
    assert recorder.counts() == {
        "PROPFIND": 1,  # the ctag moved
        "REPORT sync-collection": 1,
        "REPORT calendar-multiget": 1,
    }


async def test_unreadable_resource_is_reported_on_every_listing(
    dav_server: DavServer, dav_calendar: str
) -> None:
    async with client(Recorder()) as http:
        calendar = dav_server.open(dav_calendar, http)
        cursor = (await calendar.list_changes(None)).cursor
        put_raw(dav_server, dav_calendar + "bad.ics", UNREADABLE)
        for _ in range(3):
            changes = await calendar.list_changes(cursor)
            assert [s.id for s in changes.skipped] == [dav_calendar + "bad.ics"]
            assert "Nowhere/Special" in changes.skipped[0].reason
            assert changes.deleted == []
            cursor = changes.cursor
        delete(dav_server, dav_calendar + "bad.ics")
        gone = await calendar.list_changes(cursor)
    assert gone.skipped == []
    assert gone.deleted == [dav_calendar + "bad.ics"]


async def test_multiget_batches_and_split_of_refused_batches(
    dav_server: DavServer, dav_calendar: str
) -> None:
    for n in range(25):
        put(dav_server, dav_calendar, event(f"batch-{n}@x.example", day=n))

    async def refuse_big(request: httpx.Request) -> httpx.Response | None:
        body = await request.aread()
        if b"calendar-multiget" in body and body.count(b"href>") > 2 * 4:
            return httpx.Response(400, text="too many VEVENTs")
        return None

    recorder = Recorder(answer=refuse_big)
    async with client(recorder) as http:
        calendar = dav_server.open(dav_calendar, http, batch_size=10)
        changes = await calendar.list_changes(None)
    assert len(changes.items) == 25
    assert changes.skipped == []
    multigets = [s for s in recorder.sent if s.report == "calendar-multiget"]
    # 10, 10 and 5 hrefs refused, then their halves of 5 (refused) and of 2 or 3 (answered)
    assert [s.status for s in multigets].count(400) == 7
    assert all(s.body.count(b"href>") <= 8 for s in multigets if s.status == 207)


async def test_truncated_sync_answer_is_continued() -> None:
    """A 507 on the collection in a sync answer: ask again from the token it gave."""
    col = "/cal/"

    def member(name: str) -> str:
        return (
            f'<response><href>{col}{name}.ics</href><propstat><prop><getetag>"{name}"'
            "</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>"
        )

    truncated = (
        f"<response><href>{col}</href><status>HTTP/1.1 507 Insufficient Storage</status></response>"
    )
    pages = {
        "": member("a") + truncated + "<sync-token>t1</sync-token>",
        "t1": member("b") + "<sync-token>t2</sync-token>",
    }
    sent_tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = request.read().decode()
        if "sync-collection" in body:
            token = re.search(r"sync-token>([^<]*)<|sync-token />", body)
            value = token.group(1) or "" if token else ""
            sent_tokens.append(value)
            xml = f'<multistatus xmlns="DAV:">{pages[value]}</multistatus>'
            return httpx.Response(207, text=xml)
        hrefs = re.findall(r"href>([^<]+)<", body)
        parts = [
            f'<response><href>{h}</href><propstat><prop><getetag>"{h}"</getetag>'
            f"<C:calendar-data>{serialize_object(event(h)).decode()}</C:calendar-data>"
            "</prop><status>HTTP/1.1 200 OK</status></propstat></response>"
            for h in hrefs
        ]
        xml = (
            '<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            + "".join(parts)
            + "</multistatus>"
        )
        return httpx.Response(207, text=xml)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        calendar = CaldavCalendar("https://dav.example/", col, where="t/c", http=http)
        changes = await calendar.list_changes(None)
        state = calendar._decode(changes.cursor)
    assert sent_tokens == ["", "t1"]
    assert sorted(i.id for i in changes.items) == ["/cal/a.ics", "/cal/b.ics"]
    assert state is not None
    assert state.token == "t2"


class NoSyncCollection(Recorder):
    """A server without RFC 6578: sync-collection REPORTs are refused (501)."""

    def __init__(self) -> None:
        async def refuse(request: httpx.Request) -> httpx.Response | None:
            body = await request.aread()
            if b"sync-collection" in body:
                return httpx.Response(501, text="not implemented")
            return None

        super().__init__(answer=refuse)


async def test_server_without_sync_collection_lists_by_etags_and_ctag(
    dav_server: DavServer, dav_calendar: str
) -> None:
    first = put(dav_server, dav_calendar, event("etag-1@x.example"))
    recorder = NoSyncCollection()
    async with client(recorder) as http:
        calendar = dav_server.open(dav_calendar, http)
        full = await calendar.list_changes(None)
        assert full.full
        assert [i.obj.uid for i in full.items] == ["etag-1@x.example"]
        recorder.clear()
        quiet = await calendar.list_changes(full.cursor)
        assert (quiet.full, quiet.items, quiet.deleted) == (False, [], [])
        assert recorder.counts() == {"PROPFIND": 1}  # the ctag did not move

        put(dav_server, dav_calendar, event("etag-2@x.example"))
        delete(dav_server, first)
        made = await calendar.create(event("etag-3@x.example"), "k-etag-3")
        changes = await calendar.list_changes(quiet.cursor)
    assert not changes.full
    assert sorted(i.obj.uid for i in changes.items) == ["etag-2@x.example", "etag-3@x.example"]
    assert changes.deleted == [first]
    assert {i.id: i.etag for i in changes.items}[made.id] == made.etag


class NoCtag(Recorder):
    """A server that keeps no ``getctag``: the property is answered 404."""

    def __init__(self) -> None:
        async def without_ctag(request: httpx.Request) -> httpx.Response | None:
            body = await request.aread()
            if request.method == "PROPFIND" and b"getctag" in body:
                href = request.url.path
                return httpx.Response(
                    207,
                    text='<?xml version="1.0"?><multistatus xmlns="DAV:"><response>'
                    f"<href>{href}</href><propstat><prop><getctag"
                    ' xmlns="http://calendarserver.org/ns/"/></prop>'
                    "<status>HTTP/1.1 404 Not Found</status></propstat></response></multistatus>",
                )
            return None

        super().__init__(answer=without_ctag)


async def test_a_quiet_calendar_costs_one_ctag_propfind(
    dav_server: DavServer, dav_calendar: str
) -> None:
    put(dav_server, dav_calendar, event("quiet-1@x.example"))
    recorder = Recorder()
    async with client(recorder) as http:
        calendar = dav_server.open(dav_calendar, http)
        full = await calendar.list_changes(None)
        recorder.clear()
        quiet = await calendar.list_changes(full.cursor)
        assert (quiet.full, quiet.items, quiet.deleted) == (False, [], [])
        assert recorder.counts() == {"PROPFIND": 1}
        # A change moves the ctag, and the change is listed.
        put(dav_server, dav_calendar, event("quiet-2@x.example"))
        changes = await calendar.list_changes(quiet.cursor)
    assert [i.obj.uid for i in changes.items] == ["quiet-2@x.example"]


async def test_a_server_without_ctag_is_asked_for_its_changes_every_time(
    dav_server: DavServer, dav_calendar: str
) -> None:
    put(dav_server, dav_calendar, event("noctag-1@x.example"))
    recorder = NoCtag()
    async with client(recorder) as http:
        calendar = dav_server.open(dav_calendar, http)
        full = await calendar.list_changes(None)
        recorder.clear()
        quiet = await calendar.list_changes(full.cursor)
        assert (quiet.items, quiet.deleted) == ([], [])
        # Known to have no ctag: not asked again, the sync report alone.
        assert recorder.counts() == {"REPORT sync-collection": 1}
        put(dav_server, dav_calendar, event("noctag-2@x.example"))
        changes = await calendar.list_changes(quiet.cursor)
    assert [i.obj.uid for i in changes.items] == ["noctag-2@x.example"]
