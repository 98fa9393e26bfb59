"""The conformance suite against the ``local`` provider (a vdir folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.backends import LocalBackend
from conformance.contract import Backend, ProviderContract


class TestLocalCalendar(ProviderContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Backend:
        return LocalBackend(tmp_path / "calendar")
