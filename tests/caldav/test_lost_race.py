"""A write that loses an ``If-Match`` race (412), and the read that tells "changed" from
"gone" after it.

Cyrus 3.6 answers a ``HEAD`` that accepts gzip with 500 and its worker dies, and gives a
*weak* ETag to a gzipped ``GET`` — which no ``If-Match`` ever matches. Reads of one object
therefore ask for the identity encoding; and when the verifying read fails anyway, the write
is still a problem of that object (re-planned next cycle), never of the whole calendar.
"""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from caldav.helpers import Recorder, client, event
from caldav.servers import DavServer
from calsyncd.errors import ItemError, PreconditionFailed
from calsyncd.model.event import CalendarObject

pytestmark = pytest.mark.anyio


def retitled(obj: CalendarObject, title: str) -> CalendarObject:
    assert obj.master is not None
    return dataclasses.replace(obj, master=dataclasses.replace(obj.master, title=title))


async def test_a_lost_race_is_a_precondition_failure_and_the_server_lives_on(
    dav_server: DavServer, dav_calendar: str
) -> None:
    obj = event("race@x.example", "v1", description="long enough to be worth compressing " * 40)
    recorder = Recorder()
    async with client(recorder) as http:
        calendar = dav_server.open(dav_calendar, http)
        made = await calendar.create(obj, "k-race")
        won = await calendar.update(made.id, retitled(obj, "v2"), made.etag)
        recorder.clear()
        with pytest.raises(PreconditionFailed):
            await calendar.update(made.id, retitled(obj, "v3"), made.etag)
        with pytest.raises(PreconditionFailed):
            await calendar.delete(made.id, made.etag)
        verifications = [s for s in recorder.sent if s.method in ("HEAD", "PROPFIND")]
        assert verifications
        assert all(s.status < 500 for s in recorder.sent), recorder.counts()
        fetched = await calendar.get(made.id)
        listed = {i.id: i.etag for i in (await calendar.list_changes(None)).items}
    assert fetched.etag == won.etag == listed[made.id]
    assert fetched.obj.first.title == "v2"


async def test_reads_of_one_object_ask_for_the_identity_encoding(
    dav_server: DavServer, dav_calendar: str
) -> None:
    """A compressed representation may carry another (weak) ETag than the one writes match."""
    obj = event("plain@x.example", "Plain", description="compressible text " * 100)
    recorder = Recorder()
    async with client(recorder) as http:
        calendar = dav_server.open(dav_calendar, http)
        made = await calendar.create(obj, "k-plain")
        fetched = await calendar.get(made.id)
        updated = await calendar.update(made.id, retitled(obj, "Still plain"), fetched.etag)
    assert fetched.etag == made.etag
    assert not fetched.etag.startswith("W/")
    assert updated.etag != made.etag
    reads = [s for s in recorder.sent if s.method in ("GET", "HEAD")]
    assert reads
    assert all(s.headers.get("accept-encoding") == "identity" for s in reads)


async def test_a_failing_verification_read_stays_a_problem_of_the_object(
    dav_server: DavServer, dav_calendar: str
) -> None:
    async def broken_head(request: httpx.Request) -> httpx.Response | None:
        return httpx.Response(500) if request.method == "HEAD" else None

    obj = event("verify@x.example", "v1")
    async with client(Recorder(answer=broken_head)) as http:
        calendar = dav_server.open(dav_calendar, http, where="team/work")
        made = await calendar.create(obj, "k-verify")
        await calendar.update(made.id, retitled(obj, "v2"), made.etag)
        with pytest.raises(ItemError) as update:
            await calendar.update(made.id, retitled(obj, "v3"), made.etag)
        with pytest.raises(ItemError) as delete:
            await calendar.delete(made.id, made.etag)
        still = await calendar.get(made.id)
    for caught in (update, delete):
        assert isinstance(caught.value, PreconditionFailed)
        assert caught.value.item == made.id
        assert "whether it still exists could not be read" in str(caught.value)
        assert "HTTP 500" in str(caught.value)
    assert still.obj.first.title == "v2"
