"""Finding the calendar collection a rule endpoint names (RFC 6764, RFC 4791 §6).

``calendar`` may be a URL or an absolute path (used as is: no request), a name (the last
segment of the collection's path, else its display name), or omitted (the connection URL
itself if it is a calendar, else the account's only calendar). Names are looked up from the
connection URL: ``current-user-principal`` (asked of the URL, then ``/.well-known/caldav``,
then ``/``), the principal's ``calendar-home-set``, and a Depth 1 PROPFIND of each home.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

from calsyncd.errors import AuthError, CalendarNotFound
from calsyncd.providers.caldav import davxml
from calsyncd.providers.caldav.client import XML, Answer, DavClient, label
from calsyncd.providers.caldav.listings import First

_PROBE_ACCEPT = frozenset({400, 403, 404, 405, 501})


def with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


@dataclass(frozen=True, slots=True)
class Found:
    """A calendar collection of the account."""

    url: str
    displayname: str | None

    @property
    def name(self) -> str:
        return unquote(urlsplit(self.url).path.rstrip("/").rpartition("/")[2])

    def describe(self) -> str:
        if self.displayname and self.displayname != self.name:
            return f"{self.name} ({self.displayname})"
        return self.name


class _Calendars(davxml.Multistatus):
    """The event calendars among the members of a home (``Depth: 1``)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str | None]] = []
        """``(href, displayname)`` of each."""

    def add(self, response: davxml.Response) -> None:
        components = response.components()
        if not response.has_type(davxml.CALENDAR_TYPE):
            return
        if components is not None and "VEVENT" not in components:
            return
        self.found.append((response.href, response.text(davxml.DISPLAYNAME)))


@dataclass(frozen=True, slots=True)
class _Probe:
    principal: str | None
    homes: list[str]
    start_is_calendar: bool


async def collection_url(dav: DavClient, start: str, calendar: str | None) -> str:
    """The URL (ending in ``/``) of the collection ``calendar`` names; see the module docs."""
    if calendar is not None and is_url(calendar):
        return with_slash(calendar)
    if calendar is not None and calendar.startswith("/"):
        return with_slash(urljoin(start, calendar))
    probe = await _probe(dav, start)
    if calendar is None and probe.start_is_calendar:
        return with_slash(start)
    homes = probe.homes
    if not homes:
        if probe.principal is None:
            raise CalendarNotFound(
                f"{label(start)}: no CalDAV principal found (asked the URL, "
                "/.well-known/caldav and /); give the calendar as a path or URL",
                where=dav.where,
            )
        homes = await _homes(dav, probe.principal)
    found = await _calendars(dav, homes)
    return _choose(found, calendar, dav.where).url


def _candidates(start: str) -> list[str]:
    root = urljoin(start, "/")
    urls = [start] if urlsplit(start).path not in ("", "/") else []
    return [*urls, urljoin(root, "/.well-known/caldav"), root]


async def _propfind(
    dav: DavClient,
    url: str,
    listing: Callable[[], davxml.Multistatus],
    depth: str,
    *names: str,
) -> Answer:
    return await dav.request(
        "PROPFIND",
        url,
        body=davxml.propfind(*names),
        headers={"Depth": depth, "Content-Type": XML},
        accept=_PROBE_ACCEPT,
        follow=True,
        listing=listing,
    )


async def _probe(dav: DavClient, start: str) -> _Probe:
    start_is_calendar = False
    for url in _candidates(start):
        answer = await _propfind(
            dav,
            url,
            First,
            "0",
            davxml.CURRENT_USER_PRINCIPAL,
            davxml.CALENDAR_HOME_SET,
            davxml.RESOURCETYPE,
        )
        if answer.status != 207:
            continue
        first = answer.folded(First).first
        if first is None:
            continue
        if url == start and first.has_type(davxml.CALENDAR_TYPE):
            start_is_calendar = True
        homes = [urljoin(answer.url, h) for h in first.hrefs(davxml.CALENDAR_HOME_SET)]
        principals = first.hrefs(davxml.CURRENT_USER_PRINCIPAL)
        if homes or principals:
            principal = urljoin(answer.url, principals[0]) if principals else None
            return _Probe(principal, homes, start_is_calendar)
    return _Probe(None, [], start_is_calendar)


async def _homes(dav: DavClient, principal: str) -> list[str]:
    answer = await _propfind(dav, principal, First, "0", davxml.CALENDAR_HOME_SET)
    first = answer.folded(First).first if answer.status == 207 else None
    hrefs = first.hrefs(davxml.CALENDAR_HOME_SET) if first is not None else []
    return [urljoin(answer.url, h) for h in hrefs] if hrefs else [principal]


async def _calendars(dav: DavClient, homes: list[str]) -> list[Found]:
    found: list[Found] = []
    for home in homes:
        answer = await _propfind(
            dav,
            home,
            _Calendars,
            "1",
            davxml.RESOURCETYPE,
            davxml.DISPLAYNAME,
            davxml.COMPONENT_SET,
        )
        if answer.status == 403:
            raise AuthError(f"PROPFIND {label(answer.url)}: access denied", where=dav.where)
        if answer.status != 207:
            continue
        for href, displayname in answer.folded(_Calendars).found:
            found.append(Found(with_slash(urljoin(answer.url, href)), displayname))
    return found


def _choose(found: list[Found], calendar: str | None, where: str) -> Found:
    names = ", ".join(sorted(f.describe() for f in found)) or "none"
    if calendar is None:
        if len(found) == 1:
            return found[0]
        raise CalendarNotFound(
            f"the account has {len(found)} calendars; name one in the rule ({names})",
            where=where,
        )
    for matches in (
        [f for f in found if f.name == calendar],
        [f for f in found if f.displayname == calendar],
        [f for f in found if (f.displayname or "").casefold() == calendar.casefold()],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise CalendarNotFound(
                f"several calendars are named {calendar!r}; give its path instead "
                f"({', '.join(m.url for m in matches)})",
                where=where,
            )
    raise CalendarNotFound(f"no calendar named {calendar!r} (calendars: {names})", where=where)
