"""A loopback HTTP proxy that puts faults between calsyncd and a real CalDAV server.

calsyncd's connection points at the proxy; the proxy forwards every request to the server
(Radicale or Xandikos) over real HTTP and passes the answer back — unless a fault is drawn
for it. Faults are drawn with the Google emulator's :class:`~emulators.google.Faults` (a rate,
the kinds, a seed):

- ``429`` / ``503``: answered by the proxy with ``Retry-After`` (0–1 s by default);
- ``500`` / ``502``: answered by the proxy, no hint;
- ``drop``: the connection is closed before the request reaches the server;
- ``drop-after``: the server handles the request (a write is made), the answer is lost.

``before`` is called with each request before it is forwarded (and before any fault): a test
uses it to act as another client at an exact moment, e.g. to edit an event on the server
between calsyncd's listing and its conditional write. ``tamper`` may answer a request itself
with a :class:`Reply` — any status, reason phrase and headers, a body streamed from an
iterable (endless, huge, or a byte at a time): the hostile suite plays a malicious server
this way while the real one answers everything else. Every request is recorded with its
status (0 when dropped) and fault.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

import httpx
from emulators.google import Faults

CALDAV_FAULTS = ("429", "503", "500", "502", "drop", "drop-after")
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "te", "upgrade"}
)
_METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PROPFIND", "PROPPATCH", "REPORT",
            "MKCALENDAR", "MKCOL", "MOVE", "COPY")  # fmt: skip


@dataclass(frozen=True)
class Seen:
    """One request as the proxy saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    fault: str | None = None

    @property
    def report(self) -> str | None:
        """``sync-collection``, ``calendar-multiget`` … for a REPORT."""
        if self.method != "REPORT":
            return None
        for name in (b"sync-collection", b"calendar-multiget", b"calendar-query"):
            if name in self.body[:400]:
                return name.decode()
        return "other"


Before = Callable[[Seen], None]


@dataclass(frozen=True)
class Reply:
    """An answer the proxy gives itself: ``body`` chunks are sent as they are produced, with
    ``drip`` seconds before each; without ``length`` the body is close-delimited (no
    Content-Length), as a streaming server may send it."""

    status: int
    body: Iterable[bytes] = ()
    reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    length: int | None = None
    drip: float = 0.0


Tamper = Callable[[Seen], Reply | None]


class FaultProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream`` (a base URL), injecting faults."""

    def __init__(self, upstream: str, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.before: Before | None = None
        self.tamper: Tamper | None = None
        self.closing = threading.Event()
        """Set on exit: a reply still streaming stops."""
        self.seen: list[Seen] = []
        self._forwarding: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._upstream = httpx.Client(base_url=upstream, trust_env=False, timeout=120.0)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fault-proxy"
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.closing.set()
        self._server.shutdown()
        with self._lock:
            still_open = list(self._connections)
        for conn in still_open:  # keep-alive connections a client left open
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()  # joins the request threads
        self._thread.join()
        self._upstream.close()

    # -- test hooks ---------------------------------------------------------------------------

    def faulted(self) -> Counter[str]:
        """Faults injected so far, by kind."""
        with self._lock:
            return Counter(s.fault for s in self.seen if s.fault)

    def in_flight(self, method: str) -> int:
        """Requests of ``method`` the server is handling right now."""
        with self._lock:
            return self._forwarding[method]

    def statuses(self, method: str, report: str | None = None) -> Counter[int]:
        """How the requests of ``method`` (a REPORT: of ``report``) were answered."""
        with self._lock:
            return Counter(s.status for s in self.seen if s.method == method and s.report == report)

    # -- serving ------------------------------------------------------------------------------

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def serve(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = Seen(handler.command, handler.path, dict(handler.headers.items()), body)
        if self.before is not None:
            self.before(request)
        reply = self.tamper(request) if self.tamper is not None else None
        if reply is not None:
            self._record(replace(request, status=reply.status, fault="tampered"))
            handler.reply(reply)
            return
        fault = self.faults.draw()
        if fault == "drop":
            self._record(replace(request, fault=fault))
            handler.drop()
            return
        if fault in ("429", "503", "500", "502"):
            headers = {"Retry-After": str(self.faults.wait())} if fault in ("429", "503") else {}
            status = int(fault)
            self._record(replace(request, status=status, fault=fault))
            handler.answer(status, headers, b"injected fault\n")
            return
        answer = self._forward(request)
        self._record(replace(request, status=answer.status_code, fault=fault))
        if fault == "drop-after":
            handler.drop()
            return
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers.pop("content-encoding", None)
        handler.answer(answer.status_code, headers, answer.content)

    def _forward(self, request: Seen) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Accept-Encoding"] = "identity"
        with self._lock:
            self._forwarding[request.method] += 1
        try:
            return self._upstream.request(
                request.method, request.path, content=request.body, headers=headers
            )
        finally:
            with self._lock:
                self._forwarding[request.method] -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() waits for request threads
    proxy: FaultProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    wbufsize = 1 << 16  # head and body in one send: no Nagle/delayed-ACK stall
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.proxy._lock:
            self.server.proxy._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.proxy._lock:
            self.server.proxy._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def reply(self, reply: Reply) -> None:
        self.send_response(reply.status, reply.reason)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.length is not None:
            self.send_header("Content-Length", str(reply.length))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.flush()
        for chunk in reply.body:
            if reply.drip:
                time.sleep(reply.drip)
            if self.server.proxy.closing.is_set():
                break
            self.wfile.write(chunk)
            self.wfile.flush()

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except ConnectionError:  # the client hung up on a reply: what hostile tests do
            self.close_connection = True

    def _dispatch(self) -> None:
        try:
            self.server.proxy.serve(self)
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        return


for _method in _METHODS:
    setattr(_Handler, f"do_{_method}", _Handler._dispatch)
