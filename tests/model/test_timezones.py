"""Time zone names from every corner calendar data comes from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz as dateutil_tz

from calsyncd.model import iana_name, is_utc_zone, same_offsets, windows_name, zone_for_tzid


@pytest.mark.parametrize(
    ("tzid", "key"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        (" America/New_York ", "America/New_York"),
        ('"Asia/Kolkata"', "Asia/Kolkata"),
        ("US/Eastern", "US/Eastern"),
        ("UTC", "UTC"),
        ("posix/Europe/Berlin", "Europe/Berlin"),
        # Windows names, as Outlook and Graph write them
        ("Eastern Standard Time", "America/New_York"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("GMT Standard Time", "Europe/London"),
        ("India Standard Time", "Asia/Calcutta"),
        ("eastern standard time", "America/New_York"),
        # "globally unique" TZIDs with a vendor prefix
        ("/mozilla.org/20050126_1/America/New_York", "America/New_York"),
        (
            "/softwarestudio.org/Olson_20011030_5/America/Argentina/Buenos_Aires",
            "America/Argentina/Buenos_Aires",
        ),
        ("/freeassociation.sourceforge.net/Tzfile/Europe/Berlin", "Europe/Berlin"),
        # Windows display names
        ("(UTC-05:00) Eastern Time (US & Canada)", "America/New_York"),
        ("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "Europe/Amsterdam"),
        ("(UTC+10:00) Canberra, Melbourne, Sydney", "Australia/Canberra"),
        ("(UTC) Coordinated Universal Time", "UTC"),
        ("(UTC+01:00) W. Europe Standard Time", "Europe/Berlin"),
    ],
)
def test_zone_for_tzid(tzid: str, key: str) -> None:
    zone = zone_for_tzid(tzid)
    assert zone is not None
    assert zone.key == key


@pytest.mark.parametrize(
    "tzid",
    [
        "",
        "Customized Time Zone",
        "Nowhere/Special",
        "localtime",
        "Factory",
        "../../etc/passwd",
        "/etc/localtime",
        "(UTC+05:00) Atlantis",
        "(UTC+09:00) Berlin",  # a city, but not at that offset
    ],
)
def test_unknown_tzids(tzid: str) -> None:
    assert zone_for_tzid(tzid) is None


def test_iana_name() -> None:
    assert iana_name(None) is None
    assert iana_name(UTC) == "UTC"
    assert iana_name(ZoneInfo("Etc/UTC")) == "UTC"
    assert iana_name(ZoneInfo("Zulu")) == "UTC"
    assert iana_name(ZoneInfo("Europe/Berlin")) == "Europe/Berlin"
    assert iana_name(ZoneInfo("Africa/Abidjan")) == "Africa/Abidjan"  # offset 0, but not UTC
    assert iana_name(timezone(timedelta(hours=-5))) == "Etc/GMT+5"
    assert iana_name(timezone(timedelta(hours=14))) == "Etc/GMT-14"
    assert iana_name(timezone(timedelta(hours=5, minutes=30))) is None
    assert iana_name(timezone(timedelta(0))) == "UTC"
    assert iana_name(dateutil_tz.gettz("America/New_York")) == "America/New_York"
    assert iana_name(dateutil_tz.UTC) == "UTC"
    assert iana_name(dateutil_tz.gettz("Africa/Abidjan")) == "Africa/Abidjan"
    assert iana_name(dateutil_tz.tzoffset("odd", 1234)) is None


def test_is_utc_zone() -> None:
    assert is_utc_zone(UTC)
    assert is_utc_zone(ZoneInfo("UTC"))
    assert is_utc_zone(ZoneInfo("Etc/Universal"))
    assert not is_utc_zone(ZoneInfo("Africa/Abidjan"))
    assert not is_utc_zone(ZoneInfo("Europe/London"))
    assert not is_utc_zone(None)


@pytest.mark.parametrize(
    ("zone", "windows"),
    [
        ("Europe/Berlin", "W. Europe Standard Time"),
        ("Europe/Amsterdam", "W. Europe Standard Time"),  # not in the table: same rules
        ("America/New_York", "Eastern Standard Time"),
        ("America/Toronto", "Eastern Standard Time"),
        ("America/Havana", "Cuba Standard Time"),  # same days as New York, other hours
        ("Asia/Kolkata", "India Standard Time"),
        ("UTC", "UTC"),
        ("Etc/UTC", "UTC"),
        ("Nowhere/Special", None),
    ],
)
def test_windows_name(zone: str, windows: str | None) -> None:
    assert windows_name(zone) == windows


def test_same_offsets_tells_transition_hours_apart() -> None:
    start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    toronto, new_york = ZoneInfo("America/Toronto"), ZoneInfo("America/New_York")
    havana = ZoneInfo("America/Havana")
    assert same_offsets(toronto, new_york, start, end)
    assert not same_offsets(havana, new_york, start, end)
    assert same_offsets(havana, new_york, start, end, slack=timedelta(hours=3))
    paris = dateutil_tz.gettz("Europe/Paris")
    assert paris is not None
    assert same_offsets(paris, ZoneInfo("Europe/Berlin"), start, end)
