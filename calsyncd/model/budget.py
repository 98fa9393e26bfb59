"""Budgets for CPU-bound work on untrusted data, and stopping such work when asked.

A feed or an invitation can ask for work without end (a recurrence rule that never matches,
a time zone that changes every second). Such work is counted against a :class:`Budget` of
steps and CPU seconds, one per object: past either bound :class:`OverBudget` is raised and
the caller skips that object, naming it. The budget in force is the one the caller made
:meth:`~Budget.active` (a context variable, so each thread and task has its own).

Heavy work runs in a worker thread (:func:`in_worker_thread`) so that the event loop keeps
answering. A worker thread cannot be abandoned — the process waits for it at exit — so it
must stop by itself: every budget check is also a :func:`checkpoint` that raises the
cancellation of the task that started the thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar, TypeVarTuple, Unpack

import anyio.from_thread
import anyio.to_thread

__all__ = [
    "MAX_SECONDS",
    "MAX_STEPS",
    "Budget",
    "OverBudget",
    "bounded",
    "checkpoint",
    "in_worker_thread",
    "spend",
]

MAX_STEPS = 100_000
"""Steps one object may cost: ~0.3 s of dateutil, and a daily series since 1890."""
MAX_SECONDS = 0.5
"""CPU seconds one object may cost (a backstop: the step count bounds first)."""
_CHECK_EVERY = 16
"""Steps between looks at the clock and at cancellation."""

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_ACTIVE: ContextVar[Budget | None] = ContextVar("calsyncd_budget", default=None)
_STOP: ContextVar[Callable[[], None] | None] = ContextVar("calsyncd_stop", default=None)


class OverBudget(Exception):
    """Work on one object went past its budget; the message says which bound."""


class Budget:
    """Steps and CPU seconds one object may cost; CPU time counts only while active."""

    __slots__ = ("_cpu", "_next_check", "_since", "_spent", "seconds", "steps")

    def __init__(self, steps: int = MAX_STEPS, seconds: float = MAX_SECONDS) -> None:
        self.steps = steps
        self.seconds = seconds
        self._spent = 0
        self._cpu = 0.0
        self._since: float | None = None
        self._next_check = _CHECK_EVERY

    @property
    def spent(self) -> int:
        return self._spent

    def spend(self, steps: int = 1) -> None:
        """Count ``steps``; raise :class:`OverBudget` past a bound (or a cancellation)."""
        self._spent += steps
        if self._spent > self.steps:
            raise OverBudget(f"more than {self.steps} steps")
        if self._spent >= self._next_check:
            self._next_check = self._spent + _CHECK_EVERY
            if self._cpu_seconds() > self.seconds:
                raise OverBudget(f"more than {self.seconds:g} s of CPU time")
            checkpoint()

    def _cpu_seconds(self) -> float:
        running = 0.0 if self._since is None else time.thread_time() - self._since
        return self._cpu + running

    @contextmanager
    def active(self) -> Iterator[Budget]:
        """Make this the budget work is counted against, until the block ends."""
        token = _ACTIVE.set(self)
        outer = self._since
        if outer is None:
            self._since = time.thread_time()
        try:
            yield self
        finally:
            if outer is None and self._since is not None:
                self._cpu += time.thread_time() - self._since
                self._since = None
            _ACTIVE.reset(token)


@contextmanager
def bounded() -> Iterator[Budget]:
    """The active budget, or a fresh one made active for the block (one object's work)."""
    budget = _ACTIVE.get()
    if budget is not None:
        yield budget
        return
    with Budget().active() as fresh:
        yield fresh


def spend(steps: int = 1) -> None:
    """Count ``steps`` against the active budget (there is always one: see :func:`bounded`)."""
    budget = _ACTIVE.get()
    if budget is None:
        raise RuntimeError("budgeted work outside a budget: use bounded()")
    budget.spend(steps)


def checkpoint() -> None:
    """Raise the cancellation of the task waiting for this worker thread, if it was
    cancelled; nothing outside :func:`in_worker_thread`."""
    stop = _STOP.get()
    if stop is not None:
        stop()


async def in_worker_thread(function: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
    """``function(*args)`` in a worker thread; it stops at its next :func:`checkpoint` once
    the calling task is cancelled."""

    def stoppable() -> T:
        token = _STOP.set(anyio.from_thread.check_cancelled)
        try:
            return function(*args)
        finally:
            _STOP.reset(token)

    return await anyio.to_thread.run_sync(stoppable)
