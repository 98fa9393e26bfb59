"""The mass-delete guard: a plan that would delete more than the rule allows on a side, or
anything because the other side is suddenly empty, is held and writes nothing."""

from __future__ import annotations

from dataclasses import replace

from calsyncd.state.store import SIDES, Side
from calsyncd.sync.plan import Plan, Step, other
from calsyncd.sync.plan_input import PlanInput, Policy


def guard(plan: Plan, given: PlanInput) -> Plan:
    """``plan``, held when it deletes more than the guard allows on a side, or anything
    because the other side is suddenly empty (whatever ``max_deletes`` says: a calendar
    renamed, emptied or mistyped looks exactly like that). One delete is never held."""
    if given.allow_mass_delete:
        return plan
    policy = given.policy
    # Pairs adopted this cycle are synced pairs too: after the state database is lost,
    # every pair is adopted again, and a few deletions among them are not a mass delete.
    total = given.pair_count + sum(step.adopt for step in plan.steps)
    for side in SIDES:
        deletes = sum(
            1
            for step in plan.steps
            if not _replaces(step, side)
            for w in step.writes
            if w.op == "delete" and w.side == side
        )
        cause = other(side)
        emptied = deletes > 0 and total > 1 and given.view(cause).emptied
        if emptied:
            why = (
                f"the {cause} calendar is suddenly empty — was it renamed, emptied or"
                f" mistyped? {deletes} deletions on the {side} would follow."
            )
        elif deletes > 1 and deletes > _limit(policy, total):
            why = (
                f"{deletes} deletions on the {side} exceed the guard"
                f" ({_describe_limit(policy, total)}) — were that many events deleted from"
                f" the {cause} calendar, or did the rule's filter change?"
            )
        else:
            continue
        reason = (
            f"{why} Nothing was deleted. If that is intended, run"
            f" `calsyncd sync --rule {policy.rule} --allow-mass-delete`"
        )
        return replace(plan, hold=reason)
    return plan


def _limit(policy: Policy, total: int) -> float:
    limits: list[float] = []
    if policy.max_deletes is not None:
        limits.append(policy.max_deletes)
    if policy.max_deletes_percent is not None:
        limits.append(total * policy.max_deletes_percent / 100)
    return min(limits) if limits else float("inf")


def _describe_limit(policy: Policy, total: int) -> str:
    if policy.max_deletes is not None:
        return f"max_deletes {policy.max_deletes}"
    return f"max_deletes {policy.max_deletes_percent:g}% of {total} synced"


def _replaces(step: Step, side: Side) -> bool:
    """Whether ``step`` replaces an object on ``side`` (deletes one, writes another there):
    the side holds as many objects after it as before, so its delete is no deletion."""
    ops = {w.op for w in step.writes if w.side == side}
    return "delete" in ops and bool(ops & {"create", "update"})
