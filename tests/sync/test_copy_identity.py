"""Copies with their own identity: own UIDs, anonymous copies, and the upgrade from copies that
kept their original's UID — whole cycles (``calsyncd.sync.engine.Cycle``) over in-memory
calendars (and a real ICS file) with a real state store.

"Today's version" — before copies had UIDs of their own — is the engine with no anonymous
side and ``keep_uids``: it writes exactly what that version wrote (the original's UID, the full
marker, the plain key as id) and stores the same pair rows and config hash.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from calsyncd.model.event import CalendarObject, Marker
from calsyncd.model.ical import serialize_object
from calsyncd.providers.base import Calendar, Item
from calsyncd.providers.ics import IcsFile
from calsyncd.state.secret import secret_path
from calsyncd.state.store import SIDES, Side, StateStore
from calsyncd.sync.engine import Cycle, CycleResult
from calsyncd.sync.keys import anonymous_key, copy_key, copy_uid
from calsyncd.sync.planner import Policy
from calsyncd.sync.policy import config_hash
from sync.helpers import TEST_SECRET, WINDOW, edit, event, policy, rule, weekly
from sync.memory import Killed, MemoryCalendar, MemoryServer


def old_version(pol: Policy) -> Policy:
    """The rule as the version before own UIDs ran it (see the module docstring)."""
    return replace(pol, anonymous=frozenset(), keep_uids=True)


NAME = "quiet-rule"
"""The rule's name: long enough to be looked for in a copy's text."""


class Rig:
    """One rule (:data:`NAME`) from an in-memory source to an in-memory (or given) target."""

    def __init__(self, target: Calendar | None = None, **config: Any) -> None:
        self.config = {"name": NAME, **config}
        self.policy = policy(**self.config)
        self.source = MemoryServer("src")
        self.target_server = MemoryServer("tgt")
        self.target = target
        self.store = StateStore.in_memory(secret=TEST_SECRET)

    def cycle(self, pol: Policy | None = None, **kwargs: Any) -> CycleResult:
        async def go() -> CycleResult:
            calendars: dict[Side, Calendar] = {
                "source": MemoryCalendar(self.source),
                "target": self.target or MemoryCalendar(self.target_server),
            }
            the_rule = rule(**self.config)
            cycle = Cycle(pol or self.policy, WINDOW, config_hash(the_rule), self.store, calendars)
            return await cycle.run(**kwargs)

        return anyio.run(go, backend="asyncio")

    def ok(self, pol: Policy | None = None) -> CycleResult:
        result = self.cycle(pol)
        assert result.ok, result
        return result

    def settle(self, pol: Policy | None = None) -> None:
        for _ in range(4):
            if not shown(self.ok(pol)):
                return
        raise AssertionError("not settled")

    def copies(self) -> list[Item]:
        return self.target_server.items()


def shown(result: CycleResult) -> list[str]:
    assert result.plan is not None
    return [a["op"] for a in result.plan.actions()]


def text(obj: CalendarObject) -> str:
    return serialize_object(obj).decode()


def assert_anonymous(copy: CalendarObject, *originals: CalendarObject, rule_name: str) -> None:
    """Nothing in the copy's text names an original (UID, title, description, location), the
    rule, or carries the original's CREATED / LAST-MODIFIED / SEQUENCE."""
    body = text(copy)
    assert copy.marker is not None
    assert copy.marker.is_anonymous
    assert copy.uid == copy_uid(copy.marker.key)
    for original in originals:
        first = original.first
        for value in (original.uid, first.title, first.description, first.location):
            if value:
                assert value not in body, (value, body)
    for name in (rule_name, "X-CALSYNCD-RULE", "X-CALSYNCD-ORIGIN", "LAST-MODIFIED", "CREATED"):
        assert name not in body, (name, body)


# -- own UIDs ----------------------------------------------------------------------------------


def test_a_copy_gets_a_uid_of_its_own_made_from_its_key() -> None:
    rig = Rig()
    rig.source.add(event("a@x", "Hearing"))
    rig.settle()
    (copy,) = rig.copies()
    key = copy_key(NAME, "source", "a@x")
    assert copy.obj.uid == copy_uid(key) == f"{key}@calsyncd"
    assert copy.obj.marker == Marker(NAME, "a@x", key)


def test_uid_keep_gives_copies_their_originals_uid() -> None:
    rig = Rig(uid="keep")
    rig.source.add(weekly("w@x"))
    rig.settle()
    (copy,) = rig.copies()
    assert copy.obj.uid == "w@x"
    assert copy.obj.marker == Marker(NAME, "w@x", copy_key(NAME, "source", "w@x"))


# -- anonymous copies ----------------------------------------------------------------------------


def test_busy_blocks_are_anonymous() -> None:
    rig = Rig(fields="busy-block")
    originals = [
        rig.source.add(event("dentist@home.example", "Dentist", description="Dr. Weber")).obj,
        rig.source.add(weekly("therapy@home.example", "Therapy")).obj,
    ]
    rig.settle()
    copies = rig.copies()
    assert len(copies) == 2
    for copy in copies:
        assert_anonymous(copy.obj, *originals, rule_name=NAME)
        assert {e.title for e in copy.obj.events} == {"Busy"}
    keys = {c.obj.marker.key for c in copies if c.obj.marker}
    want = {anonymous_key(TEST_SECRET, NAME, "source", o.uid) for o in originals}
    assert keys == want
    assert {c.id for c in copies} == {f"{k}.ics" for k in want}  # the id is the opaque key


def test_anonymous_true_makes_full_copies_anonymous() -> None:
    rig = Rig(anonymous=True)
    original = rig.source.add(event("a@x", "Visible title", location="Room 1")).obj
    rig.settle()
    (copy,) = rig.copies()
    assert copy.obj.first.title == "Visible title"  # the mapping still decides the content
    assert copy.obj.marker == Marker.anonymous(anonymous_key(TEST_SECRET, NAME, "source", "a@x"))
    assert original.uid not in text(copy.obj)


def test_copies_into_a_published_ics_file_are_anonymous(tmp_path: Path) -> None:
    feed = IcsFile(tmp_path / "busy.ics", where="feed")
    rig = Rig(target=feed)
    original = rig.source.add(event("a@x", "Hearing")).obj
    rig.settle()
    body = (tmp_path / "busy.ics").read_text()
    assert "X-CALSYNCD-KEY:" in body
    assert "a@x" not in body
    assert "X-CALSYNCD-RULE" not in body
    assert "X-CALSYNCD-ORIGIN" not in body
    assert "Hearing" in body  # not a busy block: the title is what the rule shows
    assert original.uid not in body


def test_uid_keep_into_a_published_ics_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "busy.ics"
    rig = Rig(target=IcsFile(path, where="feed"), uid="keep")
    rig.source.add(event("a@x"))
    result = rig.cycle()
    assert result.error is not None
    assert "uid: keep" in result.error
    assert "feed" in result.error
    assert not path.exists()


def test_anonymous_copies_are_adopted_after_a_lost_state_database() -> None:
    rig = Rig(fields="busy-block")
    rig.source.add(event("a@x"))
    rig.source.add(weekly("w@x"))
    rig.settle()
    writes = len(rig.target_server.writes)
    rig.store = StateStore.in_memory(secret=TEST_SECRET)  # the secret file is kept
    assert sorted(shown(rig.ok())) == ["adopt", "adopt"]
    rig.settle()
    assert len(rig.target_server.writes) == writes
    assert len(rig.copies()) == 2


def test_an_orphaned_anonymous_copy_is_found_after_a_lost_state_database() -> None:
    """It names no original; its rule recognises it by its key, finds no original, deletes."""
    rig = Rig(fields="busy-block")
    gone = rig.source.add(event("gone@x"))
    rig.source.add(event("kept@x"))
    rig.settle()
    rig.store = StateStore.in_memory(secret=TEST_SECRET)
    rig.source.remove(gone.id)
    result = rig.ok()
    assert sorted(shown(result)) == ["adopt", "delete"]
    (copy,) = rig.copies()
    assert copy.obj.marker == Marker.anonymous(anonymous_key(TEST_SECRET, NAME, "source", "kept@x"))


def test_another_rules_anonymous_copies_are_left_alone() -> None:
    """Two busy-block rules into one calendar: neither takes, nor deletes, the other's."""
    shared = MemoryServer("shared")
    first, second = Rig(fields="busy-block"), Rig(fields="busy-block", name="second")
    first.target_server = second.target_server = shared
    first.source.add(event("a@x", "From one"))
    second.source.add(event("b@x", "From two"))
    for _ in range(2):
        first.settle()
        second.settle()
    assert len(shared.items()) == 2
    first.store = StateStore.in_memory(secret=TEST_SECRET)  # lost: all copies unpaired
    assert shown(first.ok()) == ["adopt"]
    assert len(shared.items()) == 2


def test_a_killed_create_then_original_deleted_leaves_no_anonymous_orphan() -> None:
    """The copy was made, its row never committed, its original deleted before the next
    cycle: an incremental cycle looks the original up by the copy's key, finds none."""
    rig = Rig(fields="busy-block")
    rig.source.add(event("first@x"))
    rig.settle()
    late = rig.source.add(event("late@x"))
    rig.target_server.kill_after(1)
    with pytest.raises(BaseExceptionGroup) as caught:
        rig.cycle()
    assert caught.group_contains(Killed)
    assert len(rig.copies()) == 2
    rig.source.remove(late.id)
    result = rig.ok()
    assert shown(result) == ["delete"]
    assert len(rig.copies()) == 1
    rig.settle()


# -- the upgrade from copies that kept their original's UID ------------------------------------


def test_upgrade_leaves_marked_copies_as_they_are() -> None:
    rig = Rig()
    rig.source.add(event("a@x"))
    rig.source.add(weekly("w@x"))
    rig.settle(old_version(rig.policy))
    assert sorted(c.obj.uid for c in rig.copies()) == ["a@x", "w@x"]
    writes = len(rig.target_server.writes)
    assert shown(rig.ok()) == []  # the rule's config hash is the same: no full listing
    rig.source.add(event("b@x"))
    rig.settle()
    assert len(rig.target_server.writes) == writes + 1  # b's copy, nothing rewritten
    uids = sorted(c.obj.uid for c in rig.copies())
    assert uids == sorted(["a@x", "w@x", copy_uid(copy_key(NAME, "source", "b@x"))])


@pytest.mark.parametrize("lost_state", [False, True])
def test_upgrade_replaces_old_busy_blocks_once_with_no_duplicate(lost_state: bool) -> None:
    """Old busy blocks carry the original's UID and the full marker: each is replaced once
    (deleted, then made anonymous) — all of them at once, which the guard does not hold."""
    rig = Rig(fields="busy-block")
    originals = [rig.source.add(event(f"e{n}@x", f"Secret {n}")).obj for n in range(10)]
    originals.append(rig.source.add(weekly("w@x", "Therapy")).obj)
    rig.settle(old_version(rig.policy))
    assert sorted(c.obj.uid for c in rig.copies()) == sorted(o.uid for o in originals)
    if lost_state:
        rig.store = StateStore.in_memory(secret=TEST_SECRET)
    result = rig.ok()
    assert result.held is None
    assert sorted(set(shown(result))) == (
        ["adopt", "create", "delete"] if lost_state else ["create", "delete"]
    )
    copies = rig.copies()
    assert len(copies) == len(originals)
    for copy in copies:
        assert_anonymous(copy.obj, *originals, rule_name=NAME)
    rig.settle()
    writes = len(rig.target_server.writes)
    assert shown(rig.ok()) == []
    assert len(rig.target_server.writes) == writes


@pytest.mark.parametrize("writes", [1, 2, 3])
def test_upgrade_killed_half_way_ends_with_one_copy_each(writes: int) -> None:
    """Killed after a delete (the copy is made next cycle, whatever the policy), after its
    create (the new copy is found by its key and brought up to date), or later."""
    rig = Rig(fields="busy-block", on_target_change="keep")
    for n in range(4):
        rig.source.add(event(f"e{n}@x"))
    rig.settle(old_version(rig.policy))
    rig.target_server.kill_after(writes)
    with pytest.raises(BaseExceptionGroup):
        rig.cycle()
    rig.settle()
    copies = rig.copies()
    assert len(copies) == 4
    assert all(c.obj.marker is not None and c.obj.marker.is_anonymous for c in copies)
    assert sorted(c.obj.uid for c in copies) == sorted(copy_uid(c.obj.marker.key) for c in copies)  # type: ignore[union-attr]


def test_two_way_copy_edit_flows_back_before_the_copy_is_replaced() -> None:
    rig = Rig(direction="two-way", anonymous=True)
    original = rig.source.add(event("a@x", "v1"))
    rig.settle(old_version(rig.policy))
    (old_copy,) = rig.copies()
    rig.target_server.put(old_copy.id, edit(old_copy.obj, title="edited on the copy", lm=30))
    rig.settle()
    assert rig.source.item(original.id).obj.first.title == "edited on the copy"
    (copy,) = rig.copies()
    assert copy.obj.marker is not None
    assert copy.obj.marker.is_anonymous
    assert copy.obj.first.title == "edited on the copy"


def test_the_keys_follow_the_sides_that_are_anonymous() -> None:
    """A two-way busy-block rule: copies on both sides are anonymous."""
    rig = Rig(direction="two-way", fields="busy-block")
    rig.source.add(event("s@x", "On the source"))
    rig.target_server.add(event("t@x", "On the target"))
    rig.settle()
    for server in (rig.source, rig.target_server):
        copies = [i for i in server.items() if i.obj.marker is not None]
        assert len(copies) == 1
        assert copies[0].obj.marker is not None
        assert copies[0].obj.marker.is_anonymous
    for side in SIDES:
        assert side in rig.policy.anonymous


def test_a_lost_secret_with_the_database_kept_replaces_each_copy_once(tmp_path: Path) -> None:
    db = tmp_path / "calsyncd.db"
    rig = Rig(fields="busy-block")
    rig.store = StateStore.open(db)
    for n in range(3):
        rig.source.add(event(f"e{n}@x"))
    rig.settle()
    before = {c.obj.marker.key for c in rig.copies() if c.obj.marker}
    rig.store.close()
    secret_path(db).unlink()
    rig.store = StateStore.open(db)
    result = rig.ok()
    assert result.held is None
    assert sorted(shown(result)) == ["create"] * 3 + ["delete"] * 3
    rig.settle()
    after = {c.obj.marker.key for c in rig.copies() if c.obj.marker}
    assert len(after) == 3
    assert not after & before
    rig.store.close()
