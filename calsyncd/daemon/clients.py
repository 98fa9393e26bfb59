"""One HTTP client per connection, counting its requests for ``calsyncd_provider_requests_total``.

The CLI shares one client among all connections; the daemon gives each connection its own so
every request (and every failure to get a response) is counted under the connection's name.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

Count = Callable[[str, str], None]
"""``count(connection, status)``: status is the HTTP status code, or ``"error"``."""


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport; reports the status of each response (``"error"`` when none came)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, connection: str, count: Count) -> None:
        self._inner = inner
        self._connection = connection
        self._count = count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError:
            self._count(self._connection, "error")
            raise
        self._count(self._connection, str(response.status_code))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class ClientPool:
    """Clients by connection name, made on first use and closed together."""

    def __init__(self, count: Count) -> None:
        self._count = count
        self._clients: dict[str, httpx.AsyncClient] = {}

    def get(self, connection: str) -> httpx.AsyncClient:
        client = self._clients.get(connection)
        if client is None:
            transport = CountingTransport(httpx.AsyncHTTPTransport(), connection, self._count)
            client = httpx.AsyncClient(transport=transport, timeout=30, follow_redirects=True)
            self._clients[connection] = client
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
