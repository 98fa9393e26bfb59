"""Finding the collection: by name, display name, path or URL, through the principal and the
calendar home, on both servers; clear errors naming the connection and calendar."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from pydantic import SecretStr

from caldav.helpers import Recorder, client, event
from caldav.servers import DavServer
from calsyncd.errors import AuthError, CalendarNotFound
from calsyncd.providers.caldav import Auth, CaldavCalendar

pytestmark = pytest.mark.anyio


def fresh_name() -> str:
    return f"disc-{uuid.uuid4().hex[:10]}"


async def listed_path(dav_server: DavServer, calendar: str | None, recorder: Recorder) -> str:
    async with client(recorder) as http, dav_server.open(calendar, http) as opened:
        await opened.list_changes(None)
        return httpx.URL(await opened.collection_url()).path


async def test_by_name_display_name_path_and_url(dav_server: DavServer) -> None:
    name = fresh_name()
    path = dav_server.make_calendar(name, displayname=f"Court dates {name}")
    recorder = Recorder()
    for spec in (
        name,
        f"Court dates {name}",
        f"court DATES {name}",
        path,
        dav_server.url + path[1:],
    ):
        assert await listed_path(dav_server, spec, recorder) == path, spec
    # A path or URL needs no discovery: every request goes to the collection itself.
    recorder.clear()
    await listed_path(dav_server, path, recorder)
    assert {(s.method, s.path) for s in recorder.sent} == {("PROPFIND", path), ("REPORT", path)}


async def test_discovery_follows_well_known_with_propfind(dav_server: DavServer) -> None:
    name = fresh_name()
    dav_server.make_calendar(name)
    recorder = Recorder()
    await listed_path(dav_server, name, recorder)
    methods = {(s.method, s.path) for s in recorder.sent}
    assert ("PROPFIND", "/.well-known/caldav") in methods
    redirected_to = "/dav/calendars" if dav_server.kind == "cyrus" else "/"
    assert ("PROPFIND", redirected_to) in methods  # the redirect, followed with the same method
    assert "GET" not in {m for m, _ in methods}


async def test_unknown_name_lists_the_calendars(dav_server: DavServer) -> None:
    name = fresh_name()
    dav_server.make_calendar(name)
    async with client(Recorder()) as http:
        calendar = dav_server.open("no-such-calendar", http, where="team/no-such-calendar")
        with pytest.raises(CalendarNotFound) as caught:
            await calendar.list_changes(None)
    message = str(caught.value)
    assert message.startswith("team/no-such-calendar: no calendar named 'no-such-calendar'")
    assert name in message


async def test_omitted_calendar_with_several_calendars_is_an_error(
    dav_server: DavServer,
) -> None:
    dav_server.make_calendar(fresh_name())
    dav_server.make_calendar(fresh_name())
    async with client(Recorder()) as http:
        with pytest.raises(CalendarNotFound, match="calendars; name one in the rule"):
            await dav_server.open(None, http, where="team").list_changes(None)


async def test_connection_url_that_is_the_calendar(dav_server: DavServer) -> None:
    path = dav_server.make_calendar(fresh_name())
    async with client(Recorder()) as http:
        calendar = CaldavCalendar(
            dav_server.url + path[1:],
            None,
            where="team",
            http=http,
            auth=dav_server.credentials(),
        )
        await calendar.create(event("whole@x.example"), "k-whole")
        assert httpx.URL(await calendar.collection_url()).path == path


async def test_missing_path_is_calendar_not_found(dav_server: DavServer) -> None:
    async with client(Recorder()) as http:
        calendar = dav_server.open(f"{dav_server.home}gone/", http, where="team/gone")
        with pytest.raises(CalendarNotFound) as caught:
            await calendar.list_changes(None)
    # Radicale refuses the ctag PROPFIND, Xandikos answers it and refuses the REPORT.
    assert re.match(r"team/gone: (PROPFIND|REPORT) http://127\.0\.0\.1:", str(caught.value))
    assert "HTTP 404" in str(caught.value)


async def test_cursor_carries_the_collection(dav_server: DavServer) -> None:
    name = fresh_name()
    dav_server.make_calendar(name)
    recorder = Recorder()
    async with client(recorder) as http:
        opened = dav_server.open(name, http)
        first = await opened.list_changes(None)
        first_url = await opened.collection_url()
        recorder.clear()
        again = await dav_server.open(name, http).list_changes(first.cursor)
    assert not again.full
    assert recorder.counts() == {"PROPFIND": 1}  # the ctag, at the remembered URL
    assert {s.path for s in recorder.sent} == {httpx.URL(first_url).path}


async def test_a_moved_calendar_is_found_again(dav_server: DavServer) -> None:
    """The remembered collection answers 404: discovery runs again, then a full listing."""
    name = fresh_name()
    old = dav_server.make_calendar(name + "-old", displayname=name)
    async with client(Recorder()) as http:
        calendar = dav_server.open(name, http)
        await calendar.create(event("moved@x.example"), "k-moved")
        cursor = (await calendar.list_changes(None)).cursor
        with dav_server.client() as plain:
            assert plain.delete(old).status_code in (200, 204)
        new = dav_server.make_calendar(name + "-new", displayname=name)
        changes = await dav_server.open(name, http).list_changes(cursor)
    assert changes.full
    assert changes.items == []
    assert new != old


async def test_wrong_password_is_an_auth_error_without_the_secret(
    radicale_server: DavServer,
) -> None:
    async with client(Recorder()) as http:
        calendar = CaldavCalendar(
            radicale_server.url,
            "work",
            where="team/work",
            http=http,
            auth=Auth("alice", SecretStr("not-the-password-42")),
        )
        with pytest.raises(AuthError) as caught:
            await calendar.list_changes(None)
    message = str(caught.value)
    assert message.startswith("team/work: PROPFIND http://127.0.0.1:")
    assert "HTTP 401" in message
    assert "check the connection's username and password" in message
    assert "not-the-password-42" not in message + repr(caught.value) + repr(calendar.__dict__)


async def test_bearer_token_is_sent_and_never_shown() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization", ""))
        return httpx.Response(403, text="forbidden")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        calendar = CaldavCalendar(
            "https://dav.example/",
            "/cal/",
            where="team/cal",
            http=http,
            auth=Auth(token=SecretStr("tok-very-secret-123")),
        )
        with pytest.raises(AuthError) as caught:
            await calendar.list_changes(None)
    assert seen == ["Bearer tok-very-secret-123"]
    assert "tok-very-secret-123" not in str(caught.value)
    assert str(caught.value) == (
        "team/cal: PROPFIND https://dav.example/cal/: HTTP 403 Forbidden: access denied"
    )
