"""Logging: structlog, one event per line, to stderr.

JSON lines when stderr is not a terminal (journald, containers, CI), a readable console format
on a terminal. Lines from libraries (the HTTP server, the file watcher) go through the same
processors, so they are JSON lines too. Every line passes through :func:`redact`, which
replaces the value of any key that names a secret and passes every string through the one
scrubber (:mod:`calsyncd.scrub`), so a secret that slips into an error message, in whatever
form, still never reaches a log.

Lines about one rule carry ``rule=``, lines of one cycle also ``cycle_id=``: bind them for a
block with :func:`bound` (context variables, so every task started inside inherits them).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, Literal, TextIO

import structlog

from calsyncd import scrub as scrubber
from calsyncd.scrub import REDACTED as _REDACTED

LogFormat = Literal["auto", "console", "json"]

_SECRET_KEYS = re.compile(r"(?i)(pass(word)?|secret|token|authorization|api[_-]?key|credential)")
_handler: logging.Handler | None = None


def register_secrets(values: Iterable[str | None]) -> None:
    """Values to scrub from every output from now on (see :func:`calsyncd.scrub.register`)."""
    scrubber.register(values)


def scrub(text: str) -> str:
    """``text`` with every registered secret, in any form, replaced."""
    return scrubber.scrub(text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, BaseException):
        return scrub(str(value))
    if isinstance(value, dict):
        return {k: _REDACTED if _is_secret_key(k, v) else _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    return value


def _is_secret_key(key: object, value: object) -> bool:
    return isinstance(key, str) and value is not None and bool(_SECRET_KEYS.search(key))


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: no secret leaves through a log line."""
    for key, value in list(event.items()):
        event[key] = _REDACTED if _is_secret_key(key, value) else _clean(value)
    return event


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind ``values`` (``rule=``, ``cycle_id=``) to every log line of this block and of the
    tasks started inside it."""
    with structlog.contextvars.bound_contextvars(**values):
        yield


def setup(level: str = "info", fmt: LogFormat = "auto", stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library's logging (for libraries).

    May be called again (a reload changing ``log:``); the previous setup is replaced.
    """
    global _handler  # noqa: PLW0603 - one logging setup per process
    out = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    numeric = logging.getLevelNamesMapping()[level.upper()]
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    root.addHandler(handler)
    root.setLevel(max(numeric, logging.WARNING))
    _handler = handler
