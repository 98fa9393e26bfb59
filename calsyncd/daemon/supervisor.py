"""The supervisor: one worker per rule in an anyio task group, and the one place that turns
a cycle's outcome into the rule's next run, backoff or hold, and into metrics.

Each worker loops: run a cycle, :meth:`Supervisor.settle` the outcome, wait on its
:class:`~calsyncd.daemon.mailbox.Mailbox` until the timer runs out or someone posts a reason
(a manual trigger, later provider push). A worker runs one cycle at a time, and a worker
replacing another (a changed rule) waits until the old one has finished — so a rule never
runs two cycles at once, while a slow or failing rule never delays the others.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import anyio
import anyio.abc
import structlog

from calsyncd import log as logs
from calsyncd.config import Rule
from calsyncd.daemon.mailbox import Mailbox
from calsyncd.daemon.metrics import Metrics
from calsyncd.daemon.runtime import RuleRuntime
from calsyncd.daemon.schedule import CycleOutcome, decide
from calsyncd.errors import CalsyncdError, StateError
from calsyncd.state.store import StateStore
from calsyncd.sync.engine import CycleResult
from calsyncd.sync.service import CycleFailure, CycleReport, SyncService

log = structlog.get_logger("calsyncd.daemon")

Triggered = Literal["queued", "unknown", "paused", "stopping"]

MANUAL = "manual"
"""The reason that runs a cycle even of a rule held by a permanent error."""
_STOP = "stop"


def classify(report: CycleReport) -> CycleOutcome:
    result = report.result
    if result.error is not None:
        failure = report.failure or CycleFailure("temporary")
        return failure.kind
    if result.held is not None:
        return "held"
    return "ok" if result.ok else "partial"


class Worker:
    """Runs the cycles of one rule, one at a time, until retired."""

    def __init__(
        self, supervisor: Supervisor, rule: Rule, runtime: RuleRuntime, after: anyio.Event | None
    ) -> None:
        self.supervisor = supervisor
        self.rule = rule
        self.runtime = runtime
        self.mailbox = Mailbox()
        self.done = anyio.Event()
        self.retiring = False
        self._after = after

    def retire(self) -> None:
        """Stop after the cycle running now, if any; start none."""
        self.retiring = True
        self.runtime.next_run = None
        self.mailbox.post(_STOP)

    async def run(self) -> None:
        with logs.bound(rule=self.rule.name):
            try:
                if self._after is not None:
                    await self._after.wait()
                while not self.retiring:
                    delay = await self._cycle()
                    if not await self._wait(delay):
                        return
            finally:
                self.runtime.running = False
                self.done.set()

    async def _wait(self, delay: float | None) -> bool:
        """Wait for the next cycle; ``False`` when retired instead."""
        while True:
            reasons = await self.mailbox.wait(delay)
            if self.retiring:
                return False
            if self.runtime.hold is None or MANUAL in reasons:
                if reasons:
                    log.debug("cycle triggered", reasons=sorted(reasons))
                return True
            delay = None  # held: only an operator's request runs it

    async def _cycle(self) -> float | None:
        self.supervisor.starting(self)
        try:
            report = await self.supervisor.service.run(self.rule)
        except CalsyncdError as exc:  # the state database could not record the outcome
            report = _failed(self.rule.name, str(exc))
            if isinstance(exc, StateError):
                self.supervisor.state_ok = False
            log.error("cycle failed", error=str(exc))
        except Exception as exc:  # a bug: log it, back off, keep the other rules running
            report = _failed(self.rule.name, f"internal error: {exc!r}")
            log.exception("cycle crashed")
        else:
            self.supervisor.state_ok = True
        finally:
            self.runtime.running = False
        return self.supervisor.settle(self, report)


def _failed(rule: str, message: str) -> CycleReport:
    return CycleReport(CycleResult(rule, error=message), "-", failure=CycleFailure("temporary"))


@dataclass(frozen=True, slots=True)
class RuleChanges:
    """How a reloaded configuration's rules differ from the running ones."""

    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()
    changed: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


class Supervisor:
    """Starts, restarts and retires rule workers; settles every cycle's outcome."""

    def __init__(
        self,
        service: SyncService,
        store: StateStore,
        metrics: Metrics,
        *,
        rng: random.Random | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.service = service
        self.store = store
        self.metrics = metrics
        self.runtime: dict[str, RuleRuntime] = {}
        self.state_ok = True
        """False after the state database failed to record a cycle, until one succeeds."""
        self.alive = False
        self.stopping = False
        self._rng = rng or random.Random()
        self._on_change = on_change
        self._workers: dict[str, Worker] = {}
        self._retiring: dict[str, Worker] = {}
        self._tasks: anyio.abc.TaskGroup | None = None
        self._closed = anyio.Event()

    # -- lifecycle -------------------------------------------------------------------------

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """The workers' task group; returns after :meth:`stop`."""
        try:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                self.alive = True
                task_status.started()
                await self._closed.wait()
                tasks.cancel_scope.cancel()
        finally:
            self.alive = False
            self._tasks = None

    async def stop(self, timeout: float) -> bool:
        """No new cycles; running ones get ``timeout`` seconds to finish, then are cancelled
        (the engine is crash-safe: the next start finishes their work). ``True`` if all
        finished in time."""
        self.stopping = True
        workers = [*self._workers.values(), *self._retiring.values()]
        for worker in workers:
            worker.retire()
        finished = False
        with anyio.move_on_after(timeout):
            for worker in workers:
                await worker.done.wait()
            finished = True
        if not finished:
            running = sorted(w.rule.name for w in workers if not w.done.is_set())
            log.warning("cycles cancelled at shutdown_timeout", rules=running)
        self._closed.set()
        return finished

    # -- configuration ---------------------------------------------------------------------

    def apply(self, rules: Mapping[str, Rule], changes: RuleChanges) -> None:
        """Run ``rules``: start added ones, retire removed ones (their copies stay), restart
        changed ones; unchanged rules go on undisturbed."""
        if self.stopping:
            return
        assert self._tasks is not None, "apply() before run() started"
        for name in list(self._workers):
            rule = rules.get(name)
            if rule is None or name in changes.changed or rule.paused:
                self._retire(name)
        for name in changes.removed:
            self.runtime.pop(name, None)
            self.metrics.remove_rule(name)
        for name, rule in rules.items():
            if name in changes.added:
                self.metrics.add_rule(name)
                self._seed_metrics(name)
            if rule.paused:
                self.runtime[name] = RuleRuntime(state="paused")
                self.metrics.set_state(name, "paused")
                continue
            if name in self._workers:
                continue
            previous = self.runtime.get(name)
            runtime = RuleRuntime(first_done=previous.first_done if previous else False)
            self.runtime[name] = runtime
            self.metrics.set_state(name, runtime.state)
            old = self._retiring.get(name)
            worker = Worker(self, rule, runtime, old.done if old is not None else None)
            self._workers[name] = worker
            self._tasks.start_soon(self._run_worker, worker, name=f"rule {name}")
        self.changed()

    def _retire(self, name: str) -> None:
        worker = self._workers.pop(name)
        worker.retire()
        self._retiring[name] = worker

    async def _run_worker(self, worker: Worker) -> None:
        try:
            await worker.run()
        finally:
            name = worker.rule.name
            if self._retiring.get(name) is worker:
                del self._retiring[name]

    def _seed_metrics(self, name: str) -> None:
        record = self.store.rule(name)
        if record.last_success is not None:
            self.metrics.last_success.labels(name).set(record.last_success)
        self.metrics.conflicts.labels(name).set(len(self.store.conflicts(name)))

    # -- triggers and outcomes -------------------------------------------------------------

    def trigger(self, name: str, reason: str) -> Triggered:
        """Ask for a cycle of rule ``name`` now (de-duplicated with any already asked for)."""
        if self.stopping:
            return "stopping"
        runtime = self.runtime.get(name)
        if runtime is None:
            return "unknown"
        worker = self._workers.get(name)
        if worker is None:
            return "paused"
        worker.mailbox.post(reason)
        return "queued"

    def starting(self, worker: Worker) -> None:
        worker.runtime.running = True
        worker.runtime.next_run = None
        if worker is self._workers.get(worker.rule.name):
            self.metrics.set_state(worker.rule.name, "syncing")
        self.changed()

    def settle(self, worker: Worker, report: CycleReport) -> float | None:
        """The one place a cycle's outcome becomes the rule's state, next run and metrics.
        Returns the delay to the next timer-driven cycle (``None``: none)."""
        name = worker.rule.name
        runtime = worker.runtime
        result = report.result
        outcome = classify(report)
        retry_after = report.failure.retry_after if report.failure else None
        interval = worker.rule.interval.total_seconds()
        decision = decide(outcome, interval, runtime.failures, self._rng, retry_after)
        runtime.state = decision.state
        runtime.failures = decision.failures
        runtime.first_done = True
        runtime.hold = result.error if outcome == "permanent" else None
        runtime.next_run = (
            None if decision.delay is None or worker.retiring else time.time() + decision.delay
        )
        if worker is self._workers.get(name):  # a retired worker's rule may be gone
            self._record(name, report, outcome)
        if outcome == "permanent":
            log.error(
                "rule held until its configuration changes or a manual sync",
                error=result.error,
            )
        elif outcome == "temporary" and not worker.retiring:
            log.warning(
                "backing off",
                failures=decision.failures,
                retry_in=round(decision.delay or 0.0, 1),
            )
        self.changed()
        return decision.delay

    def _record(self, name: str, report: CycleReport, outcome: CycleOutcome) -> None:
        result = report.result
        label = "ok" if outcome == "ok" else "held" if outcome == "held" else "error"
        self.metrics.cycle(
            name,
            result=label,
            duration=report.duration,
            created=result.outcome.created,
            updated=result.outcome.updated,
            deleted=result.outcome.deleted,
        )
        self.metrics.set_state(name, self.runtime[name].state)
        if outcome == "ok":
            self.metrics.last_success.labels(name).set(time.time())
        try:
            self.metrics.conflicts.labels(name).set(len(self.store.conflicts(name)))
        except CalsyncdError:
            self.state_ok = False

    def changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    # -- views -----------------------------------------------------------------------------

    def waiting_for_first_cycle(self) -> list[str]:
        return sorted(
            name
            for name, runtime in self.runtime.items()
            if runtime.state != "paused" and not runtime.first_done
        )

    def summary(self) -> str:
        """``4 rules: 3 ok, 1 error`` (for systemd's ``STATUS=``)."""
        counts: dict[str, int] = {}
        for runtime in self.runtime.values():
            state = runtime.shown_state
            counts[state] = counts.get(state, 0) + 1
        parts = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        total = len(self.runtime)
        return f"{total} rule{'s' if total != 1 else ''}" + (f": {parts}" if parts else "")
