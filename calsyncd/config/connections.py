"""Connections (contract §4.1): how to reach one calendar account, server, folder or feed.

A :data:`Connection` is one of the classes below, told apart by ``type``. Secrets are
:class:`~pydantic.SecretStr` (their ``repr``/``str`` and JSON dumps show ``**********``); the
loader insists they are written as ``${env:…}``, ``${file:…}`` or ``${credential:…}``.
Paths are absolute after validation (relative ones are relative to the rule file).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ByteSize, Field, SecretStr, ValidationInfo, field_validator, model_validator

from calsyncd.config.base import (
    HttpUrl,
    ResolvedPath,
    StrictModel,
    context_value,
    custom_error,
    resolve_path,
)
from calsyncd.config.durations import PositiveDuration
from calsyncd.config.secrets import REFERENCE_PATTERN

_REFERENCE_HELP = "a reference: ${env:NAME}, ${file:PATH} or ${credential:NAME}"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def sendable_secret(value: SecretStr | None, *, header: bool) -> SecretStr | None:
    """``value`` if it can be sent as a credential; a message that never shows it otherwise.

    Secrets are stripped when resolved, so a control character left inside (a second line
    in a secret file) is a mistake; a ``header`` secret (a bearer token) must be ASCII,
    which is all an HTTP header can carry.
    """
    if value is None:
        return None
    secret = value.get_secret_value()
    if _CONTROL.search(secret):
        raise custom_error(
            "secret", "contains a line break or control character; a secret is one line"
        )
    if header and not secret.isascii():
        raise custom_error(
            "secret", "contains non-ASCII characters, which an HTTP header cannot carry"
        )
    return value


def _secret(description: str) -> Any:
    """A secret field: optional, documented in the JSON Schema as a reference string."""
    return Field(
        default=None,
        description=f"{description}; {_REFERENCE_HELP}",
        json_schema_extra={"pattern": REFERENCE_PATTERN},
    )


class _Connection(StrictModel):
    timeout: PositiveDuration | None = None
    """The longest one request may take, whole — connecting, sending and reading the entire
    answer, redirects included (default 60 s). A request past it fails the cycle with a
    temporary error naming it; it is not retried within the cycle."""
    max_concurrency: Annotated[int, Field(ge=1)] | None = None
    """Requests the sync engine may have in flight at once against this connection (CalDAV
    writes go one at a time per server regardless)."""

    @property
    def read_only(self) -> bool:
        """Whether nothing can be written through this connection."""
        return False

    @property
    def is_calendar(self) -> bool:
        """Whether rule endpoints may use this connection (Zoom only makes meetings)."""
        return True


class _ApiConnection(_Connection):
    base_url: HttpUrl | None = None
    """The full API base, to point the provider at an emulator or a sovereign cloud."""


class _OAuthConnection(_ApiConnection):
    auth_url: HttpUrl | None = None
    """The token endpoint or authority, when not the provider's public one."""


class LocalConnection(_Connection):
    """A folder of calendars: one sub-folder per calendar, one ``.ics`` per event (vdir)."""

    type: Literal["local"]
    path: ResolvedPath


class IcsConnection(_Connection):
    """An ICS feed: ``url`` (read-only; http(s) or a file path) or ``path`` (writable file).

    A ``url`` that is not http(s) is a file path and is made absolute like ``path``.
    """

    type: Literal["ics"]
    url: str | None = None
    path: ResolvedPath | None = None
    max_size: ByteSize | None = None
    """The largest feed (``url``) read: bytes, or a size such as ``16MiB``; default 6 MiB."""
    max_events: Annotated[int, Field(ge=1)] | None = None
    """The most events (UIDs) a feed (``url``) may hold; default 10,000."""

    @field_validator("max_size")
    @classmethod
    def _some_bytes(cls, value: ByteSize | None) -> ByteSize | None:
        if value == 0:
            raise custom_error("max_size", "expected a size of at least 1 byte")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value.startswith(("http://", "https://")):
            return value
        if "://" in value:
            raise custom_error("url", "expected an http:// or https:// URL or a file path")
        base = context_value(info, "base_dir")
        return str(resolve_path(value, base if isinstance(base, Path) else None))

    @model_validator(mode="after")
    def _one_source(self) -> IcsConnection:
        if (self.url is None) == (self.path is None):
            raise custom_error(
                "ics_source",
                "give exactly one of url (a read-only feed) or path (a writable .ics file)",
            )
        return self

    @property
    def read_only(self) -> bool:
        return self.url is not None

    @property
    def remote(self) -> bool:
        """Whether ``url`` is fetched over HTTP (otherwise it is a local file)."""
        return self.url is not None and self.url.startswith(("http://", "https://"))


class CaldavConnection(_ApiConnection):
    """A CalDAV server; ``password`` (basic auth, with ``username``) or ``token`` (bearer)."""

    type: Literal["caldav"]
    url: HttpUrl
    username: str | None = None
    password: SecretStr | None = _secret("basic-auth password")
    token: SecretStr | None = _secret("bearer token")

    @field_validator("password", "token")
    @classmethod
    def _sendable(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        return sendable_secret(value, header=info.field_name == "token")

    @model_validator(mode="after")
    def _auth(self) -> CaldavConnection:
        if self.password is not None and self.token is not None:
            raise custom_error("auth", "give password (with username) or token, not both")
        if self.password is not None and self.username is None:
            raise custom_error("auth", "password needs a username")
        return self


class GoogleConnection(_OAuthConnection):
    """Google Calendar through a service-account key or an OAuth token file."""

    type: Literal["google"]
    credentials: ResolvedPath
    """The service-account key or authorized-user token FILE."""
    subject: str | None = None
    """The user a service account acts as (domain-wide delegation)."""


class MicrosoftConnection(_OAuthConnection):
    """Microsoft 365 / Outlook through Microsoft Graph."""

    type: Literal["microsoft"]
    tenant: str
    client_id: str
    client_secret: SecretStr | None = _secret("app client secret (app-only access)")
    token_cache: ResolvedPath | None = None
    """Where delegated-access tokens are cached (a file)."""

    @field_validator("client_secret")
    @classmethod
    def _sendable(cls, value: SecretStr | None) -> SecretStr | None:
        return sendable_secret(value, header=False)


class ZoomConnection(_OAuthConnection):
    """A Zoom Server-to-Server OAuth app; only usable as ``meeting.connection``."""

    type: Literal["zoom"]
    account_id: str
    client_id: str
    client_secret: SecretStr = Field(
        description=_REFERENCE_HELP,
        json_schema_extra={"pattern": REFERENCE_PATTERN},
    )
    webhook_secret: SecretStr | None = _secret("secret token that verifies webhook calls")

    @field_validator("client_secret", "webhook_secret")
    @classmethod
    def _sendable(cls, value: SecretStr | None) -> SecretStr | None:
        return sendable_secret(value, header=False)

    @property
    def is_calendar(self) -> bool:
        return False


Connection = Annotated[
    LocalConnection
    | IcsConnection
    | CaldavConnection
    | GoogleConnection
    | MicrosoftConnection
    | ZoomConnection,
    Field(discriminator="type"),
]
"""Any connection; ``type`` says which."""

CONNECTION_TYPES: tuple[str, ...] = ("local", "ics", "caldav", "google", "microsoft", "zoom")
