"""Cutting off an abandoned Google API attempt.

httplib2 applies its ``timeout`` to each socket operation, so an answer dripping a byte at a
time never times out, and the worker thread that waits for it cannot be cancelled. The
client bounds each attempt on the event loop and, when it gives up on one (its timeout, or
the cycle cancelled at shutdown), calls :meth:`InFlight.abort`: every socket the attempt
uses is shut down, which ends the thread's blocked read with an error.

An :class:`InFlight` learns those sockets from the pooled connections the attempt starts
with and, through :class:`Http`, from every connection it opens meanwhile. (It cannot ask
the connection later: ``http.client`` hands the socket of an answer without length over to
the answer object, out of reach.)
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httplib2

_current = threading.local()
"""``in_flight``: the attempt the worker thread is running."""


class Abandoned(Exception):
    """The attempt was given up before its thread started it."""


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the plain socket's: SSLSocket's drops its SSL object
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class InFlight:
    """The sockets one attempt uses; thread-safe (the worker uses it, the loop aborts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._over = False
        self.aborted = False

    @contextmanager
    def running(self, http: Any) -> Iterator[None]:
        """Run the attempt in this thread on ``http`` (an ``httplib2.Http``)."""
        with self._lock:
            if self._over:
                raise Abandoned
            connections = getattr(http, "connections", {}).values()
            self._sockets = [c.sock for c in connections if getattr(c, "sock", None)]
        _current.in_flight = self
        try:
            yield
        finally:
            _current.in_flight = None
            with self._lock:
                self._over = True
                self._sockets = []

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            if not self._over:
                self._sockets.append(sock)
                return
        _shut(sock)  # opened after the attempt was abandoned

    def abort(self) -> None:
        """Shut down the attempt's sockets, unless it is over."""
        with self._lock:
            if self._over:
                return
            self._over = self.aborted = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)


def _opened(sock: socket.socket | None) -> None:
    in_flight: InFlight | None = getattr(_current, "in_flight", None)
    if in_flight is not None and sock is not None:
        in_flight.add(sock)


class _HTTPConnection(httplib2.HTTPConnectionWithTimeout):  # type: ignore[misc]
    def connect(self) -> None:
        super().connect()
        _opened(self.sock)


class _HTTPSConnection(httplib2.HTTPSConnectionWithTimeout):  # type: ignore[misc]
    def connect(self) -> None:
        super().connect()
        _opened(self.sock)


_CONNECTIONS: dict[str, type[Any]] = {"http": _HTTPConnection, "https": _HTTPSConnection}


class Http(httplib2.Http):  # type: ignore[misc]
    """An ``httplib2.Http`` whose new connections report their sockets to the attempt in
    flight on this thread."""

    def request(self, uri: str, *args: Any, **kwargs: Any) -> Any:
        if len(args) < 5 and kwargs.get("connection_type") is None:  # 5th: connection_type
            kwargs["connection_type"] = _CONNECTIONS.get(uri.partition(":")[0].lower())
        return super().request(uri, *args, **kwargs)
