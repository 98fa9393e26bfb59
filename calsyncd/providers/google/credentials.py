"""Google credentials: a service-account key (domain-wide delegation) or a user token file.

- A service-account key file (``"type": "service_account"``) acts as ``subject`` when given
  (domain-wide delegation); google-auth honours its ``token_uri``; ``auth_url`` overrides it.
- An authorized-user token file (``"type": "authorized_user"``, written by
  ``calsyncd auth google``) holds a refresh token. ``Credentials.from_authorized_user_info``
  always sets Google's public token endpoint, so the file's ``token_uri`` (or ``auth_url``)
  is applied explicitly with ``with_token_uri``.

Long-lived secrets read from the file (private key, refresh token, client secret) are
registered with :func:`calsyncd.log.register_secrets`, so none can reach a log line. Token
files are written ``0600``, atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import google.oauth2.credentials
import google.oauth2.service_account

from calsyncd import log
from calsyncd.errors import AuthError

SCOPES: tuple[str, ...] = ("https://www.googleapis.com/auth/calendar",)
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"

Credentials = Any
"""A google-auth credentials object (the library is untyped)."""

_ServiceAccount: Any = google.oauth2.service_account.Credentials
_UserCredentials: Any = google.oauth2.credentials.Credentials


def read_info(path: Path, *, where: str) -> dict[str, Any]:
    """The JSON object of a key or token file (blocking)."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise AuthError(f"{path}: cannot read credentials: {reason}", where=where) from None
    try:
        info = json.loads(text)
    except ValueError:
        raise AuthError(f"{path}: credentials file is not JSON", where=where) from None
    if not isinstance(info, dict):
        raise AuthError(f"{path}: credentials file is not a JSON object", where=where)
    return info


def load_credentials(
    path: Path,
    *,
    subject: str | None,
    auth_url: str | None,
    where: str,
    scopes: Sequence[str] = SCOPES,
) -> Credentials:
    """Credentials from a service-account key or an authorized-user token file (blocking)."""
    info = read_info(path, where=where)
    kind = info.get("type")
    log.register_secrets(
        str(info[k]) for k in ("private_key", "refresh_token", "client_secret") if info.get(k)
    )
    try:
        if kind == "service_account":
            creds = _ServiceAccount.from_service_account_info(
                info, scopes=list(scopes), subject=subject
            )
            return creds.with_token_uri(auth_url) if auth_url else creds
        if kind == "authorized_user":
            if subject:
                raise AuthError(
                    f"{path}: subject applies to service-account keys only", where=where
                )
            creds = _UserCredentials.from_authorized_user_info(
                info, scopes=info.get("scopes") or list(scopes)
            )
            return creds.with_token_uri(auth_url or info.get("token_uri") or GOOGLE_TOKEN_URI)
    except (ValueError, KeyError) as exc:
        # google-auth names the missing fields, never their values
        raise AuthError(f"{path}: invalid {kind} credentials: {exc}", where=where) from None
    raise AuthError(
        f"{path}: not a service-account key or an authorized-user token file"
        f" (type {kind!r}; run `calsyncd auth google` to make a token file)",
        where=where,
    )


_CACHE: dict[tuple[str | int | None, ...], Credentials] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 32


def shared_credentials(
    path: Path,
    *,
    subject: str | None,
    auth_url: str | None,
    where: str,
    scopes: Sequence[str] = SCOPES,
) -> Credentials:
    """:func:`load_credentials`, shared by every calendar of the process that names the same
    unchanged file, so a daemon reuses its access token across cycles (blocking)."""
    try:
        st = Path(path).stat()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise AuthError(f"{path}: cannot read credentials: {reason}", where=where) from None
    file = (str(Path(path).absolute()), st.st_ino, st.st_mtime_ns, st.st_size)
    key: tuple[str | int | None, ...] = (*file, subject, auth_url, *scopes)
    with _CACHE_LOCK:
        found = _CACHE.get(key)
    if found is not None:
        return found
    creds = load_credentials(path, subject=subject, auth_url=auth_url, where=where, scopes=scopes)
    with _CACHE_LOCK:
        _CACHE[key] = creds
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
    return creds


def token_info(creds: Credentials, client: Mapping[str, Any]) -> dict[str, Any]:
    """What a token file keeps of user credentials: enough to refresh, no access token."""
    return {
        "type": "authorized_user",
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "refresh_token": creds.refresh_token,
        "token_uri": client.get("token_uri") or GOOGLE_TOKEN_URI,
        "scopes": list(creds.scopes or SCOPES),
    }


def write_private_file(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only (``0600``)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def client_config(client_secrets: Path) -> dict[str, Any]:
    """The ``installed`` (or ``web``) section of an OAuth client secrets file."""
    info = read_info(client_secrets, where=str(client_secrets))
    section = info.get("installed") or info.get("web")
    if not isinstance(section, dict) or not {"client_id", "client_secret"} <= section.keys():
        raise AuthError(f"{client_secrets}: not an OAuth client secrets file (installed app)")
    return section


def authorize_installed_app(
    client_secrets: Path,
    token_file: Path,
    *,
    port: int = 0,
    open_browser: bool = True,
    scopes: Sequence[str] = SCOPES,
) -> None:
    """Run the installed-app flow (a browser consent, redirected to a loopback port) and
    write the resulting token file (blocking)."""
    from google_auth_oauthlib.flow import InstalledAppFlow  # noqa: PLC0415 - only `auth` needs it

    client = client_config(client_secrets)
    flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), scopes=list(scopes))
    creds = flow.run_local_server(
        host="127.0.0.1",
        port=port,
        open_browser=open_browser,
        authorization_prompt_message="Open this URL in a browser to allow calendar access:\n{url}",
        success_message="calsyncd is authorized; you may close this window.",
        access_type="offline",
        prompt="consent",
    )
    if not creds.refresh_token:
        raise AuthError("the authorization server returned no refresh token")
    log.register_secrets([creds.refresh_token, client["client_secret"]])
    write_private_file(token_file, json.dumps(token_info(creds, client), indent=2) + "\n")
