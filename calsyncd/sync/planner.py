"""The planner: from what both sides hold now and what the state remembers, to a plan.

Pure: no I/O, no clock (``now`` comes in through the window). The engine gathers everything
the planner may need — changed objects, the pairs they touch, possible copies to adopt — into a
:class:`PlanInput`; the same input always gives the same plan.

Vocabulary: an *original* is an object a user made; its *copy* is what this rule made from it
on the other side (marked with the rule's name, the original's UID and a deterministic key —
or, an anonymous copy, with an opaque key alone: :mod:`calsyncd.sync.keys`).
A *pair* is an original and its copy as the state database remembers them. In a one-way rule
originals live on the source; in a two-way rule on either side.

This module decides which pairs and objects a cycle looks at; the steps come from
:mod:`~calsyncd.sync.paired` (pairs), :mod:`~calsyncd.sync.unpaired` (new originals, copies to
adopt, orphans) and :mod:`~calsyncd.sync.conflicts`; :mod:`~calsyncd.sync.guard` may hold
the plan.
"""

from __future__ import annotations

from dataclasses import replace

from calsyncd.model.event import CalendarObject
from calsyncd.state.store import SIDES, Side
from calsyncd.sync.guard import guard
from calsyncd.sync.paired import pair_step
from calsyncd.sync.plan import Plan
from calsyncd.sync.plan_input import PlanInput, Policy, SideView
from calsyncd.sync.plan_state import PlanState
from calsyncd.sync.unpaired import plan_unpaired

__all__ = ["PlanInput", "Policy", "SideView", "plan"]


def plan(given: PlanInput) -> Plan:
    """The plan for one cycle of one rule."""
    state = PlanState(given)
    _rebind_moved(state)
    for key in sorted(_pairs_to_plan(state)):
        pair = state.pairs[key]
        for side in SIDES:
            paired_id = pair.side_id(side)
            if paired_id is not None:
                state.claimed[side].add(paired_id)
        step = pair_step(state, pair)
        state.steps[step.key] = step
    for side in SIDES:
        for item in sorted(given.view(side).items.values(), key=lambda i: i.id):
            if item.id not in state.pair_of[side] and item.id not in state.claimed[side]:
                plan_unpaired(state, side, item)
    result = Plan(
        rule=given.policy.rule,
        steps=[state.steps[k] for k in sorted(state.steps)],
        problems=state.problems,
    )
    return guard(result, given)


def _pairs_to_plan(state: PlanState) -> set[str]:
    """The keys of the pairs a change touched (every pair when the mapping changed), and of
    those with a conflict the user resolved."""
    given = state.given
    keys = set(state.pairs) if given.rerender else set()
    for side in SIDES:
        view = given.view(side)
        for item_id in (*view.items, *view.deleted):
            key = state.pair_of[side].get(item_id)
            if key is not None:
                keys.add(key)
        if view.full:
            keys.update(
                key
                for item_id, key in state.pair_of[side].items()
                if item_id not in view.items and item_id not in view.skipped
            )
    keys.update(k for k, c in given.conflicts.items() if c.resolution and k in state.pairs)
    return keys


def _keys_of(state: PlanState, side: Side, obj: CalendarObject) -> tuple[str, ...]:
    """The pair keys an object may belong to: as an original (its copy's key, and the
    key a copy made before the rule's copies became anonymous has), or as a copy of this
    rule (its marker's key)."""
    marker = obj.marker
    if marker is None:
        earlier = state.keys.earlier_key(side, obj.uid)
        key = state.keys.key(side, obj.uid)
        return (key,) if earlier is None else (key, earlier)
    if state.keys.owns(marker):
        return (marker.key,)
    return ()


def _gone(state: PlanState, side: Side, item_id: str | None) -> bool:
    view = state.given.view(side)
    return (
        item_id is None
        or item_id in view.deleted
        or (view.full and item_id not in view.items and item_id not in view.skipped)
    )


def _rebind_moved(state: PlanState) -> None:
    """Point a pair at an object's new id when it moved (same UID, new file or href)."""
    for side in SIDES:
        for item in state.given.view(side).items.values():
            if item.id in state.pair_of[side]:
                continue
            found = [state.pairs[k] for k in _keys_of(state, side, item.obj) if k in state.pairs]
            pair = found[0] if found else None
            if pair is None or not _gone(state, side, pair.side_id(side)):
                continue
            old_id = pair.side_id(side)
            if side == "source":
                pair = replace(pair, source_id=item.id, source_etag=item.etag)
            else:
                pair = replace(pair, target_id=item.id, target_etag=item.etag)
            state.pairs[pair.key] = pair
            if old_id is not None:
                state.pair_of[side].pop(old_id, None)
            state.pair_of[side][item.id] = pair.key
