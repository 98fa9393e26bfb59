"""Fixtures shared by the conformance runs and the provider tests (imported by conftests)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from conformance.feedserver import FeedServer


@pytest.fixture
def feed_path(tmp_path: Path) -> Path:
    """The file the feed server serves at ``/feed.ics`` (and ``/private/feed.ics``)."""
    (tmp_path / "served").mkdir(exist_ok=True)
    return tmp_path / "served" / "feed.ics"


@pytest.fixture
def feed_server(feed_path: Path) -> Iterator[FeedServer]:
    with FeedServer({"/feed.ics": feed_path, "/private/feed.ics": feed_path}) as server:
        yield server
    assert not server.alive


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """A client for loopback servers (``trust_env=False``: no proxy from the environment)."""
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        yield client


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a thread running (anyio's idle worker pool excepted)."""
    before = set(threading.enumerate())
    yield
    left = [
        t.name
        for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.name.startswith("AnyIO worker")
    ]
    assert not left, f"threads left running: {left}"
