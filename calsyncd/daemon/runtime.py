"""What the daemon knows about each rule beyond the state database: its live state."""

from __future__ import annotations

from dataclasses import dataclass

from calsyncd.daemon.schedule import RuleState


@dataclass(slots=True)
class RuleRuntime:
    """A rule as its worker sees it right now.

    ``state`` is the state the last cycle left (``syncing`` before the first one);
    ``running`` is true while a cycle runs. ``next_run`` is the Unix time of the next
    timer-driven cycle (``None`` when held, paused or stopping). ``hold`` is why a permanent
    error holds the rule; ``first_done`` is set once its first cycle since start finished.
    """

    state: RuleState = "syncing"
    running: bool = False
    next_run: float | None = None
    failures: int = 0
    hold: str | None = None
    first_done: bool = False

    @property
    def shown_state(self) -> RuleState:
        return "syncing" if self.running else self.state
