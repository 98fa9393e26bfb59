"""Series as Google stores them (a master event and its exceptions), and which exception
writes make a stored series say what a model object says (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from calsyncd.model.event import CalendarObject, Event, Status, When
from calsyncd.providers.google import mapping
from calsyncd.providers.google.ids import instance_id, master_of
from calsyncd.providers.google.mapping import Resource, Zones


@dataclass(slots=True)
class Series:
    """A master (``None`` if unknown or gone) and its exceptions as stored."""

    master: Resource | None
    exceptions: list[Resource] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.master is not None and self.master.get("status") != "cancelled"


def counted(master: Resource | None, exceptions: Iterable[Resource]) -> list[Resource]:
    """The exceptions that belong to the object: none for an event without recurrence."""
    if master is not None and not master.get("recurrence"):
        return []
    return list(exceptions)


def group(items: Iterable[Resource]) -> tuple[dict[str, Resource], dict[str, dict[str, Resource]]]:
    """Listed events as ``({id: master}, {master id: {id: exception}})``; later copies win."""
    masters: dict[str, Resource] = {}
    exceptions: dict[str, dict[str, Resource]] = {}
    for resource in items:
        event_id = resource.get("id")
        if not isinstance(event_id, str):
            continue
        parent = resource.get("recurringEventId")
        if not parent and resource.get("status") == "cancelled":
            parent = master_of(event_id)  # a deleted instance may carry only its id
        if isinstance(parent, str) and parent:
            exceptions.setdefault(parent, {})[event_id] = resource
        else:
            masters[event_id] = resource
    return masters, exceptions


@dataclass(frozen=True, slots=True)
class ExceptionWrite:
    """One ``events.patch`` of an occurrence: ``target`` is its id, ``existing`` the exception
    stored there (``None``: the occurrence has none yet, so no ``If-Match``)."""

    target: str
    original_start: When
    body: Resource
    existing: Resource | None


def same_override(now: Event, wanted: Event) -> bool:
    """Whether a stored exception already says what an override says (all Google keeps of
    a cancelled occurrence is that it is cancelled)."""
    if wanted.status is Status.CANCELLED or now.status is Status.CANCELLED:
        return wanted.status is now.status
    return mapping.same_event(now, wanted)


def override_body(
    event: Event, floating: str | None, private: Mapping[str, str | None]
) -> Resource:
    if event.status is Status.CANCELLED:
        return {"status": "cancelled", "extendedProperties": {"private": dict(private)}}
    body = mapping.event_body(event, floating, master=False)
    body["extendedProperties"] = {"private": dict(private)}
    return body


def plan_exceptions(
    event_id: str,
    obj: CalendarObject,
    series: Series,
    *,
    zones: Zones,
    floating: str | None,
    nonce: str,
    only_missing: bool = False,
) -> list[ExceptionWrite]:
    """The exception writes after the master is written: every override that is not stored
    as it is, and every stored exception no override wants any more, set back to the plain
    occurrence (Google cannot remove an exception). ``only_missing``: only occurrences that
    have no exception yet (completing an interrupted create)."""
    master = series.master
    if master is None or not master.get("recurrence"):
        return []
    zones = mapping.object_zones(master, zones)
    master_event = mapping.read_event(master, zones)
    floating_zone = mapping.zone_named(floating) if floating else None
    current: dict[str, tuple[When, Resource]] = {}
    for resource in series.exceptions:
        rid = mapping.read_time(resource.get("originalStartTime"), zones, what="originalStartTime")
        current[instance_id(event_id, rid, floating_zone)] = (rid, resource)
    private = mapping.private_body(obj, floating, nonce)
    writes: list[ExceptionWrite] = []
    wanted = {
        instance_id(event_id, rid, floating_zone): (rid, e) for rid, e in obj.overrides.items()
    }
    for iid, (rid, event) in wanted.items():
        _, existing = current.get(iid, (rid, None))
        if existing is not None:
            _, now = mapping.read_override(existing, master_event, zones)
            if only_missing or (now is not None and same_override(now, event)):
                continue
        target = str(existing["id"]) if existing is not None else iid
        writes.append(
            ExceptionWrite(target, rid, override_body(event, floating, private), existing)
        )
    if only_missing:
        return writes
    for iid, (rid, existing) in current.items():
        if iid in wanted:
            continue
        _, now = mapping.read_override(existing, master_event, zones)
        plain = mapping.occurrence(master_event, rid)
        if (
            now is not None
            and now.status is not Status.CANCELLED
            and mapping.same_event(now, plain)
        ):
            continue
        body = override_body(plain, floating, private)
        writes.append(ExceptionWrite(str(existing["id"]), rid, body, existing))
    return writes


def applied(current: Resource, body: Resource) -> bool:
    """Whether ``current`` is what writing ``body`` made (its nonce, or a cancel done)."""
    if body.get("status") == "cancelled":
        return current.get("status") == "cancelled"
    wanted = body.get("extendedProperties", {}).get("private", {}).get(mapping.PRIVATE_WRITE)
    return bool(wanted) and mapping.private_properties(current).get(mapping.PRIVATE_WRITE) == wanted
