"""What the planner is given: a rule's policy, and both sides as the engine saw them.

The engine gathers everything the planner may need — changed objects, the pairs they touch,
possible copies to adopt — into a :class:`PlanInput`; the same input always gives the same plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from calsyncd.config.rules import ConflictPolicy
from calsyncd.providers.base import Item, Window
from calsyncd.state.store import ConflictRecord, PairRecord, Side
from calsyncd.sync.filters import Clause
from calsyncd.sync.keys import CopyKeys
from calsyncd.sync.mapping import FieldMapping


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything the planner needs to know about a rule, resolved from its config."""

    rule: str
    two_way: bool
    forward: FieldMapping
    reverse: FieldMapping
    include: Sequence[Clause] = ()
    exclude: Sequence[Clause] = ()
    conflict: ConflictPolicy = "newest-wins"
    revert_target_changes: bool = True
    propagate_deletes: bool = True
    max_deletes: int | None = None
    max_deletes_percent: float | None = 50.0
    calendars: Mapping[Side, str] = field(default_factory=lambda: {"source": "", "target": ""})
    owners: Mapping[Side, str | None] = field(
        default_factory=lambda: {"source": None, "target": None}
    )
    anonymous: frozenset[Side] = frozenset()
    """Sides whose copies are anonymous (see :mod:`calsyncd.sync.keys`)."""
    keep_uids: bool = False
    secret: bytes = b""
    """The deployment's copy secret: the engine sets it from the state store."""

    def mapping_to(self, side: Side) -> FieldMapping:
        """The mapping that makes objects on ``side`` from the other side's."""
        return self.forward if side == "target" else self.reverse

    def copy_keys(self) -> CopyKeys:
        return CopyKeys(self.rule, self.anonymous, self.secret, self.keep_uids)


@dataclass(frozen=True, slots=True)
class SideView:
    """One side as the engine saw it this cycle.

    ``items`` holds current content for every object the planner may need (changed ones and
    those fetched for adoption); ``deleted`` ids gone since the last cycle; with ``full`` set,
    anything not in ``items`` or ``skipped`` is gone.

    ``held`` counts the objects the side held before this cycle as the state database knows
    them (its last listing, plus objects of pairs no listing has shown yet) and ``held_gone``
    how many of them this cycle found deleted: an incremental listing that deleted all of
    them left the side empty. The engine counts them only when that can be so (the listing
    deleted something and shows nothing); otherwise both are 0.
    """

    items: Mapping[str, Item] = field(default_factory=dict)
    deleted: frozenset[str] = frozenset()
    full: bool = False
    skipped: frozenset[str] = frozenset()
    held: int = 0
    held_gone: int = 0

    @property
    def emptied(self) -> bool:
        """Whether the side holds nothing now: a full listing found nothing, or an incremental
        one deleted everything it held and shows nothing new."""
        if self.items or self.skipped:
            return False
        return self.full or 0 < self.held <= self.held_gone


@dataclass(frozen=True, slots=True)
class PlanInput:
    policy: Policy
    window: Window
    source: SideView
    target: SideView
    pairs: Mapping[str, PairRecord]
    """Every pair touching a changed or deleted id (all pairs when a side is listed in full)."""
    pair_count: int
    conflicts: Mapping[str, ConflictRecord] = field(default_factory=dict)
    rerender: bool = False
    """The rule's mapping changed: every pair in ``pairs`` is rendered again."""
    allow_mass_delete: bool = False

    def view(self, side: Side) -> SideView:
        return self.source if side == "source" else self.target
