"""An RDATE period (an extra occurrence with its own end) is one thing Google cannot store.

Google's ``recurrence`` takes RDATE dates and date-times only. Rather than write the
occurrence with the series' length — a silent change — the event is refused before any
write, naming the period; the rule's other events go on (an item-level error).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from conformance import samples
from emulators.fixtures import GoogleSetup
from google_helpers import WRITES

from calsyncd.errors import MalformedObject
from calsyncd.model.event import Period

pytestmark = pytest.mark.anyio


async def test_a_series_with_an_rdate_period_is_refused_naming_it(google: GoogleSetup) -> None:
    obj = samples.series("period@x")
    assert obj.master is not None
    start = datetime(2030, 3, 7, 14, tzinfo=samples.NEW_YORK)
    period = Period(start, start + timedelta(hours=3))
    with_period = replace(obj, master=replace(obj.master, rdates=(period,)))
    async with google.calendar() as calendar:
        with pytest.raises(MalformedObject, match=r"no RDATE period.*2030-03-07T14:00:00-05:00/"):
            await calendar.create(with_period, "csperiod0001")
    assert not any(google.emulator.count(w) for w in WRITES)
