"""The provider conformance suite: what every :class:`~calsyncd.providers.base.Calendar` does.

A provider plugs in by subclassing :class:`ProviderContract` in a ``test_*.py`` module and
overriding one fixture, ``backend``, that returns a :class:`Backend` for a fresh, empty
calendar::

    class TestLocal(ProviderContract):
        @pytest.fixture
        def backend(self, tmp_path: Path) -> Backend:
            return LocalBackend(tmp_path / "cal")

The suite opens calendars through the backend (``calendar`` fixture), fills read-only ones
with :meth:`Backend.seed`, and plays "another client" with :meth:`Backend.replace`,
:meth:`Backend.remove` and :meth:`Backend.add_malformed`. Missing capabilities
(``calendar.capabilities``) and fields a provider cannot store (``unsupported_fields``) turn
into explicit skips, never into passes.
"""

from __future__ import annotations

import dataclasses
import hashlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

import anyio
import pytest

from calsyncd.errors import NotFound, PreconditionFailed, ReadOnlyError
from calsyncd.model.event import CalendarObject, ExtraProperty, Marker
from calsyncd.providers.base import Calendar, Changes, Item, Window
from calsyncd.sync.keys import anonymous_key, copy_uid
from conformance import samples
from conformance.samples import object_view


class Backend(ABC):
    """How the suite reaches one provider's store around the provider under test."""

    @abstractmethod
    def open(self) -> Calendar:
        """A new provider instance on the store; each call a new one (the suite closes them)."""

    @abstractmethod
    async def seed(self, objects: Sequence[CalendarObject]) -> None:
        """Add objects as another client would (how read-only calendars get content)."""

    @abstractmethod
    async def replace(self, item_id: str, obj: CalendarObject) -> None:
        """Overwrite the stored object ``item_id`` behind the provider's back."""

    @abstractmethod
    async def remove(self, item_id: str) -> None:
        """Delete the stored object ``item_id`` behind the provider's back."""

    @abstractmethod
    async def add_malformed(self) -> str:
        """Store one unreadable object; return a text (its id, UID or file name) that the
        listing's ``Skipped`` entry must name in its id or reason."""


def key_of(obj: CalendarObject) -> str:
    """The idempotency key the engine would create ``obj`` with (its marker's key)."""
    if obj.marker is not None:
        return obj.marker.key
    return "k" + hashlib.sha256(obj.uid.encode()).hexdigest()[:20]


def marked(obj: CalendarObject, key: str) -> CalendarObject:
    """``obj`` as the engine creates it: a copy marked with its key."""
    return obj.with_marker(Marker(rule="contract", origin=f"origin-of-{obj.uid}", key=key))


@pytest.mark.anyio
class ProviderContract:
    """The shared tests. Subclasses override the ``backend`` fixture (and maybe
    ``unsupported_fields``: model fields the provider cannot store, tested as skips)."""

    unsupported_fields: ClassVar[frozenset[str]] = frozenset()
    """Model fields (``Event`` field names, or ``marker``) the provider does not keep verbatim,
    e.g. ``extra`` or server-set ``last_modified``: left out of comparisons, and the tests
    about them are skipped with a reason."""

    # -- plumbing ----------------------------------------------------------------------------

    @pytest.fixture
    def backend(self) -> Backend:
        raise NotImplementedError("a provider's test class must override the backend fixture")

    @pytest.fixture
    async def calendar(self, backend: Backend) -> AsyncIterator[Calendar]:
        async with backend.open() as calendar:
            yield calendar

    def skip_unless(self, calendar: Calendar, capability: str) -> None:
        if not getattr(calendar.capabilities, capability):
            pytest.skip(f"{type(calendar).__name__} lacks {capability}")

    def skip_if_read_only(self, calendar: Calendar) -> None:
        if calendar.capabilities.read_only:
            pytest.skip(f"{type(calendar).__name__} is read-only (lacks writes)")

    def skip_unless_fields(self, *names: str) -> None:
        missing = sorted(set(names) & self.unsupported_fields)
        if missing:
            pytest.skip(f"{type(self).__name__} lacks fields {', '.join(missing)}")

    async def store(self, backend: Backend, calendar: Calendar, obj: CalendarObject) -> Item:
        """Put ``obj`` in the calendar: created by us, or seeded when the calendar is read-only."""
        if not calendar.capabilities.read_only:
            return await calendar.create(obj, key_of(obj))
        await backend.seed([obj])
        return await self.find(calendar, obj.uid)

    async def store_many(
        self, backend: Backend, calendar: Calendar, objects: Sequence[CalendarObject]
    ) -> list[Item]:
        if not calendar.capabilities.read_only:
            return [await calendar.create(obj, key_of(obj)) for obj in objects]
        await backend.seed(objects)
        listed = await self.full(calendar)
        return [listed[obj.uid] for obj in objects]

    async def full(self, calendar: Calendar) -> dict[str, Item]:
        """A full listing, by UID."""
        changes = await calendar.list_changes(None)
        assert changes.full
        return {item.obj.uid: item for item in changes.items}

    async def find(self, calendar: Calendar, uid: str) -> Item:
        listed = await self.full(calendar)
        assert uid in listed, f"{uid!r} not listed; listed: {sorted(listed)}"
        return listed[uid]

    async def round_trip(
        self, backend: Backend, calendar: Calendar, obj: CalendarObject
    ) -> CalendarObject:
        """Store ``obj``, read it back by listing and by ``get``, check both, return it."""
        stored = await self.store(backend, calendar, obj)
        listed = await self.find(calendar, obj.uid)
        fetched = await calendar.get(stored.id)
        assert listed.id == stored.id == fetched.id
        assert object_view(fetched.obj, self.skipped_fields(calendar)) == object_view(
            listed.obj, self.skipped_fields(calendar)
        )
        self.assert_same(listed.obj, obj, calendar)
        return listed.obj

    def skipped_fields(self, calendar: Calendar) -> set[str]:
        skipped = set(self.unsupported_fields)
        if not calendar.capabilities.markers:
            skipped.add("marker")
        return skipped

    def assert_same(self, got: CalendarObject, want: CalendarObject, calendar: Calendar) -> None:
        skip = self.skipped_fields(calendar)
        assert object_view(got, skip) == object_view(want, skip)

    async def assert_no_changes(self, calendar: Calendar, cursor: str | None) -> Changes:
        changes = await calendar.list_changes(cursor)
        assert not changes.full
        assert changes.items == []
        assert changes.deleted == []
        assert changes.cursor is not None
        return changes

    async def cursor_now(self, calendar: Calendar) -> str:
        self.skip_unless(calendar, "incremental")
        changes = await calendar.list_changes(None)
        assert changes.cursor is not None
        return changes.cursor

    # -- round trips -------------------------------------------------------------------------

    async def test_round_trip_every_field(self, backend: Backend, calendar: Calendar) -> None:
        # compares every field but the unsupported ones; those have their own (skipped) tests
        await self.round_trip(backend, calendar, samples.rich("rich-1@contract.example"))

    async def test_round_trip_text_fields(self, backend: Backend, calendar: Calendar) -> None:
        obj = samples.rich("text-1@contract.example")
        assert obj.master is not None
        master = dataclasses.replace(
            obj.master, attendees=(), organizer=None, reminders=(), extra=()
        )
        got = await self.round_trip(backend, calendar, dataclasses.replace(obj, master=master))
        assert got.master is not None
        assert got.master.title == "Hearing: Smith v. Jones"
        assert got.master.location == master.location
        assert got.master.description == master.description

    async def test_round_trip_people(self, backend: Backend, calendar: Calendar) -> None:
        self.skip_unless_fields("organizer", "attendees")
        rich = samples.rich("people-1@contract.example")
        assert rich.master is not None
        obj = samples.single(
            "people-1@contract.example",
            title="People",
            organizer=rich.master.organizer,
            attendees=rich.master.attendees,
        )
        got = await self.round_trip(backend, calendar, obj)
        assert got.master is not None
        responses = {a.email: a.response for a in got.master.attendees}
        assert responses == {a.email: a.response for a in rich.master.attendees}

    async def test_round_trip_reminders_and_urls(
        self, backend: Backend, calendar: Calendar
    ) -> None:
        self.skip_unless_fields("reminders", "conference_url", "url")
        obj = samples.single(
            "remind-1@contract.example",
            title="Reminded",
            reminders=(timedelta(0), timedelta(minutes=10), timedelta(hours=2)),
            conference_url="https://meet.example/j/987",
            url="https://example.org/e/1",
        )
        await self.round_trip(backend, calendar, obj)

    async def test_round_trip_marker(self, backend: Backend, calendar: Calendar) -> None:
        self.skip_unless(calendar, "markers")
        obj = marked(samples.single("marked-1@contract.example", title="Copy"), "key-marked-1")
        got = await self.round_trip(backend, calendar, obj)
        assert got.marker == obj.marker

    async def test_round_trip_anonymous_marker(self, backend: Backend, calendar: Calendar) -> None:
        """An anonymous copy: its opaque key alone, and a UID of its own made from it."""
        self.skip_unless(calendar, "markers")
        key = anonymous_key(bytes(32), "contract", "source", "anonymous-1@contract.example")
        obj = samples.single(copy_uid(key), title="Busy").with_marker(Marker.anonymous(key))
        got = await self.round_trip(backend, calendar, obj)
        assert got.marker == Marker.anonymous(key)
        assert got.uid == copy_uid(key)

    async def test_a_marker_made_anonymous_keeps_nothing_else(self, calendar: Calendar) -> None:
        """A marked copy rewritten with its key alone loses its rule and origin."""
        self.skip_if_read_only(calendar)
        self.skip_unless(calendar, "markers")
        obj = marked(samples.single("unname-1@contract.example"), "key-unname-1")
        item = await calendar.create(obj, "key-unname-1")
        anonymous = obj.with_marker(Marker.anonymous("key-unname-1"))
        updated = await calendar.update(item.id, anonymous, item.etag)
        fetched = await calendar.get(updated.id)
        assert fetched.obj.marker == Marker.anonymous("key-unname-1")

    async def test_round_trip_extra_properties(self, backend: Backend, calendar: Calendar) -> None:
        self.skip_unless_fields("extra")
        extra = (
            ExtraProperty("X-ALPHA", "X-ALPHA:one"),
            ExtraProperty("X-BETA", "X-BETA;X-P=Q:two, with comma"),
        )
        obj = samples.single("extra-1@contract.example", title="Extras", extra=extra)
        got = await self.round_trip(backend, calendar, obj)
        assert got.master is not None
        assert got.master.extra == extra

    async def test_all_day(self, backend: Backend, calendar: Calendar) -> None:
        objects = [
            samples.single(
                "allday-1@contract.example", start=date(2030, 1, 1), end=date(2030, 1, 2)
            ),
            samples.single(
                "allday-3@contract.example", start=date(2030, 2, 1), end=date(2030, 2, 4)
            ),
        ]
        for obj in objects:
            got = await self.round_trip(backend, calendar, obj)
            assert got.master is not None
            assert got.master.all_day

    async def test_all_day_series(self, backend: Backend, calendar: Calendar) -> None:
        self.skip_unless(calendar, "series")
        await self.round_trip(
            backend, calendar, samples.all_day_series("allday-s@contract.example")
        )

    @pytest.mark.parametrize(
        ("zone", "start"),
        [
            ("America/New_York", datetime(2030, 3, 9, 23, 0, tzinfo=samples.NEW_YORK)),
            ("Asia/Kolkata", datetime(2030, 6, 1, 9, 30, tzinfo=samples.KOLKATA)),
            ("UTC", datetime(2030, 6, 1, 12, 0, tzinfo=UTC)),
        ],
    )
    async def test_time_zones(
        self, backend: Backend, calendar: Calendar, zone: str, start: datetime
    ) -> None:
        # New York: 23:00 to 05:00 crosses the 2030-03-10 DST change (5 real hours, not 6).
        obj = samples.single(
            f"zone-{zone}@contract.example", start=start, end=start + timedelta(hours=6)
        )
        got = await self.round_trip(backend, calendar, obj)
        assert got.master is not None
        assert isinstance(got.master.start, datetime)
        assert samples.zone_name(got.master.start) == zone
        assert got.master.start.replace(tzinfo=None) == start.replace(tzinfo=None)

    async def test_floating_time(self, backend: Backend, calendar: Calendar) -> None:
        start = datetime(2030, 8, 1, 7, 0)
        obj = samples.single(
            "floating-1@contract.example", start=start, end=start + timedelta(hours=1)
        )
        got = await self.round_trip(backend, calendar, obj)
        assert got.master is not None
        assert isinstance(got.master.start, datetime)
        assert got.master.start.tzinfo is None

    async def test_series_with_moved_and_cancelled_occurrences(
        self, backend: Backend, calendar: Calendar
    ) -> None:
        self.skip_unless(calendar, "series")
        obj = samples.series("series-1@contract.example")
        got = await self.round_trip(backend, calendar, obj)
        assert len(got.overrides) == 2
        zones = {samples.zone_name(rid) for rid in got.overrides if isinstance(rid, datetime)}
        assert zones == {"America/New_York"}

    async def test_unicode_text(self, backend: Backend, calendar: Calendar) -> None:
        obj = samples.single(
            "unicode-1@contract.example",
            title="Geburtstag 🎂 — Zoë’s «Feier» 日本語",
            description="Zeile eins\nZeile zwei; mit Semikolon, Komma \\ und Backslash\n\nEnde",
            location="Café Ümlaut, Straße 1",
            categories=("Privat", "Fête"),
        )
        await self.round_trip(backend, calendar, obj)

    @pytest.mark.parametrize("uid", samples.ODD_UIDS)
    async def test_odd_uids(self, backend: Backend, calendar: Calendar, uid: str) -> None:
        got = await self.round_trip(backend, calendar, samples.single(uid, title="Odd UID"))
        assert got.uid == uid

    # -- writes and preconditions ------------------------------------------------------------

    async def test_create_then_get(self, calendar: Calendar) -> None:
        self.skip_if_read_only(calendar)
        obj = marked(samples.single("create-1@contract.example", title="Created"), "key-create-1")
        item = await calendar.create(obj, "key-create-1")
        fetched = await calendar.get(item.id)
        assert fetched.id == item.id
        assert fetched.etag == item.etag
        self.assert_same(fetched.obj, obj, calendar)

    async def test_create_is_idempotent_per_key(self, calendar: Calendar) -> None:
        self.skip_if_read_only(calendar)
        obj = marked(samples.single("idem-1@contract.example", title="Once"), "key-idem-1")
        first = await calendar.create(obj, "key-idem-1")
        again = await calendar.create(obj, "key-idem-1")
        assert again.id == first.id
        assert again.etag == first.etag
        listed = (await calendar.list_changes(None)).items
        assert [item.id for item in listed] == [first.id]

    async def test_concurrent_creates_with_one_key_make_one_object(
        self, calendar: Calendar
    ) -> None:
        self.skip_if_read_only(calendar)
        obj = marked(samples.single("race-1@contract.example", title="Race"), "key-race-1")
        results: list[Item] = []

        async def create() -> None:
            results.append(await calendar.create(obj, "key-race-1"))

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(create)
        assert len({item.id for item in results}) == 1
        assert len((await calendar.list_changes(None)).items) == 1

    async def test_update_with_current_etag(self, calendar: Calendar) -> None:
        self.skip_if_read_only(calendar)
        obj = marked(samples.single("upd-1@contract.example", title="Before"), "key-upd-1")
        item = await calendar.create(obj, "key-upd-1")
        assert obj.master is not None
        changed = dataclasses.replace(obj, master=dataclasses.replace(obj.master, title="After"))
        updated = await calendar.update(item.id, changed, item.etag)
        assert updated.id == item.id
        assert updated.etag != item.etag
        fetched = await calendar.get(item.id)
        assert fetched.etag == updated.etag
        assert fetched.obj.master is not None
        assert fetched.obj.master.title == "After"

    async def test_written_etags_match_a_later_listing(
        self, backend: Backend, calendar: Calendar
    ) -> None:
        """The engine recognises its own writes by etag: a fresh instance must agree."""
        self.skip_if_read_only(calendar)
        created = await calendar.create(samples.rich("etag-1@contract.example"), "rich-key")
        obj = samples.series("etag-2@contract.example")
        made = await calendar.create(marked(obj, "key-etag-2"), "key-etag-2")
        updated = await calendar.update(made.id, marked(obj, "key-etag-2b"), made.etag)
        async with backend.open() as fresh:
            listed = {i.id: i.etag for i in (await fresh.list_changes(None)).items}
        assert listed == {created.id: created.etag, updated.id: updated.etag}

    async def test_marker_only_update_changes_the_etag(self, calendar: Calendar) -> None:
        """Adopting a copy re-marks it; the write must be visible (and stale etags refused)."""
        self.skip_if_read_only(calendar)
        self.skip_unless(calendar, "markers")
        obj = marked(samples.single("remark-1@contract.example"), "key-remark-1")
        item = await calendar.create(obj, "key-remark-1")
        updated = await calendar.update(item.id, marked(obj, "key-remark-2"), item.etag)
        assert updated.etag != item.etag
        fetched = await calendar.get(item.id)
        assert fetched.obj.marker is not None
        assert fetched.obj.marker.key == "key-remark-2"

    async def test_update_with_stale_etag_fails(self, calendar: Calendar) -> None:
        self.skip_if_read_only(calendar)
        obj = marked(samples.single("stale-1@contract.example", title="v1"), "key-stale-1")
        item = await calendar.create(obj, "key-stale-1")
        assert obj.master is not None
        v2 = dataclasses.replace(obj, master=dataclasses.replace(obj.master, title="v2"))
        v3 = dataclasses.replace(obj, master=dataclasses.replace(obj.master, title="v3"))
        await calendar.update(item.id, v2, item.etag)
        with pytest.raises(PreconditionFailed):
            await calendar.update(item.id, v3, item.etag)
        fetched = await calendar.get(item.id)
        assert fetched.obj.master is not None
        assert fetched.obj.master.title == "v2"

    async def test_delete_with_stale_etag_fails(self, calendar: Calendar) -> None:
        self.skip_if_read_only(calendar)
        obj = marked(samples.single("stale-2@contract.example", title="v1"), "key-stale-2")
        item = await calendar.create(obj, "key-stale-2")
        assert obj.master is not None
        v2 = dataclasses.replace(obj, master=dataclasses.replace(obj.master, title="v2"))
        await calendar.update(item.id, v2, item.etag)
        with pytest.raises(PreconditionFailed):
            await calendar.delete(item.id, item.etag)
        assert (await calendar.get(item.id)).id == item.id

    async def test_write_after_change_behind_our_back_fails(
        self, backend: Backend, calendar: Calendar
    ) -> None:
        self.skip_if_read_only(calendar)
        obj = marked(samples.single("behind-1@contract.example", title="ours"), "key-behind-1")
        item = await calendar.create(obj, "key-behind-1")
        assert obj.master is not None
        theirs = dataclasses.replace(obj, master=dataclasses.replace(obj.master, title="theirs"))
        await backend.replace(item.id, theirs)
        with pytest.raises(PreconditionFailed):
            await calendar.update(item.id, obj, item.etag)
        with pytest.raises(PreconditionFailed):
            await calendar.delete(item.id, item.etag)
        fetched = await calendar.get(item.id)
        assert fetched.obj.master is not None
        assert fetched.obj.master.title == "theirs"

    async def test_delete_then_missing(self, calendar: Calendar) -> None:
        self.skip_if_read_only(calendar)
        obj = marked(samples.single("gone-1@contract.example", title="Gone"), "key-gone-1")
        item = await calendar.create(obj, "key-gone-1")
        await calendar.delete(item.id, item.etag)
        with pytest.raises(NotFound):
            await calendar.get(item.id)
        with pytest.raises(NotFound):
            await calendar.update(item.id, obj, item.etag)
        with pytest.raises(NotFound):
            await calendar.delete(item.id, item.etag)
        assert (await calendar.list_changes(None)).items == []

    async def test_get_of_object_removed_behind_our_back(
        self, backend: Backend, calendar: Calendar
    ) -> None:
        item = await self.store(backend, calendar, samples.single("rm-1@contract.example"))
        await backend.remove(item.id)
        with pytest.raises(NotFound):
            await calendar.get(item.id)

    async def test_read_only_refuses_writes(self, backend: Backend, calendar: Calendar) -> None:
        if not calendar.capabilities.read_only:
            pytest.skip(f"{type(calendar).__name__} is writable: nothing to refuse")
        obj = samples.single("ro-1@contract.example", title="Read only")
        item = await self.store(backend, calendar, obj)
        with pytest.raises(ReadOnlyError):
            await calendar.create(samples.single("ro-2@contract.example"), "key-ro-2")
        with pytest.raises(ReadOnlyError):
            await calendar.update(item.id, obj, item.etag)
        with pytest.raises(ReadOnlyError):
            await calendar.delete(item.id, item.etag)
        assert set(await self.full(calendar)) == {obj.uid}

    # -- listings ----------------------------------------------------------------------------

    async def test_empty_full_listing(self, calendar: Calendar) -> None:
        changes = await calendar.list_changes(None)
        assert changes.full
        assert changes.items == []
        assert changes.deleted == []
        assert changes.skipped == []

    async def test_full_listing_lists_everything(
        self, backend: Backend, calendar: Calendar
    ) -> None:
        objects = [samples.single(f"many-{n}@contract.example", title=f"#{n}") for n in range(25)]
        stored = await self.store_many(backend, calendar, objects)
        changes = await calendar.list_changes(None)
        assert changes.full
        assert changes.deleted == []
        assert {(i.id, i.etag) for i in changes.items} == {(i.id, i.etag) for i in stored}
        by_uid = {i.obj.uid: i.obj for i in changes.items}
        for obj in objects:
            self.assert_same(by_uid[obj.uid], obj, calendar)

    async def test_window_is_a_lower_bound(self, backend: Backend, calendar: Calendar) -> None:
        inside = samples.single(
            "win-in@contract.example", start=datetime(2030, 5, 6, 10, tzinfo=UTC)
        )
        await self.store(backend, calendar, inside)
        window = Window(datetime(2030, 5, 1, tzinfo=UTC), datetime(2030, 6, 1, tzinfo=UTC))
        changes = await calendar.list_changes(None, window)
        assert changes.full
        assert inside.uid in {i.obj.uid for i in changes.items}

    async def test_cursor_right_after_full_listing_is_quiet(
        self, backend: Backend, calendar: Calendar
    ) -> None:
        await self.store_many(
            backend, calendar, [samples.single(f"q-{n}@c.example") for n in range(3)]
        )
        cursor = await self.cursor_now(calendar)
        after = await self.assert_no_changes(calendar, cursor)
        assert after.cursor is not None
        await self.assert_no_changes(calendar, after.cursor)

    async def test_cursor_survives_a_new_instance(
        self, backend: Backend, calendar: Calendar
    ) -> None:
        await self.store(backend, calendar, samples.single("persist-1@contract.example"))
        cursor = await self.cursor_now(calendar)
        async with backend.open() as again:
            await self.assert_no_changes(again, cursor)

    @pytest.mark.parametrize(
        "cursor",
        ["", "garbage", "local.1.not-base64!", "icsfeed.1.eJwDAAAAAAE=", "v999:{}", "🙃"],
    )
    async def test_rejected_cursor_gives_full_listing(
        self, backend: Backend, calendar: Calendar, cursor: str
    ) -> None:
        obj = samples.single("reject-1@contract.example")
        await self.store(backend, calendar, obj)
        changes = await calendar.list_changes(cursor)
        assert changes.full
        assert [i.obj.uid for i in changes.items] == [obj.uid]

    async def test_cursor_after_our_create(self, calendar: Calendar) -> None:
        self.skip_if_read_only(calendar)
        cursor = await self.cursor_now(calendar)
        obj = marked(samples.single("cc-1@contract.example"), "key-cc-1")
        item = await calendar.create(obj, "key-cc-1")
        changes = await calendar.list_changes(cursor)
        assert not changes.full
        assert [(i.id, i.etag) for i in changes.items] == [(item.id, item.etag)]
        assert changes.deleted == []

    async def test_cursor_after_our_update(self, calendar: Calendar) -> None:
        self.skip_if_read_only(calendar)
        obj = marked(samples.single("cu-1@contract.example", title="a"), "key-cu-1")
        item = await calendar.create(obj, "key-cu-1")
        other = await calendar.create(
            marked(samples.single("cu-2@c.example"), "key-cu-2"), "key-cu-2"
        )
        cursor = await self.cursor_now(calendar)
        assert obj.master is not None
        changed = dataclasses.replace(obj, master=dataclasses.replace(obj.master, title="b"))
        updated = await calendar.update(item.id, changed, item.etag)
        changes = await calendar.list_changes(cursor)
        assert not changes.full
        assert [(i.id, i.etag) for i in changes.items] == [(updated.id, updated.etag)]
        assert other.id not in {i.id for i in changes.items}
        assert changes.deleted == []

    async def test_cursor_after_our_delete(self, calendar: Calendar) -> None:
        self.skip_if_read_only(calendar)
        item = await calendar.create(
            marked(samples.single("cd-1@c.example"), "key-cd-1"), "key-cd-1"
        )
        await calendar.create(marked(samples.single("cd-2@c.example"), "key-cd-2"), "key-cd-2")
        cursor = await self.cursor_now(calendar)
        await calendar.delete(item.id, item.etag)
        changes = await calendar.list_changes(cursor)
        assert not changes.full
        assert changes.items == []
        assert changes.deleted == [item.id]

    async def test_cursor_after_foreign_create(self, backend: Backend, calendar: Calendar) -> None:
        await self.store(backend, calendar, samples.single("fc-1@contract.example"))
        cursor = await self.cursor_now(calendar)
        new = samples.single("fc-2@contract.example", title="From elsewhere")
        await backend.seed([new])
        changes = await calendar.list_changes(cursor)
        assert not changes.full
        assert [i.obj.uid for i in changes.items] == [new.uid]
        assert changes.deleted == []
        self.assert_same(changes.items[0].obj, new, calendar)

    async def test_cursor_after_foreign_edit(self, backend: Backend, calendar: Calendar) -> None:
        obj = samples.single("fe-1@contract.example", title="Mine")
        item, other = await self.store_many(
            backend, calendar, [obj, samples.single("fe-2@contract.example")]
        )
        cursor = await self.cursor_now(calendar)
        assert obj.master is not None
        edited = dataclasses.replace(obj, master=dataclasses.replace(obj.master, title="Theirs"))
        await backend.replace(item.id, edited)
        changes = await calendar.list_changes(cursor)
        assert not changes.full
        assert [i.id for i in changes.items] == [item.id]
        assert changes.items[0].etag != item.etag
        assert changes.deleted == []
        self.assert_same(changes.items[0].obj, edited, calendar)
        assert other.id != item.id

    async def test_cursor_after_foreign_delete(self, backend: Backend, calendar: Calendar) -> None:
        item, _ = await self.store_many(
            backend,
            calendar,
            [samples.single("fd-1@contract.example"), samples.single("fd-2@contract.example")],
        )
        cursor = await self.cursor_now(calendar)
        await backend.remove(item.id)
        changes = await calendar.list_changes(cursor)
        assert not changes.full
        assert changes.items == []
        assert changes.deleted == [item.id]

    async def test_cursor_chain_sees_every_step(self, backend: Backend, calendar: Calendar) -> None:
        first = await self.store(backend, calendar, samples.single("chain-1@contract.example"))
        cursor = await self.cursor_now(calendar)
        await backend.seed([samples.single("chain-2@contract.example")])
        step = await calendar.list_changes(cursor)
        assert [i.obj.uid for i in step.items] == ["chain-2@contract.example"]
        await backend.remove(first.id)
        step = await calendar.list_changes(step.cursor)
        assert step.items == []
        assert step.deleted == [first.id]
        await self.assert_no_changes(calendar, step.cursor)

    # -- malformed objects -------------------------------------------------------------------

    async def test_malformed_object_is_skipped(self, backend: Backend, calendar: Calendar) -> None:
        good = [samples.single(f"good-{n}@contract.example", title=f"good {n}") for n in range(2)]
        await self.store_many(backend, calendar, good)
        name = await backend.add_malformed()
        changes = await calendar.list_changes(None)
        assert changes.full
        assert sorted(i.obj.uid for i in changes.items) == sorted(o.uid for o in good)
        assert any(name in s.id or name in s.reason for s in changes.skipped), changes.skipped
        assert all(s.reason for s in changes.skipped)

    async def test_malformed_object_is_not_deleted(
        self, backend: Backend, calendar: Calendar
    ) -> None:
        await self.store(backend, calendar, samples.single("good-x@contract.example"))
        cursor = await self.cursor_now(calendar)
        name = await backend.add_malformed()
        changes = await calendar.list_changes(cursor)
        assert changes.deleted == []
        assert changes.items == []
        assert any(name in s.id or name in s.reason for s in changes.skipped), changes.skipped
