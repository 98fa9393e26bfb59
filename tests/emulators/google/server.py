"""The Google Calendar emulator: a real HTTP server on loopback, in a thread.

Serves under ``/calendar/v3/``: ``calendars/{cal}/events`` (list, insert),
``…/events/{id}`` (get, update, patch, delete), ``…/events/{id}/instances``,
``calendars/{cal}`` and ``users/me/calendarList/{cal}``; plus the OAuth endpoints of
:mod:`.oauth`. API requests need a bearer token the token endpoint issued (``require_auth``).

Test hooks: :class:`Faults` answers a fraction of API requests with 429 (``Retry-After``),
403 ``rateLimitExceeded``/``userRateLimitExceeded``/``quotaExceeded``, 500, 503, or drops
the connection (before handling the request, or after — the change is made, the answer
lost); ``fail_next`` schedules exact faults; ``latency`` delays answers. Every request is
logged (:attr:`GoogleEmulator.requests`), and every body and answer is checked against the
discovery document's schemas (:attr:`~GoogleEmulator.bad_requests`,
:attr:`~GoogleEmulator.violations`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from . import discovery
from .oauth import OAuthFailure, OAuthServer, new_rsa_key
from .store import ApiFailure, Calendar, Json, Store

API = "/calendar/v3/"
FAULT_KINDS = ("429", "403-rate", "403-user", "500", "503", "drop", "drop-after")


@dataclass
class Faults:
    """Answer ``rate`` of the API requests with a fault drawn from ``kinds``."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    retry_after: tuple[int, int] = (0, 1)
    seed: int | None = None
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def draw(self) -> str | None:
        if self._random.random() >= self.rate:
            return None
        return self._random.choice(self.kinds)

    def wait(self) -> int:
        return self._random.randint(*self.retry_after)


@dataclass(frozen=True)
class _Call:
    """One API request being served."""

    handler: _Handler
    method: str
    path: str
    segments: list[str]
    query: dict[str, list[str]]
    body: bytes


@dataclass(frozen=True)
class Request:
    """One request as the emulator saw it."""

    method: str
    operation: str
    path: str
    query: dict[str, list[str]]
    status: int
    fault: str | None = None


class GoogleEmulator:
    """Calendars, events and OAuth on ``127.0.0.1`` (a free port unless ``port`` is given)."""

    def __init__(
        self,
        *,
        port: int = 0,
        require_auth: bool = True,
        faults: Faults | None = None,
        latency: tuple[float, float] = (0.0, 0.0),
        token_lifetime: int = 3600,
        user: str = "user@example.com",
    ) -> None:
        self.store = Store()
        self.user = user
        """Whose calendar ``primary`` is for requests without a token (``require_auth=False``)."""
        self.require_auth = require_auth
        self.faults = faults or Faults()
        self.latency = latency
        self.requests: list[Request] = []
        self.violations: list[str] = []
        """Answers that differ from the discovery document's schemas (emulator bugs)."""
        self.bad_requests: list[str] = []
        """Request bodies that differ from the schemas (client bugs; some are still valid API
        calls, e.g. a dateTime without offset but with a timeZone)."""
        self.in_flight = 0
        self.max_in_flight = 0
        """API requests being handled at once (now, and at most so far)."""
        self.connections: set[socket.socket] = set()
        self._scheduled: list[str] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.emulator = self
        self.oauth = OAuthServer(self.url("/token"), lifetime=token_lifetime, user=user)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="google-emulator",
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    @property
    def base_url(self) -> str:
        return self.url(API)

    @property
    def token_url(self) -> str:
        return self.url("/token")

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        with self._lock:
            open_connections = list(self.connections)
        for conn in open_connections:  # end keep-alive connections a client left open
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()  # joins the request threads
        if self._thread.is_alive():
            self._thread.join()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- test hooks --------------------------------------------------------------------------

    def add_calendar(self, calendar_id: str, **options: Any) -> Calendar:
        return self.store.add_calendar(calendar_id, **options)

    def service_account(
        self,
        email: str = "sync@project.iam.gserviceaccount.com",
        *,
        key: tuple[str, str] | None = None,
    ) -> Json:
        """A service account's key file contents (its token_uri points here); ``key`` is a
        ``(private PEM, public PEM)`` pair, a new one if not given."""
        private, public = key or new_rsa_key()
        self.oauth.add_service_account(email, public)
        return {
            "type": "service_account",
            "project_id": "emulated",
            "private_key_id": "emu-" + email.split("@", maxsplit=1)[0],
            "private_key": private,
            "client_email": email,
            "client_id": "1000000000000000001",
            "token_uri": self.token_url,
        }

    def oauth_client(
        self, client_id: str = "emu-client.apps.example", secret: str = "emu-secret-1"
    ) -> Json:
        """An installed-app client secrets file (``installed`` section) for this emulator."""
        self.oauth.add_client(client_id, secret)
        return {
            "installed": {
                "client_id": client_id,
                "client_secret": secret,
                "auth_uri": self.url("/o/oauth2/auth"),
                "token_uri": self.token_url,
                "redirect_uris": ["http://127.0.0.1"],
            }
        }

    def user_token(self, principal: str, *, refresh_token: str = "1//emu-refresh-0") -> Json:
        """An authorized-user token file for ``principal`` (its client registered here)."""
        client = self.oauth_client()["installed"]
        self.oauth.add_refresh_token(refresh_token, client["client_id"], principal)
        return {
            "type": "authorized_user",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "refresh_token": refresh_token,
            "token_uri": self.token_url,
        }

    def fail_next(self, *kinds: str) -> None:
        """The next API requests get exactly these faults, in order."""
        with self._lock:
            self._scheduled.extend(kinds)

    def count(self, operation: str | None = None, *, status: int | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (operation is None or r.operation == operation)
                and (status is None or r.status == status)
            )

    def operations(self) -> Counter[str]:
        with self._lock:
            return Counter(r.operation for r in self.requests)

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- dispatch ----------------------------------------------------------------------------

    def _fault(self) -> str | None:
        with self._lock:
            if self._scheduled:
                return self._scheduled.pop(0)
        return self.faults.draw()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _check(self, value: Any, schema: str, where: str, *, allow_null: bool = False) -> None:
        found = discovery.violations(value, schema, allow_null=allow_null)
        if found:
            with self._lock:
                target = self.bad_requests if where.endswith("body") else self.violations
                target.extend(f"{where}: {v}" for v in found)

    def handle(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        method = handler.command
        body = handler.read_body()
        if parts.path == "/token" and method == "POST":
            self._token(handler, body)
            return
        if parts.path == "/o/oauth2/auth" and method == "GET":
            self._authorize(handler, {k: v[-1] for k, v in query.items()})
            return
        if not parts.path.startswith(API):
            handler.answer(404, {"error": {"code": 404, "message": "Not Found"}})
            return
        segments = [unquote(s) for s in parts.path[len(API) :].split("/")]
        call = _Call(handler, method, parts.path, segments, query, body)
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._serve_api(call)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _serve_api(self, call: _Call) -> None:
        low, high = self.latency
        if high > 0:
            time.sleep(random.uniform(low, high))
        fault = self._fault()
        operation = _operation(call.method, call.segments)
        if fault == "drop":
            self._record(Request(call.method, operation, call.path, call.query, 0, fault))
            call.handler.drop()
            return
        status, answer, headers = self._api(call, fault)
        self._record(Request(call.method, operation, call.path, call.query, status, fault))
        if fault == "drop-after":
            call.handler.drop()
            return
        call.handler.answer(status, answer, headers)

    def _api(self, call: _Call, fault: str | None) -> tuple[int, Json | None, dict[str, str]]:
        if fault is not None and fault != "drop-after":
            return _fault_answer(fault, self.faults)
        principal = self.oauth.principal(call.handler.headers.get("Authorization"))
        if self.require_auth and principal is None:
            failure = ApiFailure(401, "authError", "Invalid Credentials")
            headers = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
            return 401, failure.body(), headers
        try:
            parsed = json.loads(call.body) if call.body else None
        except ValueError:
            return 400, ApiFailure(400, "parseError", "Parse Error").body(), {}
        try:
            status, answer = self._route(call, parsed, principal)
        except ApiFailure as failure:
            return failure.status, failure.body(), {}
        return status, answer, {}

    def _route(self, call: _Call, body: Any, principal: str | None) -> tuple[int, Json | None]:
        method, segments, query = call.method, call.segments, call.query
        store = self.store
        if segments[:3] == ["users", "me", "calendarList"] and len(segments) == 4:
            return 200, store.calendar_list_entry(self._calendar_id(segments[3], principal))
        if segments[0] != "calendars" or len(segments) < 2:
            raise ApiFailure(404, "notFound", "Not Found")
        cal = self._calendar_id(segments[1], principal)
        rest = segments[2:]
        if not rest and method == "GET":
            return 200, store.calendar_resource(cal)
        if rest[:1] != ["events"]:
            raise ApiFailure(404, "notFound", "Not Found")
        if_match = call.handler.headers.get("If-Match")
        if len(rest) == 1 and method == "GET":
            return 200, self._checked_list(store.list(cal, query))
        if len(rest) == 1 and method == "POST":
            self._check(body, "Event", "insert body")
            return 200, self._checked(store.insert(cal, _object(body), owner=principal or cal))
        event_id = rest[1] if len(rest) >= 2 else ""
        if len(rest) == 3 and rest[2] == "instances" and method == "GET":
            return 200, self._checked_list(store.instances(cal, event_id, query))
        if len(rest) != 2:
            raise ApiFailure(404, "notFound", "Not Found")
        if method == "GET":
            return 200, self._checked(store.get(cal, event_id))
        if method in ("PUT", "PATCH"):
            self._check(body, "Event", f"{method} body", allow_null=method == "PATCH")
            answer = store.write(
                cal, event_id, _object(body), patch=method == "PATCH", if_match=if_match
            )
            return 200, self._checked(answer)
        if method == "DELETE":
            store.delete(cal, event_id, if_match=if_match)
            return 204, None
        raise ApiFailure(405, "methodNotAllowed", "Method Not Allowed")

    def _calendar_id(self, name: str, principal: str | None) -> str:
        return (principal or self.user) if name == "primary" else name

    def _checked(self, event: Json) -> Json:
        self._check(event, "Event", "event")
        return event

    def _checked_list(self, answer: Json) -> Json:
        self._check(answer, "Events", "events")
        if ("nextPageToken" in answer) == ("nextSyncToken" in answer):
            with self._lock:
                self.violations.append("events: not exactly one of nextPageToken/nextSyncToken")
        return answer

    def _token(self, handler: _Handler, body: bytes) -> None:
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        basic = _basic_auth(handler.headers.get("Authorization"))
        try:
            status, answer = 200, self.oauth.token(form, basic)
        except OAuthFailure as failure:
            status, answer = failure.status, failure.body()
        self._record(Request("POST", "token", "/token", {}, status))
        handler.answer(status, answer)

    def _authorize(self, handler: _Handler, query: dict[str, str]) -> None:
        try:
            location = self.oauth.authorize(query)
        except OAuthFailure as failure:
            self._record(Request("GET", "authorize", "/o/oauth2/auth", {}, failure.status))
            handler.answer(failure.status, failure.body())
            return
        self._record(Request("GET", "authorize", "/o/oauth2/auth", {}, 302))
        handler.answer(302, None, {"Location": location})


def _object(body: Any) -> Json:
    if not isinstance(body, dict):
        raise ApiFailure(400, "parseError", "Expected a JSON object")
    return body


def _operation(method: str, segments: list[str]) -> str:
    if segments[:3] == ["users", "me", "calendarList"]:
        return "calendarList.get"
    if len(segments) == 2:
        return "calendars.get"
    if len(segments) == 3:
        return {"GET": "events.list", "POST": "events.insert"}.get(method, "unknown")
    if len(segments) == 5:
        return "events.instances"
    names = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    return f"events.{names.get(method, 'unknown')}"


def _fault_answer(fault: str, faults: Faults) -> tuple[int, Json, dict[str, str]]:
    if fault == "429":
        failure = ApiFailure(429, "rateLimitExceeded", "Rate Limit Exceeded", "usageLimits")
        return 429, failure.body(), {"Retry-After": str(faults.wait())}
    if fault in ("403-rate", "403-user", "403-quota"):
        reason = {
            "403-rate": "rateLimitExceeded",
            "403-user": "userRateLimitExceeded",
            "403-quota": "quotaExceeded",
        }[fault]
        return 403, ApiFailure(403, reason, "Rate Limit Exceeded", "usageLimits").body(), {}
    if fault == "503":
        failure = ApiFailure(503, "backendError", "Backend Error")
        return 503, failure.body(), {"Retry-After": str(faults.wait())}
    return 500, ApiFailure(500, "backendError", "Backend Error").body(), {}


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return unquote(user), unquote(password)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() waits for request threads
    emulator: GoogleEmulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    wbufsize = 1 << 16  # head and body in one send: no Nagle/delayed-ACK stall
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.emulator._lock:
            self.server.emulator.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.emulator._lock:
            self.server.emulator.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status: int, body: Json | None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()  # nothing should be buffered; never send a half answer
            self.connection.shutdown(socket.SHUT_RDWR)

    def _dispatch(self) -> None:
        try:
            self.server.emulator.handle(self)
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: object) -> None:
        return
