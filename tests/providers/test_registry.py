"""Opening a calendar from its configuration: what the opener itself refuses."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from calsyncd.config.connections import LocalConnection
from calsyncd.config.rules import Endpoint
from calsyncd.errors import CalendarNotFound, PermanentError
from calsyncd.providers.local import LocalCalendar
from calsyncd.providers.registry import open_calendar

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("calendar", ["../outside", "/etc", "a/b", "a\\b", "..", ".", ""])
async def test_local_calendar_names_outside_the_connection_are_refused(
    tmp_path: Path, calendar: str
) -> None:
    """Defence in depth: ``check`` reports these too; the opener never reaches the path."""
    connection = LocalConnection(type="local", path=tmp_path / "calendars")
    async with httpx.AsyncClient() as http:
        with pytest.raises(PermanentError, match="one folder name inside the connection"):
            open_calendar(
                "loc", connection, Endpoint(connection="loc", calendar=calendar), http=http
            )


async def test_a_missing_local_calendar_is_an_error_unless_it_may_be_made(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    connection = LocalConnection(type="local", path=tmp_path)
    endpoint = Endpoint(connection="loc", calendar="wrok")
    async with httpx.AsyncClient() as http:
        strict = open_calendar("loc", connection, endpoint, http=http)
        lenient = open_calendar("loc", connection, endpoint, http=http, if_missing="create")
    assert isinstance(strict, LocalCalendar)
    with pytest.raises(CalendarNotFound, match='did you mean "work"'):
        await strict.list_changes(None)
    assert (await lenient.list_changes(None)).items == []
    assert not (tmp_path / "wrok").exists()
