"""Both sides of a pair changed: which side wins under the rule's conflict policy, the merge
in the original's terms, and the conflict record a ``manual`` rule holds for the user."""

from __future__ import annotations

from typing import Literal

from calsyncd.model.event import CalendarObject
from calsyncd.model.hashing import content_hash
from calsyncd.model.ical import serialize_object
from calsyncd.providers.base import Item
from calsyncd.state.store import ConflictRecord, PairRecord, Side
from calsyncd.sync.changes import changed_fields
from calsyncd.sync.merge import merge_fields, newer
from calsyncd.sync.plan import Step, other
from calsyncd.sync.plan_state import PlanState


def resolution(state: PlanState, key: str) -> Side | None:
    """The side the user chose for a held conflict, if they chose one."""
    conflict = state.given.conflicts.get(key)
    return conflict.resolution if conflict is not None else None


def winner(
    state: PlanState, pair: PairRecord, orig: Item, copy: Item, changed: dict[Side, bool]
) -> Side | Literal["merge", "conflict"]:
    origin = pair.origin
    copy_side = other(origin)
    if not changed[origin]:
        return copy_side
    policy = state.policy.conflict
    if policy == "source-wins":
        return "source"
    if policy == "target-wins":
        return "target"
    if policy == "manual":
        return "conflict"
    if policy == "merge" and state.base(pair, origin) is not None:
        return "merge"
    source, target = (orig, copy) if origin == "source" else (copy, orig)
    return "target" if newer(target.obj, source.obj) else "source"


def conflict_step(
    state: PlanState, pair: PairRecord, current: dict[Side, Item | None], orig: Item, copy: Item
) -> Step:
    """Hold the pair: nothing is written until the user resolves the conflict."""
    source, target = (orig, copy) if pair.origin == "source" else (copy, orig)
    record = ConflictRecord(
        rule=state.policy.rule,
        key=pair.key,
        title=orig.obj.first.title or "",
        source_body=serialize_object(source.obj).decode(),
        target_body=serialize_object(target.obj).decode(),
        source_hash=content_hash(source.obj),
        target_hash=content_hash(target.obj),
        detected_at=0.0,
    )
    existing = state.given.conflicts.get(pair.key)
    if existing is not None and (existing.source_hash, existing.target_hash) == (
        record.source_hash,
        record.target_hash,
    ):
        record = existing
    return state.step(
        pair.key,
        pair.origin,
        pair.origin_uid,
        current,
        shown=orig.obj,
        conflict=record,
        written_hash=pair.written_hash,
        fields=changed_fields(orig.obj, state.write_back(pair.origin, orig.obj, copy.obj)),
    )


def merge(
    state: PlanState, pair: PairRecord, orig: CalendarObject, copy: CalendarObject
) -> CalendarObject:
    """Field-level three-way merge in the original's terms; same-field edits: newest wins."""
    origin = pair.origin
    base = state.base(pair, origin)
    assert base is not None
    theirs = state.write_back(origin, base, copy)
    copy_newer = newer(copy, orig)
    if not set(orig.overrides) == set(base.overrides) == set(theirs.overrides):
        # Occurrences were added or removed: merge the series as a whole, newest wins.
        return state.write_back(origin, orig, copy) if copy_newer else orig
    return merge_fields(base, orig, theirs, theirs_newer=copy_newer)
