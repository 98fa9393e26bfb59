"""Hypothesis strategies for calendar objects the iCalendar format can hold exactly.

What the format cannot hold is left out on purpose (and documented in ``calsyncd.model.ical``):
microseconds, ``fold=1``, a carriage return in text (iCalendar knows one line break), control
characters in names (parameter values cannot carry them), negative reminders (they are
alarms after the start, kept as VALARMs instead).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import strategies as st
from icalendar import vText

from calsyncd.model import (
    Attendee,
    CalendarObject,
    Event,
    ExtraProperty,
    Marker,
    Period,
    Person,
    Response,
    ShowAs,
    Status,
    Visibility,
    When,
)

ZONES: list[tzinfo] = [
    UTC,
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Australia/Lord_Howe"),  # half-hour DST
    ZoneInfo("Africa/Abidjan"),  # offset 0 but not UTC
]

text = st.text(st.characters(exclude_characters="\r", exclude_categories=["Cs"]), max_size=40)
names = st.text(
    st.characters(exclude_categories=["Cs", "Cc"], include_characters="\t\n"), max_size=20
)
optional_text = st.none() | text

_MIN, _MAX = datetime(1971, 1, 1), datetime(2090, 12, 31)


def _clean(value: datetime) -> datetime:
    return value.replace(microsecond=0, fold=0)


dates = st.dates(min_value=_MIN.date(), max_value=_MAX.date())
floating = st.datetimes(min_value=_MIN, max_value=_MAX).map(_clean)
aware = st.datetimes(min_value=_MIN, max_value=_MAX, timezones=st.sampled_from(ZONES)).map(_clean)
utc_stamps = st.datetimes(min_value=_MIN, max_value=_MAX, timezones=st.just(UTC)).map(_clean)

emails = st.emails() | st.just("urn:uuid:00000000-0000-4000-8000-000000000000")
urls = st.from_regex(r"https://[a-z]{1,10}\.example/[A-Za-z0-9/_.,;=&?%~+-]{0,20}", fullmatch=True)
rrules = st.sampled_from(
    [
        "FREQ=DAILY;COUNT=5",
        "FREQ=WEEKLY;BYDAY=MO,WE",
        "FREQ=MONTHLY;BYMONTHDAY=-1;UNTIL=20300101T000000Z",
        "FREQ=YEARLY;INTERVAL=2",
    ]
)
_x_names = st.builds(
    "X-{}{}".format,
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8),
    st.sampled_from(["", "-A", "-LONGER-NAME", "-2"]),
).filter(lambda n: not n.startswith(("X-CALSYNCD-", "X-GOOGLE-CONF", "X-MICROSOFT-SKYPE")))


@st.composite
def extra_properties(draw: st.DrawFn) -> ExtraProperty:
    name = draw(_x_names | st.sampled_from(["COMMENT", "PRIORITY", "GEO", "RESOURCES"]))
    value = vText(draw(text)).to_ical().decode()
    if name == "PRIORITY":
        value = str(draw(st.integers(0, 9)))
    elif name == "GEO":
        value = f"{draw(st.integers(-90, 90))}.5;{draw(st.integers(-180, 180))}.25"
    params = draw(st.sampled_from(["", ";X-P=1", ';X-Q="a:b;c"', ";LANGUAGE=de"]))
    return ExtraProperty(name, f"{name}{params}:{value}")


@st.composite
def kept_alarms(draw: st.DrawFn) -> ExtraProperty:
    """A VALARM the model has no field for: absolute, relative to the end, or after the start."""
    trigger = draw(
        st.sampled_from(
            [
                "TRIGGER;VALUE=DATE-TIME:20300101T080000Z",
                "TRIGGER;RELATED=END:-PT5M",
                "TRIGGER:PT10M",
            ]
        )
    )
    description = vText(draw(text)).to_ical().decode()
    lines = ["BEGIN:VALARM", "ACTION:DISPLAY", f"DESCRIPTION:{description}", trigger, "END:VALARM"]
    return ExtraProperty("VALARM", "\n".join(lines))


whens = st.one_of(dates, floating, aware)


@st.composite
def periods(draw: st.DrawFn) -> Period:
    """An RDATE period: floating or zoned, its end at or after its start (in the start's
    zone, as a TZID gives one zone to both)."""
    start = draw(floating | aware)
    return Period(start, start + timedelta(seconds=draw(st.integers(0, 3 * 86400))))


people = st.builds(Attendee, emails, st.none() | names, st.sampled_from(Response), st.booleans())
organizers = st.none() | st.builds(Person, emails, st.none() | names)
reminders = st.lists(st.integers(0, 30 * 86400).map(lambda s: timedelta(seconds=s)), max_size=3)


@st.composite
def events(draw: st.DrawFn, *, recurrence_id: When | None = None, master: bool = True) -> Event:
    start = draw(st.one_of(dates, floating, aware, aware))
    end: When | None = None
    if draw(st.booleans()):
        if isinstance(start, datetime):
            end = start + timedelta(seconds=draw(st.integers(0, 10 * 86400)))
        else:
            end = start + timedelta(days=draw(st.integers(1, 30)))
    props = draw(st.lists(extra_properties(), max_size=3))
    alarms = draw(st.lists(kept_alarms(), max_size=2))
    return Event(
        start=start,
        end=end,
        recurrence_id=recurrence_id,
        title=draw(optional_text),
        description=draw(optional_text),
        location=draw(optional_text),
        status=draw(st.sampled_from(Status)),
        show_as=draw(st.sampled_from(ShowAs)),
        visibility=draw(st.sampled_from(Visibility)),
        categories=tuple(draw(st.lists(text, max_size=3))),
        organizer=draw(organizers),
        attendees=tuple(draw(st.lists(people, max_size=3))),
        reminders=tuple(draw(reminders)),
        conference_url=draw(st.none() | urls),
        url=draw(st.none() | urls),
        rrules=tuple(draw(st.lists(rrules, max_size=2))) if master else (),
        rdates=tuple(draw(st.lists(whens | periods(), max_size=3))) if master else (),
        exdates=tuple(draw(st.lists(whens, max_size=3))) if master else (),
        sequence=draw(st.integers(0, 1000)),
        created=draw(st.none() | utc_stamps),
        last_modified=draw(st.none() | utc_stamps),
        extra=tuple(props + alarms),  # properties before components, as iCalendar has them
    )


@st.composite
def calendar_objects(draw: st.DrawFn) -> CalendarObject:
    uid = draw(text.filter(lambda u: u != ""))
    has_master = draw(st.booleans()) or draw(st.booleans())
    # recurrence-ids must differ as instants (they key a dict)
    rids = draw(st.lists(whens, max_size=3, unique_by=_instant))
    if not has_master and not rids:
        has_master = True
    master = draw(events()) if has_master else None
    overrides = {rid: draw(events(recurrence_id=rid, master=False)) for rid in rids}
    marker = draw(st.none() | st.builds(Marker, text, text, text))
    return CalendarObject(uid=uid, master=master, overrides=overrides, marker=marker)


def _instant(value: When) -> object:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return ("aware", value.astimezone(UTC))
    if isinstance(value, datetime):
        return ("floating", value)
    assert isinstance(value, date)
    return ("date", value)
