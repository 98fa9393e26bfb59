"""The conformance suite against the ``ics`` provider: a writable file, and feeds read from a
file and from a real HTTP server on loopback."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from calsyncd.model.ical import serialize_calendar
from calsyncd.providers.ics import IcsFeed, IcsFile
from conformance import samples
from conformance.backends import IcsDocumentBackend
from conformance.contract import Backend, ProviderContract
from conformance.feedserver import FeedServer


class TestIcsFile(ProviderContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Backend:
        path = tmp_path / "busy.ics"
        return IcsDocumentBackend(path, lambda: IcsFile(path, where="contract/ics-file"))


class TestIcsFeedFromFile(ProviderContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Backend:
        path = tmp_path / "feed.ics"
        path.write_bytes(serialize_calendar([]))
        return IcsDocumentBackend(path, lambda: IcsFeed(str(path), where="contract/ics-feed"))


class TestIcsFeedOverHttp(ProviderContract):
    @pytest.fixture
    def backend(
        self, feed_path: Path, feed_server: FeedServer, http_client: httpx.AsyncClient
    ) -> Backend:
        feed_path.write_bytes(serialize_calendar([]))
        url = feed_server.url("/feed.ics")
        return IcsDocumentBackend(
            feed_path, lambda: IcsFeed(url, where="contract/ics-http", http=http_client)
        )

    async def test_conditional_get_really_happens(
        self, backend: Backend, feed_server: FeedServer
    ) -> None:
        await backend.seed([samples.single("cond-1@contract.example")])
        async with backend.open() as feed:
            full = await feed.list_changes(None)
            assert feed_server.counts == {200: 1}
            assert "if-none-match" not in {k.lower() for k in feed_server.requests[-1]}
            quiet = await feed.list_changes(full.cursor)
            assert quiet.items == []
            assert not quiet.full
            assert feed_server.counts == {200: 1, 304: 1}
            sent = {k.lower(): v for k, v in feed_server.requests[-1].items()}
            assert sent["if-none-match"].startswith('"')
            assert "if-modified-since" in sent
            await backend.seed([samples.single("cond-2@contract.example")])
            changed = await feed.list_changes(quiet.cursor)
            assert [i.obj.uid for i in changed.items] == ["cond-2@contract.example"]
            assert feed_server.counts == {200: 2, 304: 1}
