"""Writes on both servers: deterministic hrefs, client scheduling on copies, UID conflicts,
answers without ETag, and what each server keeps of unknown properties."""

from __future__ import annotations

import dataclasses
from urllib.parse import quote, unquote

import httpx
import pytest

from caldav.helpers import Recorder, client, event, get_raw, put
from caldav.servers import DavServer
from calsyncd.errors import MalformedObject, PreconditionFailed
from calsyncd.model.event import Attendee, ExtraProperty, Marker, Person, Response
from calsyncd.model.ical import parse_object

pytestmark = pytest.mark.anyio

PEOPLE = {
    "organizer": Person("clerk@court.example", "Court Clerk"),
    "attendees": (
        Attendee("ana@firm.example", "Ana", Response.ACCEPTED),
        Attendee("bo@firm.example", None, Response.NEEDS_ACTION, optional=True),
    ),
}


def unfolded(text: str) -> list[str]:
    return text.replace("\r\n ", "").replace("\n ", "").splitlines()


async def test_copies_are_client_scheduled_originals_are_not(
    dav_server: DavServer, dav_calendar: str
) -> None:
    marker = Marker(rule="r", origin="orig@x.example", key="csabc")
    copy = event("copy@x.example", "Copy", **PEOPLE).with_marker(marker)
    original = event("orig@x.example", "Original", **PEOPLE)
    async with client(Recorder()) as http:
        calendar = dav_server.open(dav_calendar, http)
        made = await calendar.create(copy, "csabc")
        plain = await calendar.create(original, "k-original")
        assert made.id == dav_calendar + "csabc.ics"
        assert (await calendar.get(made.id)).obj == copy  # the parameter is not in the model
    scheduled = [
        line
        for line in unfolded(get_raw(dav_server, made.id))
        if line.startswith(("ATTENDEE", "ORGANIZER"))
    ]
    assert len(scheduled) == 3
    assert all("SCHEDULE-AGENT=CLIENT" in line for line in scheduled)
    assert "SCHEDULE-AGENT" not in get_raw(dav_server, plain.id)


async def test_uid_used_at_another_href_is_a_precondition_failure(
    dav_server: DavServer, dav_calendar: str
) -> None:
    """Radicale and Xandikos say ``no-uid-conflict``, Cyrus ``unique-scheduling-object-resource``
    naming the other object."""
    obj = event("taken@x.example", "Theirs")
    theirs = put(dav_server, dav_calendar, obj)
    async with client(Recorder()) as http:
        calendar = dav_server.open(dav_calendar, http)
        with pytest.raises(PreconditionFailed, match="is used by another object") as caught:
            await calendar.create(dataclasses.replace(obj), "k-taken")
        listed = await calendar.list_changes(None)
    assert caught.value.where == f"{dav_server.kind}/{dav_calendar}"
    condition = (
        f"({theirs}) (unique-scheduling-object-resource)"
        if dav_server.kind == "cyrus"
        else "(no-uid-conflict)"
    )
    assert str(caught.value).endswith(condition)
    assert [i.id for i in listed.items] == [theirs]


async def test_put_answered_without_etag_is_read_back(
    dav_server: DavServer, dav_calendar: str
) -> None:
    async def no_etag(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.method != "PUT":
            return response
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "etag"]
        return httpx.Response(response.status_code, headers=headers, content=response.content)

    recorder = Recorder(alter=no_etag)
    async with client(recorder) as http:
        calendar = dav_server.open(dav_calendar, http)
        made = await calendar.create(event("noetag@x.example", "v1"), "k-noetag")
        assert recorder.counts()["GET"] == 1
        v2 = event("noetag@x.example", "v2")
        updated = await calendar.update(made.id, v2, made.etag)
        listed = {i.id: i.etag for i in (await calendar.list_changes(None)).items}
    assert listed == {made.id: updated.etag}
    assert updated.etag != made.etag
    assert updated.obj.first.title == "v2"


async def test_object_the_server_refuses_is_an_item_error(radicale_server: DavServer) -> None:
    """Radicale refuses a series whose RRULE makes more than 10,000 occurrences."""
    path = radicale_server.make_calendar()
    huge = event("huge@x.example", rrules=("FREQ=MINUTELY;COUNT=20000",))
    async with client(Recorder()) as http:
        calendar = radicale_server.open(path, http, where="team/work")
        with pytest.raises(MalformedObject, match="the server refused the object") as caught:
            await calendar.create(huge, "k-huge")
    assert caught.value.item == path + "k-huge.ics"
    assert str(caught.value).startswith("team/work: PUT")


async def test_unknown_properties(dav_server: DavServer, dav_calendar: str) -> None:
    """Xandikos and Cyrus keep them verbatim; Radicale too, except values with an unescaped
    comma, which it cuts at the comma (vobject reads them as lists)."""
    extra = (
        ExtraProperty("X-CASE", "X-CASE;X-LEVEL=HIGH:2030-CV-0042"),
        ExtraProperty("X-NOTE", "X-NOTE:one, two"),
    )
    async with client(Recorder()) as http:
        calendar = dav_server.open(dav_calendar, http)
        made = await calendar.create(event("extra@x.example", extra=extra), "k-extra")
    master = parse_object(get_raw(dav_server, made.id), source=made.id).master
    assert master is not None
    if dav_server.kind == "radicale":
        assert master.extra == (extra[0], ExtraProperty("X-NOTE", "X-NOTE:one"))
    else:
        assert master.extra == extra


async def test_foreign_resource_names_with_odd_characters(
    dav_server: DavServer, dav_calendar: str
) -> None:
    """Ids are canonical paths: whatever encoding a server writes, reads and writes work."""
    name = "Meeting notes ünï (1)+@.ics"
    put(dav_server, dav_calendar, event("odd-name@x.example", "Odd"), name=quote(name))
    async with client(Recorder()) as http:
        calendar = dav_server.open(dav_calendar, http)
        listed = await calendar.list_changes(None)
        (item,) = listed.items
        assert unquote(item.id) == dav_calendar + name
        fetched = await calendar.get(item.id)
        updated = await calendar.update(item.id, event("odd-name@x.example", "Odder"), fetched.etag)
        changes = await calendar.list_changes(listed.cursor)
        assert [(i.id, i.etag) for i in changes.items] == [(item.id, updated.etag)]
        await calendar.delete(item.id, updated.etag)
        gone = await calendar.list_changes(changes.cursor)
    assert gone.deleted == [item.id]
