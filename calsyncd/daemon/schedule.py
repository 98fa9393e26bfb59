"""When a rule runs next: interval with jitter, exponential backoff, holds. Pure functions.

- A cycle that synced (items that failed are re-read next time, they do not slow the rule):
  the next one after the interval, ±10 % jitter so rules started together drift apart.
- A cycle that failed for a temporary reason (network, 429, 5xx, the state database): the
  n-th failure in a row waits ``interval × 2^(n-1)``, capped at ``interval × 8`` — the first
  retry comes at the usual time, then 2×, 4×, 8×, 8× … — and at least the server's
  ``Retry-After`` (within the same cap). The first success resets the count.
- A cycle that failed for a permanent reason (credentials, a calendar that does not exist, a
  write to a read-only calendar): the rule is held — no timer — until its configuration
  changes or an operator asks for a cycle (``POST /rules/NAME/sync``).
- A cycle the mass-delete guard held: the rule shows ``held``; the engine decides afresh each
  cycle, so the timer keeps running at the interval.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

RuleState = Literal["ok", "syncing", "error", "held", "paused"]
RULE_STATES: tuple[RuleState, ...] = ("ok", "syncing", "error", "held", "paused")

CycleOutcome = Literal["ok", "partial", "held", "temporary", "permanent"]
"""``partial``: synced, but some items failed (they are retried next cycle)."""

JITTER = 0.1
BACKOFF_CAP = 8
_SETTLED: dict[CycleOutcome, RuleState] = {"ok": "ok", "partial": "error", "held": "held"}


@dataclass(frozen=True, slots=True)
class Decision:
    """What follows a cycle: the rule's state, failures in a row, and the delay to the next
    timer-driven cycle (``None``: none until someone asks)."""

    state: RuleState
    failures: int
    delay: float | None


def jittered(seconds: float, rng: random.Random, spread: float = JITTER) -> float:
    return float(seconds * rng.uniform(1 - spread, 1 + spread))


def backoff(interval: float, failures: int, retry_after: float | None = None) -> float:
    """The wait after the ``failures``-th temporary failure in a row (no jitter)."""
    cap = interval * BACKOFF_CAP
    doublings = min(max(failures - 1, 0), BACKOFF_CAP.bit_length() - 1)
    wait = interval * (1 << doublings)
    return min(max(wait, retry_after or 0.0), cap)


def decide(
    outcome: CycleOutcome,
    interval: float,
    failures: int,
    rng: random.Random,
    retry_after: float | None = None,
) -> Decision:
    """The decision after a cycle with ``outcome``; ``failures`` counts those before it."""
    if outcome == "permanent":
        return Decision("held", failures + 1, None)
    if outcome == "temporary":
        count = failures + 1
        wait = jittered(backoff(interval, count, retry_after), rng)
        return Decision("error", count, min(wait, interval * BACKOFF_CAP))
    return Decision(_SETTLED[outcome], 0, jittered(interval, rng))
