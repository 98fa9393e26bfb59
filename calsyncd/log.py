"""Logging: structlog, one event per line, to stderr.

JSON lines when stderr is not a terminal (journald, containers, CI), a readable console format
on a terminal. Every line passes through :func:`redact`, which replaces the value of any key
that names a secret and any registered secret value found in a string, so a secret that slips
into an error message still never reaches a log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, Literal, TextIO

import structlog

LogFormat = Literal["auto", "console", "json"]

_SECRET_KEYS = re.compile(r"(?i)(pass(word)?|secret|token|authorization|api[_-]?key|credential)")
_REDACTED = "[redacted]"
_secret_values: set[str] = set()
_MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words


def register_secrets(values: Iterable[str]) -> None:
    """Values to scrub from every log line (resolved secrets from the configuration)."""
    _secret_values.update(v for v in values if len(v) >= _MIN_SECRET_LENGTH)


def scrub(text: str) -> str:
    """``text`` with every registered secret value replaced."""
    for value in _secret_values:
        if value in text:
            text = text.replace(value, _REDACTED)
    return text


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: no secret leaves through a log line."""
    for key, value in list(event.items()):
        if _SECRET_KEYS.search(key) and value is not None:
            event[key] = _REDACTED
        elif isinstance(value, str):
            event[key] = scrub(value)
        elif isinstance(value, BaseException):
            event[key] = scrub(str(value))
    return event


def setup(level: str = "info", fmt: LogFormat = "auto", stream: TextIO | None = None) -> None:
    """Configure structlog (and the standard library's logging, for libraries)."""
    out = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(
        level=max(numeric, logging.WARNING), stream=out, format="%(name)s: %(message)s"
    )
