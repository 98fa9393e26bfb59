"""Running cycles of configured rules: the entry point for ``plan``, ``sync`` and the daemon.

Opens the two calendars of a rule, runs one :class:`~calsyncd.sync.engine.Cycle`, closes
them, and records the outcome in the state database. Writes to one connection are bounded by
one limiter shared by every rule that uses it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

import anyio
import httpx
import structlog

from calsyncd.config.connections import Connection
from calsyncd.config.rules import Endpoint, Rule
from calsyncd.errors import CalsyncdError
from calsyncd.providers.base import Calendar
from calsyncd.providers.registry import describe, open_calendar
from calsyncd.state.store import Side, StateStore
from calsyncd.sync.engine import Cycle, CycleResult
from calsyncd.sync.policy import config_hash, policy_for
from calsyncd.sync.window import window_around

log = structlog.get_logger("calsyncd.sync")


class SyncService:
    """Runs cycles of rules against one state store and one shared HTTP client."""

    def __init__(
        self,
        connections: Mapping[str, Connection],
        store: StateStore,
        http: httpx.AsyncClient,
    ) -> None:
        self.connections = connections
        self.store = store
        self.http = http
        self._limiters: dict[str, anyio.CapacityLimiter] = {}

    def _limiter(self, name: str, calendar: Calendar) -> anyio.CapacityLimiter:
        limiter = self._limiters.get(name)
        if limiter is None:
            configured = self.connections[name].max_concurrency
            limiter = anyio.CapacityLimiter(configured or calendar.capabilities.max_concurrency)
            self._limiters[name] = limiter
        return limiter

    def _open(self, endpoint: Endpoint) -> Calendar:
        return open_calendar(
            endpoint.connection, self.connections[endpoint.connection], endpoint, http=self.http
        )

    async def cycle(
        self,
        rule: Rule,
        *,
        dry_run: bool = False,
        allow_mass_delete: bool = False,
        now: datetime | None = None,
    ) -> CycleResult:
        """One cycle of ``rule``. With ``dry_run`` nothing is written, remote or state."""
        cycle_log = log.bind(rule=rule.name, cycle_id=uuid.uuid4().hex[:12])
        moment = now or datetime.now(UTC)
        result = CycleResult(rule.name)
        try:
            endpoints: dict[Side, Endpoint] = {"source": rule.source, "target": rule.target}
            calendars = {side: self._open(endpoint) for side, endpoint in endpoints.items()}
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
                result = await cycle.run(dry_run=dry_run, allow_mass_delete=allow_mass_delete)
        except CalsyncdError as exc:
            result.error = str(exc)
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
