"""Field-level three-way merge of two edits of one object, and which edit is newer.

Pure: the planner brings both edits into the original's terms first, and merges a series
whose occurrences were added or removed as a whole.
"""

from __future__ import annotations

from dataclasses import fields, replace

from calsyncd.model.event import CalendarObject, Event

_EVENT_FIELDS = tuple(f.name for f in fields(Event) if f.name not in ("created", "extra"))


def newer(a: CalendarObject, b: CalendarObject) -> bool:
    """Whether ``a`` was modified later than ``b`` (unknown times count as oldest)."""
    ta, tb = a.first.last_modified, b.first.last_modified
    if ta is None:
        return False
    return tb is None or ta > tb


def merge_fields(
    base: CalendarObject, ours: CalendarObject, theirs: CalendarObject, *, theirs_newer: bool
) -> CalendarObject:
    """``ours`` with every field ``theirs`` changed since ``base``; a field both changed takes
    the newer edit. The three hold the same occurrences (``ours``' overrides are kept)."""

    def merge_event(b: Event | None, o: Event | None, t: Event | None) -> Event | None:
        if b is None or o is None or t is None:
            return o
        values: dict[str, object] = {}
        for name in _EVENT_FIELDS:
            bv, ov, tv = getattr(b, name), getattr(o, name), getattr(t, name)
            if bv not in (ov, tv) and ov != tv:
                values[name] = tv if theirs_newer else ov
            elif tv != bv:
                values[name] = tv
            else:
                values[name] = ov
        return replace(o, **values)  # type: ignore[arg-type]

    master = merge_event(base.master, ours.master, theirs.master)
    overrides = {
        rid: merge_event(base.overrides[rid], event, theirs.overrides.get(rid)) or event
        for rid, event in ours.overrides.items()
    }
    return replace(ours, master=master, overrides=overrides)
