"""Fixtures of the hostile-input suite."""

from __future__ import annotations

from caldav.fixtures import radicale_server, xandikos_server
from cli.conftest import project
from conformance.fixtures import no_leaked_threads

__all__ = ["no_leaked_threads", "project", "radicale_server", "xandikos_server"]
