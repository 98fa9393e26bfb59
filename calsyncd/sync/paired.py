"""The step for a pair the state database remembers: an original and its copy.

What happened since the last cycle decides it — the copy is updated, deleted or made again;
an edited copy flows back (two-way) or is reverted; an edited copy whose original was deleted
becomes the original (:func:`_promote`); a copy made under another key is replaced
(:func:`_rekey`); both sides edited is settled by :mod:`calsyncd.sync.conflicts`.
"""

from __future__ import annotations

from dataclasses import replace

from calsyncd.model.event import CalendarObject
from calsyncd.model.hashing import content_hash
from calsyncd.providers.base import Item
from calsyncd.state.store import SIDES, PairRecord, Side
from calsyncd.sync.changes import changed_fields
from calsyncd.sync.conflicts import conflict_step, merge, resolution, winner
from calsyncd.sync.plan import Step, Write, other
from calsyncd.sync.plan_state import PlanState


def pair_step(state: PlanState, pair: PairRecord) -> Step:
    """The step for ``pair`` this cycle."""
    step = _pair_step_for(state, pair)
    if step.conflict is None and pair.key in state.given.conflicts:
        # A held conflict that no longer holds (the sides agree, one was deleted, the
        # pair is gone): settle it, or ``calsyncd conflicts`` would list it for ever.
        step = replace(step, settles_conflict=True)
    return step


def _pair_step_for(state: PlanState, pair: PairRecord) -> Step:
    origin: Side = pair.origin
    copy_side = other(origin)
    current: dict[Side, Item | None] = {s: state.current(pair, s) for s in SIDES}
    orig, copy = current[origin], current[copy_side]
    key = pair.key
    if orig is None and copy is None:
        return state.step(key, origin, pair.origin_uid, current, shown=None, forget=True)
    changed = {
        side: item is not None and content_hash(item.obj) != state.recorded_hash(pair, side)
        for side, item in current.items()
    }
    # Changed by a user, not by a write of ours whose row a killed cycle never committed.
    # For the copy that is all (what we write there is rendered from the original); the
    # original keeps counting as changed (it may hold an unsynced merge), except where a
    # delete is weighed against an edit.
    edited = {
        side: changed[side] and (item is None or content_hash(item.obj) not in pair.pending(side))
        for side, item in current.items()
    }
    changed[copy_side] = edited[copy_side]
    if orig is not None and not state.selected(origin, orig.obj):
        # Left the filter: the copy goes as if the original were deleted — except that
        # an edited copy is not promoted to an original (the original still exists, so
        # a new copy of the promoted one would be a second object with its UID).
        if copy is None:
            return state.step(key, origin, pair.origin_uid, current, shown=None, forget=True)
        return _original_gone(state, pair, current, copy, copy_changed=False)
    wanted = state.keys.key(origin, pair.origin_uid)
    if wanted != key and orig is not None and copy is not None:
        # The copy was made under another key: before the rule's copies became anonymous
        # (or since they stopped being). It is made again — unless it holds an edit the
        # rule keeps, which is settled first (this cycle) and the copy replaced next time.
        keeps_edit = edited[copy_side] and (
            state.policy.two_way or not state.policy.revert_target_changes
        )
        if not keeps_edit and key not in state.given.conflicts:
            return _rekey(state, pair, current, orig, copy, key=wanted)
    if orig is None:
        assert copy is not None
        return _original_gone(state, pair, current, copy, edited[copy_side])
    if copy is None:
        return _copy_gone(state, pair, current, orig, edited[origin])
    return _both_present(state, pair, current, orig, copy, changed=changed)


def _original_gone(
    state: PlanState,
    pair: PairRecord,
    current: dict[Side, Item | None],
    copy: Item,
    copy_changed: bool,
) -> Step:
    if state.policy.two_way and copy_changed:
        return _promote(state, pair, copy)
    return _forget(state, pair, current, other(pair.origin), delete=state.policy.propagate_deletes)


def _forget(
    state: PlanState,
    pair: PairRecord,
    current: dict[Side, Item | None],
    side: Side,
    *,
    delete: bool,
) -> Step:
    """Forget the pair, one of whose objects is gone; ``delete`` the one left on ``side`` too."""
    left = current[side]
    assert left is not None
    return state.step(
        pair.key,
        pair.origin,
        pair.origin_uid,
        current,
        shown=left.obj,
        forget=True,
        writes=(Write("delete", side, item_id=left.id, etag=left.etag),) if delete else (),
    )


def _promote(state: PlanState, pair: PairRecord, copy: Item) -> Step:
    """The original was deleted but its copy edited: the edit wins, the copy becomes the
    original (its marker removed) and a new copy is made on the other side."""
    new_origin = other(pair.origin)
    original = copy.obj.with_marker(None)
    key = state.keys.key(new_origin, original.uid)
    new_copy = state.derive(new_origin, original, key)
    return state.step(
        key,
        new_origin,
        original.uid,
        {new_origin: copy, pair.origin: None},
        shown=original,
        replaces=pair.key,
        written_hash=content_hash(new_copy),
        writes=(
            Write("update", new_origin, original, item_id=copy.id, etag=copy.etag),
            Write("create", pair.origin, new_copy, key=key),
        ),
    )


def _copy_gone(
    state: PlanState,
    pair: PairRecord,
    current: dict[Side, Item | None],
    orig: Item,
    orig_changed: bool,
) -> Step:
    origin = pair.origin
    key = pair.key
    dismissed = state.step(
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
    wanted = state.keys.key(origin, pair.origin_uid)
    # A copy made under another key that is gone was deleted by a replacement (_rekey)
    # killed before it made the new copy: it is made, whatever the policy says.
    recreate = (
        wanted != key
        or (not state.policy.two_way and state.policy.revert_target_changes)
        or (state.policy.two_way and orig_changed)
    )
    if recreate:
        return _make_again(state, pair, current, orig, wanted)
    if state.policy.two_way and state.policy.propagate_deletes:
        return _forget(state, pair, current, origin, delete=True)
    return dismissed


def _both_present(
    state: PlanState,
    pair: PairRecord,
    current: dict[Side, Item | None],
    orig: Item,
    copy: Item,
    *,
    changed: dict[Side, bool],
) -> Step:
    origin = pair.origin
    copy_side = other(origin)
    desired = state.derive(origin, orig.obj, pair.key, uid=copy.obj.uid)
    desired_hash = content_hash(desired)
    copy_hash = content_hash(copy.obj)
    chosen = resolution(state, pair.key)

    def update_copy(target: CalendarObject, target_hash: str, **extra: object) -> Step:
        if target_hash == copy_hash:
            return record(written_hash=target_hash, **extra)
        return state.step(
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
        return state.step(pair.key, origin, pair.origin_uid, current, shown=None, **details)

    if not changed[copy_side] and chosen is None:
        if desired_hash != pair.written_hash:
            return update_copy(desired, desired_hash)
        return record()
    if not state.policy.two_way:
        if (
            state.policy.revert_target_changes
            or changed[origin]
            or desired_hash != pair.written_hash
        ):
            return update_copy(desired, desired_hash)
        return record()
    # Two-way, the copy changed (maybe the original too).
    if copy_hash == desired_hash and chosen is None:
        return record(written_hash=desired_hash)
    won = chosen or winner(state, pair, orig, copy, changed)
    settles = {"settles_conflict": True} if chosen is not None else {}
    if won == "conflict":
        return conflict_step(state, pair, current, orig, copy)
    if won == origin:
        return update_copy(desired, desired_hash, **settles)
    if won == "merge":
        new_orig = merge(state, pair, orig.obj, copy.obj)
    else:
        new_orig = state.write_back(origin, orig.obj, copy.obj)
    new_copy = state.derive(origin, new_orig, pair.key, uid=copy.obj.uid)
    new_copy_hash = content_hash(new_copy)
    writes: list[Write] = []
    if content_hash(new_orig) != content_hash(orig.obj):
        writes.append(Write("update", origin, new_orig, item_id=orig.id, etag=orig.etag))
    if new_copy_hash != copy_hash:
        writes.append(Write("update", copy_side, new_copy, item_id=copy.id, etag=copy.etag))
    return state.step(
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
    state: PlanState,
    pair: PairRecord,
    current: dict[Side, Item | None],
    orig: Item,
    copy: Item,
    *,
    key: str,
) -> Step:
    """Replace the pair's copy with one made under ``key``: deleted, then created.

    An anonymous copy must not keep the id, UID or marker of a copy made before, which
    name its original. The writes run in order and the pair's row then holds the new
    copy; killed in between, the next cycle finds the old copy gone and makes the new one
    (:func:`_copy_gone`). Replacing is not deleting: the guard does not count it.
    """
    return _make_again(state, pair, current, orig, key, old_copy=copy)


def _make_again(
    state: PlanState,
    pair: PairRecord,
    current: dict[Side, Item | None],
    orig: Item,
    key: str,
    *,
    old_copy: Item | None = None,
) -> Step:
    """Make the pair's copy again under ``key``, deleting ``old_copy`` first when given. Under
    a key other than the pair's, the step's row replaces the pair's."""
    origin = pair.origin
    make = _make_copy(state, origin, orig.obj, key)
    assert make.obj is not None
    copy_side = other(origin)
    delete = (
        ()
        if old_copy is None
        else (Write("delete", copy_side, item_id=old_copy.id, etag=old_copy.etag),)
    )
    return state.step(
        key,
        origin,
        pair.origin_uid,
        current,
        shown=orig.obj,
        replaces=pair.key if key != pair.key else None,
        written_hash=content_hash(make.obj),
        writes=(*delete, make),
    )


def _make_copy(state: PlanState, origin: Side, original: CalendarObject, key: str) -> Write:
    """The write that makes the copy of ``original`` under ``key``: a create — or, when a
    copy with that key is there already, unpaired (made by a cycle killed before its row
    was committed), an update bringing it up to date (a create would return it as is)."""
    copy_side = other(origin)
    made = state.unpaired_by_marker(copy_side, key)
    if made is None:
        return Write("create", copy_side, state.derive(origin, original, key), key=key)
    state.claimed[copy_side].add(made.id)
    desired = state.derive(origin, original, key, uid=made.obj.uid)
    return Write("update", copy_side, desired, item_id=made.id, etag=made.etag)
