"""Helpers of the CalDAV tests: a recording transport, plain-HTTP access to a calendar."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from conformance.samples import BERLIN

from caldav.servers import DavServer
from calsyncd.model.event import CalendarObject, Event
from calsyncd.model.ical import parse_object, serialize_object
from calsyncd.providers.caldav import davxml

Answerer = Callable[[httpx.Request], Awaitable[httpx.Response | None]]
Alterer = Callable[[httpx.Request, httpx.Response], Awaitable[httpx.Response]]


@dataclass
class Sent:
    method: str
    path: str
    body: bytes
    headers: httpx.Headers
    status: int = 0

    @property
    def report(self) -> str | None:
        """The report's root element name (``sync-collection`` …) for a REPORT."""
        if self.method != "REPORT":
            return None
        root = self.body.split(b"?>", 1)[-1].lstrip()
        return root[1:].split(b" ", 1)[0].split(b">", 1)[0].split(b":", 1)[-1].decode()


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    """Forwards requests to a real transport and records them. ``answer`` may answer a request
    instead of the server; ``alter`` may change an answer; ``in_flight_max`` is the most
    requests seen at once."""

    answer: Answerer | None = None
    alter: Alterer | None = None
    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    sent: list[Sent] = field(default_factory=list)
    in_flight: int = 0
    in_flight_max: int = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        record = Sent(request.method, request.url.path, body, request.headers)
        self.sent.append(record)
        self.in_flight += 1
        self.in_flight_max = max(self.in_flight_max, self.in_flight)
        try:
            response = await self.answer(request) if self.answer else None
            if response is None:
                response = await self.inner.handle_async_request(request)
                if self.alter is not None:
                    await response.aread()
                    response = await self.alter(request, response)
        finally:
            self.in_flight -= 1
        record.status = response.status_code
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def counts(self) -> Counter[str]:
        """``{"PUT": 3, "REPORT sync-collection": 1, …}``."""
        return Counter(f"{s.method} {s.report}" if s.report else s.method for s in self.sent)

    def clear(self) -> None:
        self.sent.clear()


def client(recorder: Recorder) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=recorder, trust_env=False, timeout=30.0)


def event(uid: str, title: str = "Event", *, day: int = 0, **fields: object) -> CalendarObject:
    start = datetime(2030, 5, 6, 10, 0, tzinfo=BERLIN) + timedelta(days=day)
    master = Event(start=start, end=start + timedelta(hours=1), title=title, **fields)  # type: ignore[arg-type]
    return CalendarObject(uid=uid, master=master)


def put(server: DavServer, path: str, obj: CalendarObject, name: str | None = None) -> str:
    """Store ``obj`` as another client would (no precondition); returns its path."""
    name = name or hashlib.sha256(obj.uid.encode()).hexdigest()[:16] + ".ics"
    with server.client() as http:
        answer = http.put(
            path + name,
            content=serialize_object(obj),
            headers={"Content-Type": "text/calendar; charset=utf-8"},
        )
    assert answer.status_code in (201, 204), (answer.status_code, answer.text)
    return path + name


def put_raw(server: DavServer, href: str, text: str) -> None:
    with server.client() as http:
        answer = http.put(href, content=text.encode(), headers={"Content-Type": "text/calendar"})
    assert answer.status_code in (201, 204), (answer.status_code, answer.text)


def get_raw(server: DavServer, href: str) -> str:
    with server.client() as http:
        answer = http.get(href)
    assert answer.status_code == 200, answer.status_code
    return answer.text


def delete(server: DavServer, href: str) -> None:
    with server.client() as http:
        answer = http.delete(href)
    assert answer.status_code in (200, 204), answer.status_code


def dump(server: DavServer, path: str) -> dict[str, CalendarObject]:
    """Every object of a calendar by href, read with plain HTTP (PROPFIND + one multiget)."""
    with server.client() as http:
        listing = http.request(
            "PROPFIND",
            path,
            content=davxml.propfind(davxml.GETETAG),
            headers={"Depth": "1", "Content-Type": "application/xml"},
        )
        hrefs = [
            r.href
            for r in davxml.multistatus(listing.content).responses
            if r.href.rstrip("/") != path.rstrip("/") and r.href.endswith(".ics")
        ]
        if not hrefs:
            return {}
        bodies = http.request(
            "REPORT",
            path,
            content=davxml.calendar_multiget(hrefs),
            headers={"Depth": "1", "Content-Type": "application/xml"},
        )
    found: dict[str, CalendarObject] = {}
    for response in davxml.multistatus(bodies.content).responses:
        data = response.text(davxml.CALENDAR_DATA)
        assert data is not None, response.href
        found[response.href] = parse_object(data, source=response.href)
    return found


def etags(server: DavServer, path: str) -> dict[str, str]:
    with server.client() as http:
        listing = http.request(
            "PROPFIND",
            path,
            content=davxml.propfind(davxml.GETETAG),
            headers={"Depth": "1", "Content-Type": "application/xml"},
        )
    return {
        r.href: r.text(davxml.GETETAG) or ""
        for r in davxml.multistatus(listing.content).responses
        if r.href.endswith(".ics")
    }


def uids(objects: Sequence[CalendarObject]) -> list[str]:
    return sorted(o.uid for o in objects)


def put_at(server: DavServer, href: str, obj: CalendarObject) -> None:
    """Overwrite the resource ``href`` with ``obj`` (another client's edit)."""
    put_raw(server, href, serialize_object(obj).decode())


def seed(server: DavServer, path: str, objects: Sequence[CalendarObject]) -> dict[str, str]:
    """Store many objects as another client would, four PUTs at a time; ``{uid: href}``."""
    import anyio

    hrefs = {
        obj.uid: f"{path}{hashlib.sha256(obj.uid.encode()).hexdigest()[:16]}.ics" for obj in objects
    }

    async def work() -> None:
        limiter = anyio.CapacityLimiter(4)
        async with httpx.AsyncClient(
            base_url=server.url, auth=server.auth, trust_env=False, timeout=60.0
        ) as http:

            async def one(obj: CalendarObject) -> None:
                async with limiter:
                    answer = await http.put(
                        hrefs[obj.uid],
                        content=serialize_object(obj),
                        headers={"Content-Type": "text/calendar; charset=utf-8"},
                    )
                assert answer.status_code in (201, 204), answer.text

            async with anyio.create_task_group() as tasks:
                for obj in objects:
                    tasks.start_soon(one, obj)

    anyio.run(work)
    return hrefs


def by_origin(objects: dict[str, CalendarObject]) -> dict[str, CalendarObject]:
    """Originals by UID and copies by the UID of their original."""
    return {(o.marker.origin if o.marker else o.uid): o for o in objects.values()}


def href_of(objects: dict[str, CalendarObject], origin: str) -> str:
    """The href of the object that is (or copies) ``origin``."""
    return next(h for h, o in objects.items() if (o.marker.origin if o.marker else o.uid) == origin)
