"""Property-based sync tests: random edits on both sides, flaky writes, killed cycles.

A Hypothesis state machine (the idea of vdirsyncer's ``SyncMachine``) drives real
:class:`~calsyncd.sync.engine.Cycle` runs of one rule over two in-memory calendars and a real
SQLite :class:`~calsyncd.state.store.StateStore`. Between cycles it creates, edits and deletes
events (single, all-day, series with moved and cancelled occurrences) on either side; it makes
writes fail (``TemporaryError``), lose races (an edit behind the provider's back right before
the write, or an injected ``PreconditionFailed``), and kills a cycle right after a remote write
and before its state row is committed. ``sync`` runs cycles until one is clean and then checks:

- both sides agree with the rule's intent: every selected original has exactly one copy of
  this rule, rendered from it; no copy of this rule lacks its original; nothing unselected is
  copied;
- nothing is duplicated: no UID twice on a side, ever (checked after every step, too);
- nothing is lost: an event the test never deleted still exists; an event deleted on one side
  and not edited on the other is gone on both; an edit made on one side only survives
  (policies that can tell, see ``Config.edits_survive``); a one-way rule never writes its
  source and never touches the target's own events;
- a further cycle plans nothing and writes nothing;
- a lost state database is rebuilt by adopting every copy, with no write at all.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import anyio
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from calsyncd.model.event import CalendarObject, Event, Marker
from calsyncd.model.hashing import content_hash
from calsyncd.providers.base import Calendar, Item
from calsyncd.state.store import SIDES, Side, StateStore
from calsyncd.sync.engine import Cycle, CycleResult
from calsyncd.sync.filters import selected
from calsyncd.sync.plan import other
from calsyncd.sync.policy import config_hash
from sync.helpers import NOW, TEST_SECRET, WINDOW, identity, names, policy, rendered, stamp
from sync.helpers import rule as make_rule
from sync.memory import Killed, MemoryCalendar, MemoryServer, Op


@dataclass(frozen=True)
class Config:
    rule: dict[str, Any]
    edits_survive: bool
    """Whether an edit made on one side only must be what both sides hold afterwards (true
    for rules that keep every field the test edits, under newest-wins or merge)."""


CONFIGS: dict[str, Config] = {
    "one-way": Config({}, edits_survive=True),
    "one-way-mapped": Config(
        {
            "fields": {"title": "Copy: {title}", "location": "drop", "reminders": ["10m"]},
            "filter": {"exclude": [{"title": "^private"}]},
        },
        edits_survive=True,
    ),
    "two-way": Config({"direction": "two-way"}, edits_survive=True),
    "two-way-merge": Config({"direction": "two-way", "conflict": "merge"}, edits_survive=True),
    "two-way-mapped": Config(
        {
            "direction": "two-way",
            "conflict": "source-wins",
            "fields": {"title": "Court: {title}", "description": "drop"},
            "filter": {"exclude": [{"title": "^private"}]},
        },
        edits_survive=False,
    ),
    "one-way-busy": Config({"fields": "busy-block"}, edits_survive=True),
    "two-way-anonymous": Config({"direction": "two-way", "anonymous": True}, edits_survive=True),
}

TITLES = ("Meeting", "Lunch", "private call")
FIELDS = ("title", "location", "description", "time", "override", "exdate")
MAX_CYCLES = 12


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.servers: dict[Side, MemoryServer] = {
            "source": MemoryServer("src"),
            "target": MemoryServer("tgt"),
        }
        self.store = StateStore.in_memory(secret=TEST_SECRET)
        self.clock = itertools.count(10)
        self.uids = itertools.count(1)
        # The model: what the test did since the last clean sync.
        self.created: dict[str, Side] = {}
        self.deleted: dict[str, set[Side]] = {}
        self.edited: dict[str, set[Side]] = {}
        self.last_version: dict[tuple[str, Side], str] = {}
        self.foreign: dict[str, CalendarObject] = {}
        """One-way: the target's own events (not copies); the rule must never touch them."""
        self.pending_race = False
        self.steps = 0

    # -- setup -----------------------------------------------------------------------------

    @initialize(
        name=st.sampled_from(sorted(CONFIGS)),
        per_side=st.lists(
            st.tuples(st.sampled_from(TITLES), st.sampled_from(("single", "series", "all-day"))),
            max_size=4,
        ),
        synced=st.booleans(),
    )
    def start(self, name: str, per_side: list[tuple[str, str]], synced: bool) -> None:
        """Choose the rule; start with a few events on each side, synced already or not."""
        self.config = CONFIGS[name]
        self.rule = make_rule(**self.config.rule)
        self.policy = policy(**self.config.rule)
        self.keys = self.policy.copy_keys()
        self.config_hash = config_hash(self.rule)
        event(f"rule {name}")
        for n, (title, kind) in enumerate(per_side):
            for side in SIDES:
                self.create(side, title, kind, day=2 + 3 * n)
        if synced:
            self.sync()

    @property
    def two_way(self) -> bool:
        return self.policy.two_way

    # -- running cycles --------------------------------------------------------------------

    def run_cycle(self, *, allow_mass_delete: bool = False) -> CycleResult | None:
        """One cycle; ``None`` when it was killed."""

        async def go() -> CycleResult:
            calendars: dict[Side, Calendar] = {
                side: MemoryCalendar(self.servers[side]) for side in SIDES
            }
            cycle = Cycle(self.policy, WINDOW, self.config_hash, self.store, calendars)
            return await cycle.run(allow_mass_delete=allow_mass_delete)

        try:
            result = anyio.run(go, backend="asyncio")
        except BaseExceptionGroup as group:
            rest = group.subgroup(lambda exc: not isinstance(exc, Killed | BaseExceptionGroup))
            if rest is not None or group.subgroup(Killed) is None:
                raise
            event("cycle killed after a write")
            return None
        except Killed:
            event("cycle killed after a write")
            return None
        if result.held:
            event("cycle held by the guard")
        if result.outcome.item_errors:
            event("cycle with item errors")
        if result.error:
            event("cycle failed")
        if result.outcome.conflicts:
            event("conflict held")
        return result

    def faults_fired(self) -> int:
        return sum(server.fired for server in self.servers.values())

    def writes_made(self) -> int:
        return sum(len(server.writes) for server in self.servers.values())

    # -- the user's edits ------------------------------------------------------------------

    def new_object(self, uid: str, title: str, kind: str, day: int) -> CalendarObject:
        lm = stamp(next(self.clock))
        start = NOW.replace(hour=9, minute=0) + timedelta(days=day)
        if kind == "all-day":
            first = start.date()
            master = Event(
                start=first, end=first + timedelta(days=1), title=title, last_modified=lm
            )
            return CalendarObject(uid=uid, master=master)
        master = Event(start=start, end=start + timedelta(hours=1), title=title, last_modified=lm)
        if kind == "single":
            return CalendarObject(uid=uid, master=master)
        moved = start + timedelta(weeks=1)
        override = Event(
            start=moved + timedelta(hours=2),
            end=moved + timedelta(hours=3),
            recurrence_id=moved,
            title=f"{title} (moved)",
            last_modified=lm,
        )
        master = replace(
            master, rrules=("FREQ=WEEKLY;COUNT=8",), exdates=(start + timedelta(weeks=2),)
        )
        return CalendarObject(uid=uid, master=master, overrides={moved: override})

    def changed(self, obj: CalendarObject, field: str, title: str) -> CalendarObject:
        """``obj`` with one field edited (and LAST-MODIFIED moved on, as a client does)."""
        tick = next(self.clock)
        lm = stamp(tick)
        master = obj.master
        assert master is not None
        overrides = dict(obj.overrides)
        if field == "title":
            master = replace(master, title=f"{title} #{tick}")
        elif field == "location":
            master = replace(master, location=f"Room {tick}")
        elif field == "description":
            master = replace(master, description=None if master.description else f"notes {tick}")
        elif field == "time":
            shift = timedelta(hours=1)
            master = replace(master, start=master.start + shift, end=master.effective_end() + shift)
            if master.recurring:
                # Moving a series moves its occurrences; the exceptions go with the old times.
                master = replace(master, exdates=())
                overrides = {}
        elif field == "override" and master.recurring:
            if overrides:
                rid, event = sorted(overrides.items(), key=lambda kv: str(kv[0]))[0]
                overrides[rid] = replace(event, title=f"{title} #{tick}", last_modified=lm)
            else:
                rid = master.start + timedelta(weeks=3)
                assert isinstance(rid, datetime)
                overrides[rid] = replace(
                    master,
                    rrules=(),
                    exdates=(),
                    recurrence_id=rid,
                    start=rid + timedelta(hours=1),
                    end=rid + timedelta(hours=2),
                    title=f"special #{tick}",
                )
        elif field == "exdate" and master.recurring:
            rid = master.start + timedelta(weeks=4)
            overrides.pop(rid, None)
            if rid not in master.exdates:
                master = replace(master, exdates=(*master.exdates, rid))
        else:
            master = replace(master, location=f"Place {tick}")
        master = replace(master, last_modified=lm)
        return replace(obj, master=master, overrides=overrides)

    def uid_of(self, obj: CalendarObject) -> str:
        """The UID of the event the test made that ``obj`` is, or is a copy of."""
        return next((uid for uid in self.created if names(obj, uid)), identity(obj))

    def note_edit(self, side: Side, item: Item) -> None:
        marker = item.obj.marker
        uid = self.uid_of(item.obj)
        if not self.two_way and side == "target" and marker is None:
            self.foreign[item.id] = item.obj
            return
        if marker is not None and not self.keys.owns(marker):
            return
        deleted_on = self.deleted.get(uid, set())
        if self.two_way and side in deleted_on and other(side) in self.edited.get(uid, set()):
            # Deleted here while edited on the other side: the edit won and the event was
            # made again here. An edit of it is a user's edit of the new object, which that
            # earlier delete no longer counts against (its original deleted, it is promoted).
            deleted_on.discard(side)
        self.edited.setdefault(uid, set()).add(side)
        self.last_version[uid, side] = content_hash(item.obj)

    def note_delete(self, side: Side, item: Item) -> None:
        marker = item.obj.marker
        if not self.two_way and side == "target":
            if marker is None:
                self.foreign.pop(item.id, None)
            return  # a deleted copy is put back (on_target_change: revert)
        self.deleted.setdefault(self.uid_of(item.obj), set()).add(side)

    def all_items(self) -> list[tuple[Side, Item]]:
        return [(side, item) for side in SIDES for item in self.servers[side].items()]

    @rule(
        side=st.sampled_from(SIDES),
        title=st.sampled_from(TITLES),
        kind=st.sampled_from(("single", "single", "series", "all-day")),
        day=st.integers(1, 60),
    )
    def create(self, side: Side, title: str, kind: str, day: int) -> None:
        uid = f"e{next(self.uids)}@test"
        item = self.servers[side].add(self.new_object(uid, title, kind, day))
        if not self.two_way and side == "target":
            self.foreign[item.id] = item.obj
            return
        self.created[uid] = side
        self.note_edit(side, item)

    @precondition(lambda self: any(s.items() for s in self.servers.values()))
    @rule(data=st.data(), field=st.sampled_from(FIELDS), title=st.sampled_from(TITLES))
    def edit(self, data: st.DataObject, field: str, title: str) -> None:
        side, item = data.draw(st.sampled_from(self.all_items()))
        new = self.servers[side].put(item.id, self.changed(item.obj, field, title))
        self.note_edit(side, new)

    @precondition(lambda self: any(s.items() for s in self.servers.values()))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        side, item = data.draw(st.sampled_from(self.all_items()))
        self.servers[side].remove(item.id)
        self.note_delete(side, item)

    # -- faults ----------------------------------------------------------------------------

    @rule(side=st.sampled_from(SIDES), count=st.integers(1, 3))
    def failing_writes(self, side: Side, count: int) -> None:
        self.servers[side].fail_next(count, "temporary")

    @rule(side=st.sampled_from(SIDES))
    def stale_etag(self, side: Side) -> None:
        self.servers[side].fail_next(1, "precondition")

    @precondition(lambda self: not self.pending_race)
    @rule(side=st.sampled_from(SIDES), field=st.sampled_from(FIELDS), title=st.sampled_from(TITLES))
    def lose_a_race(self, side: Side, field: str, title: str) -> None:
        """Someone edits the object the next update or delete on ``side`` is about to write."""
        server = self.servers[side]
        self.pending_race = True

        def edit_first(op: Op, item_id: str | None) -> None:
            self.pending_race = False
            if item_id is None or item_id not in server.objects:
                return
            new = server.put(item_id, self.changed(server.item(item_id).obj, field, title))
            self.note_edit(side, new)

        server.before_next_write(edit_first)

    @rule(side=st.sampled_from(SIDES), writes=st.integers(1, 3))
    def kill_after_write(self, side: Side, writes: int) -> None:
        self.servers[side].kill_after(writes)

    @rule(side=st.sampled_from(SIDES))
    def expire_cursor(self, side: Side) -> None:
        self.servers[side].expire_cursors()

    # -- syncing ---------------------------------------------------------------------------

    @rule()
    def cycle(self) -> None:
        result = self.run_cycle()
        if result is not None:
            assert result.plan is not None
            if result.held is not None:
                assert "deletions" in result.held or "empty" in result.held

    @rule()
    def sync(self) -> None:
        """Cycles until a clean one, then everything agrees and nothing is left to do."""
        allow = False
        result: CycleResult | None = None
        budget = MAX_CYCLES
        for _ in range(MAX_CYCLES * 5):
            before, faults = self.writes_made(), self.faults_fired()
            result = self.run_cycle(allow_mass_delete=allow)
            if self.faults_fired() == faults:
                budget -= 1  # only cycles without injected faults count
                if budget < 0:
                    break
            if result is None:
                continue
            if result.held is not None:
                allow = True  # the operator looked and confirms
                continue
            assert result.plan is not None
            if result.ok and self.writes_made() == before and not visible(result):
                break
        else:
            budget = -1
        assert budget >= 0, f"no clean cycle in {MAX_CYCLES} (without faults): {result}"

        event(f"sync: {len(self.all_items())} objects")
        self.check_converged()
        before = self.writes_made()
        again = self.run_cycle()
        assert again is not None
        assert again.ok, again
        assert not visible(again), again.plan
        assert self.writes_made() == before
        self.created = {uid: side for uid, side in self.created.items() if self.exists(uid)}
        self.deleted.clear()
        self.edited.clear()
        self.last_version.clear()

    @precondition(lambda self: not (self.deleted or self.edited))
    @rule()
    def lose_state(self) -> None:
        """A lost state database is rebuilt from the markers: adopted, nothing written."""
        self.sync()  # settle faults still pending from earlier steps
        self.store.close()
        self.store = StateStore.in_memory(secret=TEST_SECRET)  # the secret beside it is kept
        before = self.writes_made()
        result = self.run_cycle()
        assert result is not None
        assert result.ok, result
        assert self.writes_made() == before, self.servers
        assert result.plan is not None
        assert {op for step in result.plan.steps for op in ops(step)} <= {"adopt"}
        self.sync()

    def teardown(self) -> None:
        event(f"steps: {self.steps // 10 * 10}+")
        self.store.close()

    # -- checks ----------------------------------------------------------------------------

    def exists(self, uid: str) -> bool:
        return any(names(item.obj, uid) for _, item in self.all_items())

    @invariant()
    def nothing_duplicated(self) -> None:
        self.steps += 1
        if not hasattr(self, "policy"):
            return
        for side in SIDES:
            counts = Counter(self.uid_of(item.obj) for item in self.servers[side].items())
            assert [uid for uid, n in counts.items() if n > 1] == [], side

    @invariant()
    def one_way_leaves_source_and_foreign_events_alone(self) -> None:
        if not hasattr(self, "policy") or self.two_way:
            return
        assert self.servers["source"].writes == []
        target = self.servers["target"]
        for item_id, obj in self.foreign.items():
            assert target.item(item_id).obj == obj

    def check_converged(self) -> None:
        pol, keys = self.policy, self.keys
        items = {side: self.servers[side].items() for side in SIDES}
        origin_sides: tuple[Side, ...] = SIDES if self.two_way else ("source",)
        for side in origin_sides:
            copies = {
                marker.key: i
                for i in items[other(side)]
                if (marker := i.obj.marker) is not None and keys.owns(marker)
            }
            for original in items[side]:
                if original.obj.marker is not None:
                    continue
                copy = copies.get(keys.key(side, original.obj.uid))
                if not selected(original.obj, pol.include, pol.exclude):
                    assert copy is None, f"unselected {original.obj.uid} was copied"
                    continue
                assert copy is not None, f"{original.obj.uid} on the {side} has no copy"
                assert copy.obj.uid != original.obj.uid  # a copy has a UID of its own
                want = rendered(pol, side, original.obj)
                assert content_hash(copy.obj) == content_hash(want), original.obj.uid
                if other(side) in keys.anonymous:
                    assert copy.obj.marker == Marker.anonymous(keys.key(side, original.obj.uid))
        for side in SIDES:
            for copy in items[side]:
                marker = copy.obj.marker
                if marker is None:
                    continue
                assert keys.owns(marker)
                assert self.two_way or side == "target"
                originals = [
                    i
                    for i in items[other(side)]
                    if i.obj.marker is None and keys.key(other(side), i.obj.uid) == marker.key
                ]
                assert len(originals) == 1, f"copy {copy.id} without its original"
        for uid in self.created:
            deleted_on = self.deleted.get(uid, set())
            edited_on = self.edited.get(uid, set())
            if not deleted_on:
                assert self.exists(uid), f"{uid} was lost"
            elif (
                not self.two_way
                or deleted_on == set(SIDES)
                or all(other(s) not in edited_on for s in deleted_on)
            ):
                assert not self.exists(uid), f"{uid} was deleted but is back"
            if self.config.edits_survive and not deleted_on and len(edited_on) == 1:
                (side,) = edited_on
                (item,) = [i for i in items[side] if names(i.obj, uid)]
                if item.obj.marker is not None and not self.two_way:
                    continue  # one-way: an edited copy is put back
                assert content_hash(item.obj) == self.last_version[uid, side], (
                    f"the edit of {uid} on the {side} was lost"
                )


def visible(result: CycleResult) -> bool:
    return result.plan is not None and any(step.visible for step in result.plan.steps)


def ops(step: Any) -> set[str]:
    found = {w.op for w in step.writes}
    if step.adopt:
        found.add("adopt")
    if step.conflict is not None:
        found.add("conflict")
    return found


SyncMachine.TestCase.settings = settings(
    max_examples=400,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSyncMachine = SyncMachine.TestCase
