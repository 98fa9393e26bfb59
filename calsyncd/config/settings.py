"""Daemon settings (``config/calsyncd.yaml``, contract §3).

Values come from the settings file, overridden by ``CALSYNCD_*`` environment variables with
``__`` for nesting (``CALSYNCD_HEALTH__LISTEN=127.0.0.1:9000``). Use
:func:`calsyncd.config.loader.load_config` to read them: it parses the file, tracks positions
and makes relative paths absolute against the settings file's folder. ``Settings()`` alone
reads only the environment (paths then relative to the current folder).

Built-in defaults (when neither the file nor the environment says otherwise):

- ``rules``: ``rules`` — the folder ``rules/`` next to the settings file (the installed layout
  ``/etc/calsyncd/{calsyncd.yaml,rules/}``; the shipped repo example says ``../rules``).
- ``state``: ``$STATE_DIRECTORY/state.db`` when systemd's ``StateDirectory=`` is in effect
  (``/var/lib/calsyncd/state.db``), else ``state/calsyncd.db`` next to the settings file.
- ``health.listen`` ``127.0.0.1:8787``, ``log`` ``info``/``auto``, ``defaults.interval``
  ``5m``, ``defaults.window`` 30d back / 365d ahead, ``shutdown_timeout`` ``30s``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from calsyncd.config.base import StrictModel, custom_error
from calsyncd.config.durations import Duration, PositiveDuration

ENV_PREFIX = "CALSYNCD_"
ENV_NESTED_DELIMITER = "__"

LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["auto", "console", "json"]

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


def parse_listen(value: str) -> tuple[str, int] | None:
    """``"host:port"`` or ``"[v6]:port"`` → ``(host, port)``; ``""`` → ``None`` (disabled).

    Port 0 asks the OS for a free port (handy in tests). Raises :class:`ValueError`.
    """
    text = value.strip()
    if not text:
        return None
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError("expected [IPv6]:port such as [::1]:8787")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
    else:
        host, sep, port = text.rpartition(":")
        if not sep or not host:
            raise ValueError('expected host:port such as 127.0.0.1:8787 ("" disables the server)')
        if ":" in host:
            raise ValueError("write an IPv6 address in brackets, as [::1]:8787")
        if not _HOSTNAME.match(host):
            raise ValueError(f"{host!r} is not a host name or IPv4 address")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{port!r} is not a port number (0-65535)")
    return host, int(port)


def _check_listen(value: str) -> str:
    try:
        parse_listen(value)
    except ValueError as exc:
        raise custom_error("listen", str(exc)) from None
    return value.strip()


class HealthSettings(StrictModel):
    """The HTTP server for health, status, metrics and hooks."""

    listen: Annotated[str, AfterValidator(_check_listen)] = "127.0.0.1:8787"

    @property
    def address(self) -> tuple[str, int] | None:
        """``(host, port)`` to bind, or ``None`` when the server is disabled (``listen: ""``)."""
        return parse_listen(self.listen)


class LogSettings(StrictModel):
    level: LogLevel = "info"
    format: LogFormat = "auto"
    """``auto``: console on a TTY, JSON lines otherwise (journald)."""


class SyncWindow(StrictModel):
    """Which events a rule considers: those overlapping [now - past, now + future]."""

    past: Duration = Field(default=timedelta(days=30), json_schema_extra={"default": "30d"})
    future: Duration = Field(default=timedelta(days=365), json_schema_extra={"default": "365d"})


class Defaults(StrictModel):
    """What every rule inherits unless it sets its own."""

    interval: PositiveDuration = Field(
        default=timedelta(minutes=5), json_schema_extra={"default": "5m"}
    )
    window: SyncWindow = Field(default_factory=SyncWindow)


def _default_state() -> Path:
    state_dirs = os.environ.get("STATE_DIRECTORY", "")
    if state_dirs:
        return Path(state_dirs.split(":")[0]) / "state.db"
    return Path("state/calsyncd.db")


def rule_sources(value: Any) -> Any:
    """``rules`` may be one folder/file/glob or a list of them; the env may give a JSON list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return tuple(json.loads(text))
            except ValueError:
                raise custom_error("rules", "expected a JSON list of paths") from None
        return (text,)
    return value


class Settings(BaseSettings):
    """The daemon settings; see the module docstring for the defaults."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
    )

    rules: Annotated[tuple[str, ...], NoDecode, BeforeValidator(rule_sources)] = ("rules",)
    """Rule files: a folder (its ``*.yaml``/``*.yml``, sorted, not recursive), files or globs."""
    state: Path = Field(default_factory=_default_state)
    """The SQLite state database."""
    health: HealthSettings = Field(default_factory=HealthSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    defaults: Defaults = Field(default_factory=Defaults)
    shutdown_timeout: Duration = Field(
        default=timedelta(seconds=30), json_schema_extra={"default": "30s"}
    )
    """How long running cycles may take to finish after SIGTERM."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment overrides the file (passed as init values); no .env, no secrets dir."""
        return (env_settings, init_settings)
