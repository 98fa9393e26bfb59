"""The ``google`` provider: Google Calendar through google-api-python-client.

- :mod:`.calendar` — :class:`GoogleCalendar`, one calendar as the engine sees it (listing with
  sync tokens, series folding, idempotent writes);
- :mod:`.mapping` — event resources ↔ the canonical model (pure);
- :mod:`.series` — masters + exceptions, and the exception writes a series update needs (pure);
- :mod:`.client` — requests in worker threads, retries;
- :mod:`.failures` — error answers as calsyncd's error tree;
- :mod:`.credentials` — service-account keys, user token files, the installed-app flow;
- :mod:`.ids` — client-chosen event ids, instance ids, object etags.
"""

from __future__ import annotations

from calsyncd.config.connections import GoogleConnection
from calsyncd.providers.google.calendar import GoogleCalendar
from calsyncd.providers.google.client import DEFAULT_RETRY, GoogleClient, RetryPolicy

__all__ = ["DEFAULT_RETRY", "GoogleCalendar", "GoogleClient", "RetryPolicy", "open_google"]

DEFAULT_CONCURRENCY = 4
"""Requests at once per calendar when the connection sets no ``max_concurrency``."""


def open_google(
    connection: GoogleConnection,
    calendar: str | None,
    *,
    where: str,
    retry: RetryPolicy | None = None,
) -> GoogleCalendar:
    """The calendar ``calendar`` (default ``primary``) of a configured connection; nothing is
    read or contacted until the first request."""
    client = GoogleClient(
        connection.credentials,
        where=where,
        subject=connection.subject,
        auth_url=connection.auth_url,
        base_url=connection.base_url,
        timeout=connection.timeout.total_seconds() if connection.timeout else None,
        max_concurrency=connection.max_concurrency or DEFAULT_CONCURRENCY,
        retry=retry,
    )
    return GoogleCalendar(client, calendar or "primary", where=where)
