"""A small real HTTP server on loopback that serves ICS files the way feed hosts do.

It answers ``GET`` with ``ETag`` (a hash of the body) and ``Last-Modified`` (the file's
mtime), honours ``If-None-Match`` / ``If-Modified-Since`` with 304, counts its answers by
status, records request headers, and can be told to fail the next requests.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit


@dataclass
class Fault:
    """An answer to give instead of the file."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class FeedServer:
    """Serve ``routes`` (URL path → file) on ``127.0.0.1`` on a free port, in a thread."""

    def __init__(self, routes: dict[str, Path], *, etags: bool = True, dates: bool = True) -> None:
        self.routes = routes
        self.etags = etags
        self.dates = dates
        self.counts: Counter[int] = Counter()
        self.requests: list[dict[str, str]] = []
        self.faults: list[Fault] = []
        self.connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.feed = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="feedserver"
        )

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        with self._lock:
            open_connections = list(self.connections)
        for conn in open_connections:  # end keep-alive connections a client left open
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()  # joins the request threads
        self._thread.join()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def answer(
        self, request_path: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(headers)
            if self.faults:
                fault = self.faults.pop(0)
                self.counts[fault.status] += 1
                return fault.status, fault.headers, fault.body
        status, out, body = self._serve(urlsplit(request_path).path, headers)
        with self._lock:
            self.counts[status] += 1
        return status, out, body

    def _serve(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        file = self.routes.get(path)
        if file is None or not file.exists():
            return 404, {}, b"not found"
        body = file.read_bytes()
        out = {"Content-Type": "text/calendar; charset=utf-8"}
        if self.etags:
            out["ETag"] = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        if self.dates:
            out["Last-Modified"] = formatdate(int(file.stat().st_mtime), usegmt=True)
        if self._not_modified(headers, out):
            return 304, out, b""
        return 200, out, body

    def _not_modified(self, request: dict[str, str], answer: dict[str, str]) -> bool:
        lowered = {k.lower(): v for k, v in request.items()}
        if "if-none-match" in lowered:
            return "ETag" in answer and lowered["if-none-match"] == answer["ETag"]
        since = lowered.get("if-modified-since")
        if since and "Last-Modified" in answer:
            return parsedate_to_datetime(answer["Last-Modified"]) <= parsedate_to_datetime(since)
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() waits for request threads
    feed: FeedServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # a keep-alive connection left open ends within this
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.feed._lock:
            self.server.feed.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.feed._lock:
            self.server.feed.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        status, headers, body = self.server.feed.answer(self.path, dict(self.headers.items()))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return
