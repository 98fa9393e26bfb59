"""The HTTP endpoints (contract §7): health, readiness, status, metrics, manual triggers.

A Starlette app served by Hypercorn inside the daemon's task group. The daemon binds the
listening socket itself (so a busy port is one clear error, port 0 works, and "listening" is
known before ``READY=1``) and hands it to Hypercorn; Hypercorn gets a shutdown trigger, so it
never installs signal handlers of its own. Endpoints are ``async``: they run on the event
loop, next to the state they read, never in a thread. Every answer's body passes through
the scrubber (:class:`Scrubbed`), whatever the endpoint.
"""

from __future__ import annotations

import logging
import socket
from typing import Any, Protocol

import anyio
import anyio.abc
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calsyncd.daemon.metrics import CONTENT_TYPE
from calsyncd.daemon.supervisor import Triggered
from calsyncd.errors import CalsyncdError
from calsyncd.scrub import scrub


class Backend(Protocol):
    """What the endpoints ask the daemon."""

    def health(self) -> str | None:
        """``None`` when healthy, else why not."""

    def readiness(self) -> str | None:
        """``None`` when ready, else why not."""

    def status(self) -> dict[str, Any]: ...

    def metrics_text(self) -> bytes: ...

    def trigger(self, rule: str) -> Triggered: ...


_TRIGGER_ANSWERS: dict[Triggered, tuple[int, str]] = {
    "queued": (202, "a cycle of {rule} was asked for"),
    "unknown": (404, "no rule named {rule}"),
    "paused": (409, "rule {rule} is paused"),
    "stopping": (503, "the daemon is stopping"),
}


def build_app(backend: Backend) -> Starlette:
    async def healthz(request: Request) -> Response:
        problem = backend.health()
        if problem is None:
            return PlainTextResponse("ok")
        return PlainTextResponse(problem, status_code=503)

    async def readyz(request: Request) -> Response:
        problem = backend.readiness()
        if problem is None:
            return JSONResponse({"ready": True})
        return JSONResponse({"ready": False, "reason": problem}, status_code=503)

    async def status(request: Request) -> Response:
        try:
            return JSONResponse(backend.status())
        except CalsyncdError as exc:  # the state database cannot be read
            return JSONResponse({"error": str(exc)}, status_code=503)

    async def metrics(request: Request) -> Response:
        return Response(backend.metrics_text(), media_type=CONTENT_TYPE)

    async def sync_rule(request: Request) -> Response:
        rule = request.path_params["rule"]
        answer = backend.trigger(rule)
        code, message = _TRIGGER_ANSWERS[answer]
        return JSONResponse(
            {"rule": rule, "result": answer, "message": message.format(rule=rule)},
            status_code=code,
        )

    return Starlette(
        middleware=[Middleware(Scrubbed)],
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/status", status, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/rules/{rule}/sync", sync_rule, methods=["POST"]),
        ],
    )


class Scrubbed:
    """ASGI middleware: every response body passes through :func:`calsyncd.scrub.scrub`
    (and gets its ``Content-Length`` anew), so no endpoint can answer with a secret."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def scrubbed(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = scrub(b"".join(chunks).decode("utf-8", "replace")).encode("utf-8")
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode("ascii")))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, scrubbed)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port). Raises OSError."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(app: Starlette, sock: socket.socket, stop: anyio.Event) -> None:
    """Serve ``app`` on the listening ``sock`` until ``stop`` is set; Hypercorn owns the
    socket from here on and closes it."""
    config = HypercornConfig()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("calsyncd.http")
    config.graceful_timeout = 1.0
    config.include_server_header = False
    await hypercorn_serve(app, config, shutdown_trigger=stop.wait, mode="asgi")  # type: ignore[arg-type]
