"""Building blocks of the sync tests: events, rules, and a pure stand-in for the executor.

:class:`World` holds two calendars as plain dicts plus the state a rule remembers (pairs,
conflicts), plans with the real planner and applies a plan the way the executor does (writes,
then :func:`calsyncd.sync.executor.pair_after` for the row) — without I/O, so the planner can be
tested step by step, several rules can share calendars, and "apply, then plan again" is cheap.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from calsyncd.config.rules import Rule
from calsyncd.model.event import CalendarObject, Event, When
from calsyncd.model.hashing import content_hash
from calsyncd.providers.base import Item, Window
from calsyncd.state.store import SIDES, ConflictRecord, PairRecord, Side
from calsyncd.sync.executor import pair_after
from calsyncd.sync.keys import CopyKeys, copy_uid
from calsyncd.sync.mapping import derive
from calsyncd.sync.plan import Plan, other
from calsyncd.sync.planner import PlanInput, Policy, SideView, plan
from calsyncd.sync.policy import policy_for
from calsyncd.sync.window import window_around

NOW = datetime(2030, 6, 3, 12, 0, tzinfo=UTC)
"""The planner's "now" in every test (a Monday)."""
WINDOW = window_around(NOW, timedelta(days=30), timedelta(days=365))
T0 = datetime(2030, 5, 1, tzinfo=UTC)


def stamp(minutes: int) -> datetime:
    """A LAST-MODIFIED ``minutes`` after a fixed point (bigger is newer)."""
    return T0 + timedelta(minutes=minutes)


def event(
    uid: str,
    title: str | None = "Meeting",
    *,
    start: When | None = None,
    hours: float = 1,
    lm: int | None = None,
    **fields: Any,
) -> CalendarObject:
    """A single event, by default tomorrow 09:00 UTC for an hour."""
    begin = start if start is not None else NOW.replace(hour=9) + timedelta(days=1)
    end = fields.pop("end", None)
    if end is None:
        end = begin + timedelta(hours=hours) if isinstance(begin, datetime) else begin
    master = Event(
        start=begin,
        end=end,
        title=title,
        last_modified=stamp(lm) if lm is not None else None,
        **fields,
    )
    return CalendarObject(uid=uid, master=master)


def weekly(
    uid: str, title: str = "Weekly", *, start: datetime | None = None, count: int = 10
) -> CalendarObject:
    """A weekly series with one occurrence moved (and retitled) and one cancelled."""
    begin = start or NOW.replace(hour=9) + timedelta(days=1)
    moved = begin + timedelta(weeks=2)
    cancelled = begin + timedelta(weeks=3)
    master = Event(
        start=begin,
        end=begin + timedelta(hours=1),
        title=title,
        rrules=(f"FREQ=WEEKLY;COUNT={count}",),
        exdates=(cancelled,),
    )
    override = Event(
        start=moved + timedelta(hours=3),
        end=moved + timedelta(hours=4),
        recurrence_id=moved,
        title=f"{title} (moved)",
    )
    return CalendarObject(uid=uid, master=master, overrides={moved: override})


def edit(obj: CalendarObject, *, lm: int | None = None, **changes: Any) -> CalendarObject:
    """``obj`` with its master changed (and LAST-MODIFIED set when ``lm`` is given)."""
    assert obj.master is not None
    if lm is not None:
        changes["last_modified"] = stamp(lm)
    return replace(obj, master=replace(obj.master, **changes))


def rule(**config: Any) -> Rule:
    """A rule ``r`` from connection ``a`` to ``b`` (keys as in a rule file)."""
    data: dict[str, Any] = {
        "name": "r",
        "source": {"connection": "a"},
        "target": {"connection": "b"},
    }
    data.update(config)
    return Rule.model_validate(data)


TEST_SECRET = bytes(range(32))
"""The copy secret of every test deployment (the engine's tests take it from their store)."""
_RULES: dict[str, CopyKeys] = {}
"""Every rule a test made, so that an anonymous copy can be told apart (see :func:`names`)."""


def policy(**config: Any) -> Policy:
    made = replace(policy_for(rule(**config)), secret=TEST_SECRET)
    _RULES[made.rule] = made.copy_keys()
    return made


def names(obj: CalendarObject, uid: str) -> bool:
    """Whether ``obj`` is the object ``uid`` names: that object itself, or a copy of it —
    copies have UIDs of their own and name their original in their marker, or (anonymous
    ones) by their key alone, told by the rules the test made. A copy promoted to original
    (its original deleted, its edit kept) keeps its UID: it still names ``uid``."""
    marker = obj.marker
    if marker is None:
        return _is_or_copies(obj.uid, uid)
    if marker.origin is not None:
        return _is_or_copies(marker.origin, uid)
    return any(
        keys.owns(marker) and marker.key in (keys.key(side, uid) for side in SIDES)
        for keys in _RULES.values()
    )


def _is_or_copies(found: str, uid: str) -> bool:
    """Whether the UID ``found`` is ``uid``, or the UID a copy of ``uid`` got (or a copy of
    that copy, once promoted: a few generations)."""
    return found == uid or found in _copy_uids(uid, tuple(_RULES.values()))


@functools.lru_cache(maxsize=4096)
def _copy_uids(uid: str, rules: tuple[CopyKeys, ...], generations: int = 3) -> frozenset[str]:
    made = {copy_uid(keys.key(side, uid)) for keys in rules for side in SIDES}
    if generations > 1:
        for child in list(made):
            made |= _copy_uids(child, rules, generations - 1)
    return frozenset(made)


def identity(obj: CalendarObject) -> str:
    """The UID of the original ``obj`` is (or is a copy of), as far as it tells."""
    marker = obj.marker
    if marker is not None and marker.origin is not None:
        return marker.origin
    return obj.uid


def rendered(pol: Policy, origin: Side, original: CalendarObject) -> CalendarObject:
    """The copy ``pol`` makes of ``original`` (held on ``origin``) on the other side."""
    keys = pol.copy_keys()
    key = keys.key(origin, original.uid)
    return derive(
        original,
        pol.mapping_to(other(origin)),
        marker=keys.marker(origin, original.uid, key),
        calendar=pol.calendars[origin],
        uid=keys.uid(origin, original.uid, key),
    )


def same_content(a: CalendarObject, b: CalendarObject) -> bool:
    return content_hash(a) == content_hash(b)


# -- a pure world of two calendars ---------------------------------------------------------


@dataclass
class Store:
    """A calendar as a dict of items; every write gets a new etag."""

    name: str
    items: dict[str, Item] = field(default_factory=dict)
    _etags: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _etag(self) -> str:
        return f"{self.name}-{next(self._etags)}"

    def add(self, obj: CalendarObject, item_id: str | None = None) -> Item:
        item_id = item_id or f"{self.name}-{next(self._ids)}.ics"
        assert item_id not in self.items
        self.items[item_id] = Item(item_id, self._etag(), obj)
        return self.items[item_id]

    def put(self, item_id: str, obj: CalendarObject) -> Item:
        assert item_id in self.items
        self.items[item_id] = Item(item_id, self._etag(), obj)
        return self.items[item_id]

    def remove(self, item_id: str) -> None:
        del self.items[item_id]

    def by_uid(self, uid: str) -> list[Item]:
        """The object ``uid`` and its copies (:func:`names`)."""
        return [i for i in self.items.values() if names(i.obj, uid)]

    def one(self, uid: str) -> Item:
        found = self.by_uid(uid)
        assert len(found) == 1, f"{self.name}: {len(found)} objects with UID {uid!r}"
        return found[0]

    def uids(self) -> list[str]:
        """The UID of every object, a copy's being its original's (:func:`identity`)."""
        return sorted(identity(i.obj) for i in self.items.values())


class World:
    """One rule between two :class:`Store` calendars, with its remembered state."""

    def __init__(
        self,
        pol: Policy,
        source: Store | None = None,
        target: Store | None = None,
        *,
        window: Window = WINDOW,
    ) -> None:
        self.policy = pol
        self.stores: dict[Side, Store] = {
            "source": source or Store("src"),
            "target": target or Store("tgt"),
        }
        self.window = window
        self.pairs: dict[str, PairRecord] = {}
        self.conflicts: dict[str, ConflictRecord] = {}

    @property
    def source(self) -> Store:
        return self.stores["source"]

    @property
    def target(self) -> Store:
        return self.stores["target"]

    def input(
        self,
        *,
        changed: Mapping[Side, Iterable[str]] | None = None,
        deleted: Mapping[Side, Iterable[str]] | None = None,
        allow_mass_delete: bool = False,
        rerender: bool = False,
    ) -> PlanInput:
        """The planner's input: full listings, or (with ``changed``) incremental ones that
        hold only those ids (and ``deleted``), with the pairs they touch, as the engine does."""
        views: dict[Side, SideView] = {}
        for side in SIDES:
            items = self.stores[side].items
            if changed is None:
                views[side] = SideView(items=dict(items), full=True)
            else:
                ids = set(changed.get(side, ()))
                views[side] = SideView(
                    items={i: items[i] for i in sorted(ids) if i in items},
                    deleted=frozenset((deleted or {}).get(side, ())),
                )
        return PlanInput(
            policy=self.policy,
            window=self.window,
            source=views["source"],
            target=views["target"],
            pairs=dict(self.pairs),
            pair_count=sum(1 for p in self.pairs.values() if not p.dismissed),
            conflicts=dict(self.conflicts),
            rerender=rerender,
            allow_mass_delete=allow_mass_delete,
        )

    def plan(self, **kwargs: Any) -> Plan:
        return plan(self.input(**kwargs))

    def apply(self, the_plan: Plan) -> None:
        """Carry out ``the_plan`` as the executor would (a held plan writes nothing)."""
        if the_plan.hold is not None:
            return
        for step in the_plan.steps:
            results: dict[Side, Item | None] = dict(step.current)
            for write in step.writes:
                store = self.stores[write.side]
                if write.op == "create":
                    assert write.obj is not None
                    assert write.key is not None
                    item_id = f"{write.key}.ics"
                    existing = store.items.get(item_id)
                    results[write.side] = existing or store.add(write.obj, item_id)
                elif write.op == "update":
                    assert write.obj is not None
                    assert write.item_id is not None
                    assert store.items[write.item_id].etag == write.etag, "stale etag"
                    results[write.side] = store.put(write.item_id, write.obj)
                else:
                    assert write.item_id is not None
                    assert store.items[write.item_id].etag == write.etag, "stale etag"
                    store.remove(write.item_id)
                    results[write.side] = None
            if step.conflict is not None:
                self.conflicts[step.key] = step.conflict
                continue
            if step.replaces is not None:
                self.pairs.pop(step.replaces, None)
            if step.forget:
                self.pairs.pop(step.key, None)
            else:
                row = pair_after(step, results)
                for stale in [
                    k
                    for k, p in self.pairs.items()
                    if k != row.key
                    and any(
                        p.side_id(s) is not None and p.side_id(s) == row.side_id(s) for s in SIDES
                    )
                ]:
                    del self.pairs[stale]
                self.pairs[step.key] = row
            if step.settles_conflict:
                self.conflicts.pop(step.key, None)
                self.conflicts.pop(step.replaces or step.key, None)

    def sync(self, rounds: int = 4, **kwargs: Any) -> list[Plan]:
        """Plan and apply until a plan has nothing to do; the plans that did something."""
        plans: list[Plan] = []
        for _ in range(rounds):
            the_plan = self.plan(**kwargs)
            if not writes(the_plan) and the_plan.hold is None:
                self.apply(the_plan)  # bookkeeping rows
                return plans
            plans.append(the_plan)
            self.apply(the_plan)
        raise AssertionError(f"no settled plan after {rounds} rounds: {plans[-1]}")


def writes(the_plan: Plan) -> list[tuple[str, str]]:
    """``(op, side)`` of every write of a plan, in step order."""
    return [(w.op, w.side) for step in the_plan.steps for w in step.writes]


def visible(the_plan: Plan) -> list[dict[str, Any]]:
    """What ``calsyncd plan --json`` would print."""
    return the_plan.actions()
