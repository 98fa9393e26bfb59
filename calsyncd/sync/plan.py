"""Plan types: what one reconcile cycle intends to do, as data.

The planner produces a :class:`Plan`; ``calsyncd plan`` prints it, the executor carries it out.
One :class:`Step` is everything that happens to one pair (an original and its copy) in a
cycle: zero or more remote :class:`Write` operations, then the state row to commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from calsyncd.model.event import CalendarObject
from calsyncd.providers.base import Item
from calsyncd.state.store import ConflictRecord, Side

WriteOp = Literal["create", "update", "delete"]


@dataclass(frozen=True, slots=True)
class Write:
    """One remote operation. ``item_id``/``etag`` for update and delete, ``key`` for create."""

    op: WriteOp
    side: Side
    obj: CalendarObject | None = None
    item_id: str | None = None
    etag: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """All that happens to one pair in one cycle.

    After the writes, the executor records the pair ``key`` with, per side, the object a write
    returned or else ``current[side]`` (``None``: the side has no object). ``forget`` deletes
    the pair row instead; ``replaces`` names a pair row this step supersedes.
    """

    key: str
    origin: Side
    origin_uid: str
    current: dict[Side, Item | None]
    writes: tuple[Write, ...] = ()
    written_hash: str | None = None
    dismissed: bool = False
    forget: bool = False
    replaces: str | None = None
    adopt: bool = False
    conflict: ConflictRecord | None = None
    settles_conflict: bool = False
    title: str = ""
    start: str = ""
    fields: tuple[str, ...] = ()

    @property
    def visible(self) -> bool:
        """Whether ``plan`` shows this step (pure bookkeeping steps are not shown)."""
        return bool(self.writes or self.adopt or self.conflict)


@dataclass(frozen=True, slots=True)
class ItemProblem:
    side: Side
    item_id: str
    message: str


@dataclass(frozen=True, slots=True)
class Plan:
    rule: str
    steps: list[Step] = field(default_factory=list)
    hold: str | None = None
    problems: list[ItemProblem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "delete": 0, "conflict": 0, "adopt": 0}
        for step in self.steps:
            for write in step.writes:
                counts[write.op] += 1
            counts["conflict"] += step.conflict is not None
            counts["adopt"] += step.adopt
        return counts

    def actions(self) -> list[dict[str, Any]]:
        """The plan as the JSON actions of ``calsyncd plan --json``."""
        if self.hold is not None:  # a held cycle writes nothing at all
            hold = {"op": "hold", "side": None, "item": self.rule, "title": self.hold}
            return [{**hold, "start": "", "fields": []}]
        actions: list[dict[str, Any]] = []
        for step in self.steps:
            base = {"title": step.title, "start": step.start, "fields": list(step.fields)}
            if step.adopt:
                actions.append(
                    {"op": "adopt", "side": other(step.origin), "item": step.key, **base}
                )
            if step.conflict is not None:
                actions.append({"op": "conflict", "side": None, "item": step.key, **base})
            for write in step.writes:
                actions.append(
                    {
                        "op": write.op,
                        "side": write.side,
                        "item": write.item_id or write.key or step.key,
                        **base,
                    }
                )
        return actions


def other(side: Side) -> Side:
    """The opposite side."""
    return "target" if side == "source" else "source"


def display_start(obj: CalendarObject) -> str:
    start = obj.first.start
    if isinstance(start, datetime):
        return start.isoformat(timespec="minutes")
    return start.isoformat()
