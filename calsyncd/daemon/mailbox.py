"""A de-duplicating trigger box: what asks one rule (or the reloader) to run.

Timers, reloads, ``POST /rules/NAME/sync`` and provider push all just :meth:`Mailbox.post` a
reason; however many arrive while the owner is busy, it wakes once and gets them all. The
owner handles one batch at a time, so a rule never runs two cycles at once.
"""

from __future__ import annotations

import math

import anyio


class Mailbox:
    """Reasons posted since the owner last looked; posting never blocks."""

    def __init__(self) -> None:
        self._reasons: set[str] = set()
        self._event = anyio.Event()

    def post(self, reason: str) -> None:
        self._reasons.add(reason)
        self._event.set()

    @property
    def pending(self) -> bool:
        return bool(self._reasons)

    def take(self) -> frozenset[str]:
        """Every reason posted so far (empty if none), emptying the box."""
        reasons = frozenset(self._reasons)
        self._reasons.clear()
        if self._event.is_set():
            self._event = anyio.Event()
        return reasons

    async def wait(self, timeout: float | None) -> frozenset[str]:
        """Reasons posted, as soon as there is one, or an empty set after ``timeout`` seconds
        (``None``: wait for a post however long it takes)."""
        if not self._reasons:
            with anyio.move_on_after(math.inf if timeout is None else max(timeout, 0.0)):
                await self._event.wait()
        return self.take()
