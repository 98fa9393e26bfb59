"""Whole cycles (``calsyncd.sync.engine.Cycle``) over in-memory calendars and a real state store.

The planner's decisions are tested in ``test_planner.py``; here: what only the engine does —
listing since cursors, completing the view from the state database, committing rows and
cursors, recovering from failed, lost and killed writes.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import anyio
import pytest

from calsyncd.model.event import CalendarObject
from calsyncd.model.hashing import content_hash
from calsyncd.providers.base import Calendar, Item, Window
from calsyncd.state.store import SIDES, Side, StateStore
from calsyncd.sync.engine import Cycle, CycleResult
from calsyncd.sync.keys import copy_key
from calsyncd.sync.policy import config_hash
from sync.helpers import (
    NOW,
    TEST_SECRET,
    WINDOW,
    edit,
    event,
    identity,
    policy,
    rendered,
    rule,
    same_content,
    weekly,
)
from sync.memory import Killed, MemoryCalendar, MemoryServer, Op


class Rig:
    """One rule between two in-memory servers, with a real (in-memory) state database."""

    def __init__(self, store: StateStore | None = None, **config: Any) -> None:
        self.rule = rule(**config)
        self.policy = policy(**config)
        self.servers: dict[Side, MemoryServer] = {
            "source": MemoryServer("src"),
            "target": MemoryServer("tgt"),
        }
        self.store = store or StateStore.in_memory(secret=TEST_SECRET)
        self.concurrency = 4
        """Writes in flight per calendar (1: a cycle's steps write one after another)."""

    @property
    def source(self) -> MemoryServer:
        return self.servers["source"]

    @property
    def target(self) -> MemoryServer:
        return self.servers["target"]

    def cycle(self, *, window: Window = WINDOW, **kwargs: Any) -> CycleResult:
        async def go() -> CycleResult:
            calendars: dict[Side, Calendar] = {
                side: MemoryCalendar(self.servers[side], max_concurrency=self.concurrency)
                for side in SIDES
            }
            cycle = Cycle(self.policy, window, config_hash(self.rule), self.store, calendars)
            return await cycle.run(**kwargs)

        return anyio.run(go, backend="asyncio")

    def ok(self, **kwargs: Any) -> CycleResult:
        result = self.cycle(**kwargs)
        assert result.ok, result
        return result

    def settle(self, rounds: int = 5) -> None:
        """Cycles until one writes nothing and shows nothing."""
        for _ in range(rounds):
            before = self.writes()
            result = self.cycle()
            if result.ok and self.writes() == before and not shown(result):
                return
        raise AssertionError(f"not settled after {rounds} cycles: {result}")

    def writes(self) -> int:
        return sum(len(s.writes) for s in self.servers.values())

    def one(self, side: Side, uid: str) -> Item:
        found = self.servers[side].find(uid)
        assert len(found) == 1, f"{len(found)} objects {uid} on the {side}"
        return found[0]


def shown(result: CycleResult) -> list[str]:
    assert result.plan is not None
    return [a["op"] for a in result.plan.actions()]


def title(item: Item) -> str | None:
    return item.obj.first.title


# -- the basics ----------------------------------------------------------------------------


def test_first_cycle_copies_and_second_plans_nothing() -> None:
    rig = Rig()
    original = rig.source.add(weekly("w@x"))
    result = rig.ok()
    assert shown(result) == ["create"]
    copy = rig.one("target", "w@x")
    assert same_content(copy.obj, rendered(rig.policy, "source", original.obj))
    assert rig.store.pair_count("r") == 1
    again = rig.ok()
    assert shown(again) == []
    assert len(rig.target.writes) == 1


def test_dry_run_writes_nothing() -> None:
    rig = Rig()
    rig.source.add(event("a@x"))
    result = rig.cycle(dry_run=True)
    assert shown(result) == ["create"]
    assert rig.writes() == 0
    assert rig.store.cursors("r") == {"source": None, "target": None}
    assert rig.store.pair_count("r") == 0
    assert shown(rig.ok()) == ["create"]


def test_incremental_listing_after_the_first_cycle() -> None:
    rig = Rig()
    rig.source.add(event("a@x"))
    rig.ok()
    lists = rig.source.lists
    new = rig.source.add(event("b@x", "New"))
    result = rig.ok()
    assert rig.source.lists == lists + 1
    assert shown(result) == ["create"]
    assert rig.one("target", "b@x").obj.first.title == "New"
    assert new.id not in rig.target.objects


def test_expired_cursor_gives_a_full_listing_and_no_writes() -> None:
    rig = Rig(direction="two-way")
    rig.source.add(event("a@x"))
    rig.target.add(event("b@x"))
    rig.settle()
    before = rig.writes()
    rig.source.expire_cursors()
    rig.target.expire_cursors()
    result = rig.ok()
    assert shown(result) == []
    assert rig.writes() == before


def test_lost_state_is_rebuilt_from_markers() -> None:
    rig = Rig(direction="two-way")
    rig.source.add(event("a@x"))
    rig.target.add(weekly("w@x"))
    rig.settle()
    before = rig.writes()
    rig.store = StateStore.in_memory(secret=TEST_SECRET)
    result = rig.ok()
    assert sorted(shown(result)) == ["adopt", "adopt"]
    assert rig.writes() == before
    assert rig.store.pair_count("r") == 2
    rig.settle()
    assert rig.writes() == before


def test_lost_state_with_a_few_deletions_is_rebuilt_in_one_cycle() -> None:
    """The pairs adopted again count as synced for the guard; a wiped side still holds."""
    rig = Rig()
    items = [rig.source.add(event(f"e{i}@x")) for i in range(10)]
    rig.settle()
    rig.store = StateStore.in_memory(secret=TEST_SECRET)
    for item in items[:2]:
        rig.source.remove(item.id)
    result = rig.ok()
    assert sorted(shown(result)) == ["adopt"] * 8 + ["delete"] * 2
    assert len(rig.target.items()) == 8
    rig.store = StateStore.in_memory(secret=TEST_SECRET)
    for item in items[2:]:
        rig.source.remove(item.id)
    assert rig.cycle().held is not None  # nothing left to adopt: 8 deletions of 0 pairs
    assert len(rig.target.items()) == 8


def test_mapping_change_rerenders_every_copy() -> None:
    rig = Rig()
    rig.source.add(event("a@x", "One"))
    rig.source.add(event("b@x", "Two"))
    rig.settle()
    rig.rule = rule(fields={"title": "Copy: {title}"})
    rig.policy = policy(fields={"title": "Copy: {title}"})
    result = rig.ok()
    assert shown(result) == ["update", "update"]
    assert sorted(title(i) or "" for i in rig.target.items()) == ["Copy: One", "Copy: Two"]
    rig.settle()


def test_window_entry_creates_the_copy_later() -> None:
    rig = Rig()
    rig.source.add(event("soon@x"))
    rig.source.add(event("later@x", start=NOW + timedelta(days=400)))
    rig.ok()
    assert [identity(i.obj) for i in rig.target.items()] == ["soon@x"]
    rig.ok()  # incremental from now on
    moved = Window(WINDOW.start + timedelta(days=60), WINDOW.end + timedelta(days=60))
    result = rig.ok(window=moved)
    assert shown(result) == ["create"]
    assert sorted(identity(i.obj) for i in rig.target.items()) == ["later@x", "soon@x"]


def test_malformed_original_is_not_taken_for_deleted() -> None:
    rig = Rig()
    original = rig.source.add(event("a@x"))
    rig.settle()
    rig.source.remove(original.id)
    rig.source.add_malformed(original.id)  # the same file, now unreadable
    result = rig.ok()
    assert shown(result) == []
    assert rig.target.find("a@x")
    assert any("not an iCalendar object" in p for p in result.problems)
    rig.source.expire_cursors()  # a full listing too
    assert shown(rig.ok()) == []
    assert rig.target.find("a@x")


# -- the guard -----------------------------------------------------------------------------


def test_guard_holds_without_moving_cursors_until_allowed(
    quiet_logs: list[MutableMapping[str, Any]],
) -> None:
    rig = Rig()
    items = [rig.source.add(event(f"e{i}@x")) for i in range(4)]
    rig.settle()
    cursors = rig.store.cursors("r")
    for item in items[:3]:
        rig.source.remove(item.id)
    result = rig.cycle()
    assert result.held is not None
    assert "3 deletions on the target" in result.held
    assert rig.store.rule("r").held_reason == result.held
    held = [e for e in quiet_logs if e["event"] == "rule held"]
    assert [(e["rule"], e["reason"]) for e in held] == [("r", result.held)]
    assert rig.store.cursors("r") == cursors
    assert len(rig.target.items()) == 4
    assert rig.cycle().held is not None  # still held: the same changes are listed again
    result = rig.ok(allow_mass_delete=True)
    assert result.outcome.deleted == 3
    assert rig.store.rule("r").held_reason is None
    assert len(rig.target.items()) == 1


def test_guard_releases_when_the_side_comes_back() -> None:
    rig = Rig(guard={"max_deletes": "100%"})
    items = [rig.source.add(event(f"e{i}@x")) for i in range(3)]
    rig.settle()
    saved = {item.id: item.obj for item in items}
    for item in items:
        rig.source.remove(item.id)
    rig.source.expire_cursors()
    held = rig.cycle()
    assert held.held is not None
    assert "suddenly empty" in held.held
    for item_id, obj in saved.items():
        rig.source.add(obj, item_id)  # the folder is back (a remount, a restore)
    rig.ok()
    assert rig.store.rule("r").held_reason is None
    assert len(rig.target.items()) == 3


def test_a_side_emptied_in_an_incremental_listing_is_held() -> None:
    """Every object deleted since the cursor — the listing says so incrementally — is as
    suddenly empty as a full listing with nothing in it, whatever max_deletes allows."""
    rig = Rig(guard={"max_deletes": "100%"})
    items = [rig.source.add(event(f"e{i}@x")) for i in range(3)]
    rig.settle()
    for item in items:
        rig.source.remove(item.id)
    held = rig.cycle()
    assert held.held is not None
    assert held.held.startswith("the source calendar is suddenly empty — was it renamed")
    assert len(rig.target.items()) == 3
    rig.source.add(event("new@x"))  # not empty any more: the deletions are ordinary ones
    result = rig.ok()
    assert result.outcome.deleted == 3
    assert len(rig.target.items()) == 1


def test_all_synced_events_deleted_but_not_the_side_is_not_suddenly_empty() -> None:
    rig = Rig(guard={"max_deletes": "100%"}, filter={"exclude": [{"title": "^Cancelled"}]})
    items = [rig.source.add(event(f"e{i}@x")) for i in range(3)]
    rig.source.add(event("excluded@x", "Cancelled"))  # listed, held, never copied
    rig.settle()
    for item in items:
        rig.source.remove(item.id)
    assert rig.ok().outcome.deleted == 3


# -- failures, races, kills ----------------------------------------------------------------


def test_temporary_error_fails_the_cycle_and_keeps_the_cursor() -> None:
    rig = Rig()
    rig.source.add(event("a@x"))
    rig.target.fail_next(1, "temporary")
    result = rig.cycle()
    assert result.error is not None
    assert "injected failure" in result.error
    assert rig.store.cursors("r") == {"source": None, "target": None}
    assert rig.target.items() == []
    assert shown(rig.ok()) == ["create"]
    rig.settle()


def test_one_failing_item_does_not_stop_the_others() -> None:
    rig = Rig()
    a = rig.source.add(event("a@x", "v1"))
    b = rig.source.add(event("b@x", "v1"))
    rig.settle()
    rig.source.put(a.id, edit(a.obj, title="v2"))
    rig.source.put(b.id, edit(b.obj, title="v2"))
    rig.target.fail_next(1, "precondition")
    result = rig.cycle()
    assert result.error is None
    assert len(result.outcome.item_errors) == 1
    assert result.outcome.updated == 1
    rig.settle()
    assert {title(i) for i in rig.target.items()} == {"v2"}


def test_killed_after_create_is_adopted_not_duplicated() -> None:
    rig = Rig()
    rig.source.add(event("a@x"))
    rig.source.add(event("b@x"))
    rig.target.kill_after(1)
    with pytest.raises(BaseExceptionGroup) as caught:
        rig.cycle()
    assert caught.group_contains(Killed)
    # The first copy is made and its row never committed (the other create was in flight).
    assert rig.target.items()
    assert rig.store.pair_count("r") < len(rig.target.items())
    result = rig.ok()
    assert "adopt" in shown(result)
    rig.settle()
    assert sorted(identity(i.obj) for i in rig.target.items()) == ["a@x", "b@x"]
    assert sum(1 for w in rig.target.writes if w.op == "create" and w.made) == 2


def test_killed_create_then_original_edited() -> None:
    rig = Rig()
    original = rig.source.add(event("a@x", "v1"))
    rig.target.kill_after(1)
    with pytest.raises(BaseExceptionGroup):
        rig.cycle()
    rig.source.put(original.id, edit(original.obj, title="v2"))
    result = rig.ok()
    assert shown(result) == ["adopt", "update"]
    assert title(rig.one("target", "a@x")) == "v2"
    rig.settle()


def test_killed_create_then_original_deleted_leaves_no_orphan() -> None:
    rig = Rig()
    original = rig.source.add(event("a@x"))
    rig.ok()
    rig.source.add(event("b@x"))
    rig.target.kill_after(1)
    with pytest.raises(BaseExceptionGroup):
        rig.cycle()
    assert rig.target.find("b@x")
    (b,) = rig.source.find("b@x")
    rig.source.remove(b.id)
    rig.settle()
    assert [identity(i.obj) for i in rig.target.items()] == ["a@x"]
    assert rig.source.find("a@x")[0] == rig.source.item(original.id)


def test_copy_deleted_before_the_next_listing_is_noticed() -> None:
    """The copy is created after the cursor of its cycle and deleted before the next
    listing: the listing never mentions it (neither does a vdir's), yet the engine must see
    it is gone. Used to leave one-way copies missing and two-way deletes unpropagated."""
    rig = Rig()
    original = rig.source.add(event("a@x"))
    rig.ok()
    rig.target.remove(rig.one("target", "a@x").id)
    assert shown(rig.ok()) == ["create"]  # revert: put back
    copy = rig.one("target", "a@x")
    assert same_content(copy.obj, rendered(rig.policy, "source", original.obj))

    two_way = Rig(direction="two-way")
    two_way.source.add(event("a@x"))
    two_way.ok()
    two_way.target.remove(two_way.one("target", "a@x").id)
    assert shown(two_way.ok()) == ["delete"]  # propagate: the original goes too
    assert two_way.source.items() == []


def test_lost_race_rereads_both_sides() -> None:
    """A write that lost a race used to leave the other side's change behind the cursor: the
    next cycle planned from the remembered (old) version and a stale etag, for ever."""
    rig = Rig(direction="two-way")
    original = rig.source.add(event("a@x", "v1", lm=1))
    rig.ok()
    rig.source.put(original.id, edit(original.obj, title="source edit", lm=2))

    def someone_edits(op: Op, item_id: str | None) -> None:
        assert item_id is not None
        assert (op, item_id) == ("update", rig.one("target", "a@x").id)
        copy = rig.target.item(item_id)
        rig.target.put(item_id, edit(copy.obj, location="target edit", lm=3))

    rig.target.before_next_write(someone_edits)
    result = rig.cycle()
    assert result.outcome.item_errors
    rig.settle()
    source, target = rig.one("source", "a@x"), rig.one("target", "a@x")
    # newest-wins: the target's later edit wins as a whole, the source's title is replaced.
    assert (title(source), source.obj.first.location) == ("v1", "target edit")
    assert same_content(source.obj, target.obj)


def test_lost_race_with_merge_keeps_both_edits() -> None:
    rig = Rig(direction="two-way", conflict="merge")
    original = rig.source.add(event("a@x", "v1", lm=1))
    rig.ok()
    rig.source.put(original.id, edit(original.obj, title="source edit", lm=2))

    def someone_edits(op: Op, item_id: str | None) -> None:
        assert item_id is not None
        rig.target.put(item_id, edit(rig.target.item(item_id).obj, location="there", lm=3))

    rig.target.before_next_write(someone_edits)
    rig.cycle()
    rig.settle()
    for side in SIDES:
        item = rig.one(side, "a@x")
        assert (title(item), item.obj.first.location) == ("source edit", "there")


def test_retry_survives_a_failed_cycle() -> None:
    """A retried item whose retry cycle failed (or was killed) is retried again; the error
    record used to be cleared before the writes, losing the change for good."""
    rig = Rig()
    original = rig.source.add(event("a@x", "v1"))
    rig.ok()
    rig.source.put(original.id, edit(original.obj, title="v2"))
    rig.target.fail_next(1, "precondition")
    assert rig.cycle().outcome.item_errors  # the update is refused; the cursor moves on
    rig.target.fail_next(1, "temporary")
    assert rig.cycle().error is not None  # the retry fails as a whole
    rig.target.kill_after(1)
    with pytest.raises(BaseExceptionGroup):
        rig.cycle()  # the next retry is killed right after its write
    rig.settle()
    assert title(rig.one("target", "a@x")) == "v2"
    assert rig.store.item_errors("r") == []


def test_retried_item_deleted_meanwhile() -> None:
    """The original was deleted; deleting the copy lost a race (the copy was edited). The
    next cycle must see the original gone — it used to bring it back from the state row."""
    rig = Rig(direction="two-way")
    original = rig.source.add(event("a@x", "v1", lm=1))
    rig.ok()
    rig.source.remove(original.id)

    def someone_edits(op: Op, item_id: str | None) -> None:
        assert op == "delete"
        assert item_id is not None
        rig.target.put(item_id, edit(rig.target.item(item_id).obj, title="keep me", lm=5))

    rig.target.before_next_write(someone_edits)
    assert rig.cycle().outcome.item_errors
    rig.settle()
    # Delete against edit: the edit wins, and becomes the original.
    target = rig.one("target", "a@x")
    assert target.obj.marker is None
    assert title(target) == "keep me"
    assert rig.one("source", "a@x").obj.marker is not None


# -- conflicts and rules -------------------------------------------------------------------


def test_manual_conflict_resolved_by_the_operator() -> None:
    rig = Rig(direction="two-way", conflict="manual")
    original = rig.source.add(event("a@x", "v1", lm=1))
    rig.settle()
    copy = rig.one("target", "a@x")
    rig.source.put(original.id, edit(original.obj, title="S", lm=2))
    rig.target.put(copy.id, edit(copy.obj, title="T", lm=3))
    result = rig.ok()
    assert shown(result) == ["conflict"]
    assert result.outcome.conflicts == 1
    (conflict,) = rig.store.conflicts("r")
    assert conflict.detected_at > 0
    assert shown(rig.ok()) == []  # held: nothing written
    assert rig.store.resolve_conflict("r", conflict.key, "source")
    result = rig.ok()
    assert shown(result) == ["update"]
    assert title(rig.one("target", "a@x")) == "S"
    assert rig.store.conflicts("r") == []
    rig.settle()


def test_two_rules_both_ways_do_not_loop() -> None:
    a, b = MemoryServer("a"), MemoryServer("b")
    forward = Rig()
    forward.servers = {"source": a, "target": b}
    backward = Rig(store=forward.store, name="back")
    backward.servers = {"source": b, "target": a}
    a.add(event("on-a@x"))
    b.add(event("on-b@x"))
    for _ in range(3):
        forward.ok()
        backward.ok()
    assert sorted(identity(i.obj) for i in a.items()) == ["on-a@x", "on-b@x"]
    assert sorted(identity(i.obj) for i in b.items()) == ["on-a@x", "on-b@x"]
    writes = forward.writes()
    forward.settle()
    backward.settle()
    assert forward.writes() == writes


def test_copies_of_series_keep_their_overrides() -> None:
    rig = Rig(fields="busy-block")
    series = rig.source.add(weekly("w@x", "Therapy"))
    rig.settle()
    copy = rig.one("target", "w@x").obj
    assert copy.master is not None
    assert series.obj.master is not None
    assert set(copy.overrides) == set(series.obj.overrides)
    assert copy.master.exdates == series.obj.master.exdates
    assert {e.title for e in copy.events} == {"Busy"}
    rid = next(iter(series.obj.overrides))
    moved = replace(
        series.obj.overrides[rid], start=series.obj.overrides[rid].start + timedelta(hours=1)
    )
    rig.source.put(series.id, replace(series.obj, overrides={rid: moved}))
    assert shown(rig.ok()) == ["update"]
    assert rig.one("target", "w@x").obj.overrides[rid].start == moved.start


def test_copy_key_names_the_created_object() -> None:
    rig = Rig()
    rig.source.add(event("a@x"))
    rig.ok()
    (write,) = rig.target.writes
    assert write.key == copy_key("r", "source", "a@x")
    obj: CalendarObject = rig.target.item(write.id).obj
    assert obj.marker is not None
    assert obj.marker.key == write.key


def test_cycle_ids_are_kept_in_the_state_between_cycles() -> None:
    rig = Rig()
    rig.source.add(event("a@x"))
    rig.ok()
    seen = rig.store.seen_all("r", "source")
    assert [r.uid for r in seen.values()] == ["a@x"]
    assert next(iter(seen.values())).selected
    assert rig.store.unlisted_pair_ids("r", "target") == [rig.one("target", "a@x").id]
    rig.ok()  # the copy is listed now
    assert rig.store.unlisted_pair_ids("r", "target") == []


def test_now_is_not_read_from_the_clock() -> None:
    """The window decides; a cycle far in the future of the events creates nothing."""
    rig = Rig()
    rig.source.add(event("a@x"))
    future = Window(
        datetime(2040, 1, 1, tzinfo=NOW.tzinfo), datetime(2041, 1, 1, tzinfo=NOW.tzinfo)
    )
    assert shown(rig.ok(window=future)) == []


# -- killed between a write and its row: our own write is not a user's edit -----------------


def killed(rig: Rig, **kwargs: Any) -> None:
    with pytest.raises(BaseExceptionGroup) as caught:
        rig.cycle(**kwargs)
    assert caught.group_contains(Killed)


def test_killed_copy_update_does_not_count_as_an_edit_of_the_copy() -> None:
    """target-wins: had the copy's stale update counted as an edit on the target, the
    original's newer edit would have been overwritten by it."""
    rig = Rig(direction="two-way", conflict="target-wins")
    original = rig.source.add(event("a@x", "v1", lm=1))
    rig.settle()
    original = rig.source.put(original.id, edit(original.obj, title="v2", lm=2))
    rig.target.kill_after(1)
    killed(rig)
    assert title(rig.one("target", "a@x")) == "v2"  # the update landed, its row did not
    rig.source.put(original.id, edit(original.obj, title="v3", lm=3))
    rig.settle()
    assert title(rig.one("source", "a@x")) == "v3"
    assert title(rig.one("target", "a@x")) == "v3"


def test_killed_write_back_then_copy_deleted_deletes_the_original() -> None:
    """The copy's edit was written back (with a template the copy is then re-rendered); the
    cycle died in between, and the user deleted the copy. The original's change is ours, not
    an edit that would win against the delete."""
    rig = Rig(direction="two-way", fields={"description": "Notes: {description}"})
    original = rig.source.add(event("a@x", "v1", lm=1))
    rig.settle()
    copy = rig.one("target", "a@x")
    rig.target.put(copy.id, edit(copy.obj, title="edited copy", lm=2))
    rig.source.kill_after(1)
    killed(rig)
    assert title(rig.source.item(original.id)) == "edited copy"
    rig.target.remove(copy.id)
    rig.settle()
    assert rig.source.items() == []
    assert rig.target.items() == []


def test_killed_copy_update_then_original_deleted_deletes_the_copy() -> None:
    rig = Rig(direction="two-way")
    original = rig.source.add(event("a@x", "v1", lm=1))
    rig.settle()
    rig.source.put(original.id, edit(original.obj, title="v2", lm=2))
    rig.target.kill_after(1)
    killed(rig)
    rig.source.remove(original.id)
    rig.settle()
    assert rig.target.items() == []


def test_killed_promotion_keeps_the_edit() -> None:
    """Unmarking the edited copy changes no content, so it is never mistaken for ours."""
    rig = Rig(direction="two-way")
    original = rig.source.add(event("a@x", "v1", lm=1))
    rig.settle()
    copy = rig.one("target", "a@x")
    rig.source.remove(original.id)
    rig.target.put(copy.id, edit(copy.obj, title="keep me", lm=2))
    rig.target.kill_after(1)  # right after the copy is made an original
    killed(rig)
    assert rig.target.item(copy.id).obj.marker is None
    rig.settle()
    assert title(rig.one("target", "a@x")) == "keep me"
    assert title(rig.one("source", "a@x")) == "keep me"


def test_pending_hash_is_cleared_with_the_row() -> None:
    rig = Rig(direction="two-way")
    original = rig.source.add(event("a@x", "v1", lm=1))
    rig.settle()
    rig.source.put(original.id, edit(original.obj, title="v2", lm=2))
    rig.target.kill_after(1)
    killed(rig)
    (row,) = rig.store.all_pairs("r").values()
    assert row.target_pending == content_hash(rig.one("target", "a@x").obj)
    assert row.source_pending is None
    rig.settle()
    (row,) = rig.store.all_pairs("r").values()
    assert (row.source_pending, row.target_pending) == (None, None)


def test_edit_of_a_recreated_copy_wins_over_the_deleted_original() -> None:
    """The state machine's "e4@test was deleted but is back": the copy was deleted while the
    original was edited, so the copy was made again (the edit wins); the user then edited
    that new copy and deleted the original. The copy's edit is a user's and wins again: the
    copy becomes the original (documented; the test's model had wrongly counted the first
    delete against the new copy)."""
    rig = Rig(direction="two-way", conflict="merge")
    original = rig.target.add(event("a@x", "v1", lm=1))
    rig.settle()
    original = rig.target.put(original.id, edit(original.obj, title="v2", lm=2))
    rig.source.remove(rig.one("source", "a@x").id)
    assert shown(rig.ok()) == ["create"]
    copy = rig.one("source", "a@x")
    assert title(copy) == "v2"
    rig.source.put(copy.id, edit(copy.obj, title="v3", lm=3))
    rig.target.remove(original.id)
    rig.settle()
    assert rig.one("source", "a@x").obj.marker is None
    assert title(rig.one("source", "a@x")) == "v3"
    assert title(rig.one("target", "a@x")) == "v3"


def test_older_write_of_ours_is_not_an_edit_after_a_failed_retry() -> None:
    """A cycle is killed right after updating the copy (v2); the next one intends v3 for it,
    but its write fails. The copy still holds our v2, which must not count as a user's edit:
    when the user then deletes the original, the copy goes too (it is not promoted)."""
    rig = Rig(direction="two-way")
    original = rig.source.add(event("a@x", "v1", lm=1))
    rig.settle()
    original = rig.source.put(original.id, edit(original.obj, title="v2", lm=2))
    rig.target.kill_after(1)
    killed(rig)
    assert title(rig.one("target", "a@x")) == "v2"
    original = rig.source.put(original.id, edit(original.obj, title="v3", lm=3))
    rig.target.fail_next(1)
    assert rig.cycle().error is not None
    assert title(rig.one("target", "a@x")) == "v2"
    (row,) = rig.store.all_pairs("r").values()
    assert len(row.pending("target")) == 2
    rig.source.remove(original.id)
    rig.settle()
    assert rig.source.items() == []
    assert rig.target.items() == []


def test_older_write_of_ours_is_not_an_edit_after_successive_kills() -> None:
    """As above, with kills only: the second cycle records its intent for the copy, then
    dies after another pair's write, before writing it."""
    rig = Rig(direction="two-way")
    rig.concurrency = 1  # the steps write in key order
    first, second = sorted(["a@x", "b@x"], key=lambda uid: copy_key("r", "source", uid))
    originals = {uid: rig.source.add(event(uid, "v1", lm=1)) for uid in (first, second)}
    rig.settle()
    victim = rig.source.put(originals[second].id, edit(originals[second].obj, title="v2", lm=2))
    rig.target.kill_after(1)
    killed(rig)
    assert title(rig.one("target", second)) == "v2"
    rig.source.put(originals[first].id, edit(originals[first].obj, title="v2", lm=3))
    victim = rig.source.put(victim.id, edit(victim.obj, title="v3", lm=4))
    rig.target.kill_after(1)  # after the first pair's update; the second's never happens
    killed(rig)
    assert title(rig.one("target", first)) == "v2"
    assert title(rig.one("target", second)) == "v2"
    rig.source.remove(victim.id)
    rig.settle()
    assert rig.source.find(second) == []
    assert rig.target.find(second) == []
    assert title(rig.one("target", first)) == "v2"


def test_pending_hashes_accumulate_until_the_row_is_committed() -> None:
    rig = Rig(direction="two-way")
    original = rig.source.add(event("a@x", "v1", lm=1))
    rig.settle()
    for n in range(2, 5):
        original = rig.source.put(original.id, edit(original.obj, title=f"v{n}", lm=n))
        rig.target.kill_after(1)
        killed(rig)
    (row,) = rig.store.all_pairs("r").values()
    assert len(row.pending("target")) == 3
    rig.settle()
    (row,) = rig.store.all_pairs("r").values()
    assert row.pending("target") == frozenset()


def test_copy_made_again_then_deleted_while_cycles_fail_is_noticed() -> None:
    """The copy is deleted and made again (the original was edited) in a cycle that fails
    (another pair's write), so no listing is committed; the new copy has the old one's id,
    which the state remembered as listed. The user deletes it again before a cycle succeeds:
    made and deleted after the stored cursor, no incremental listing tells. It is read again
    and found gone — the delete propagates, instead of the original being left without a
    copy for ever."""
    rig = Rig(direction="two-way")
    rig.concurrency = 1  # the steps write in key order
    originals = {uid: rig.source.add(event(uid, "v1", lm=1)) for uid in ("a@x", "b@x")}
    rig.settle()
    copy = rig.one("target", "a@x")
    rig.source.put(originals["a@x"].id, edit(originals["a@x"].obj, title="v2", lm=2))
    rig.target.remove(copy.id)
    rig.source.put(originals["b@x"].id, edit(originals["b@x"].obj, title="v2", lm=2))
    rig.target.fail_next(1, ops=["update"])  # b's copy update fails: the cycle fails
    result = rig.cycle()
    assert result.error is not None
    again = rig.one("target", "a@x")
    assert (again.id, title(again)) == (copy.id, "v2")
    rig.target.remove(again.id)
    rig.settle()
    assert rig.source.find("a@x") == []
    assert rig.target.find("a@x") == []
    assert title(rig.one("target", "b@x")) == "v2"


def test_a_quiet_cycle_is_marked_and_a_write_clears_the_mark_first() -> None:
    """The quiet mark lets the next quiet cycle skip whole-calendar lookups; it must never
    outlive a write, or a cycle killed after writing would be followed by a "quiet" one that
    skips reading back what it wrote."""
    rig = Rig()
    original = rig.source.add(event("a@x", "v1", lm=1))
    rig.settle()
    rig.ok()
    assert rig.store.rule("r").quiet_until == WINDOW.end.timestamp()
    rig.source.put(original.id, edit(original.obj, title="v2", lm=2))
    rig.target.kill_after(1)
    killed(rig)
    assert rig.store.rule("r").quiet_until is None
    rig.settle()
    assert title(rig.one("target", "a@x")) == "v2"


def test_after_quiet_cycles_an_original_entering_the_window_gets_its_copy() -> None:
    rig = Rig()
    rig.source.add(event("soon@x"))
    rig.source.add(event("later@x", start=NOW + timedelta(days=400)))
    rig.settle()
    for _ in range(3):
        assert shown(rig.ok()) == []
    assert rig.store.rule("r").quiet_until is not None
    days = 0
    while days < 400:
        days += 30
        moved = Window(WINDOW.start + timedelta(days=days), WINDOW.end + timedelta(days=days))
        if shown(rig.ok(window=moved)):
            break
    assert sorted(identity(i.obj) for i in rig.target.items()) == ["later@x", "soon@x"]
    assert rig.store.rule("r").quiet_until is None  # that cycle wrote


def test_a_copy_deleted_unseen_after_its_write_is_read_again_despite_the_quiet_mark() -> None:
    """A copy made in a cycle that died before committing its listing: the stored quiet mark
    (from the cycle before) is gone, so the next cycles look for pairs no listing has shown."""
    rig = Rig()
    rig.source.add(event("a@x"))
    rig.settle()
    rig.ok()
    assert rig.store.rule("r").quiet_until is not None
    rig.source.add(event("b@x"))
    rig.target.kill_after(1)
    killed(rig)
    assert rig.store.rule("r").quiet_until is None
    rig.settle()
    assert sorted(identity(i.obj) for i in rig.target.items()) == ["a@x", "b@x"]
