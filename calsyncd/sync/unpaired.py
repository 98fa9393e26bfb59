"""The steps for objects no pair holds: an original new to the rule and a copy of the rule
whose pair is unknown.

A new original gets a copy — or adopts one that exists already (found by its marker key or,
for a copy that is not anonymous, by the original's UID), so a lost state database or a
killed cycle never makes a second copy. A copy whose original is gone (or paired with another
copy) is an *orphan*, deleted when the rule propagates deletes.
"""

from __future__ import annotations

from calsyncd.model.event import CalendarObject, Marker
from calsyncd.model.hashing import content_hash
from calsyncd.providers.base import Item
from calsyncd.state.store import Side
from calsyncd.sync.changes import changed_fields
from calsyncd.sync.merge import newer
from calsyncd.sync.plan import ItemProblem, Step, Write, other
from calsyncd.sync.plan_state import PlanState
from calsyncd.sync.window import in_window


def plan_unpaired(state: PlanState, side: Side, item: Item) -> None:
    """Add the step (if any) for ``item`` on ``side``, which no pair holds."""
    marker = item.obj.marker
    if marker is not None:
        if state.keys.owns(marker):
            _unpaired_copy(state, side, item, marker)
        return  # a copy made by another rule is never copied again
    if side == "target" and not state.policy.two_way:
        return
    _unpaired_original(state, side, item)


def _unpaired_original(state: PlanState, side: Side, item: Item) -> None:
    obj = item.obj
    if not state.selected(side, obj) or not in_window(obj, state.given.window):
        return
    key = state.keys.key(side, obj.uid)
    if key in state.steps:
        state.problems.append(ItemProblem(side, item.id, f"duplicate UID {obj.uid!r}; skipped"))
        return
    copy_side = other(side)
    state.claimed[side].add(item.id)
    existing = state.unpaired_by_marker(copy_side, key)
    earlier = state.keys.earlier_key(side, obj.uid)
    if existing is None and earlier is not None:
        existing = state.unpaired_by_marker(copy_side, earlier)
    if existing is None and copy_side not in state.keys.anonymous:
        # An anonymous copy is never an object that carries its original's UID.
        existing = state.same_uid(copy_side, obj.uid)
        if existing is not None and existing.id in state.pair_of[copy_side]:
            existing = None
    if existing is not None:
        state.claimed[copy_side].add(existing.id)
        state.steps[key] = _adopt(state, side, item, existing, key)
        return
    desired = state.derive(side, obj, key)
    state.steps[key] = state.step(
        key,
        side,
        obj.uid,
        {side: item, copy_side: None},
        shown=obj,
        written_hash=content_hash(desired),
        writes=(Write("create", copy_side, desired, key=key),),
    )


def _adopt(state: PlanState, origin: Side, orig: Item, copy: Item, key: str) -> Step:
    """Pair an existing copy (found by marker or UID) instead of making a second one.

    The copy keeps its UID. One made under another key (before the rule's copies became
    anonymous) is replaced instead, as :func:`calsyncd.sync.paired._rekey` does.
    """
    copy_side = other(origin)
    marker = copy.obj.marker
    if marker is not None and marker.key != key:
        desired = state.derive(origin, orig.obj, key)
        writes: tuple[Write, ...] = (
            Write("delete", copy_side, item_id=copy.id, etag=copy.etag),
            Write("create", copy_side, desired, key=key),
        )
        shown_fields: tuple[str, ...] = ()
    else:
        desired, writes = _bring_up_to_date(state, origin, orig, copy, key)
        shown_fields = changed_fields(copy.obj, desired)
    return state.step(
        key,
        origin,
        orig.obj.uid,
        {origin: orig, copy_side: copy},
        shown=orig.obj,
        adopt=True,
        written_hash=content_hash(desired),
        writes=writes,
        fields=shown_fields,
    )


def _bring_up_to_date(
    state: PlanState, origin: Side, orig: Item, copy: Item, key: str
) -> tuple[CalendarObject, tuple[Write, ...]]:
    """The adopted copy as the rule renders it, and the writes that make it so. A two-way
    rule first takes an edit into the original from an unmarked copy edited later."""
    copy_side = other(origin)
    desired = state.derive(origin, orig.obj, key, uid=copy.obj.uid)
    writes: tuple[Write, ...] = ()
    if content_hash(copy.obj) != content_hash(desired) or copy.obj.marker != desired.marker:
        if state.policy.two_way and copy.obj.marker is None and newer(copy.obj, orig.obj):
            new_orig = state.write_back(origin, orig.obj, copy.obj)
            desired = state.derive(origin, new_orig, key, uid=copy.obj.uid)
            writes = (Write("update", origin, new_orig, item_id=orig.id, etag=orig.etag),)
        writes = (*writes, Write("update", copy_side, desired, item_id=copy.id, etag=copy.etag))
    return desired, writes


def _unpaired_copy(state: PlanState, side: Side, item: Item, marker: Marker) -> None:
    origin = other(side)
    key = marker.key
    if key in state.steps or item.id in state.claimed[side]:
        return
    original = state.original_of(origin, marker)
    if original is not None and original.id not in state.pair_of[origin]:
        if state.selected(origin, original.obj):
            state.claimed[origin].add(original.id)
            state.claimed[side].add(item.id)
            wanted = state.keys.key(origin, original.obj.uid)
            state.steps[wanted] = _adopt(state, origin, original, item, wanted)
        return
    if original is None and state.policy.propagate_deletes:
        # The engine looked the original up (by UID or copy key; view, then state) and
        # found nothing, or found it paired with another copy: an orphan, e.g. left
        # behind by a crash after its original was deleted, or by a replacement
        # (_rekey) that did not finish.
        state.claimed[side].add(item.id)
        state.steps[key] = state.step(
            key,
            origin,
            marker.origin or "",
            {side: item, origin: None},
            shown=item.obj,
            forget=True,
            writes=(Write("delete", side, item_id=item.id, etag=item.etag),),
        )
