"""The Google provider against the emulator: listings, writes, series, retries, threads."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import anyio
import pytest
from conformance import samples
from emulators.fixtures import USER, GoogleSetup
from emulators.google import FAULT_KINDS, Faults, foreign
from google_helpers import WRITES, stored_events, view

from calsyncd.errors import (
    CalendarNotFound,
    MalformedObject,
    NotFound,
    RateLimited,
    ReadOnlyError,
    TemporaryError,
)
from calsyncd.model.event import (
    Attendee,
    CalendarObject,
    Event,
    Marker,
    Person,
    Response,
    Status,
)
from calsyncd.providers.google import RetryPolicy

pytestmark = pytest.mark.anyio
BERLIN = ZoneInfo("Europe/Berlin")


def marked(obj: CalendarObject, key: str) -> CalendarObject:
    return obj.with_marker(Marker("rule", f"origin-{obj.uid}", key))


def live_masters(google: GoogleSetup) -> list[dict[str, object]]:
    return [
        e
        for e in stored_events(google).values()
        if e["status"] != "cancelled" and "recurringEventId" not in e
    ]


# -- listings -------------------------------------------------------------------------------


async def test_listings_page_and_the_sync_token_comes_last(google: GoogleSetup) -> None:
    for n in range(10):
        foreign.seed(google.emulator.store, USER, samples.single(f"p-{n}@x"))
    async with google.calendar(page_size=3) as calendar:
        full = await calendar.list_changes(None)
        assert len(full.items) == 10
        assert google.emulator.count("events.list") == 4
        for n in range(10, 17):
            foreign.seed(google.emulator.store, USER, samples.single(f"p-{n}@x"))
        google.emulator.reset_log()
        changes = await calendar.list_changes(full.cursor)
    assert not changes.full
    assert sorted(i.obj.uid for i in changes.items) == [f"p-{n}@x" for n in range(10, 17)]
    assert google.emulator.count("events.list") == 3
    pages = [r.query for r in google.emulator.requests]
    assert "pageToken" not in pages[0]
    assert all("pageToken" in q for q in pages[1:])
    assert all("syncToken" in q for q in pages)


async def test_expired_sync_token_means_one_full_listing(google: GoogleSetup) -> None:
    for n in range(5):
        foreign.seed(google.emulator.store, USER, samples.single(f"x-{n}@x"))
    async with google.calendar() as calendar:
        cursor = (await calendar.list_changes(None)).cursor
        google.emulator.store.expire_sync_tokens(USER)
        google.emulator.reset_log()
        again = await calendar.list_changes(cursor)
        assert again.full
        assert sorted(i.obj.uid for i in again.items) == [f"x-{n}@x" for n in range(5)]
        assert [r.status for r in google.emulator.requests] == [410, 200]
        quiet = await calendar.list_changes(again.cursor)
    assert (quiet.full, quiet.items, quiet.deleted) == (False, [], [])


async def test_a_cursor_of_another_calendar_gives_a_full_listing(google: GoogleSetup) -> None:
    google.emulator.add_calendar("other@example.com")
    async with google.calendar("other@example.com") as other:
        cursor = (await other.list_changes(None)).cursor
    async with google.calendar() as calendar:
        changes = await calendar.list_changes(cursor)
    assert changes.full
    assert "syncToken" not in google.emulator.requests[-1].query


async def test_an_unknown_calendar(google: GoogleSetup) -> None:
    async with google.calendar("nobody@example.com") as calendar:
        with pytest.raises(CalendarNotFound):
            await calendar.list_changes(None)


async def test_a_cancelled_occurrence_changes_the_series_item(google: GoogleSetup) -> None:
    store = google.emulator.store
    event_id = foreign.seed(store, USER, samples.series("s-1@x"))
    async with google.calendar() as calendar:
        full = await calendar.list_changes(None)
        (before,) = full.items
        # another client deletes one more occurrence: 2030-04-08 09:00 New York
        store.delete(USER, f"{event_id}_20300408T130000Z", if_match=None)
        google.emulator.reset_log()
        changes = await calendar.list_changes(full.cursor)
    (after,) = changes.items
    assert after.id == before.id == event_id
    assert after.etag != before.etag
    assert changes.deleted == []
    assert len(after.obj.overrides) == 3
    rid = datetime(2030, 4, 8, 9, tzinfo=samples.NEW_YORK)
    assert after.obj.overrides[rid].status is Status.CANCELLED
    assert google.emulator.operations()["events.list"] == 2  # changes + the series' members


async def test_deleting_a_series_reports_its_id_once(google: GoogleSetup) -> None:
    event_id = foreign.seed(google.emulator.store, USER, samples.series("s-2@x"))
    async with google.calendar() as calendar:
        cursor = (await calendar.list_changes(None)).cursor
        google.emulator.store.delete(USER, event_id, if_match=None)
        changes = await calendar.list_changes(cursor)
    assert (changes.items, changes.deleted) == ([], [event_id])


async def test_get_of_an_occurrence_id_is_not_found(google: GoogleSetup) -> None:
    event_id = foreign.seed(google.emulator.store, USER, samples.series("s-3@x"))
    async with google.calendar() as calendar:
        with pytest.raises(NotFound, match="occurrence"):
            await calendar.get(f"{event_id}_20300401T130000Z")


# -- mapping through the wire ---------------------------------------------------------------


async def test_people_reminders_and_url_round_trip(google: GoogleSetup) -> None:
    obj = samples.single(
        "people@x",
        title="People",
        attendees=(
            Attendee("ana@firm.example", "Ana A.", Response.ACCEPTED),
            Attendee("bo@firm.example", None, Response.DECLINED, optional=True),
            Attendee("cy@firm.example", "Cy", Response.TENTATIVE),
            Attendee("di@firm.example", None, Response.NEEDS_ACTION),
        ),
        reminders=(timedelta(0), timedelta(minutes=10), timedelta(hours=2)),
        url="https://example.org/e/1",
    )
    async with google.calendar() as calendar:
        item = await calendar.create(marked(obj, "cspeople0001"), "cspeople0001")
        got = (await calendar.get(item.id)).obj
    assert view(got) == view(obj)
    assert got.master is not None
    assert got.master.organizer == Person(USER, USER)  # Google's: the calendar


async def test_conference_links_are_read(google: GoogleSetup) -> None:
    store = google.emulator.store
    base = foreign.event_json(samples.single("meet@x").master)  # type: ignore[arg-type]
    meet = store.insert(USER, {**base, "iCalUID": "meet@x"}, owner=USER)
    store.calendar(USER).events[meet["id"]].data["hangoutLink"] = "https://meet.google.com/abc"
    video = {"entryPointType": "video", "uri": "https://zoom.example/j/1"}
    data = {**base, "iCalUID": "zoom@x"}
    zoom = store.insert(USER, data, owner=USER)
    store.calendar(USER).events[zoom["id"]].data["conferenceData"] = {"entryPoints": [video]}
    async with google.calendar() as calendar:
        listed = {i.obj.uid: i.obj for i in (await calendar.list_changes(None)).items}
    assert listed["meet@x"].master.conference_url == "https://meet.google.com/abc"  # type: ignore[union-attr]
    assert listed["zoom@x"].master.conference_url == "https://zoom.example/j/1"  # type: ignore[union-attr]


async def test_default_reminders_read_as_the_calendars(google: GoogleSetup) -> None:
    google.emulator.store.calendar(USER).default_reminders = [{"method": "popup", "minutes": 30}]
    body = foreign.event_json(samples.single("d@x").master)  # type: ignore[arg-type]
    google.emulator.store.insert(USER, {**body, "reminders": {"useDefault": True}}, owner=USER)
    async with google.calendar() as calendar:
        (item,) = (await calendar.list_changes(None)).items
        fetched = await calendar.get(item.id)
    assert item.obj.master.reminders == (timedelta(minutes=30),)  # type: ignore[union-attr]
    assert fetched.obj == item.obj


async def test_floating_times_are_written_in_the_calendars_zone(google: GoogleSetup) -> None:
    start = datetime(2030, 8, 1, 7, 0)
    obj = samples.single("float@x", start=start, end=start + timedelta(hours=1))
    async with google.calendar() as calendar:
        item = await calendar.create(obj, "csfloat00001")
    stored = google.emulator.store.calendar(USER).events[item.id].data
    assert stored["start"]["timeZone"] == "Europe/Berlin"
    assert stored["extendedProperties"]["private"]["calsyncd.floating"] == "Europe/Berlin"
    assert item.obj.master is not None
    assert item.obj.master.start == start


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"reminders": tuple(timedelta(minutes=m) for m in range(6))}, "at most 5 reminders"),
        ({"reminders": (timedelta(seconds=30),)}, "whole minutes"),
        ({"attendees": (Attendee("a@x", None, Response.DELEGATED),)}, "delegated"),
        ({"status": Status.CANCELLED}, "deleted one"),
        ({"url": "ftp://example.org/x"}, "http"),
    ],
)
async def test_what_google_cannot_store_is_refused_before_any_write(
    google: GoogleSetup, change: dict[str, object], reason: str
) -> None:
    obj = samples.single("refused@x")
    assert obj.master is not None
    bad = replace(obj, master=replace(obj.master, **change))  # type: ignore[arg-type]
    async with google.calendar() as calendar:
        with pytest.raises(MalformedObject, match=reason):
            await calendar.create(bad, "csrefused001")
    assert not any(google.emulator.count(w) for w in WRITES)


async def test_an_override_that_is_no_occurrence_is_refused(google: GoogleSetup) -> None:
    obj = samples.series("nope@x")
    assert obj.master is not None
    odd = datetime(2030, 3, 5, 9, tzinfo=samples.NEW_YORK)  # a Tuesday: not in the rule
    extra = replace(
        obj.master,
        recurrence_id=odd,
        start=odd,
        end=odd + timedelta(hours=1),
        rrules=(),
        rdates=(),
        exdates=(),
    )
    async with google.calendar() as calendar:
        with pytest.raises(MalformedObject, match="not an occurrence"):
            await calendar.create(replace(obj, overrides={odd: extra}), "csnope000001")


async def test_a_read_only_calendar(google: GoogleSetup) -> None:
    google.emulator.add_calendar("holidays@example.com", writable=False)
    async with google.calendar("holidays@example.com") as calendar:
        with pytest.raises(ReadOnlyError):  # Google's 403 requiredAccessLevel
            await calendar.create(samples.single("ro@x"), "csreadonly01")
        await calendar.list_changes(None)  # says accessRole: reader
        assert calendar.capabilities.read_only
        with pytest.raises(ReadOnlyError):
            await calendar.create(samples.single("ro@x"), "csreadonly01")
    assert google.emulator.count("events.insert") == 1


# -- writes ---------------------------------------------------------------------------------


async def test_writes_never_notify_attendees(google: GoogleSetup) -> None:
    obj = marked(samples.series("notify@x"), "csnotify0001")
    async with google.calendar() as calendar:
        item = await calendar.create(obj, "csnotify0001")
        item = await calendar.update(item.id, obj.with_marker(None), item.etag)
        await calendar.delete(item.id, item.etag)
    writes = [r for r in google.emulator.requests if r.operation in WRITES]
    assert {r.operation for r in writes} == {"events.insert", "events.patch", "events.delete"}
    assert all(r.query["sendUpdates"] == ["none"] for r in writes)


async def test_create_of_a_deleted_copy_restores_it(google: GoogleSetup) -> None:
    obj = marked(samples.series("again@x"), "csagain00001")
    async with google.calendar() as calendar:
        first = await calendar.create(obj, "csagain00001")
        await calendar.delete(first.id, first.etag)
        again = await calendar.create(obj, "csagain00001")
        listed = (await calendar.list_changes(None)).items
    assert again.id == first.id
    assert [i.id for i in listed] == [first.id]
    assert view(listed[0].obj) == view(obj)
    assert listed[0].etag == again.etag
    assert len(listed[0].obj.overrides) == 2


async def test_a_half_made_series_is_completed_by_the_retried_create(google: GoogleSetup) -> None:
    obj = marked(samples.series("half@x"), "cshalf000001")
    async with google.calendar() as calendar:
        await calendar.create(replace(obj, overrides={}), "cshalf000001")  # "crashed" here
        item = await calendar.create(obj, "cshalf000001")
        listed = (await calendar.list_changes(None)).items
    assert [i.id for i in listed] == [item.id]
    assert view(item.obj) == view(obj)
    assert listed[0].etag == item.etag


async def test_series_updates_move_cancel_and_restore_occurrences(google: GoogleSetup) -> None:
    obj = marked(samples.series("upd@x"), "csupdate0001")
    assert obj.master is not None
    moved_rid, cancelled_rid = sorted(obj.overrides, key=lambda d: d.timestamp())
    master = replace(obj.master, title="Weekly review (renamed)")
    new_cancel = datetime(2030, 4, 15, 9, tzinfo=samples.NEW_YORK)

    def cancelled(rid: datetime) -> Event:  # Google keeps no more of a cancelled occurrence
        return replace(
            master,
            recurrence_id=rid,
            start=rid,
            end=rid + timedelta(hours=1),
            status=Status.CANCELLED,
            rrules=(),
            rdates=(),
            exdates=(),
        )

    changed = replace(
        obj,
        master=master,
        overrides={cancelled_rid: cancelled(cancelled_rid), new_cancel: cancelled(new_cancel)},
    )  # the moved occurrence is back in place, another one is cancelled
    async with google.calendar() as calendar:
        item = await calendar.create(obj, "csupdate0001")
        updated = await calendar.update(item.id, changed, item.etag)
        listed = {i.id: i for i in (await calendar.list_changes(None)).items}
    assert view(updated.obj) == view(changed)
    assert listed[item.id].etag == updated.etag
    assert view(listed[item.id].obj) == view(changed)
    assert moved_rid not in listed[item.id].obj.overrides


async def test_a_series_can_become_a_single_event_and_back(google: GoogleSetup) -> None:
    obj = marked(samples.series("flip@x"), "csflip000001")
    assert obj.master is not None
    single = replace(
        obj, master=replace(obj.master, rrules=(), rdates=(), exdates=()), overrides={}
    )
    async with google.calendar() as calendar:
        item = await calendar.create(obj, "csflip000001")
        flat = await calendar.update(item.id, single, item.etag)
        assert view(flat.obj) == view(single)
        again = await calendar.update(item.id, obj, flat.etag)
        fetched = await calendar.get(item.id)
    assert view(again.obj) == view(obj)
    assert fetched.etag == again.etag


async def test_all_day_series_override_ids(google: GoogleSetup) -> None:
    async with google.calendar() as calendar:
        item = await calendar.create(samples.all_day_series("ad@x"), "csallday0001")
    assert f"{item.id}_20320704" in google.emulator.store.calendar(USER).events


# -- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("operation", ["create", "update", "delete", "list"])
async def test_each_fault_is_survived_without_duplicates(
    google: GoogleSetup, kind: str, operation: str
) -> None:
    obj = marked(samples.single("f@x", title="v1"), "csfault00001")
    assert obj.master is not None
    v2 = replace(obj, master=replace(obj.master, title="v2"))
    google.emulator.faults = Faults(retry_after=(0, 0))
    async with google.calendar() as calendar:
        if operation != "create":
            item = await calendar.create(obj, "csfault00001")
        google.emulator.fail_next(kind, kind)
        if operation == "create":
            item = await calendar.create(obj, "csfault00001")
            assert [e["id"] for e in live_masters(google)] == [item.id]
        elif operation == "update":
            item = await calendar.update(item.id, v2, item.etag)
            assert (await calendar.get(item.id)).etag == item.etag
            assert item.obj.master is not None
            assert item.obj.master.title == "v2"
        elif operation == "delete":
            try:
                await calendar.delete(item.id, item.etag)
            except NotFound:  # our first, unanswered delete did it
                assert kind == "drop-after"
            assert live_masters(google) == []
        else:
            assert len((await calendar.list_changes(None)).items) == 1
    faulted = [r for r in google.emulator.requests if r.fault == kind]
    assert len(faulted) == 2


async def test_retry_after_is_honoured(google: GoogleSetup) -> None:
    google.emulator.faults = Faults(retry_after=(1, 1))
    google.emulator.fail_next("429")
    async with google.calendar() as calendar:
        started = time.monotonic()
        await calendar.list_changes(None)
        assert time.monotonic() - started >= 1.0


async def test_retries_give_up_with_a_temporary_error(google: GoogleSetup) -> None:
    google.emulator.fail_next("500", "503", "500")
    async with google.calendar(retry=RetryPolicy(attempts=3, base=0.01, cap=0.01)) as calendar:
        with pytest.raises(TemporaryError, match="after 3 attempts") as caught:
            await calendar.list_changes(None)
    assert not isinstance(caught.value, RateLimited)


async def test_a_long_retry_after_goes_to_the_supervisor(google: GoogleSetup) -> None:
    google.emulator.faults = Faults(retry_after=(30, 30))
    google.emulator.fail_next("429")
    async with google.calendar() as calendar:
        with pytest.raises(RateLimited) as caught:
            await calendar.list_changes(None)
    assert caught.value.retry_after == 30
    assert google.emulator.count("events.list") == 1


async def test_quota_exceeded_backs_off_long_and_says_so(google: GoogleSetup) -> None:
    google.emulator.fail_next("403-quota")
    async with google.calendar() as calendar:
        with pytest.raises(RateLimited, match="usage limit exceeded") as caught:
            await calendar.create(samples.single("q@x"), "csquota00001")
    assert caught.value.retry_after == 3600
    assert google.emulator.count("events.insert") == 1


# -- threads --------------------------------------------------------------------------------


async def test_requests_run_off_the_event_loop(google: GoogleSetup) -> None:
    google.emulator.latency = (0.3, 0.3)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await anyio.sleep(0.01)
            ticks += 1

    async with google.calendar() as calendar, anyio.create_task_group() as tasks:
        tasks.start_soon(tick)
        await calendar.list_changes(None)
        tasks.cancel_scope.cancel()
    assert ticks >= 15


async def test_concurrency_is_bounded_per_calendar(google: GoogleSetup) -> None:
    ids = [foreign.seed(google.emulator.store, USER, samples.single(f"c-{n}@x")) for n in range(8)]
    google.emulator.latency = (0.05, 0.05)
    async with google.calendar(max_concurrency=2) as calendar:
        assert calendar.capabilities.max_concurrency == 2
        async with anyio.create_task_group() as tasks:
            for event_id in ids:
                tasks.start_soon(calendar.get, event_id)
    assert google.emulator.max_in_flight == 2


async def test_all_day_and_zoned_events_list_in_their_own_zones(google: GoogleSetup) -> None:
    objects = [
        samples.single("z-1@x", start=date(2030, 1, 1), end=date(2030, 1, 2)),
        samples.single("z-2@x", start=datetime(2030, 1, 1, 9, tzinfo=ZoneInfo("Asia/Tokyo"))),
        samples.single("z-3@x", start=datetime(2030, 1, 1, 9, tzinfo=BERLIN), title="x"),
    ]
    for obj in objects:
        foreign.seed(google.emulator.store, USER, obj)
    async with google.calendar() as calendar:
        listed = {i.obj.uid: i.obj for i in (await calendar.list_changes(None)).items}
    for obj in objects:
        assert view(listed[obj.uid]) == view(obj)
