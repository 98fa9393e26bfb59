"""The pure planner (``calsyncd.sync.planner.plan``) held to docs/sync.md, situation by situation.

Each test builds the two calendars and the remembered state in a :class:`~helpers.World`,
plans, checks the plan, applies it as the executor would, and checks that the next plan has
nothing left to do (contract §5: a second run right after a successful one plans nothing).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from calsyncd.model.event import (
    Attendee,
    CalendarObject,
    Marker,
    Person,
    Response,
    ShowAs,
    Visibility,
)
from calsyncd.model.hashing import content_hash
from calsyncd.providers.base import Item
from calsyncd.state.store import SIDES, PairRecord, Side
from calsyncd.sync.keys import copy_key
from calsyncd.sync.plan import Plan, Step
from calsyncd.sync.planner import PlanInput, SideView, plan
from sync.helpers import (
    NOW,
    Store,
    World,
    edit,
    event,
    policy,
    rendered,
    same_content,
    weekly,
    writes,
)

KEY_A = copy_key("r", "source", "a@x")


def synced(world: World, *objects: CalendarObject, side: str = "source") -> list[Item]:
    """Add originals on ``side`` and sync them; returns the originals' items."""
    store = world.stores["source" if side == "source" else "target"]
    items = [store.add(obj) for obj in objects]
    world.sync()
    return [store.items[i.id] for i in items]


def settled(world: World) -> None:
    """The next plan has nothing to show and nothing to write."""
    again = world.plan()
    assert again.hold is None
    assert writes(again) == []
    assert [s for s in again.steps if s.visible] == []


def only_step(the_plan: Plan) -> Step:
    shown = [s for s in the_plan.steps if s.visible]
    assert len(shown) == 1, shown
    return shown[0]


# -- new originals -------------------------------------------------------------------------


def test_create_makes_one_marked_copy() -> None:
    world = World(policy())
    original = event("a@x", "Hearing", location="Room 1")
    world.source.add(original)
    the_plan = world.plan()
    step = only_step(the_plan)
    assert writes(the_plan) == [("create", "target")]
    (write,) = step.writes
    assert write.key == KEY_A
    assert write.obj is not None
    assert write.obj.uid == f"{KEY_A}@calsyncd"  # its own: a UID may exist once per account
    assert write.obj.marker == Marker("r", "a@x", KEY_A)
    assert write.obj.master is not None
    assert write.obj.master.title == "Hearing"
    assert write.obj.master.location == "Room 1"
    assert step.written_hash == content_hash(write.obj)
    assert the_plan.actions() == [
        {
            "op": "create",
            "side": "target",
            "item": KEY_A,
            "title": "Hearing",
            "start": "2030-06-04T09:00+00:00",
            "fields": [],
        }
    ]
    world.apply(the_plan)
    assert world.target.one("a@x").obj.marker == write.obj.marker
    assert world.pairs[KEY_A].origin == "source"
    settled(world)


def test_one_way_never_copies_target_originals() -> None:
    world = World(policy())
    world.target.add(event("mine@t", "Dentist"))
    assert world.plan().steps == []


def test_adopt_existing_copy_by_marker_key() -> None:
    """A copy made by an earlier attempt (crash, lost state) is adopted, not duplicated."""
    pol = policy()
    world = World(pol)
    original = event("a@x", "Hearing")
    world.source.add(original)
    world.target.add(rendered(pol, "source", original), "somewhere-else.ics")
    the_plan = world.plan()
    step = only_step(the_plan)
    assert step.adopt
    assert step.writes == ()
    assert the_plan.actions()[0]["op"] == "adopt"
    world.apply(the_plan)
    assert world.pairs[KEY_A].target_id == "somewhere-else.ics"
    assert len(world.target.items) == 1
    settled(world)


def test_adopt_stale_copy_by_marker_updates_it() -> None:
    pol = policy()
    world = World(pol)
    original = event("a@x", "Hearing v2")
    world.source.add(original)
    world.target.add(rendered(pol, "source", edit(original, title="Hearing v1")))
    the_plan = world.plan()
    step = only_step(the_plan)
    assert step.adopt
    assert writes(the_plan) == [("update", "target")]
    assert step.fields == ("title",)
    world.apply(the_plan)
    assert same_content(world.target.one("a@x").obj, rendered(pol, "source", original))
    settled(world)


def test_adopt_by_identical_uid_marks_the_object() -> None:
    pol = policy()
    world = World(pol)
    original = event("a@x", "Hearing")
    world.source.add(original)
    world.target.add(original)  # the same invitation, already in the target calendar
    the_plan = world.plan()
    step = only_step(the_plan)
    assert step.adopt
    assert writes(the_plan) == [("update", "target")]
    world.apply(the_plan)
    assert len(world.target.items) == 1
    assert world.target.one("a@x").obj.marker == Marker("r", "a@x", KEY_A)
    settled(world)


def test_two_way_same_event_on_both_sides_is_adopted_not_doubled() -> None:
    world = World(policy(direction="two-way"))
    world.source.add(event("a@x", "Both"))
    world.target.add(event("a@x", "Both"))
    world.sync()
    assert world.source.uids() == ["a@x"]
    assert world.target.uids() == ["a@x"]
    assert len(world.pairs) == 1
    settled(world)


def test_duplicate_uid_on_one_side_is_reported_not_copied_twice() -> None:
    world = World(policy())
    world.source.add(event("a@x", "One"))
    world.source.add(event("a@x", "Two"))
    the_plan = world.plan()
    assert writes(the_plan) == [("create", "target")]
    assert [p.message for p in the_plan.problems] == ["duplicate UID 'a@x'; skipped"]


# -- edits ---------------------------------------------------------------------------------


def test_original_edit_updates_the_copy() -> None:
    world = World(policy())
    (item,) = synced(world, event("a@x", "v1"))
    world.source.put(item.id, edit(item.obj, title="v2"))
    the_plan = world.plan()
    step = only_step(the_plan)
    assert writes(the_plan) == [("update", "target")]
    assert step.fields == ("title",)
    assert step.writes[0].item_id == world.pairs[KEY_A].target_id
    world.apply(the_plan)
    copy = world.target.one("a@x").obj
    assert copy.master is not None
    assert copy.master.title == "v2"
    settled(world)


def test_incremental_listing_uses_remembered_copy() -> None:
    """Only the original changed: the copy comes from the state row (etag and content)."""
    world = World(policy())
    (item,) = synced(world, event("a@x", "v1"))
    world.source.put(item.id, edit(item.obj, title="v2"))
    the_plan = world.plan(changed={"source": [item.id]})
    (write,) = only_step(the_plan).writes
    assert write.op == "update"
    assert write.etag == world.pairs[KEY_A].target_etag
    world.apply(the_plan)
    settled(world)


def test_unchanged_listing_plans_nothing() -> None:
    """Echo suppression: the copy we wrote, listed again, causes nothing."""
    world = World(policy(direction="two-way"))
    synced(world, event("a@x", "v1"))
    copy = world.target.one("a@x")
    assert writes(world.plan(changed={"target": [copy.id]})) == []
    assert writes(world.plan(changed={"source": [world.source.one("a@x").id]})) == []


def test_one_way_revert_puts_an_edited_copy_back() -> None:
    world = World(policy(on_target_change="revert"))
    (item,) = synced(world, event("a@x", "Original"))
    copy = world.target.one("a@x")
    world.target.put(copy.id, edit(copy.obj, title="Scribbled"))
    the_plan = world.plan()
    assert writes(the_plan) == [("update", "target")]
    world.apply(the_plan)
    assert same_content(world.target.one("a@x").obj, rendered(world.policy, "source", item.obj))
    assert world.source.items[item.id] == item  # one-way never writes the source
    settled(world)


def test_one_way_keep_leaves_an_edited_copy_until_the_original_changes() -> None:
    world = World(policy(on_target_change="keep"))
    (item,) = synced(world, event("a@x", "Original"))
    copy = world.target.one("a@x")
    world.target.put(copy.id, edit(copy.obj, location="Moved by hand"))
    the_plan = world.plan()
    assert writes(the_plan) == []
    world.apply(the_plan)
    settled(world)
    assert world.target.one("a@x").obj.master.location == "Moved by hand"  # type: ignore[union-attr]
    world.source.put(item.id, edit(item.obj, title="Renamed"))
    the_plan = world.plan()
    assert writes(the_plan) == [("update", "target")]
    world.apply(the_plan)
    master = world.target.one("a@x").obj.master
    assert master is not None
    assert (master.title, master.location) == ("Renamed", None)
    settled(world)


def test_two_way_copy_edit_flows_back() -> None:
    world = World(policy(direction="two-way"))
    (item,) = synced(world, event("a@x", "Original"))
    copy = world.target.one("a@x")
    original = world.source.items[item.id].obj.master
    assert original is not None
    world.target.put(copy.id, edit(copy.obj, title="Edited on target", lm=5))
    the_plan = world.plan()
    assert writes(the_plan) == [("update", "source")]
    world.apply(the_plan)
    master = world.source.items[item.id].obj.master
    assert master is not None
    assert master.title == "Edited on target"
    # The plan does not invent times: LAST-MODIFIED and SEQUENCE are set by the executor
    # when the write happens (tests/sync/test_stamping.py, tests/cli/test_write_back.py).
    assert (master.last_modified, master.sequence) == (original.last_modified, original.sequence)
    assert world.source.items[item.id].obj.marker is None
    settled(world)


def test_two_way_derived_field_is_rederived_not_written_back() -> None:
    world = World(policy(direction="two-way", fields={"title": "Court: {title}"}))
    (item,) = synced(world, event("a@x", "Smith"))
    copy = world.target.one("a@x")
    assert copy.obj.master is not None
    assert copy.obj.master.title == "Court: Smith"
    world.target.put(copy.id, edit(copy.obj, title="Something else", lm=5))
    the_plan = world.plan()
    assert writes(the_plan) == [("update", "target")]
    world.apply(the_plan)
    assert world.source.items[item.id] == item
    assert world.target.one("a@x").obj.master.title == "Court: Smith"  # type: ignore[union-attr]
    settled(world)


def test_two_way_target_original_is_copied_with_reverse_fields() -> None:
    world = World(
        policy(
            direction="two-way",
            fields={"location": "drop", "title": "Court: {title}"},
            reverse_fields={"title": "From b: {title}"},
        )
    )
    world.target.add(event("t@x", "Lunch", location="Cafe", description="notes"))
    the_plan = world.plan()
    assert writes(the_plan) == [("create", "source")]
    world.apply(the_plan)
    copy = world.source.one("t@x").obj
    assert copy.master is not None
    assert copy.master.title == "From b: Lunch"
    assert copy.master.location is None  # location is not kept forward: no reverse default
    assert copy.master.description == "notes"
    assert copy.marker == Marker("r", "t@x", copy_key("r", "target", "t@x"))
    settled(world)


# -- deletes -------------------------------------------------------------------------------


def test_delete_propagates_to_the_copy() -> None:
    world = World(policy(deletes="propagate"))
    (item,) = synced(world, event("a@x"))
    world.source.remove(item.id)
    the_plan = world.plan()
    assert writes(the_plan) == [("delete", "target")]
    world.apply(the_plan)
    assert world.target.items == {}
    assert world.pairs == {}
    settled(world)


def test_delete_keep_leaves_the_copy_for_good() -> None:
    world = World(policy(deletes="keep"))
    (item,) = synced(world, event("a@x"))
    world.source.remove(item.id)
    the_plan = world.plan()
    assert writes(the_plan) == []
    world.apply(the_plan)
    assert world.target.uids() == ["a@x"]
    assert world.pairs == {}
    settled(world)  # the copy, now without original, is not deleted as an orphan


def test_delete_from_incremental_listing() -> None:
    world = World(policy())
    (item,) = synced(world, event("a@x"))
    world.source.remove(item.id)
    the_plan = world.plan(changed={}, deleted={"source": [item.id]})
    assert writes(the_plan) == [("delete", "target")]


def test_one_way_revert_recreates_a_deleted_copy() -> None:
    world = World(policy(on_target_change="revert"))
    (item,) = synced(world, event("a@x", "Keep me"))
    world.target.remove(world.target.one("a@x").id)
    the_plan = world.plan()
    assert writes(the_plan) == [("create", "target")]
    assert the_plan.steps[0].writes[0].key == KEY_A
    world.apply(the_plan)
    assert same_content(world.target.one("a@x").obj, rendered(world.policy, "source", item.obj))
    settled(world)


def test_one_way_keep_dismisses_a_deleted_copy_for_good() -> None:
    world = World(policy(on_target_change="keep"))
    (item,) = synced(world, event("a@x", "Not wanted"))
    world.target.remove(world.target.one("a@x").id)
    the_plan = world.plan()
    assert writes(the_plan) == []
    world.apply(the_plan)
    assert world.pairs[KEY_A].dismissed
    world.source.put(item.id, edit(item.obj, title="Changed later"))
    assert writes(world.plan()) == []
    settled(world)


def test_two_way_copy_delete_propagates_to_the_original() -> None:
    world = World(policy(direction="two-way", deletes="propagate"))
    synced(world, event("a@x"))
    world.target.remove(world.target.one("a@x").id)
    the_plan = world.plan()
    assert writes(the_plan) == [("delete", "source")]
    world.apply(the_plan)
    assert world.source.items == {}
    settled(world)


def test_two_way_delete_keep_leaves_the_other_side() -> None:
    world = World(policy(direction="two-way", deletes="keep"))
    synced(world, event("a@x"))
    world.target.remove(world.target.one("a@x").id)
    the_plan = world.plan()
    assert writes(the_plan) == []
    world.apply(the_plan)
    assert world.source.uids() == ["a@x"]
    settled(world)


def test_two_way_deleted_original_but_edited_copy_promotes_the_edit() -> None:
    world = World(policy(direction="two-way"))
    (item,) = synced(world, event("a@x", "v1"))
    copy = world.target.one("a@x")
    world.source.remove(item.id)
    world.target.put(copy.id, edit(copy.obj, title="edited copy", lm=9))
    the_plan = world.plan()
    assert writes(the_plan) == [("update", "target"), ("create", "source")]
    world.apply(the_plan)
    new_original = world.target.one("a@x").obj
    assert new_original.marker is None
    assert new_original.uid == copy.obj.uid  # the copy's own UID: never changed in place
    assert new_original.master is not None
    assert new_original.master.title == "edited copy"
    new_copy = world.source.one("a@x").obj
    key = copy_key("r", "target", copy.obj.uid)
    assert new_copy.marker == Marker("r", copy.obj.uid, key)
    assert list(world.pairs) == [key]
    settled(world)


def test_two_way_deleted_copy_but_edited_original_recreates_the_copy() -> None:
    world = World(policy(direction="two-way"))
    (item,) = synced(world, event("a@x", "v1"))
    world.target.remove(world.target.one("a@x").id)
    world.source.put(item.id, edit(item.obj, title="edited original", lm=9))
    the_plan = world.plan()
    assert writes(the_plan) == [("create", "target")]
    world.apply(the_plan)
    assert world.target.one("a@x").obj.master.title == "edited original"  # type: ignore[union-attr]
    assert world.source.one("a@x").obj.master.title == "edited original"  # type: ignore[union-attr]
    settled(world)


def test_both_deleted_forgets_the_pair() -> None:
    world = World(policy(direction="two-way"))
    (item,) = synced(world, event("a@x"))
    world.source.remove(item.id)
    world.target.remove(world.target.one("a@x").id)
    the_plan = world.plan()
    assert writes(the_plan) == []
    world.apply(the_plan)
    assert world.pairs == {}


def test_orphan_copy_of_this_rule_is_deleted() -> None:
    pol = policy()
    world = World(pol)
    world.target.add(rendered(pol, "source", event("gone@x", "left over")))
    the_plan = world.plan()
    assert writes(the_plan) == [("delete", "target")]
    world.apply(the_plan)
    assert world.target.items == {}
    settled(world)


def test_orphan_copy_is_kept_when_deletes_are_kept() -> None:
    pol = policy(deletes="keep")
    world = World(pol)
    world.target.add(rendered(pol, "source", event("gone@x", "left over")))
    assert writes(world.plan()) == []


# -- filter and window ---------------------------------------------------------------------


def test_filter_selects_originals() -> None:
    world = World(
        policy(filter={"include": [{"categories": ["Court Date"]}], "exclude": [{"all_day": True}]})
    )
    world.source.add(event("court@x", "Court", categories=("court date",)))
    world.source.add(event("other@x", "Other"))
    world.source.add(
        event("allday@x", "Court all day", start=date(2030, 6, 5), categories=("Court Date",))
    )
    world.sync()
    assert world.target.uids() == ["court@x"]


def test_leaving_the_filter_deletes_the_copy() -> None:
    world = World(policy(filter={"exclude": [{"title": "(?i)^cancel"}]}))
    (item,) = synced(world, event("a@x", "Hearing"))
    world.source.put(item.id, edit(item.obj, title="Cancelled: Hearing"))
    the_plan = world.plan()
    assert writes(the_plan) == [("delete", "target")]
    world.apply(the_plan)
    assert world.target.items == {}
    settled(world)
    world.source.put(item.id, edit(item.obj, title="Hearing again"))  # back in: copied anew
    assert writes(world.plan()) == [("create", "target")]


def test_out_of_window_original_is_not_created() -> None:
    world = World(policy())
    world.source.add(event("past@x", start=NOW - timedelta(days=60)))
    world.source.add(event("far@x", start=NOW + timedelta(days=500)))
    world.source.add(event("near@x", start=NOW + timedelta(days=300)))
    # A series that started long ago but still has occurrences in the window is in it.
    world.source.add(weekly("series@x", start=NOW - timedelta(days=70), count=52))
    world.sync()
    assert world.target.uids() == ["near@x", "series@x"]


def test_leaving_the_window_never_deletes() -> None:
    world = World(policy())
    (item,) = synced(world, event("a@x", "Soon"))
    moved = edit(item.obj, start=NOW - timedelta(days=90), end=NOW - timedelta(days=89))
    world.source.put(item.id, moved)
    the_plan = world.plan()
    assert writes(the_plan) == [("update", "target")]  # the copy follows; it is not deleted
    world.apply(the_plan)
    settled(world)
    past = replace(world.window, start=NOW + timedelta(days=400), end=NOW + timedelta(days=800))
    world.window = past  # the whole calendar is now out of the window
    assert writes(world.plan()) == []


# -- conflicts (two-way, both sides edited) ------------------------------------------------


def conflict_world(
    conflict: str, source_edit: dict[str, Any], target_edit: dict[str, Any], **config: Any
) -> World:
    world = World(policy(direction="two-way", conflict=conflict, **config))
    (item,) = synced(world, event("a@x", "Base", location="Base room", lm=1))
    copy = world.target.one("a@x")
    world.source.put(item.id, edit(item.obj, **source_edit))
    world.target.put(copy.id, edit(copy.obj, **target_edit))
    return world


def both_titles(world: World) -> tuple[str | None, str | None]:
    src = world.source.one("a@x").obj.master
    tgt = world.target.one("a@x").obj.master
    assert src is not None
    assert tgt is not None
    return src.title, tgt.title


@pytest.mark.parametrize(
    ("conflict", "winner"),
    [("source-wins", "S"), ("target-wins", "T")],
)
def test_side_wins(conflict: str, winner: str) -> None:
    # The losing side is the newer one, so the policy (not the clock) decides.
    lm = {"S": 2, "T": 3} if winner == "S" else {"S": 3, "T": 2}
    world = conflict_world(conflict, {"title": "S", "lm": lm["S"]}, {"title": "T", "lm": lm["T"]})
    the_plan = world.plan()
    assert writes(the_plan) == [("update", "target" if winner == "S" else "source")]
    world.apply(the_plan)
    assert both_titles(world) == (winner, winner)
    settled(world)


@pytest.mark.parametrize(
    ("source_lm", "target_lm", "winner"),
    [
        (5, 3, "S"),
        (3, 5, "T"),
        (4, 4, "S"),  # a tie goes to the source
        (None, 4, "T"),  # unknown counts as oldest
        (4, None, "S"),
        (None, None, "S"),
    ],
)
def test_newest_wins(source_lm: int | None, target_lm: int | None, winner: str) -> None:
    world = World(policy(direction="two-way", conflict="newest-wins"))
    (item,) = synced(world, event("a@x", "Base", lm=1))
    copy = world.target.one("a@x")
    src = edit(item.obj, title="S", last_modified=None)
    tgt = edit(copy.obj, title="T", last_modified=None)
    world.source.put(item.id, edit(src, lm=source_lm) if source_lm is not None else src)
    world.target.put(copy.id, edit(tgt, lm=target_lm) if target_lm is not None else tgt)
    world.apply(world.plan())
    assert both_titles(world) == (winner, winner)
    settled(world)


def test_newest_wins_applies_to_target_originals_too() -> None:
    world = World(policy(direction="two-way", conflict="newest-wins"))
    (item,) = synced(world, event("t@x", "Base", lm=1), side="target")
    copy = world.source.one("t@x")
    world.target.put(item.id, edit(item.obj, title="T", lm=3))
    world.source.put(copy.id, edit(copy.obj, title="S", lm=7))
    world.apply(world.plan())
    assert world.target.one("t@x").obj.master.title == "S"  # type: ignore[union-attr]
    assert world.source.one("t@x").obj.master.title == "S"  # type: ignore[union-attr]
    settled(world)


def test_merge_keeps_edits_to_different_fields() -> None:
    world = conflict_world(
        "merge", {"title": "New title", "lm": 3}, {"location": "New room", "lm": 2}
    )
    the_plan = world.plan()
    assert sorted(writes(the_plan)) == [("update", "source"), ("update", "target")]
    world.apply(the_plan)
    for store in (world.source, world.target):
        master = store.one("a@x").obj.master
        assert master is not None
        assert (master.title, master.location) == ("New title", "New room")
    settled(world)


@pytest.mark.parametrize(("source_lm", "target_lm", "title"), [(3, 2, "S"), (2, 3, "T")])
def test_merge_same_field_newest_wins(source_lm: int, target_lm: int, title: str) -> None:
    world = conflict_world(
        "merge",
        {"title": "S", "description": "from S", "lm": source_lm},
        {"title": "T", "location": "from T", "lm": target_lm},
    )
    world.apply(world.plan())
    for store in (world.source, world.target):
        master = store.one("a@x").obj.master
        assert master is not None
        assert (master.title, master.description, master.location) == (title, "from S", "from T")
    settled(world)


def test_merge_of_series_overrides() -> None:
    world = World(policy(direction="two-way", conflict="merge"))
    (item,) = synced(world, weekly("w@x", "Standup"))
    copy = world.target.one("w@x")
    (rid,) = item.obj.overrides
    src_override = replace(item.obj.overrides[rid], title="moved, renamed on S")
    world.source.put(item.id, replace(edit(item.obj, lm=3), overrides={rid: src_override}))
    world.target.put(copy.id, edit(copy.obj, location="Room T", lm=2))
    world.apply(world.plan())
    for store in (world.source, world.target):
        obj = store.one("w@x").obj
        assert obj.master is not None
        assert obj.master.location == "Room T"
        assert obj.overrides[rid].title == "moved, renamed on S"
    settled(world)


def test_same_edit_on_both_sides_is_no_conflict() -> None:
    world = conflict_world("manual", {"title": "Same", "lm": 2}, {"title": "Same", "lm": 3})
    the_plan = world.plan()
    assert writes(the_plan) == []
    assert [s for s in the_plan.steps if s.conflict is not None] == []
    world.apply(the_plan)
    settled(world)


def test_manual_holds_a_conflict_until_resolved() -> None:
    world = conflict_world("manual", {"title": "S", "lm": 3}, {"title": "T", "lm": 2})
    the_plan = world.plan()
    step = only_step(the_plan)
    assert step.writes == ()
    assert step.conflict is not None
    assert "SUMMARY:S" in (step.conflict.source_body or "")
    assert "SUMMARY:T" in (step.conflict.target_body or "")
    assert the_plan.counts()["conflict"] == 1
    assert [a["op"] for a in the_plan.actions()] == ["conflict"]
    world.apply(the_plan)
    assert KEY_A in world.conflicts
    assert both_titles(world) == ("S", "T")
    # Held: the next cycle changes nothing either.
    again = world.plan()
    assert writes(again) == []
    world.conflicts[KEY_A] = replace(world.conflicts[KEY_A], resolution="target")
    resolved = world.plan()
    assert writes(resolved) == [("update", "source")]
    world.apply(resolved)
    assert both_titles(world) == ("T", "T")
    assert world.conflicts == {}
    settled(world)


def test_manual_resolution_for_the_source() -> None:
    world = conflict_world("manual", {"title": "S", "lm": 2}, {"title": "T", "lm": 3})
    world.apply(world.plan())
    world.conflicts[KEY_A] = replace(world.conflicts[KEY_A], resolution="source")
    # Nothing changed since; the engine reads both sides of a settled conflict again.
    ids: dict[Side, list[str]] = {s: [world.stores[s].one("a@x").id] for s in SIDES}
    resolved = world.plan(changed=ids)
    assert writes(resolved) == [("update", "target")]


# -- loops and other rules -----------------------------------------------------------------


def test_copies_of_another_rule_are_never_copied() -> None:
    a, b = Store("a"), Store("b")
    forward = World(policy(), a, b)
    backward = World(
        policy(name="back", source={"connection": "b"}, target={"connection": "a"}), b, a
    )
    a.add(event("on-a@x", "From A"))
    b.add(event("on-b@x", "From B"))
    for _ in range(3):
        forward.sync()
        backward.sync()
    assert a.uids() == ["on-a@x", "on-b@x"]
    assert b.uids() == ["on-a@x", "on-b@x"]
    assert a.one("on-b@x").obj.marker == Marker(
        "back", "on-b@x", copy_key("back", "source", "on-b@x")
    )
    settled(forward)
    settled(backward)


def test_two_rules_into_one_calendar_keep_their_own_copies() -> None:
    """Rule ``busy`` must not adopt rule ``r``'s copy (same UID) and then fight over it."""
    a, b = Store("a"), Store("b")
    detailed = World(policy(), a, b)
    busy = World(policy(name="busy", fields="busy-block"), a, b)
    a.add(event("a@x", "Secret meeting", location="HQ"))
    for _ in range(2):
        detailed.sync()
        busy.sync()
    owners = {w.policy.rule: w.policy.copy_keys() for w in (detailed, busy)}
    rules = sorted(
        ([r for r, keys in owners.items() if keys.owns(marker)], i.obj.first.title)
        for i in b.items.values()
        if (marker := i.obj.marker) is not None
    )
    assert rules == [(["busy"], "Busy"), (["r"], "Secret meeting")]
    settled(detailed)
    settled(busy)


# -- the mass-delete guard -----------------------------------------------------------------


def guarded(n: int, **config: Any) -> tuple[World, list[Item]]:
    world = World(policy(**config))
    items = synced(world, *(event(f"e{i}@x", f"#{i}") for i in range(n)))
    return world, items


@pytest.mark.parametrize(("deleted", "held"), [(5, False), (6, True)])
def test_guard_percentage(deleted: int, held: bool) -> None:
    world, items = guarded(10, guard={"max_deletes": "50%"})
    for item in items[:deleted]:
        world.source.remove(item.id)
    the_plan = world.plan()
    assert (the_plan.hold is not None) == held
    if held:
        assert the_plan.hold is not None
        assert "6 deletions on the target" in the_plan.hold
        assert "--allow-mass-delete" in the_plan.hold
        assert the_plan.actions()[0]["op"] == "hold"
        before = dict(world.target.items)
        world.apply(the_plan)
        assert world.target.items == before


@pytest.mark.parametrize(("deleted", "held"), [(3, False), (4, True)])
def test_guard_count(deleted: int, held: bool) -> None:
    world, items = guarded(10, guard={"max_deletes": 3})
    for item in items[:deleted]:
        world.source.remove(item.id)
    assert (world.plan().hold is not None) == held


def test_one_delete_is_never_a_mass_delete() -> None:
    world, items = guarded(1, guard={"max_deletes": 0})
    world.source.remove(items[0].id)
    the_plan = world.plan()
    assert the_plan.hold is None
    assert writes(the_plan) == [("delete", "target")]


def test_guard_suddenly_empty_side() -> None:
    world, items = guarded(3, guard={"max_deletes": "100%"})
    for item in items:
        world.source.remove(item.id)
    the_plan = world.plan()
    assert the_plan.hold is not None
    assert "suddenly empty" in the_plan.hold


@pytest.mark.parametrize(("held", "hold"), [(3, True), (4, False)])
def test_guard_empty_side_in_incremental_listing(held: int, hold: bool) -> None:
    """An incremental listing that deleted everything the side held left it empty, as a full
    listing with nothing in it would; one that leaves something behind is ordinary."""
    world, items = guarded(3, guard={"max_deletes": "100%"})
    for item in items:
        world.source.remove(item.id)
    given = world.input(changed={}, deleted={"source": [i.id for i in items]})
    source = replace(given.source, held=held, held_gone=3)
    the_plan = plan(replace(given, source=source))
    assert (the_plan.hold is not None) is hold
    if the_plan.hold is not None:
        assert the_plan.hold.startswith(
            "the source calendar is suddenly empty — was it renamed, emptied or mistyped?"
        )
        assert the_plan.hold.endswith("`calsyncd sync --rule r --allow-mass-delete`")


def test_allow_mass_delete() -> None:
    world, items = guarded(4)
    for item in items:
        world.source.remove(item.id)
    assert world.plan().hold is not None
    the_plan = world.plan(allow_mass_delete=True)
    assert the_plan.hold is None
    assert writes(the_plan) == [("delete", "target")] * 4
    world.apply(the_plan)
    assert world.target.items == {}


def test_guard_counts_each_side() -> None:
    world = World(policy(direction="two-way"))
    synced(world, *(event(f"e{i}@x") for i in range(4)))
    for uid in ("e0@x", "e1@x", "e2@x"):
        world.target.remove(world.target.one(uid).id)
    the_plan = world.plan()
    assert the_plan.hold is not None
    assert "deletions on the source" in the_plan.hold


# -- field mapping -------------------------------------------------------------------------

ATTENDEES = (
    Attendee("ann@example.org", "Ann", Response.ACCEPTED),
    Attendee("bob@example.org", None, Response.DECLINED),
)


def rich(uid: str = "a@x") -> CalendarObject:
    return event(
        uid,
        "Smith v. Jones",
        description="Bring the files",
        location="Court 4",
        categories=("Court Date", "Secret", "Misc"),
        reminders=(timedelta(minutes=30),),
        organizer=Person("clerk@example.org", "Clerk"),
        attendees=ATTENDEES,
        show_as=ShowAs.FREE,
        visibility=Visibility.PUBLIC,
        url="https://example.org/case/1",
        conference_url="https://meet.example.org/1",
    )


def copy_of(original: CalendarObject, **config: Any) -> CalendarObject:
    world = World(policy(**config))
    world.source.add(original)
    world.apply(world.plan())
    copy = world.target.one(original.uid).obj
    settled(world)
    return copy


def test_default_mapping_keeps_all_but_attendees_and_organizer() -> None:
    copy = copy_of(rich())
    master = copy.master
    assert master is not None
    assert master.attendees == ()
    assert master.organizer is None
    assert master.title == "Smith v. Jones"
    assert master.description == "Bring the files"
    assert master.location == "Court 4"
    assert master.categories == ("Court Date", "Secret", "Misc")
    assert master.reminders == (timedelta(minutes=30),)
    assert master.show_as == ShowAs.FREE
    assert master.visibility == Visibility.PUBLIC
    assert master.url == "https://example.org/case/1"
    assert master.conference_url == "https://meet.example.org/1"


def test_attendees_keep_keeps_the_organizer() -> None:
    master = copy_of(rich(), fields={"attendees": "keep"}).master
    assert master is not None
    assert master.attendees == ATTENDEES
    assert master.organizer == Person("clerk@example.org", "Clerk")


def test_templates_render() -> None:
    master = copy_of(
        rich(),
        fields={"title": "Court: {title}", "description": "{location} ({categories})"},
        source={"connection": "a", "calendar": "cases"},
    ).master
    assert master is not None
    assert master.title == "Court: Smith v. Jones"
    assert master.description == "Court 4 (Court Date, Secret, Misc)"
    assert master.url is None  # the URL travels with the description


def test_template_with_calendar_and_times() -> None:
    master = copy_of(
        rich(),
        fields={"title": "{calendar}: {start}-{end}"},
        source={"connection": "a", "calendar": "cases"},
    ).master
    assert master is not None
    assert master.title == "cases: 2030-06-04 09:00-2030-06-04 10:00"


def test_busy_block() -> None:
    master = copy_of(rich(), fields="busy-block").master
    assert master is not None
    assert master.title == "Busy"
    assert master.description is None
    assert master.location is None
    assert master.attendees == ()
    assert master.organizer is None
    assert master.categories == ()
    assert master.reminders == ()
    assert master.show_as == ShowAs.BUSY
    assert master.visibility == Visibility.PRIVATE
    assert master.url is None
    assert master.conference_url is None
    assert (master.start, master.end) == (rich().master.start, rich().master.end)  # type: ignore[union-attr]


def test_busy_block_keeps_the_series_shape() -> None:
    original = weekly("w@x", "Private standup")
    copy = copy_of(original, fields="busy-block")
    assert copy.master is not None
    assert original.master is not None
    assert copy.master.rrules == original.master.rrules
    assert copy.master.exdates == original.master.exdates
    assert set(copy.overrides) == set(original.overrides)
    assert {e.title for e in copy.events} == {"Busy"}


def test_categories_mapping() -> None:
    master = copy_of(rich(), fields={"categories": {"Court Date": "Court", "Secret": ""}}).master
    assert master is not None
    assert master.categories == ("Court", "Misc")


def test_reminders_list() -> None:
    master = copy_of(rich(), fields={"reminders": ["15m", "1h"]}).master
    assert master is not None
    assert master.reminders == (timedelta(minutes=15), timedelta(hours=1))


def test_fixed_visibility_and_show_as() -> None:
    master = copy_of(rich(), fields={"visibility": "private", "show_as": "busy"}).master
    assert master is not None
    assert (master.visibility, master.show_as) == (Visibility.PRIVATE, ShowAs.BUSY)


def test_unknown_properties_are_never_copied() -> None:
    from calsyncd.model.event import ExtraProperty

    original = event("a@x", extra=(ExtraProperty("X-SECRET", "X-SECRET:42"),))
    master = copy_of(original).master
    assert master is not None
    assert master.extra == ()


def test_all_day_and_zoned_times_travel_unchanged() -> None:
    from zoneinfo import ZoneInfo

    ny = datetime(2030, 6, 10, 9, 30, tzinfo=ZoneInfo("America/New_York"))
    for original in (
        event("d@x", "All day", start=date(2030, 6, 10), end=date(2030, 6, 11)),
        event("ny@x", "New York", start=ny),
    ):
        master = copy_of(original).master
        assert master is not None
        assert original.master is not None
        assert (master.start, master.end) == (original.master.start, original.master.end)
        assert repr(master.start) == repr(original.master.start)


def test_mapping_change_rerenders_every_copy() -> None:
    world = World(policy())
    synced(world, event("a@x", "One"), event("b@x", "Two"))
    world.policy = policy(fields={"title": "Copy: {title}"})
    # Incremental listings without changes: the engine says when the mapping changed.
    assert writes(world.plan(changed={})) == []
    the_plan = world.plan(changed={}, rerender=True)
    assert writes(the_plan) == [("update", "target")] * 2
    world.apply(the_plan)
    titles = sorted(i.obj.first.title or "" for i in world.target.items.values())
    assert titles == ["Copy: One", "Copy: Two"]


# -- determinism ---------------------------------------------------------------------------


def busy_world() -> World:
    world = World(policy(direction="two-way", conflict="merge"))
    items = synced(world, *(event(f"e{i}@x", f"#{i}", lm=1) for i in range(6)))
    world.source.put(items[0].id, edit(items[0].obj, title="changed", lm=2))
    world.source.remove(items[1].id)
    world.target.remove(world.target.one("e2@x").id)
    copy = world.target.one("e3@x")
    world.target.put(copy.id, edit(copy.obj, location="there", lm=3))
    world.source.add(event("new-s@x", "new on source"))
    world.target.add(event("new-t@x", "new on target"))
    return world


def shuffled(given: PlanInput, seed: int) -> PlanInput:
    rng = random.Random(seed)

    def mix(mapping: dict[str, Any]) -> dict[str, Any]:
        keys = list(mapping)
        rng.shuffle(keys)
        return {k: mapping[k] for k in keys}

    def view(v: SideView) -> SideView:
        return replace(v, items=mix(dict(v.items)))

    return replace(
        given,
        source=view(given.source),
        target=view(given.target),
        pairs=mix(dict(given.pairs)),
    )


def test_same_input_same_plan() -> None:
    given = busy_world().input(allow_mass_delete=True)
    first = plan(given)
    assert len(writes(first)) >= 5
    for seed in range(5):
        again = plan(shuffled(given, seed))
        assert again == first
        assert again.actions() == first.actions()


def test_busy_world_settles() -> None:
    world = busy_world()
    world.sync(allow_mass_delete=True)
    assert world.source.uids() == world.target.uids()
    assert world.source.uids() == ["e0@x", "e3@x", "e4@x", "e5@x", "new-s@x", "new-t@x"]
    settled(world)


def test_planner_is_pure() -> None:
    """Planning neither changes its input nor depends on earlier plans."""
    world = busy_world()
    given = world.input(allow_mass_delete=True)
    pairs_before = dict(given.pairs)
    first = plan(given)
    assert dict(given.pairs) == pairs_before
    assert plan(given) == first


def test_pair_record_is_what_the_engine_reads_back() -> None:
    """A row of the world (made by the executor's ``pair_after``) round-trips its base text."""
    world = World(policy())
    synced(world, weekly("w@x"))
    row = world.pairs[copy_key("r", "source", "w@x")]
    assert isinstance(row, PairRecord)
    assert row.source_base is not None
    assert "RRULE:FREQ=WEEKLY;COUNT=10" in row.source_base
    assert row.written_hash == row.target_hash


def test_display_of_times() -> None:
    world = World(policy())
    world.source.add(event("d@x", "All day", start=date(2030, 6, 10), end=date(2030, 6, 11)))
    world.source.add(event("t@x", "Timed", start=datetime(2030, 6, 10, 8, 5, tzinfo=UTC)))
    starts = sorted(a["start"] for a in world.plan().actions())
    assert starts == ["2030-06-10", "2030-06-10T08:05+00:00"]


# -- regressions ---------------------------------------------------------------------------


def test_two_way_filter_exit_with_edited_copy_makes_no_duplicate() -> None:
    """The original still exists: promoting the edited copy would put a second object with
    its UID next to it. The copy goes, as for any original leaving the filter."""
    world = World(policy(direction="two-way", filter={"exclude": [{"title": "(?i)^cancel"}]}))
    (item,) = synced(world, event("a@x", "Hearing", lm=1))
    copy = world.target.one("a@x")
    world.source.put(item.id, edit(item.obj, title="Cancelled: Hearing", lm=2))
    world.target.put(copy.id, edit(copy.obj, location="Room 9", lm=3))
    the_plan = world.plan()
    assert writes(the_plan) == [("delete", "target")]
    world.apply(the_plan)
    assert world.source.uids() == ["a@x"]
    assert world.source.one("a@x").obj.marker is None
    assert world.target.items == {}
    settled(world)


@pytest.mark.parametrize("direction", ["one-way", "two-way"])
def test_filter_exit_while_the_copy_was_deleted(direction: str) -> None:
    """Used to fail an assertion in the planner, so the rule could never sync again."""
    world = World(policy(direction=direction, filter={"exclude": [{"title": "(?i)^cancel"}]}))
    (item,) = synced(world, event("a@x", "Hearing", lm=1))
    world.source.put(item.id, edit(item.obj, title="Cancelled: Hearing", lm=2))
    world.target.remove(world.target.one("a@x").id)
    the_plan = world.plan()
    assert writes(the_plan) == []
    world.apply(the_plan)
    assert world.pairs == {}
    assert world.source.uids() == ["a@x"]
    settled(world)


def test_held_conflict_is_settled_when_the_sides_agree() -> None:
    world = conflict_world("manual", {"title": "S", "lm": 3}, {"title": "T", "lm": 2})
    world.apply(world.plan())
    assert KEY_A in world.conflicts
    copy = world.target.one("a@x")
    world.target.put(copy.id, edit(copy.obj, title="S"))  # someone fixed it by hand
    the_plan = world.plan()
    assert writes(the_plan) == []
    world.apply(the_plan)
    assert world.conflicts == {}
    settled(world)


def test_held_conflict_is_settled_when_a_side_is_deleted() -> None:
    world = conflict_world("manual", {"title": "S", "lm": 3}, {"title": "T", "lm": 2})
    world.apply(world.plan())
    world.source.remove(world.source.one("a@x").id)
    world.sync()
    # Deleted original, edited copy: the edit wins and becomes the original.
    assert world.target.one("a@x").obj.marker is None
    assert world.source.one("a@x").obj.marker is not None
    assert world.conflicts == {}
    settled(world)
