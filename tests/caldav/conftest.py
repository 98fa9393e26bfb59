"""Fixtures of the CalDAV tests."""

from conformance.fixtures import http_client, no_leaked_threads

from caldav.fixtures import (
    cyrus_server,
    dav_calendar,
    dav_server,
    radicale_server,
    xandikos_server,
)

__all__ = [
    "cyrus_server",
    "dav_calendar",
    "dav_server",
    "http_client",
    "no_leaked_threads",
    "radicale_server",
    "xandikos_server",
]
