"""Field mapping: how a copy is made from its original, and how edits flow back.

A rule maps each field in one of a few ways (``keep``, ``drop``, a template, a fixed value, a
category mapping). Two operations use a mapping:

- :func:`derive` makes the whole copy from the original: kept fields are copied, dropped ones
  left empty, templates rendered, fixed values set.
- :func:`write_back` carries edits made on a copy into its original: only fields the mapping
  can invert (``keep``, templates, category mappings) are written; every other field of the
  original stays as it is.

Time, status and recurrence always travel both ways: they are what a calendar copy is for.
Unknown properties (``extra``) are never copied, so nothing the mapping does not name can leak
into a copy; the URL travels with the description.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Literal

from calsyncd.config.templates import render
from calsyncd.model.event import (
    CalendarObject,
    Event,
    Marker,
    ShowAs,
    Visibility,
    When,
)

Text = str  # "keep" | "drop" | a template
KEEP: Final = "keep"
DROP: Final = "drop"


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """A resolved field mapping for one direction.

    ``None`` for a field means "not written" (only meaningful for :func:`write_back` and for
    copies made by a reverse mapping, where it reads as ``drop``).
    """

    title: Text | None = KEEP
    description: Text | None = KEEP
    location: Text | None = KEEP
    attendees: Literal["keep", "drop"] | None = DROP
    reminders: Literal["keep", "drop"] | tuple[timedelta, ...] | None = KEEP
    visibility: Literal["keep", "public", "private"] | None = KEEP
    show_as: Literal["keep", "busy", "free"] | None = KEEP
    categories: Literal["keep", "drop"] | Mapping[str, str] | None = KEEP
    conference: Literal["keep", "drop"] | None = KEEP


MAPPED_FIELDS = (
    "title",
    "description",
    "location",
    "attendees",
    "reminders",
    "visibility",
    "show_as",
    "categories",
    "conference",
)


def _when_text(when: When) -> str:
    if isinstance(when, datetime):
        return when.strftime("%Y-%m-%d %H:%M")
    return when.isoformat()


def template_values(event: Event, calendar: str) -> dict[str, str]:
    """The placeholder values a template may use, for one event."""
    organizer = event.organizer
    return {
        "title": event.title or "",
        "description": event.description or "",
        "location": event.location or "",
        "start": _when_text(event.start),
        "end": _when_text(event.effective_end()),
        "calendar": calendar,
        "organizer": (organizer.name or organizer.email) if organizer else "",
        "categories": ", ".join(event.categories),
    }


def _text(spec: Text | None, value: str | None, event: Event, calendar: str) -> str | None:
    if spec is None or spec == DROP:
        return None
    if spec == KEEP:
        return value
    return render(spec, template_values(event, calendar)) or None


def _categories(
    spec: Literal["keep", "drop"] | Mapping[str, str] | None, value: tuple[str, ...]
) -> tuple[str, ...]:
    if spec is None or spec == DROP:
        return ()
    if spec == KEEP:
        return value
    assert not isinstance(spec, str)
    renamed = (spec.get(name, name) for name in value)  # unmapped names pass; "" drops one
    return tuple(name for name in renamed if name)


def derive_event(event: Event, mapping: FieldMapping, calendar: str) -> Event:
    """The copy of one event under ``mapping``."""
    keep_attendees = mapping.attendees == KEEP
    reminders = mapping.reminders
    if reminders is None or reminders == DROP:
        new_reminders: tuple[timedelta, ...] = ()
    elif reminders == KEEP:
        new_reminders = event.reminders
    else:
        assert not isinstance(reminders, str)
        new_reminders = tuple(reminders)
    visibility = mapping.visibility
    show_as = mapping.show_as
    description = _text(mapping.description, event.description, event, calendar)
    return replace(
        event,
        title=_text(mapping.title, event.title, event, calendar),
        description=description,
        location=_text(mapping.location, event.location, event, calendar),
        attendees=event.attendees if keep_attendees else (),
        organizer=event.organizer if keep_attendees else None,
        reminders=new_reminders,
        visibility=(
            event.visibility
            if visibility == KEEP
            else Visibility(visibility)
            if visibility is not None
            else Visibility.DEFAULT
        ),
        show_as=event.show_as if show_as in (KEEP, None) else ShowAs(show_as),
        categories=_categories(mapping.categories, event.categories),
        conference_url=event.conference_url if mapping.conference == KEEP else None,
        url=event.url if mapping.description == KEEP else None,
        extra=(),
    )


def derive(
    original: CalendarObject,
    mapping: FieldMapping,
    *,
    marker: Marker,
    calendar: str,
    uid: str | None = None,
) -> CalendarObject:
    """The copy of ``original`` (a whole series at once), marked with ``marker``, with the
    UID ``uid`` (default: the original's).

    An anonymous copy (``marker`` names no rule) carries no trace of when its original was
    made or edited either: CREATED, LAST-MODIFIED and SEQUENCE are left out.
    """

    def copy_of(event: Event) -> Event:
        made = derive_event(event, mapping, calendar)
        if marker.is_anonymous:
            made = replace(made, created=None, last_modified=None, sequence=0)
        return made

    master = original.master
    return CalendarObject(
        uid=uid if uid is not None else original.uid,
        master=copy_of(master) if master is not None else None,
        overrides={rid: copy_of(event) for rid, event in original.overrides.items()},
        marker=marker,
    )


def _write_back_event(original: Event, copy: Event, mapping: FieldMapping, calendar: str) -> Event:
    """``original`` with what ``mapping`` carries over from ``copy``."""
    changes: dict[str, object] = {
        "start": copy.start,
        "end": copy.end,
        "status": copy.status,
        "rrules": copy.rrules,
        "rdates": copy.rdates,
        "exdates": copy.exdates,
    }
    for name in ("title", "description", "location"):
        spec = getattr(mapping, name)
        if spec is not None and spec != DROP:
            changes[name] = _text(spec, getattr(copy, name), copy, calendar)
    if mapping.attendees == KEEP:
        changes["attendees"] = copy.attendees
        changes["organizer"] = copy.organizer
    if mapping.reminders == KEEP:
        changes["reminders"] = copy.reminders
    if mapping.visibility == KEEP:
        changes["visibility"] = copy.visibility
    if mapping.show_as == KEEP:
        changes["show_as"] = copy.show_as
    if mapping.categories is not None and mapping.categories != DROP:
        changes["categories"] = _categories(mapping.categories, copy.categories)
    if mapping.conference == KEEP:
        changes["conference_url"] = copy.conference_url
    if mapping.description == KEEP:
        changes["url"] = copy.url
    # LAST-MODIFIED and SEQUENCE are set when the write happens (calsyncd.sync.stamping).
    return replace(original, **changes)  # type: ignore[arg-type]


def write_back(
    original: CalendarObject, copy: CalendarObject, mapping: FieldMapping, *, calendar: str
) -> CalendarObject:
    """``original`` updated with the edits ``mapping`` lets flow back from ``copy``.

    Occurrences follow the copy: an override added on the copy is added to the original
    (taking the fields that do not flow back from the original's master), one removed from
    the copy is removed from the original.
    """
    master = original.master
    new_master = master
    if master is not None and copy.master is not None:
        new_master = _write_back_event(master, copy.master, mapping, calendar)
    overrides: dict[When, Event] = {}
    for rid, copy_event in copy.overrides.items():
        base = original.overrides.get(rid) or (
            replace(master, rrules=(), rdates=(), exdates=(), recurrence_id=rid)
            if master is not None
            else copy_event
        )
        overrides[rid] = _write_back_event(base, copy_event, mapping, calendar)
    return replace(original, master=new_master, overrides=overrides)
