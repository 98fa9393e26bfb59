"""Recurrence expansion, bounded: every RRULE calsyncd expands is expanded here.

dateutil expands a rule in pure Python, and one step of its generator can examine millions
of periods without yielding: ``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30`` never matches and walks
every day up to year 9999; ``FREQ=SECONDLY`` from years ago yields a hundred million
occurrences before today. So a rule is read by dateutil (:func:`parse_rule`) but expanded
by a copy of its generator whose period helper (``_iterinfo``, asked once for the days of
every period examined) counts each period against the active
:class:`~calsyncd.model.budget.Budget`, and every occurrence yielded counts too. The work
inside one period is bounded by the rule itself — at most 366 days times the times of day
its BYHOUR/BYMINUTE/BYSECOND give, which :func:`parse_rule` caps.

RFC 7529 (``RSCALE``/``SKIP``) is read for the Gregorian scale, iCalendar's own: without SKIP
(or with SKIP=OMIT) a rule is plain RFC 5545; SKIP=BACKWARD/FORWARD moves a month day past the
month's end (31 April, 29 February) to the month's last day or the next month's first, which
dateutil cannot, so such a rule is expanded by :class:`_SkippingRule` — for the forms where a
date can be invalid: a MONTHLY or YEARLY rule whose day is a month day (BYMONTHDAY or
DTSTART's). Other scales and other SKIP forms raise :class:`ValueError` naming them.

:class:`Recurrence` is the only way to expand: each of its questions runs under the active
budget (one object's, made by the caller) or a fresh one, and raises
:class:`~calsyncd.model.budget.OverBudget` past it.
"""

from __future__ import annotations

import math
from calendar import monthrange
from collections.abc import Callable, Iterable, Iterator
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta
from itertools import islice
from types import FunctionType, MethodType
from typing import Any

import dateutil.rrule as _dateutil
from dateutil.rrule import rrule, rruleset, rrulestr

from calsyncd.model.budget import OverBudget, bounded, spend
from calsyncd.model.event import Event, Period, When

__all__ = [
    "MAX_TIMES_A_DAY",
    "OverBudget",
    "Recurrence",
    "as_datetime",
    "conform_until",
    "gregorian",
    "like",
    "occurrences_of",
    "parse_rule",
    "until_before",
]

MAX_TIMES_A_DAY = 1440
"""Times of day one rule may give (BYHOUR × BYMINUTE × BYSECOND): one a minute."""


class _MeteredPeriods(_dateutil._iterinfo):
    """dateutil's period helper, counting each period its generator examines."""

    def ydayset(self, year: int, month: int, day: int) -> Any:
        spend()
        return super().ydayset(year, month, day)

    def mdayset(self, year: int, month: int, day: int) -> Any:
        spend()
        return super().mdayset(year, month, day)

    def wdayset(self, year: int, month: int, day: int) -> Any:
        spend()
        return super().wdayset(year, month, day)

    def ddayset(self, year: int, month: int, day: int) -> Any:
        spend()
        return super().ddayset(year, month, day)


_dateutil_iter: Any = rrule._iter  # type: ignore[attr-defined]
_metered_periods = FunctionType(
    _dateutil_iter.__code__,
    {**vars(_dateutil), "_iterinfo": _MeteredPeriods},
    "_iter",
)
"""dateutil's own ``rrule._iter``, its code unchanged, with the metered period helper."""


def _metered_iter(rule: rrule) -> Iterator[datetime]:
    for occurrence in _metered_periods(rule):
        spend()
        yield occurrence


def _times_a_day(text: str) -> int:
    parts = dict(part.partition("=")[::2] for part in text.upper().split(";"))
    keys = ("BYHOUR", "BYMINUTE", "BYSECOND")
    return math.prod(len(set(parts[key].split(","))) for key in keys if parts.get(key))


def _until_value(raw: str) -> date | datetime:
    """An UNTIL value as written: a date, a floating date-time, or (``Z``) one in UTC."""
    raw = raw.strip().upper()
    if len(raw) == 8:
        return datetime.strptime(raw, "%Y%m%d").date()
    if raw.endswith("Z"):
        return datetime.strptime(raw, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.strptime(raw, "%Y%m%dT%H%M%S")


def conform_until(text: str, in_zone: Callable[[datetime], datetime]) -> str:
    """The rule of a zoned DTSTART with its UNTIL in UTC, as RFC 5545 requires.

    Google and Outlook write a floating or DATE UNTIL beside a zoned DTSTART, which dateutil
    refuses. It is read in DTSTART's zone (``in_zone`` puts a wall time there; a date counts
    from its first moment) and written in UTC; nothing else of the rule changes. A value
    that is not a date or date-time is left for :func:`parse_rule` to refuse.
    """
    parts = text.split(";")
    for i, part in enumerate(parts):
        name, sep, value = part.partition("=")
        if not sep or name.strip().upper() != "UNTIL":
            continue
        try:
            until = _until_value(value)
        except ValueError:
            return text
        if isinstance(until, datetime) and until.tzinfo is not None:
            return text
        wall = until if isinstance(until, datetime) else datetime.combine(until, time())
        instant = in_zone(wall).astimezone(UTC)
        parts[i] = f"{name}={instant:%Y%m%dT%H%M%S}Z"
    return ";".join(parts)


def until_before(text: str, dtstart: date | datetime) -> str | None:
    """The rule's UNTIL as written if it lies before ``dtstart`` (compared as dateutil
    expands: wall times where either is floating, days where DTSTART is a date)."""
    for part in text.split(";"):
        name, _, value = part.partition("=")
        if name.strip().upper() != "UNTIL":
            continue
        try:
            until = _until_value(value)
        except ValueError:
            return None
        if not isinstance(dtstart, datetime):
            day = until.date() if isinstance(until, datetime) else until
            return value.strip() if day < dtstart else None
        if not isinstance(until, datetime):
            until = datetime.combine(until, time(), tzinfo=dtstart.tzinfo)
        if until.tzinfo is None or dtstart.tzinfo is None:
            until, dtstart = until.replace(tzinfo=None), dtstart.replace(tzinfo=None)
        return value.strip() if until < dtstart else None
    return None


def _parts(text: str) -> dict[str, str]:
    """A rule's parts by name, upper case (the last of a repeated part)."""
    named = (part.partition("=") for part in text.upper().split(";") if part.strip())
    return {name.strip(): value.strip() for name, _, value in named}


def _without(text: str, names: tuple[str, ...]) -> str:
    """The rule text without the parts ``names``, the others as they were written."""
    kept = [part for part in text.split(";") if part.partition("=")[0].strip().upper() not in names]
    return ";".join(kept)


def gregorian(text: str) -> str:
    """The rule without ``RSCALE=GREGORIAN`` where it is plain RFC 5545: SKIP absent or
    OMIT (RFC 7529). Any other rule is returned as it is."""
    parts = _parts(text)
    if parts.get("RSCALE") != "GREGORIAN" or parts.get("SKIP", "OMIT") != "OMIT":
        return text
    return _without(text, ("RSCALE", "SKIP"))


_NOT_SKIPPED = ("BYDAY", "BYSETPOS", "BYYEARDAY", "BYWEEKNO", "BYHOUR", "BYMINUTE", "BYSECOND")
"""Parts beside a month day with which SKIP is not expanded here (RFC 7529 orders SKIP among
them in ways few clients follow): such a rule is refused rather than guessed at."""


def _skipping(parts: dict[str, str]) -> bool:
    """Whether SKIP can change the rule: a MONTHLY or YEARLY rule whose day is a month day.
    Raises :class:`ValueError` for a form :class:`_SkippingRule` does not expand."""
    if parts.get("FREQ") not in ("MONTHLY", "YEARLY"):
        return False  # BYMONTHDAY only limits such a rule: it makes no date
    if "BYMONTHDAY" not in parts and {"BYDAY", "BYYEARDAY", "BYWEEKNO"} & parts.keys():
        return False  # the day comes from a weekday or a year day: always a valid date
    skip = parts["SKIP"]
    for name in _NOT_SKIPPED:
        if name in parts:
            raise ValueError(f"SKIP={skip} beside {name} is not expanded (RFC 7529)")
    negative = [day for day in parts.get("BYMONTHDAY", "").split(",") if day.startswith("-")]
    if negative:
        raise ValueError(f"SKIP={skip} with BYMONTHDAY={negative[0]} is not expanded (RFC 7529)")
    return True


def parse_rule(text: str, dtstart: datetime) -> rrule | _SkippingRule:
    """One RRULE value read from ``dtstart`` (naive: floating, aware: in its zone), ready to
    expand under a budget. Raises :class:`ValueError` (or ``TypeError``/``OverflowError``,
    as dateutil does) for a rule that cannot be read."""
    if (times := _times_a_day(text)) > MAX_TIMES_A_DAY:
        raise ValueError(
            f"{times} times a day (BYHOUR × BYMINUTE × BYSECOND), over {MAX_TIMES_A_DAY}"
        )
    parts = _parts(text)
    if (scale := parts.get("RSCALE", "GREGORIAN")) != "GREGORIAN":
        raise ValueError(
            f"RSCALE={scale}: calsyncd expands only the Gregorian calendar of RFC 7529"
        )
    if (skip := parts.get("SKIP", "OMIT")) not in ("OMIT", "BACKWARD", "FORWARD"):
        raise ValueError(f"SKIP={skip} is not OMIT, BACKWARD or FORWARD (RFC 7529)")
    plain = _without(text, ("RSCALE", "SKIP"))
    rule = rrulestr(plain, dtstart=dtstart, ignoretz=dtstart.tzinfo is None)
    if not isinstance(rule, rrule):
        raise TypeError("not a single rule")
    if skip != "OMIT" and _skipping(parts):
        return _SkippingRule(rule, dtstart, backward=skip == "BACKWARD")
    # rrulebase.__iter__ calls self._iter(): the instance's own, metered one.
    vars(rule)["_iter"] = MethodType(_metered_iter, rule)
    return rule


class _SkippingRule:
    """A MONTHLY or YEARLY rule of month days with RFC 7529 SKIP=BACKWARD or FORWARD: a day
    past a month's end is that month's last day, or the next month's first. COUNT and UNTIL
    apply after the move, and a day moved onto another occurrence is that occurrence.

    Read from dateutil's own reading of the rule without RSCALE and SKIP (its month days and
    months, DTSTART's where the rule names none); iterating it counts each period against the
    active budget, as :class:`Recurrence` needs of any rule in its set.
    """

    def __init__(self, rule: rrule, dtstart: datetime, *, backward: bool) -> None:
        read: Any = rule  # dateutil keeps what it read in private attributes
        self._dtstart = dtstart
        self._backward = backward
        self._yearly = read._freq == _dateutil.YEARLY
        self._interval: int = read._interval
        self._count: int | None = read._count
        self._until: datetime | None = read._until
        self._months: tuple[int, ...] = tuple(sorted(read._bymonth or ()))
        self._days: tuple[int, ...] = tuple(sorted(read._bymonthday))

    def _periods(self) -> Iterator[tuple[int, int]]:
        """(year, month) of each period the rule visits, from DTSTART's on."""
        start = self._dtstart
        if self._yearly:
            for year in range(start.year, MAXYEAR + 1, self._interval):
                for month in self._months or (start.month,):
                    yield year, month
            return
        for index in range(start.year * 12 + start.month - 1, MAXYEAR * 12, self._interval):
            year, month = divmod(index, 12)
            if not self._months or month + 1 in self._months:
                yield year, month + 1

    def _days_of(self, year: int, month: int) -> list[date]:
        length = monthrange(year, month)[1]
        found: set[date] = set()
        for day in self._days:
            if day <= length:
                found.add(date(year, month, day))
            elif self._backward:
                found.add(date(year, month, length))
            elif (year, month) != (MAXYEAR, 12):
                found.add(date(year, month, length) + timedelta(days=1))
        return sorted(found)

    def __iter__(self) -> Iterator[datetime]:
        count = 0
        last: datetime | None = None
        wall, zone = self._dtstart.time(), self._dtstart.tzinfo
        for year, month in self._periods():
            spend()
            for day in self._days_of(year, month):
                when = datetime.combine(day, wall, tzinfo=zone)
                if when < self._dtstart or (last is not None and when <= last):
                    continue
                if self._until is not None and when > self._until:
                    return
                yield when
                last = when
                count += 1
                if self._count is not None and count >= self._count:
                    return


class Recurrence:
    """The occurrences of RRULEs, RDATEs and EXDATEs from ``dtstart``, asked for under a
    budget. Dates must be of ``dtstart``'s kind (naive or aware), as dateutil compares them."""

    def __init__(
        self,
        dtstart: datetime,
        rules: Iterable[str] = (),
        rdates: Iterable[datetime] = (),
        exdates: Iterable[datetime] = (),
    ) -> None:
        self._set = rruleset()
        for text in rules:
            # a set only iterates its rules: a _SkippingRule is one as well as an rrule
            self._set.rrule(parse_rule(text, dtstart))  # type: ignore[arg-type]
        for when in rdates:
            self._set.rdate(when)
        for when in exdates:
            self._set.exdate(when)

    def first_from(self, when: datetime) -> datetime | None:
        """The first occurrence at or after ``when``."""
        with bounded():
            found: datetime | None = self._set.after(when, inc=True)
            return found

    def last_before(self, when: datetime) -> datetime | None:
        """The last occurrence before ``when``."""
        with bounded():
            found: datetime | None = self._set.before(when)
            return found

    def between(self, low: datetime, high: datetime) -> list[datetime]:
        """The occurrences in ``[low, high]``."""
        with bounded():
            found: list[datetime] = self._set.between(low, high, inc=True)
            return found

    def first(self, count: int) -> list[datetime]:
        """The first ``count`` occurrences (fewer if the set ends before)."""
        with bounded():
            return list(islice(self._set, count))

    def following(self, when: datetime, count: int) -> list[datetime]:
        """The first ``count`` occurrences after ``when`` (fewer if the set ends before)."""
        with bounded():
            return list(self._set.xafter(when, count=count, inc=False))


def as_datetime(when: When) -> datetime:
    """A date as its first moment (naive), as dateutil expands an all-day series."""
    return when if isinstance(when, datetime) else datetime.combine(when, time())


def like(when: When, dtstart: datetime) -> datetime:
    """``when`` in the same kind (aware or naive) as ``dtstart``, for dateutil comparisons."""
    value = as_datetime(when)
    if dtstart.tzinfo is None:
        return value.replace(tzinfo=None)
    if value.tzinfo is None:
        return value.replace(tzinfo=dtstart.tzinfo)
    return value.astimezone(dtstart.tzinfo)


def occurrences_of(master: Event) -> Recurrence:
    """The recurrence set of a master, expanded in its own zone (DST-correct). DTSTART is
    always its first instance (RFC 5545 3.8.5.3), whether the rule matches it or not; an
    RDATE period is an instance at its start. All-day series expand as naive midnights."""
    dtstart = as_datetime(master.start)
    rdates = (r.start if isinstance(r, Period) else r for r in master.rdates)
    return Recurrence(
        dtstart,
        master.rrules,
        rdates=[dtstart, *(like(rdate, dtstart) for rdate in rdates)],
        exdates=[like(exdate, dtstart) for exdate in master.exdates],
    )
