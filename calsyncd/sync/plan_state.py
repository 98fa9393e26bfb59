"""One cycle's planning under way: the input indexed, what is decided so far, and the helpers
every part of the planner shares.

:class:`PlanState` finds pairs by either side's id and unpaired objects by UID or copy key,
remembers the objects a step has *claimed* (so no two steps touch one object), and collects the
steps and problems. Its helpers answer what each part asks: what a side holds now, the copy an
original makes, a :class:`~calsyncd.sync.plan.Step` with what ``plan`` shows of it.
"""

from __future__ import annotations

from calsyncd.model.event import CalendarObject, Marker
from calsyncd.model.ical import parse_object
from calsyncd.providers.base import Item
from calsyncd.state.store import SIDES, PairRecord, Side
from calsyncd.sync.filters import selected
from calsyncd.sync.mapping import derive, write_back
from calsyncd.sync.plan import ItemProblem, Step, display_start, other
from calsyncd.sync.plan_input import PlanInput


def _decode(text: str | None, what: str) -> CalendarObject | None:
    return parse_object(text, source=what) if text else None


class PlanState:
    def __init__(self, given: PlanInput) -> None:
        self.given = given
        self.policy = given.policy
        self.steps: dict[str, Step] = {}
        self.problems: list[ItemProblem] = []
        self.pair_of: dict[Side, dict[str, str]] = {side: {} for side in SIDES}
        for key, pair in given.pairs.items():
            for side in SIDES:
                item_id = pair.side_id(side)
                if item_id is not None:
                    self.pair_of[side][item_id] = key
        self.keys = self.policy.copy_keys()
        self.by_uid: dict[Side, dict[str, Item]] = {side: {} for side in SIDES}
        self.by_marker: dict[Side, dict[str, Item]] = {side: {} for side in SIDES}
        for side in SIDES:
            for item in sorted(given.view(side).items.values(), key=lambda i: i.id):
                marker = item.obj.marker
                if marker is None:
                    self.by_uid[side].setdefault(item.obj.uid, item)
                elif self.keys.owns(marker):
                    self.by_marker[side].setdefault(marker.key, item)
                # A copy made by another rule is neither an original nor a copy of this rule:
                # adopting it (by its UID) would make two rules fight over one object.
        self.claimed: dict[Side, set[str]] = {side: set() for side in SIDES}
        self.pairs: dict[str, PairRecord] = dict(given.pairs)
        self._by_copy_key: dict[Side, dict[str, Item]] = {}

    # -- what the sides hold -----------------------------------------------------------------

    def current(self, pair: PairRecord, side: Side) -> Item | None:
        """The object on ``side`` now: changed content, else as last synced, else gone."""
        item_id = pair.side_id(side)
        if item_id is None:
            return None
        view = self.given.view(side)
        if item_id in view.items:
            return view.items[item_id]
        if item_id in view.deleted or (view.full and item_id not in view.skipped):
            return None
        base = _decode(pair.source_base if side == "source" else pair.target_base, item_id)
        etag = pair.source_etag if side == "source" else pair.target_etag
        if base is None or etag is None:
            return None
        return Item(item_id, etag, base)

    def recorded_hash(self, pair: PairRecord, side: Side) -> str | None:
        return pair.source_hash if side == "source" else pair.target_hash

    def base(self, pair: PairRecord, side: Side) -> CalendarObject | None:
        return _decode(pair.source_base if side == "source" else pair.target_base, pair.key)

    def unpaired_by_marker(self, side: Side, key: str) -> Item | None:
        item = self.by_marker[side].get(key)
        if item is None or item.id in self.pair_of[side] or item.id in self.claimed[side]:
            return None
        return item

    def same_uid(self, side: Side, uid: str) -> Item | None:
        item = self.by_uid[side].get(uid)
        if item is None or item.id in self.claimed[side]:
            return None
        return item

    def original_of(self, side: Side, marker: Marker) -> Item | None:
        """The original (on ``side``) of a copy of this rule: by the UID its marker names, or
        — an anonymous copy names none — by the key its copy has."""
        if marker.origin is not None:
            return self.same_uid(side, marker.origin)
        if side not in self._by_copy_key:
            originals = self.by_uid[side].values()
            self._by_copy_key[side] = {self.keys.key(side, i.obj.uid): i for i in originals}
        item = self._by_copy_key[side].get(marker.key)
        if item is None or item.id in self.claimed[side]:
            return None
        return item

    # -- what the rule makes of them ---------------------------------------------------------

    def derive(
        self, origin: Side, original: CalendarObject, key: str, uid: str | None = None
    ) -> CalendarObject:
        """The copy of ``original`` under ``key``. ``uid`` is the UID of the copy that exists
        already: a copy keeps its UID (changing it is a delete and a create on most servers);
        a new one gets the UID the rule gives it."""
        copy_side = other(origin)
        return derive(
            original,
            self.policy.mapping_to(copy_side),
            marker=self.keys.marker(origin, original.uid, key),
            calendar=self.policy.calendars[origin],
            uid=uid if uid is not None else self.keys.uid(origin, original.uid, key),
        )

    def write_back(
        self, origin: Side, original: CalendarObject, copy: CalendarObject
    ) -> CalendarObject:
        return write_back(
            original,
            copy,
            self.policy.mapping_to(origin),
            calendar=self.policy.calendars[other(origin)],
        )

    def selected(self, side: Side, obj: CalendarObject) -> bool:
        return selected(obj, self.policy.include, self.policy.exclude, self.policy.owners[side])

    def step(
        self,
        key: str,
        origin: Side,
        origin_uid: str,
        current: dict[Side, Item | None],
        *,
        shown: CalendarObject | None,
        **details: object,
    ) -> Step:
        title = start = ""
        if shown is not None:
            title = shown.first.title or ""
            start = display_start(shown)
        return Step(key, origin, origin_uid, current, title=title, start=start, **details)  # type: ignore[arg-type]
