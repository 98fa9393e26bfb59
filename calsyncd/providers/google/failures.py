"""Google's error answers (those not retried) as calsyncd's error tree.

The same status means different things for a calendar (a listing, ``calendars.get``) and for
one event: 404 on a listing is a calendar that does not exist, on an event an event that is
gone.
"""

from __future__ import annotations

from calsyncd.errors import (
    AuthError,
    CalendarNotFound,
    MalformedObject,
    NotFound,
    PermanentError,
    PreconditionFailed,
    ProviderError,
    ReadOnlyError,
    TemporaryError,
)
from calsyncd.providers.google.client import ApiError

READ_ONLY_REASONS = frozenset({"requiredAccessLevel", "forbidden", "insufficientPermissions"})


def calendar_error(exc: ApiError, what: str, *, calendar: str, where: str) -> ProviderError:
    """An error answer to a request about the whole calendar."""
    text = f"{what}: {exc}"
    if exc.status == 404:
        return CalendarNotFound(f"no calendar {calendar!r} ({text})", where=where)
    if exc.status == 403:
        return AuthError(f"no access to calendar {calendar!r} ({text})", where=where)
    if exc.status in (408, 409, 410):
        return TemporaryError(text, where=where)
    return PermanentError(text, where=where)


def item_error(exc: ApiError, what: str, *, item: str, where: str) -> ProviderError:
    """An error answer to a request about one event."""
    text = f"{what} {item}: {exc}"
    if exc.status in (404, 410):
        return NotFound(text, where=where, item=item)
    if exc.status in (409, 412):
        return PreconditionFailed(text, where=where, item=item)
    if exc.status == 403 and exc.reason in READ_ONLY_REASONS:
        return ReadOnlyError(f"calendar is read-only for these credentials ({text})", where=where)
    if exc.status == 403:
        return MalformedObject(f"Google refuses the change ({text})", where=where, item=item)
    return MalformedObject(f"Google rejected the event ({text})", where=where, item=item)
