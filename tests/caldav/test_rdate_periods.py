"""RDATE periods on real servers: an extra occurrence with its own end is stored and read back.

Evolution and Lotus Notes write ``RDATE;VALUE=PERIOD``; calsyncd reads each period as an
occurrence with its own end (:class:`~calsyncd.model.event.Period`) and writes it the same
way, so a copy keeps it. A server must give it back unchanged — or refuse it, and then the
error names the object (Radicale refuses periods while its vobject is older than 1.0).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from radicale.utils import vobject_supports_period

from caldav.helpers import Recorder, client, event
from caldav.servers import DavServer
from calsyncd.errors import MalformedObject
from calsyncd.model.event import Period

pytestmark = pytest.mark.anyio

LONDON = ZoneInfo("Europe/London")


async def test_a_series_with_rdate_periods_comes_back_whole(
    dav_server: DavServer, dav_calendar: str
) -> None:
    zoned = datetime(2030, 5, 13, 14, tzinfo=LONDON)
    utc = datetime(2030, 5, 20, 8, tzinfo=UTC)
    periods = (
        Period(zoned, zoned + timedelta(hours=2, minutes=30)),
        Period(utc, utc + timedelta(days=1)),
    )
    obj = event(
        "periods@x.example", "Workshop", rdates=(*periods, datetime(2030, 6, 1, 10, tzinfo=UTC))
    )
    async with client(Recorder()) as http:
        calendar = dav_server.open(dav_calendar, http)
        if dav_server.kind == "radicale" and not vobject_supports_period():
            with pytest.raises(MalformedObject, match=r"csperiods\.ics: HTTP 400"):
                await calendar.create(obj, "csperiods")
            return
        made = await calendar.create(obj, "csperiods")
        back = await calendar.get(made.id)
    assert back.obj.master is not None
    assert back.obj.master.rdates == obj.master.rdates  # type: ignore[union-attr]
