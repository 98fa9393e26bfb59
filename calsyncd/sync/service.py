"""Running cycles of configured rules: the entry point for ``plan``, ``sync`` and the daemon.

Opens the two calendars of a rule, runs one :class:`~calsyncd.sync.engine.Cycle`, closes
them, and records the outcome in the state database. Writes to one connection are bounded by
one limiter shared by every rule that uses it.

:meth:`SyncService.run` also says *why* a cycle failed — :class:`CycleFailure`, temporary or
permanent — which the daemon needs to choose between backing off and holding the rule."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import anyio
import httpx
import structlog

from calsyncd import log as logs
from calsyncd.config.connections import Connection
from calsyncd.config.rules import Endpoint, Rule
from calsyncd.errors import CalsyncdError, InternalError, PermanentError, TemporaryError
from calsyncd.providers.base import Calendar
from calsyncd.providers.registry import IfMissing, describe, open_calendar
from calsyncd.state.store import Side, StateStore
from calsyncd.sync.engine import Cycle, CycleResult
from calsyncd.sync.policy import config_hash, policy_for
from calsyncd.sync.window import window_around

log = structlog.get_logger("calsyncd.sync")

FailureKind = Literal["temporary", "permanent"]


@dataclass(frozen=True, slots=True)
class CycleFailure:
    """Why a cycle could not sync its rule.

    ``permanent``: retrying will not help until the operator acts (credentials, a calendar
    that does not exist, a write to a read-only calendar). ``temporary``: anything else —
    network, rate limits, the state database — with the server's ``retry_after`` if given.
    """

    kind: FailureKind
    retry_after: float | None = None


@dataclass(slots=True)
class CycleReport:
    """One cycle as the daemon sees it: the engine's result plus timing and failure kind."""

    result: CycleResult
    cycle_id: str
    duration: float = 0.0
    failure: CycleFailure | None = None


def failure_of(exc: CalsyncdError) -> CycleFailure:
    """Whether retrying can help: permanent errors wait for the operator."""
    if isinstance(exc, PermanentError):
        return CycleFailure("permanent")
    return CycleFailure("temporary", exc.retry_after if isinstance(exc, TemporaryError) else None)


def _innermost(exc: BaseException) -> BaseException:
    """The first exception inside (nested) exception groups: the one worth naming."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class SyncService:
    """Runs cycles of rules against one state store.

    Providers get ``http``, the shared client — or, with ``http_for``, the client that
    function returns for the connection's name (the daemon counts requests per connection).
    """

    def __init__(
        self,
        connections: Mapping[str, Connection],
        store: StateStore,
        http: httpx.AsyncClient | None,
        *,
        http_for: Callable[[str], httpx.AsyncClient] | None = None,
    ) -> None:
        if http is None and http_for is None:
            raise ValueError("give http or http_for")
        self.connections = connections
        self.store = store
        self.http = http
        self._http_for = http_for
        self._limiters: dict[str, anyio.CapacityLimiter] = {}

    def use_connections(self, connections: Mapping[str, Connection]) -> None:
        """Switch to a reloaded configuration's connections. The write limiter of a connection
        that changed or went away is dropped (a cycle still running keeps the one it has)."""
        for name in list(self._limiters):
            if connections.get(name) != self.connections.get(name):
                del self._limiters[name]
        self.connections = connections

    def _limiter(self, name: str, calendar: Calendar) -> anyio.CapacityLimiter:
        limiter = self._limiters.get(name)
        if limiter is None:
            connection = self.connections.get(name)
            configured = connection.max_concurrency if connection is not None else None
            limiter = anyio.CapacityLimiter(configured or calendar.capabilities.max_concurrency)
            self._limiters[name] = limiter
        return limiter

    def _open(self, endpoint: Endpoint, if_missing: IfMissing) -> Calendar:
        name = endpoint.connection
        http = self._http_for(name) if self._http_for is not None else self.http
        assert http is not None
        return open_calendar(
            name, self.connections[name], endpoint, http=http, if_missing=if_missing
        )

    def _if_missing(self, rule: str) -> dict[Side, IfMissing]:
        """A calendar that does not exist is an error — except the target of a rule that has
        no copy yet, which its first copy makes (a target that held copies and is gone now
        is an error, not an empty calendar to fill or to delete from)."""
        target: IfMissing = "error" if self.store.pair_count(rule) else "create"
        return {"source": "error", "target": target}

    async def cycle(
        self,
        rule: Rule,
        *,
        dry_run: bool = False,
        allow_mass_delete: bool = False,
        now: datetime | None = None,
    ) -> CycleResult:
        """One cycle of ``rule``. With ``dry_run`` nothing is written, remote or state."""
        report = await self.run(rule, dry_run=dry_run, allow_mass_delete=allow_mass_delete, now=now)
        return report.result

    async def run(
        self,
        rule: Rule,
        *,
        dry_run: bool = False,
        allow_mass_delete: bool = False,
        now: datetime | None = None,
        cycle_id: str | None = None,
    ) -> CycleReport:
        """:meth:`cycle`, reporting also how long it took and why it failed, if it did.

        Every log line of the cycle carries ``rule=`` and ``cycle_id=``. A
        :class:`~calsyncd.errors.StateError` from recording the outcome is raised.
        """
        report = CycleReport(CycleResult(rule.name), cycle_id or uuid.uuid4().hex[:12])
        started = time.monotonic()
        with logs.bound(rule=rule.name, cycle_id=report.cycle_id):
            report.result = await self._run(
                rule, dry_run=dry_run, allow_mass_delete=allow_mass_delete, now=now
            )
            report.duration = time.monotonic() - started
            failure = report.result.failure
            if failure is not None:
                report.failure = failure_of(failure)
        return report

    async def _attempt(
        self,
        rule: Rule,
        moment: datetime,
        dry_run: bool,
        allow_mass_delete: bool,
    ) -> CycleResult:
        endpoints: dict[Side, Endpoint] = {"source": rule.source, "target": rule.target}
        if_missing = self._if_missing(rule.name)
        calendars: dict[Side, Calendar] = {
            side: self._open(endpoint, if_missing[side]) for side, endpoint in endpoints.items()
        }
        async with calendars["source"], calendars["target"]:
            limiters = {
                side: self._limiter(endpoints[side].connection, calendars[side])
                for side in calendars
            }
            cycle = Cycle(
                policy_for(rule),
                window_around(moment, rule.window.past, rule.window.future),
                config_hash(rule),
                self.store,
                calendars,
                limiters=limiters,
            )
            return await cycle.run(dry_run=dry_run, allow_mass_delete=allow_mass_delete)

    async def _run(
        self,
        rule: Rule,
        *,
        dry_run: bool,
        allow_mass_delete: bool,
        now: datetime | None,
    ) -> CycleResult:
        cycle_log = log.bind(rule=rule.name)
        moment = now or datetime.now(UTC)
        result = CycleResult(rule.name)
        try:
            result = await self._attempt(rule, moment, dry_run, allow_mass_delete)
        except CalsyncdError as exc:  # opening a calendar, or the state database
            result.fail(exc)
        except Exception as exc:  # a bug met in this rule: it fails, the other rules go on
            cycle_log.error("cycle crashed", exc_info=exc)
            cause = _innermost(exc)
            result = CycleResult(rule.name)
            result.fail(InternalError(f"internal error ({type(cause).__name__}: {cause})"))
        for problem in result.problems:
            cycle_log.warning("item skipped", problem=problem)
        if result.error:
            cycle_log.error("cycle failed", error=result.error)
        if dry_run:
            return result
        outcome = result.outcome
        self.store.record_cycle(
            rule.name,
            ok=result.ok,
            error=result.error or result.held or "; ".join(outcome.item_errors[:3]) or None,
            created=outcome.created,
            updated=outcome.updated,
            deleted=outcome.deleted,
        )
        cycle_log.info(
            "cycle done",
            result="ok" if result.ok else "held" if result.held else "error",
            created=outcome.created,
            updated=outcome.updated,
            deleted=outcome.deleted,
            conflicts=outcome.conflicts,
            source=describe(rule.source.connection, rule.source),
            target=describe(rule.target.connection, rule.target),
        )
        return result
