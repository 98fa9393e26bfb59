"""Rule filters: which originals a rule copies.

An object is synced when its first event (the master, or the first override of an orphan
series) matches any ``include`` clause (or there are none) and no ``exclude`` clause. A clause
matches when every key it sets matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from calsyncd.model.event import CalendarObject, Event


class Clause(Protocol):
    """The filter clause of a rule (see ``calsyncd.config``)."""

    @property
    def title(self) -> object: ...
    @property
    def description(self) -> object: ...
    @property
    def location(self) -> object: ...
    @property
    def categories(self) -> Sequence[str] | None: ...
    @property
    def all_day(self) -> bool | None: ...
    @property
    def show_as(self) -> str | None: ...
    @property
    def status(self) -> str | None: ...
    @property
    def response(self) -> str | None: ...
    @property
    def recurring(self) -> bool | None: ...


def _search(pattern: object, text: str | None) -> bool:
    search = getattr(pattern, "search", None)
    assert search is not None, "filter patterns are compiled when the rule is loaded"
    return search(text or "") is not None


def _response(event: Event, owner: str | None) -> str:
    """The calendar owner's response: their attendee entry, else ``accepted``.

    Without attendees (or without knowing who the owner is) an event is one's own, which
    counts as accepted.
    """
    if owner:
        for attendee in event.attendees:
            if attendee.email.casefold() == owner.casefold():
                return attendee.response.value
    return "accepted"


def clause_matches(clause: Clause, event: Event, owner: str | None = None) -> bool:
    checks = (
        clause.title is None or _search(clause.title, event.title),
        clause.description is None or _search(clause.description, event.description),
        clause.location is None or _search(clause.location, event.location),
        clause.categories is None
        or bool(
            {c.casefold() for c in clause.categories} & {c.casefold() for c in event.categories}
        ),
        clause.all_day is None or clause.all_day == event.all_day,
        clause.show_as is None or clause.show_as == event.show_as.value,
        clause.status is None or clause.status == event.status.value,
        clause.response is None or clause.response == _response(event, owner),
        clause.recurring is None or clause.recurring == event.recurring,
    )
    return all(checks)


def selected(
    obj: CalendarObject,
    include: Sequence[Clause],
    exclude: Sequence[Clause],
    owner: str | None = None,
) -> bool:
    """Whether the rule copies ``obj``."""
    event = obj.first
    if include and not any(clause_matches(c, event, owner) for c in include):
        return False
    return not any(clause_matches(c, event, owner) for c in exclude)
