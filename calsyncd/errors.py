"""The error tree of calsyncd.

Every error a user can cause or a server can answer with is one of these; anything else that
escapes is a bug. Provider code translates transport and protocol errors at its boundary and
raises one of these ``from`` the original.

::

    CalsyncdError
    ├── ConfigError                 settings or rule files are invalid; carries every Problem
    ├── StateError                  the state database cannot be opened or written
    ├── InternalError               something unexpected inside one rule's cycle (a bug)
    └── ProviderError               something a calendar server (or folder) answered
        ├── TemporaryError          retry later (network, 429, 5xx); ``retry_after`` if known
        │   └── RateLimited         the server asked us to slow down
        ├── PermanentError          retrying will not help until someone acts
        │   ├── AuthError           bad or expired credentials
        │   ├── CalendarNotFound    the configured calendar does not exist
        │   └── ReadOnlyError       a write was attempted on a read-only calendar
        └── ItemError               about one calendar object, not the whole calendar
            ├── NotFound            the object is gone
            ├── PreconditionFailed  the object changed since we read it (stale etag)
            └── MalformedObject     the object cannot be parsed or mapped

The supervisor backs a rule off on ``TemporaryError`` (and ``InternalError``) and holds it on
``PermanentError``; the executor records an ``ItemError`` against its item and carries on
with the rest of the rule. An exception outside this tree met during a cycle becomes an
``InternalError`` of that rule alone: the other rules go on.
"""

from __future__ import annotations

from dataclasses import dataclass


class CalsyncdError(Exception):
    """Base of every error calsyncd raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding in a configuration file, printed as ``path:line:col: message``."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class ConfigError(CalsyncdError):
    """The configuration is invalid; ``problems`` lists every finding, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StateError(CalsyncdError):
    """The state database cannot be opened, migrated or written."""


class InternalError(CalsyncdError):
    """An unexpected exception during one rule's cycle; the message names its type."""


class ProviderError(CalsyncdError):
    """Something a calendar provider answered; ``where`` names the connection/calendar."""

    def __init__(self, message: str, *, where: str = "") -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class TemporaryError(ProviderError):
    """Worth retrying; ``retry_after`` is the server's hint in seconds, if it gave one."""

    def __init__(self, message: str, *, where: str = "", retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, where=where)


class RateLimited(TemporaryError):
    """The server throttled us (429, 403 rate limit, 503 with Retry-After)."""


class PermanentError(ProviderError):
    """Retrying will not help until the operator changes something."""


class AuthError(PermanentError):
    """Credentials were rejected or could not be obtained."""


class CalendarNotFound(PermanentError):
    """The calendar named by a rule endpoint does not exist on the server."""


class ReadOnlyError(PermanentError):
    """A write was attempted on a read-only calendar."""


class ItemError(ProviderError):
    """About one calendar object; ``item`` is its provider id (or path)."""

    def __init__(self, message: str, *, where: str = "", item: str = "") -> None:
        self.item = item
        super().__init__(message, where=where)


class NotFound(ItemError):
    """The object does not exist (any more)."""


class PreconditionFailed(ItemError):
    """The object changed since its etag was read; re-plan instead of overwriting."""


class MalformedObject(ItemError):
    """The object cannot be parsed or mapped to the canonical model."""
