"""From a connection's configuration to an open :class:`Calendar`.

Provider modules are imported only when a connection of their type is used, so a deployment
that syncs local folders never imports an HTTP API client it does not need.

``if_missing`` says what a listing does with a calendar that does not exist: the sync service
lets a target make it only while its rule has no copy (see ``docs/sync.md``); every other
missing calendar is an error naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import httpx

from calsyncd.config.connections import Connection, IcsConnection, LocalConnection
from calsyncd.config.endpoints import LOCAL_CALENDAR_RULE, is_plain_folder_name, local_folder
from calsyncd.config.rules import Endpoint
from calsyncd.errors import PermanentError
from calsyncd.providers.base import Calendar

IfMissing = Literal["error", "create"]
"""What a listing does with a calendar that does not exist: ``error`` (the default: an error
naming the calendars that do) or ``create`` (list it as empty; the first object written makes
it, so a dry run or a failed cycle makes nothing). Only ``local`` makes calendars; the other
providers always answer ``error``."""

Opener = Callable[[str, Connection, Endpoint, httpx.AsyncClient, IfMissing], Calendar]


def describe(name: str, endpoint: Endpoint) -> str:
    """How messages name a calendar: ``connection/calendar`` (never a secret)."""
    return f"{name}/{endpoint.calendar}" if endpoint.calendar else name


def _open_local(
    name: str, conn: Connection, endpoint: Endpoint, http: httpx.AsyncClient, missing: IfMissing
) -> Calendar:
    from calsyncd.providers.local import LocalCalendar

    assert isinstance(conn, LocalConnection)
    where = describe(name, endpoint)
    if endpoint.calendar is not None and not is_plain_folder_name(endpoint.calendar):
        raise PermanentError(LOCAL_CALENDAR_RULE, where=where)  # `check` says so too
    return LocalCalendar(local_folder(conn, endpoint.calendar), where=where, if_missing=missing)


def _open_ics(
    name: str, conn: Connection, endpoint: Endpoint, http: httpx.AsyncClient, missing: IfMissing
) -> Calendar:
    from calsyncd.providers.ics import MAX_FEED_BYTES, MAX_FEED_EVENTS, IcsFeed, IcsFile

    assert isinstance(conn, IcsConnection)
    where = describe(name, endpoint)
    if conn.path is not None:
        return IcsFile(conn.path, where=where, name=endpoint.calendar)
    assert conn.url is not None
    timeout = conn.timeout.total_seconds() if conn.timeout is not None else None
    return IcsFeed(
        conn.url,
        where=where,
        http=http,
        timeout=timeout,
        max_bytes=conn.max_size or MAX_FEED_BYTES,
        max_events=conn.max_events or MAX_FEED_EVENTS,
    )


def _open_caldav(
    name: str, conn: Connection, endpoint: Endpoint, http: httpx.AsyncClient, missing: IfMissing
) -> Calendar:
    from calsyncd.config.connections import CaldavConnection
    from calsyncd.providers.caldav import CaldavCalendar

    assert isinstance(conn, CaldavConnection)
    return CaldavCalendar.from_connection(
        conn, endpoint.calendar, where=describe(name, endpoint), http=http
    )


def _open_google(
    name: str, conn: Connection, endpoint: Endpoint, http: httpx.AsyncClient, missing: IfMissing
) -> Calendar:
    from calsyncd.config.connections import GoogleConnection
    from calsyncd.providers.google import open_google

    assert isinstance(conn, GoogleConnection)
    return open_google(conn, endpoint.calendar, where=describe(name, endpoint))


_OPENERS: dict[str, Opener] = {
    "local": _open_local,
    "ics": _open_ics,
    "caldav": _open_caldav,
    "google": _open_google,
}


def open_calendar(
    name: str,
    connection: Connection,
    endpoint: Endpoint,
    *,
    http: httpx.AsyncClient,
    if_missing: IfMissing = "error",
) -> Calendar:
    """The calendar ``endpoint`` names on ``connection``; nothing is contacted yet."""
    opener = _OPENERS.get(connection.type)
    if opener is None:
        raise PermanentError(
            f"connections of type {connection.type!r} are not supported by this version",
            where=describe(name, endpoint),
        )
    return opener(name, connection, endpoint, http, if_missing)
