"""What a hostile or broken server can do to one CalDAV request, and the bounds on it: the
answer's size, the request's whole duration, entity bombs, endless 507 continuations,
credentials sent to another origin, and messages carrying what a server or h11 echoed.
(``tests/hostile/test_http.py`` drives the same through the real ``calsyncd`` process.)"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Callable

import anyio
import httpx
import pytest
import structlog
from pydantic import SecretStr

from calsyncd.errors import AuthError, PermanentError, TemporaryError
from calsyncd.log import scrub
from calsyncd.providers._http import credentials_allowed, transport_detail
from calsyncd.providers.caldav import Auth, CaldavCalendar, davxml
from calsyncd.providers.caldav.calendar import STALLED_ROUNDS
from calsyncd.providers.caldav.client import DavClient
from calsyncd.providers.caldav.listings import First, Members

pytestmark = pytest.mark.anyio

HOME = "https://dav.example/"
MEMBER = (
    '<response><href>/cal/{0}.ics</href><propstat><prop><getetag>"{0}"</getetag></prop>'
    "<status>HTTP/1.1 200 OK</status></propstat></response>"
)


def multistatus(*parts: str) -> str:
    return f'<?xml version="1.0"?>\n<multistatus xmlns="DAV:">{"".join(parts)}</multistatus>'


def mock(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


# -- XML ---------------------------------------------------------------------------------------


def test_a_dtd_is_refused_before_any_entity_is_declared() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE multistatus [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<multistatus xmlns="DAV:"><response><href>&b;</href></response></multistatus>'
    )
    with pytest.raises(davxml.XmlError, match="a DTD"):
        davxml.multistatus(bomb)
    assert davxml.conditions(bomb.replace(b"multistatus", b"error")) == set()


def test_a_multistatus_fed_a_byte_at_a_time_is_read_like_a_whole_one() -> None:
    body = multistatus(MEMBER.format("a"), "<sync-token> t9 </sync-token>", MEMBER.format("b"))
    whole = davxml.multistatus(body.encode())
    reader = davxml.MultistatusReader(davxml.Multistatus())
    for byte in body.encode():
        reader.feed(bytes([byte]))
    pieces = reader.close()
    assert [r.href for r in pieces.responses] == [r.href for r in whole.responses]
    assert [r.href for r in whole.responses] == ["/cal/a.ics", "/cal/b.ics"]
    assert pieces.sync_token == whole.sync_token == "t9"


def test_a_listing_keeps_only_what_it_folds() -> None:
    members = Members("https://dav.example/cal/")
    reader = davxml.MultistatusReader(members)
    reader.feed(multistatus(MEMBER.format("a"), MEMBER.format("b")).encode())
    reader.close()
    assert members.responses == []  # nothing kept but the fold
    assert members.changed == {"/cal/a.ics": '"a"', "/cal/b.ics": '"b"'}


def test_something_else_than_a_multistatus_is_refused_at_its_first_element() -> None:
    reader = davxml.MultistatusReader(davxml.Multistatus())
    with pytest.raises(davxml.XmlError, match="expected a DAV multistatus"):
        reader.feed(b"<html><body>" + b"x" * 100)


# -- size and time -----------------------------------------------------------------------------


class Drip(httpx.AsyncByteStream):
    """An endless body, ``chunk`` every ``pause`` seconds; counts what was read."""

    def __init__(self, chunk: bytes, pause: float) -> None:
        self.chunk = chunk
        self.pause = pause
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'<multistatus xmlns="DAV:">'
        while True:
            await anyio.sleep(self.pause)
            self.read += len(self.chunk)
            yield self.chunk


async def test_an_answer_past_the_limit_stops_being_read() -> None:
    stream = Drip(b"<!-- padding -->" * 64, 0)
    async with mock(lambda r: httpx.Response(207, stream=stream)) as http:
        dav = DavClient(http, where="t/c", home=HOME, max_bytes=10_000)
        with pytest.raises(PermanentError) as caught:
            await dav.request("PROPFIND", HOME + "cal/", listing=First)
    assert str(caught.value) == (
        "t/c: PROPFIND https://dav.example/cal/: answer larger than 10000 bytes; stopped reading"
    )
    assert stream.read < 11_000


async def test_a_declared_length_past_the_limit_is_not_read_at_all() -> None:
    stream = Drip(b"x", 0)
    headers = {"Content-Length": str(10**9)}
    async with mock(lambda r: httpx.Response(200, headers=headers, stream=stream)) as http:
        dav = DavClient(http, where="t/c", home=HOME, max_bytes=10_000)
        with pytest.raises(PermanentError, match="answer larger than 10000 bytes"):
            await dav.request("GET", HOME + "cal/a.ics")
    assert stream.read == 0


async def test_the_timeout_bounds_the_whole_answer_not_each_read() -> None:
    stream = Drip(b" ", 0.05)  # a byte every 50 ms: no single read waits long
    async with mock(lambda r: httpx.Response(207, stream=stream)) as http:
        dav = DavClient(http, where="t/c", home=HOME, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(TemporaryError) as caught:
            await dav.request("REPORT", HOME + "cal/", listing=First)
    took = time.monotonic() - started
    assert str(caught.value) == (
        "t/c: REPORT https://dav.example/cal/: no complete answer within 0.5s "
        "(the connection's timeout)"
    )
    assert 0.5 <= took < 1.5  # not retried
    assert stream.read > 3


async def test_a_sync_listing_that_never_progresses_fails_after_a_few_rounds() -> None:
    truncated = (
        "<response><href>/cal/</href><status>HTTP/1.1 507 Insufficient Storage</status></response>"
    )
    reports = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal reports
        if request.method == "PROPFIND":
            return httpx.Response(207, text=multistatus())
        reports += 1
        page = multistatus(MEMBER.format("a"), truncated, "<sync-token>t1</sync-token>")
        return httpx.Response(207, text=page)

    async with mock(handler) as http:
        calendar = CaldavCalendar(HOME, "/cal/", where="t/c", http=http)
        with pytest.raises(TemporaryError, match=r"507 \(truncated\) 3 times in a row"):
            await calendar.list_changes(None)
    assert reports == 1 + STALLED_ROUNDS


# -- credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://dav.example/cal/", True),
        ("https://DAV.example:443/x", True),
        ("https://dav.example:8443/x", False),
        ("https://other.example/", False),
        ("http://dav.example/", False),  # a downgrade
    ],
)
def test_credentials_stay_with_the_configured_origin(url: str, allowed: bool) -> None:
    assert credentials_allowed("https://dav.example/", url) is allowed


def test_an_upgrade_to_https_on_the_same_host_keeps_them() -> None:
    assert credentials_allowed("http://dav.example/", "https://dav.example/cal/")
    assert not credentials_allowed("http://dav.example:8080/", "https://dav.example/cal/")


async def test_a_home_on_another_origin_gets_no_password() -> None:
    """Discovery finds the calendar home on another host: it is asked without credentials,
    a warning says why, and its 401 explains it."""
    seen: list[tuple[str, str | None]] = []
    elsewhere = "https://other.example:8443/home/"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        if request.url.host == "other.example":
            return httpx.Response(401, text="who are you")
        return httpx.Response(
            207,
            text=multistatus(
                "<response><href>/</href><propstat><prop>"
                f"<C:calendar-home-set xmlns:C='urn:ietf:params:xml:ns:caldav'><href>{elsewhere}"
                "</href></C:calendar-home-set></prop><status>HTTP/1.1 200 OK</status>"
                "</propstat></response>"
            ),
        )

    auth = Auth("alice", SecretStr("pw-never-elsewhere"))
    async with mock(handler) as http:
        calendar = CaldavCalendar(HOME, "work", where="t/work", http=http, auth=auth)
        with structlog.testing.capture_logs() as logs, pytest.raises(AuthError) as caught:
            await calendar.list_changes(None)
    assert [h for u, h in seen if u.startswith(HOME)] != []
    assert all(h is not None for u, h in seen if u.startswith(HOME))
    assert [h for u, h in seen if u == elsewhere] == [None]
    warnings = [e for e in logs if e["event"] == "caldav credentials withheld"]
    assert len(warnings) == 1
    assert warnings[0]["reason"] == (
        "https://other.example:8443 is not the connection's origin https://dav.example"
    )
    assert "sends only to the connection's origin https://dav.example" in str(caught.value)


async def test_a_redirect_to_another_origin_is_followed_without_them() -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        if request.url.host == "dav.example":
            return httpx.Response(301, headers={"Location": "https://evil.example/cal/"})
        return httpx.Response(207, text=multistatus())

    async with mock(handler) as http:
        dav = DavClient(http, where="t/c", home=HOME, auth=Auth(token=SecretStr("tok-123456")))
        await dav.request("PROPFIND", HOME + ".well-known/caldav", follow=True, listing=First)
    assert seen == [
        ("https://dav.example/.well-known/caldav", "Bearer tok-123456"),
        ("https://evil.example/cal/", None),
    ]


@pytest.mark.parametrize("token", ["tok-with-newline\n", "t\u00f6k-non-ascii", "two words", ""])
async def test_a_token_no_header_can_carry_is_an_auth_error_naming_the_connection(
    token: str,
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(207, text=multistatus())

    async with mock(handler) as http:
        calendar = CaldavCalendar(
            HOME, "/cal/", where="t/c", http=http, auth=Auth(token=SecretStr(token))
        )
        with pytest.raises(AuthError) as caught:
            await calendar.list_changes(None)
    assert str(caught.value).startswith("t/c: the token cannot be sent in an HTTP header")
    assert token.strip() not in str(caught.value) or not token.strip()
    assert sent == []


async def test_the_forms_a_request_derives_are_scrubbed_from_logs() -> None:
    password = "derived-forms-pw"
    encoded = base64.b64encode(f"alice:{password}".encode()).decode()
    assert scrub(encoded) == encoded  # not known before a request builds it
    async with mock(lambda r: httpx.Response(207, text=multistatus())) as http:
        dav = DavClient(http, where="t/c", home=HOME, auth=Auth("alice", SecretStr(password)))
        await dav.request("PROPFIND", HOME, listing=First)
    assert encoded not in scrub(f"echoed: Basic {encoded}")
    assert encoded not in scrub(f"echoed: {encoded}")


async def test_a_servers_reason_phrase_is_never_shown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        echo = f"Nope {request.headers['authorization']}".encode()
        return httpx.Response(500, extensions={"reason_phrase": echo})

    async with mock(handler) as http:
        dav = DavClient(http, where="t/c", home=HOME, auth=Auth(token=SecretStr("tok-echoed-42")))
        dav.retry = type(dav.retry)(attempts=1)
        with pytest.raises(TemporaryError) as caught:
            await dav.request("PROPFIND", HOME)
    assert str(caught.value) == "t/c: PROPFIND https://dav.example/: HTTP 500 Internal Server Error"


def test_protocol_errors_lose_the_values_h11_quotes() -> None:
    error = httpx.LocalProtocolError("Illegal header value b'Bearer Zq9-secret\\n'")
    assert transport_detail(error, HOME, HOME) == "Illegal header value (value not shown)"
    other = httpx.ConnectError("[Errno 111] Connection refused")
    assert transport_detail(other, HOME, HOME) == "[Errno 111] Connection refused"
