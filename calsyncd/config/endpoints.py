"""Which calendar a rule endpoint names, compared after resolving its spelling.

A rule whose target is its source would rewrite the originals with the rule's mapping (with
``busy-block``, every title becomes "Busy"). The same calendar can be written many ways —
``../calendars/src`` and a symlink to it, ``HTTP://Host:80/a/`` and ``http://host/a``, Google's
``primary`` and the subject's address — so endpoints are compared by :func:`identity`, a
string naming the calendar after:

- local folders and ICS files: the path made absolute, ``..`` folded, symlinks resolved;
- CalDAV: the collection URL normalised (:func:`normalize_url`) and joined with the calendar
  when it is a path or URL; a calendar given by name is only known after discovery (the
  providers tell it at run time, see :attr:`~calsyncd.providers.base.Calendar.identity`);
- Google: the calendar id (``primary`` or none: the subject's address, else the token file's
  account); Microsoft: tenant, mailbox and calendar.

:func:`is_plain_folder_name` keeps a local calendar name inside its connection's folder.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit
from urllib.request import url2pathname

from calsyncd.config.connections import (
    CaldavConnection,
    Connection,
    GoogleConnection,
    IcsConnection,
    LocalConnection,
    MicrosoftConnection,
)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SAFE = "!$&'()*+,;=:@~"
"""Characters of a path segment (RFC 3986 ``pchar``) that need no percent-encoding, besides
letters, digits and ``-._`` which :func:`urllib.parse.quote` always keeps."""
GOOGLE_API = "https://www.googleapis.com/calendar/v3/"
GRAPH_API = "https://graph.microsoft.com/v1.0/"


def normalize_url(url: str, *, collection: bool = True) -> str:
    """``url`` in one spelling: scheme and host in lower case, no default port, no user
    info, no fragment, dot segments resolved, each path segment percent-encoded the same way
    (``%7e`` → ``~``, ``é`` → ``%C3%A9``), and — for a ``collection`` — one trailing slash."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    with contextlib.suppress(UnicodeError):  # else compared as written (in lower case)
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"  # IPv6
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    segments: list[str] = []
    for segment in (unquote(s) for s in parts.path.split("/")):  # %2F stays in its segment
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in (".", ""):
            segments.append(segment)
    path = "/" + "/".join(quote(s, safe=_PATH_SAFE) for s in segments)
    if collection or parts.path.endswith("/"):
        path = path.rstrip("/") + "/"
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def real_path(path: Path) -> str:
    """``path`` absolute with symlinks resolved (as far as they exist)."""
    return os.path.realpath(path)


LOCAL_CALENDAR_RULE = (
    "a local calendar is one folder name inside the connection's folder"
    " (not empty, no /, \\, . or .., not an absolute path)"
)


def is_plain_folder_name(calendar: str) -> bool:
    """Whether ``calendar`` names a folder directly inside a local connection's folder."""
    return calendar not in ("", ".", "..") and not any(c in calendar for c in "/\\\0")


def shown(identity: str) -> str:
    """How a message may show an identity: the path of a file or folder; nothing for a URL,
    whose path or query may carry a secret (a private feed address)."""
    if identity.startswith("file:"):
        return url2pathname(urlsplit(identity).path)
    return ""


def local_folder(connection: LocalConnection, calendar: str | None) -> Path:
    """The folder of a local calendar (``calendar``: a plain folder name, or ``None`` for
    the connection's folder itself)."""
    return connection.path / calendar if calendar else connection.path


def identity(connection: Connection, calendar: str | None, user: str | None = None) -> str | None:
    """A string naming the calendar an endpoint reaches — equal for two spellings of one
    calendar — or ``None`` when it cannot be told without asking the server."""
    if isinstance(connection, LocalConnection):
        if calendar is not None and not is_plain_folder_name(calendar):
            return None
        return Path(real_path(local_folder(connection, calendar))).as_uri()
    if isinstance(connection, IcsConnection):
        return _ics_identity(connection)
    if isinstance(connection, CaldavConnection):
        return _caldav_identity(connection, calendar)
    if isinstance(connection, GoogleConnection):
        return _google_identity(connection, calendar)
    if isinstance(connection, MicrosoftConnection):
        return _microsoft_identity(connection, calendar, user)
    return None


def _ics_identity(connection: IcsConnection) -> str | None:
    if connection.path is not None:
        return Path(real_path(connection.path)).as_uri()
    if connection.url is None:
        return None
    if connection.remote:
        return normalize_url(connection.url, collection=False)
    return Path(real_path(Path(connection.url))).as_uri()


def _caldav_identity(connection: CaldavConnection, calendar: str | None) -> str:
    start = normalize_url(connection.base_url or connection.url)
    if calendar is not None and calendar.startswith(("http://", "https://")):
        return normalize_url(calendar)
    if calendar is not None and calendar.startswith("/"):
        return normalize_url(urljoin(start, calendar))
    # A name (or the account's only calendar): the same only for the same account.
    account = quote(connection.username or "", safe="")
    return f"{start}#calendar={quote(calendar or '', safe='')}&user={account}"


def _google_identity(connection: GoogleConnection, calendar: str | None) -> str:
    api = normalize_url(connection.base_url or GOOGLE_API)
    name = calendar or "primary"
    if name == "primary":  # the subject's, else that of whoever the token file belongs to
        name = connection.subject or "primary:" + real_path(connection.credentials)
    return f"{api}#calendar={quote(name.casefold(), safe='@:/')}"


def _microsoft_identity(
    connection: MicrosoftConnection, calendar: str | None, user: str | None
) -> str:
    api = normalize_url(connection.base_url or GRAPH_API)
    if user:
        mailbox = user.casefold()
    elif connection.token_cache is not None:  # delegated: the signed-in person
        mailbox = "me:" + real_path(connection.token_cache)
    else:
        mailbox = "me:" + connection.client_id
    tenant = connection.tenant.casefold()
    name = calendar or "Calendar"
    return f"{api}#tenant={quote(tenant)}&user={quote(mailbox, safe='@:/')}&calendar={quote(name)}"
