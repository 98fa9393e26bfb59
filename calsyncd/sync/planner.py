"""The planner: from what both sides hold now and what the state remembers, to a plan.

Pure: no I/O, no clock (``now`` comes in through the window). The engine gathers everything
the planner may need — changed objects, the pairs they touch, possible copies to adopt — into a
:class:`PlanInput`; the same input always gives the same plan.

Vocabulary: an *original* is an object a user made; its *copy* is what this rule made from it
on the other side (marked with the rule's name, the original's UID and a deterministic key —
or, an anonymous copy, with an opaque key alone: :mod:`calsyncd.sync.keys`).
A *pair* is an original and its copy as the state database remembers them. In a one-way rule
originals live on the source; in a two-way rule on either side.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from calsyncd.model.event import CalendarObject, Marker
from calsyncd.model.hashing import content_hash
from calsyncd.model.ical import parse_object, serialize_object
from calsyncd.providers.base import Item
from calsyncd.state.store import SIDES, ConflictRecord, PairRecord, Side
from calsyncd.sync.changes import changed_fields
from calsyncd.sync.filters import selected
from calsyncd.sync.guard import guard
from calsyncd.sync.mapping import derive, write_back
from calsyncd.sync.merge import merge_fields, newer
from calsyncd.sync.plan import ItemProblem, Plan, Step, Write, display_start, other
from calsyncd.sync.plan_input import PlanInput, Policy, SideView
from calsyncd.sync.window import in_window

__all__ = ["PlanInput", "Policy", "SideView", "plan"]


def _hash(obj: CalendarObject) -> str:
    return content_hash(obj)


def _decode(text: str | None, what: str) -> CalendarObject | None:
    return parse_object(text, source=what) if text else None


class _Planner:
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

    # -- entry -----------------------------------------------------------------------------

    def plan(self) -> Plan:
        self._rebind_moved()
        keys = set(self.pairs) if self.given.rerender else set()
        for side in SIDES:
            view = self.given.view(side)
            for item_id in (*view.items, *view.deleted):
                key = self.pair_of[side].get(item_id)
                if key is not None:
                    keys.add(key)
            if view.full:
                keys.update(
                    key
                    for item_id, key in self.pair_of[side].items()
                    if item_id not in view.items and item_id not in view.skipped
                )
        keys.update(k for k, c in self.given.conflicts.items() if c.resolution and k in self.pairs)
        for key in sorted(keys):
            pair = self.pairs[key]
            for side in SIDES:
                paired_id = pair.side_id(side)
                if paired_id is not None:
                    self.claimed[side].add(paired_id)
            step = self._pair_step(pair)
            if step is not None:
                self.steps[step.key] = step
        for side in SIDES:
            for item in sorted(self.given.view(side).items.values(), key=lambda i: i.id):
                if item.id not in self.pair_of[side] and item.id not in self.claimed[side]:
                    self._unpaired(side, item)
        plan = Plan(
            rule=self.policy.rule,
            steps=[self.steps[k] for k in sorted(self.steps)],
            problems=self.problems,
        )
        return guard(plan, self.given)

    def _keys_of(self, side: Side, obj: CalendarObject) -> tuple[str, ...]:
        """The pair keys an object may belong to: as an original (its copy's key, and the
        key a copy made before the rule's copies became anonymous has), or as a copy of this
        rule (its marker's key)."""
        marker = obj.marker
        if marker is None:
            earlier = self.keys.earlier_key(side, obj.uid)
            key = self.keys.key(side, obj.uid)
            return (key,) if earlier is None else (key, earlier)
        if self.keys.owns(marker):
            return (marker.key,)
        return ()

    def _gone(self, side: Side, item_id: str | None) -> bool:
        view = self.given.view(side)
        return (
            item_id is None
            or item_id in view.deleted
            or (view.full and item_id not in view.items and item_id not in view.skipped)
        )

    def _rebind_moved(self) -> None:
        """Point a pair at an object's new id when it moved (same UID, new file or href)."""
        for side in SIDES:
            for item in self.given.view(side).items.values():
                if item.id in self.pair_of[side]:
                    continue
                found = [self.pairs[k] for k in self._keys_of(side, item.obj) if k in self.pairs]
                pair = found[0] if found else None
                if pair is None or not self._gone(side, pair.side_id(side)):
                    continue
                old_id = pair.side_id(side)
                if side == "source":
                    pair = replace(pair, source_id=item.id, source_etag=item.etag)
                else:
                    pair = replace(pair, target_id=item.id, target_etag=item.etag)
                self.pairs[pair.key] = pair
                if old_id is not None:
                    self.pair_of[side].pop(old_id, None)
                self.pair_of[side][item.id] = pair.key

    # -- helpers ---------------------------------------------------------------------------

    def _current(self, pair: PairRecord, side: Side) -> Item | None:
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

    def _recorded_hash(self, pair: PairRecord, side: Side) -> str | None:
        return pair.source_hash if side == "source" else pair.target_hash

    def _base(self, pair: PairRecord, side: Side) -> CalendarObject | None:
        return _decode(pair.source_base if side == "source" else pair.target_base, pair.key)

    def _derive(
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

    def _write_back(
        self, origin: Side, original: CalendarObject, copy: CalendarObject
    ) -> CalendarObject:
        return write_back(
            original,
            copy,
            self.policy.mapping_to(origin),
            calendar=self.policy.calendars[other(origin)],
        )

    def _selected(self, side: Side, obj: CalendarObject) -> bool:
        return selected(obj, self.policy.include, self.policy.exclude, self.policy.owners[side])

    def _step(
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

    # -- pairs -----------------------------------------------------------------------------

    def _pair_step(self, pair: PairRecord) -> Step | None:
        step = self._pair_step_for(pair)
        if step.conflict is None and pair.key in self.given.conflicts:
            # A held conflict that no longer holds (the sides agree, one was deleted, the
            # pair is gone): settle it, or ``calsyncd conflicts`` would list it for ever.
            step = replace(step, settles_conflict=True)
        return step

    def _pair_step_for(self, pair: PairRecord) -> Step:
        origin: Side = pair.origin
        copy_side = other(origin)
        current: dict[Side, Item | None] = {s: self._current(pair, s) for s in SIDES}
        orig, copy = current[origin], current[copy_side]
        key = pair.key
        if orig is None and copy is None:
            return self._step(key, origin, pair.origin_uid, current, shown=None, forget=True)
        changed = {
            side: item is not None and _hash(item.obj) != self._recorded_hash(pair, side)
            for side, item in current.items()
        }
        # Changed by a user, not by a write of ours whose row a killed cycle never committed.
        # For the copy that is all (what we write there is rendered from the original); the
        # original keeps counting as changed (it may hold an unsynced merge), except where a
        # delete is weighed against an edit.
        edited = {
            side: changed[side] and (item is None or _hash(item.obj) not in pair.pending(side))
            for side, item in current.items()
        }
        changed[copy_side] = edited[copy_side]
        if orig is not None and not self._selected(origin, orig.obj):
            # Left the filter: the copy goes as if the original were deleted — except that
            # an edited copy is not promoted to an original (the original still exists, so
            # a new copy of the promoted one would be a second object with its UID).
            if copy is None:
                return self._step(key, origin, pair.origin_uid, current, shown=None, forget=True)
            return self._original_gone(pair, current, copy, copy_changed=False)
        wanted = self.keys.key(origin, pair.origin_uid)
        if wanted != key and orig is not None and copy is not None:
            # The copy was made under another key: before the rule's copies became anonymous
            # (or since they stopped being). It is made again — unless it holds an edit the
            # rule keeps, which is settled first (this cycle) and the copy replaced next time.
            keeps_edit = edited[copy_side] and (
                self.policy.two_way or not self.policy.revert_target_changes
            )
            if not keeps_edit and key not in self.given.conflicts:
                return self._rekey(pair, current, orig, copy, wanted)
        if orig is None:
            assert copy is not None
            return self._original_gone(pair, current, copy, edited[copy_side])
        if copy is None:
            return self._copy_gone(pair, current, orig, edited[origin])
        return self._both_present(pair, current, orig, copy, changed)

    def _original_gone(
        self, pair: PairRecord, current: dict[Side, Item | None], copy: Item, copy_changed: bool
    ) -> Step:
        origin = pair.origin
        copy_side = other(origin)
        if self.policy.two_way and copy_changed:
            return self._promote(pair, current, copy)
        if self.policy.propagate_deletes:
            return self._step(
                pair.key,
                origin,
                pair.origin_uid,
                current,
                shown=copy.obj,
                forget=True,
                writes=(Write("delete", copy_side, item_id=copy.id, etag=copy.etag),),
            )
        return self._step(pair.key, origin, pair.origin_uid, current, shown=copy.obj, forget=True)

    def _promote(self, pair: PairRecord, current: dict[Side, Item | None], copy: Item) -> Step:
        """The original was deleted but its copy edited: the edit wins, the copy becomes the
        original (its marker removed) and a new copy is made on the other side."""
        new_origin = other(pair.origin)
        original = copy.obj.with_marker(None)
        key = self.keys.key(new_origin, original.uid)
        new_copy = self._derive(new_origin, original, key)
        return self._step(
            key,
            new_origin,
            original.uid,
            {new_origin: copy, pair.origin: None},
            shown=original,
            replaces=pair.key,
            written_hash=_hash(new_copy),
            writes=(
                Write("update", new_origin, original, item_id=copy.id, etag=copy.etag),
                Write("create", pair.origin, new_copy, key=key),
            ),
        )

    def _copy_gone(
        self, pair: PairRecord, current: dict[Side, Item | None], orig: Item, orig_changed: bool
    ) -> Step:
        origin = pair.origin
        key = pair.key
        dismissed = self._step(
            key,
            origin,
            pair.origin_uid,
            current,
            shown=None,
            dismissed=True,
            written_hash=pair.written_hash,
        )
        if pair.dismissed:
            return dismissed
        wanted = self.keys.key(origin, pair.origin_uid)
        # A copy made under another key that is gone was deleted by a replacement (_rekey)
        # killed before it made the new copy: it is made, whatever the policy says.
        recreate = (
            wanted != key
            or (not self.policy.two_way and self.policy.revert_target_changes)
            or (self.policy.two_way and orig_changed)
        )
        if recreate:
            make = self._make_copy(origin, orig.obj, wanted)
            assert make.obj is not None
            return self._step(
                wanted,
                origin,
                pair.origin_uid,
                current,
                shown=orig.obj,
                replaces=key if wanted != key else None,
                written_hash=_hash(make.obj),
                writes=(make,),
            )
        if self.policy.two_way and self.policy.propagate_deletes:
            return self._step(
                key,
                origin,
                pair.origin_uid,
                current,
                shown=orig.obj,
                forget=True,
                writes=(Write("delete", origin, item_id=orig.id, etag=orig.etag),),
            )
        return dismissed

    def _both_present(
        self,
        pair: PairRecord,
        current: dict[Side, Item | None],
        orig: Item,
        copy: Item,
        changed: dict[Side, bool],
    ) -> Step:
        origin = pair.origin
        copy_side = other(origin)
        desired = self._derive(origin, orig.obj, pair.key, uid=copy.obj.uid)
        desired_hash = _hash(desired)
        copy_hash = _hash(copy.obj)
        resolution = self._resolution(pair.key)

        def update_copy(target: CalendarObject, target_hash: str, **extra: object) -> Step:
            if target_hash == copy_hash:
                return record(written_hash=target_hash, **extra)
            return self._step(
                pair.key,
                origin,
                pair.origin_uid,
                current,
                shown=orig.obj,
                written_hash=target_hash,
                fields=changed_fields(copy.obj, target),
                writes=(Write("update", copy_side, target, item_id=copy.id, etag=copy.etag),),
                **extra,
            )

        def record(**extra: object) -> Step:
            details: dict[str, object] = {"written_hash": pair.written_hash, **extra}
            return self._step(pair.key, origin, pair.origin_uid, current, shown=None, **details)

        if not changed[copy_side] and resolution is None:
            if desired_hash != pair.written_hash:
                return update_copy(desired, desired_hash)
            return record()
        if not self.policy.two_way:
            if (
                self.policy.revert_target_changes
                or changed[origin]
                or desired_hash != pair.written_hash
            ):
                return update_copy(desired, desired_hash)
            return record()
        # Two-way, the copy changed (maybe the original too).
        if copy_hash == desired_hash and resolution is None:
            return record(written_hash=desired_hash)
        winner = resolution or self._winner(pair, orig, copy, changed)
        settles = {"settles_conflict": True} if resolution is not None else {}
        if winner == "conflict":
            return self._conflict(pair, current, orig, copy)
        if winner == origin:
            return update_copy(desired, desired_hash, **settles)
        if winner == "merge":
            new_orig = self._merge(pair, orig.obj, copy.obj)
        else:
            new_orig = self._write_back(origin, orig.obj, copy.obj)
        new_copy = self._derive(origin, new_orig, pair.key, uid=copy.obj.uid)
        new_copy_hash = _hash(new_copy)
        writes: list[Write] = []
        if _hash(new_orig) != _hash(orig.obj):
            writes.append(Write("update", origin, new_orig, item_id=orig.id, etag=orig.etag))
        if new_copy_hash != copy_hash:
            writes.append(Write("update", copy_side, new_copy, item_id=copy.id, etag=copy.etag))
        return self._step(
            pair.key,
            origin,
            pair.origin_uid,
            current,
            shown=new_orig,
            written_hash=new_copy_hash,
            writes=tuple(writes),
            fields=changed_fields(orig.obj, new_orig),
            **settles,
        )

    def _rekey(
        self,
        pair: PairRecord,
        current: dict[Side, Item | None],
        orig: Item,
        copy: Item,
        key: str,
    ) -> Step:
        """Replace the pair's copy with one made under ``key``: deleted, then created.

        An anonymous copy must not keep the id, UID or marker of a copy made before, which
        name its original. The writes run in order and the pair's row then holds the new
        copy; killed in between, the next cycle finds the old copy gone and makes the new one
        (:meth:`_copy_gone`). Replacing is not deleting: the guard does not count it.
        """
        origin = pair.origin
        copy_side = other(origin)
        make = self._make_copy(origin, orig.obj, key)
        assert make.obj is not None
        return self._step(
            key,
            origin,
            pair.origin_uid,
            current,
            shown=orig.obj,
            replaces=pair.key,
            written_hash=_hash(make.obj),
            writes=(Write("delete", copy_side, item_id=copy.id, etag=copy.etag), make),
        )

    def _make_copy(self, origin: Side, original: CalendarObject, key: str) -> Write:
        """The write that makes the copy of ``original`` under ``key``: a create — or, when a
        copy with that key is there already, unpaired (made by a cycle killed before its row
        was committed), an update bringing it up to date (a create would return it as is)."""
        copy_side = other(origin)
        made = self._unpaired_by_marker(copy_side, key)
        if made is None:
            return Write("create", copy_side, self._derive(origin, original, key), key=key)
        self.claimed[copy_side].add(made.id)
        desired = self._derive(origin, original, key, uid=made.obj.uid)
        return Write("update", copy_side, desired, item_id=made.id, etag=made.etag)

    def _resolution(self, key: str) -> Side | None:
        conflict = self.given.conflicts.get(key)
        return conflict.resolution if conflict is not None else None

    def _winner(
        self, pair: PairRecord, orig: Item, copy: Item, changed: dict[Side, bool]
    ) -> Side | Literal["merge", "conflict"]:
        origin = pair.origin
        copy_side = other(origin)
        if not changed[origin]:
            return copy_side
        policy = self.policy.conflict
        if policy == "source-wins":
            return "source"
        if policy == "target-wins":
            return "target"
        if policy == "manual":
            return "conflict"
        if policy == "merge" and self._base(pair, origin) is not None:
            return "merge"
        source, target = (orig, copy) if origin == "source" else (copy, orig)
        return "target" if newer(target.obj, source.obj) else "source"

    def _conflict(
        self, pair: PairRecord, current: dict[Side, Item | None], orig: Item, copy: Item
    ) -> Step:
        source, target = (orig, copy) if pair.origin == "source" else (copy, orig)
        record = ConflictRecord(
            rule=self.policy.rule,
            key=pair.key,
            title=orig.obj.first.title or "",
            source_body=serialize_object(source.obj).decode(),
            target_body=serialize_object(target.obj).decode(),
            source_hash=_hash(source.obj),
            target_hash=_hash(target.obj),
            detected_at=0.0,
        )
        existing = self.given.conflicts.get(pair.key)
        if existing is not None and (existing.source_hash, existing.target_hash) == (
            record.source_hash,
            record.target_hash,
        ):
            record = existing
        return self._step(
            pair.key,
            pair.origin,
            pair.origin_uid,
            current,
            shown=orig.obj,
            conflict=record,
            written_hash=pair.written_hash,
            fields=changed_fields(orig.obj, self._write_back(pair.origin, orig.obj, copy.obj)),
        )

    def _merge(
        self, pair: PairRecord, orig: CalendarObject, copy: CalendarObject
    ) -> CalendarObject:
        """Field-level three-way merge in the original's terms; same-field edits: newest wins."""
        origin = pair.origin
        base = self._base(pair, origin)
        assert base is not None
        theirs = self._write_back(origin, base, copy)
        copy_newer = newer(copy, orig)
        if not set(orig.overrides) == set(base.overrides) == set(theirs.overrides):
            # Occurrences were added or removed: merge the series as a whole, newest wins.
            return self._write_back(origin, orig, copy) if copy_newer else orig
        return merge_fields(base, orig, theirs, theirs_newer=copy_newer)

    # -- unpaired objects ------------------------------------------------------------------

    def _unpaired(self, side: Side, item: Item) -> None:
        marker = item.obj.marker
        if marker is not None:
            if self.keys.owns(marker):
                self._unpaired_copy(side, item, marker)
            return  # a copy made by another rule is never copied again
        if side == "target" and not self.policy.two_way:
            return
        self._unpaired_original(side, item)

    def _unpaired_original(self, side: Side, item: Item) -> None:
        obj = item.obj
        if not self._selected(side, obj) or not in_window(obj, self.given.window):
            return
        key = self.keys.key(side, obj.uid)
        if key in self.steps:
            self.problems.append(ItemProblem(side, item.id, f"duplicate UID {obj.uid!r}; skipped"))
            return
        copy_side = other(side)
        self.claimed[side].add(item.id)
        existing = self._unpaired_by_marker(copy_side, key)
        earlier = self.keys.earlier_key(side, obj.uid)
        if existing is None and earlier is not None:
            existing = self._unpaired_by_marker(copy_side, earlier)
        if existing is None and copy_side not in self.keys.anonymous:
            # An anonymous copy is never an object that carries its original's UID.
            existing = self._same_uid(copy_side, obj.uid)
            if existing is not None and existing.id in self.pair_of[copy_side]:
                existing = None
        if existing is not None:
            self.claimed[copy_side].add(existing.id)
            self.steps[key] = self._adopt(side, item, existing, key)
            return
        desired = self._derive(side, obj, key)
        self.steps[key] = self._step(
            key,
            side,
            obj.uid,
            {side: item, copy_side: None},
            shown=obj,
            written_hash=_hash(desired),
            writes=(Write("create", copy_side, desired, key=key),),
        )

    def _unpaired_by_marker(self, side: Side, key: str) -> Item | None:
        item = self.by_marker[side].get(key)
        if item is None or item.id in self.pair_of[side] or item.id in self.claimed[side]:
            return None
        return item

    def _same_uid(self, side: Side, uid: str) -> Item | None:
        item = self.by_uid[side].get(uid)
        if item is None or item.id in self.claimed[side]:
            return None
        return item

    def _original_of(self, side: Side, marker: Marker) -> Item | None:
        """The original (on ``side``) of a copy of this rule: by the UID its marker names, or
        — an anonymous copy names none — by the key its copy has."""
        if marker.origin is not None:
            return self._same_uid(side, marker.origin)
        if side not in self._by_copy_key:
            originals = self.by_uid[side].values()
            self._by_copy_key[side] = {self.keys.key(side, i.obj.uid): i for i in originals}
        item = self._by_copy_key[side].get(marker.key)
        if item is None or item.id in self.claimed[side]:
            return None
        return item

    def _adopt(self, origin: Side, orig: Item, copy: Item, key: str) -> Step:
        """Pair an existing copy (found by marker or UID) instead of making a second one.

        The copy keeps its UID. One made under another key (before the rule's copies became
        anonymous) is replaced instead: see :meth:`_rekey`.
        """
        copy_side = other(origin)
        current: dict[Side, Item | None] = {origin: orig, copy_side: copy}
        marker = copy.obj.marker
        if marker is not None and marker.key != key:
            desired = self._derive(origin, orig.obj, key)
            return self._step(
                key,
                origin,
                orig.obj.uid,
                current,
                shown=orig.obj,
                adopt=True,
                written_hash=_hash(desired),
                writes=(
                    Write("delete", copy_side, item_id=copy.id, etag=copy.etag),
                    Write("create", copy_side, desired, key=key),
                ),
            )
        desired = self._derive(origin, orig.obj, key, uid=copy.obj.uid)
        desired_hash = _hash(desired)
        writes: tuple[Write, ...] = ()
        if _hash(copy.obj) != desired_hash or copy.obj.marker != desired.marker:
            if self.policy.two_way and copy.obj.marker is None and newer(copy.obj, orig.obj):
                new_orig = self._write_back(origin, orig.obj, copy.obj)
                desired = self._derive(origin, new_orig, key, uid=copy.obj.uid)
                desired_hash = _hash(desired)
                writes = (Write("update", origin, new_orig, item_id=orig.id, etag=orig.etag),)
            writes = (*writes, Write("update", copy_side, desired, item_id=copy.id, etag=copy.etag))
        return self._step(
            key,
            origin,
            orig.obj.uid,
            current,
            shown=orig.obj,
            adopt=True,
            written_hash=desired_hash,
            writes=writes,
            fields=changed_fields(copy.obj, desired),
        )

    def _unpaired_copy(self, side: Side, item: Item, marker: Marker) -> None:
        origin = other(side)
        key = marker.key
        if key in self.steps or item.id in self.claimed[side]:
            return
        original = self._original_of(origin, marker)
        if original is not None and original.id not in self.pair_of[origin]:
            if self._selected(origin, original.obj):
                self.claimed[origin].add(original.id)
                self.claimed[side].add(item.id)
                wanted = self.keys.key(origin, original.obj.uid)
                self.steps[wanted] = self._adopt(origin, original, item, wanted)
            return
        if original is None and self.policy.propagate_deletes:
            # The engine looked the original up (by UID or copy key; view, then state) and
            # found nothing, or found it paired with another copy: an orphan, e.g. left
            # behind by a crash after its original was deleted, or by a replacement
            # (_rekey) that did not finish.
            self.claimed[side].add(item.id)
            self.steps[key] = self._step(
                key,
                origin,
                marker.origin or "",
                {side: item, origin: None},
                shown=item.obj,
                forget=True,
                writes=(Write("delete", side, item_id=item.id, etag=item.etag),),
            )


def plan(given: PlanInput) -> Plan:
    """The plan for one cycle of one rule."""
    return _Planner(given).plan()
