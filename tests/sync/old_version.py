"""Running rules as the version before copies had UIDs of their own did, to test upgrades.

That version gave every copy its original's UID and the full marker (rule, origin, plain key)
and made no anonymous copy. The engine does exactly that with no anonymous side and
``keep_uids`` — and with no calendar taken for published — storing the same pair rows and
the same config hash as that version did.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx

from calsyncd.config.loader import load_config
from calsyncd.config.rules import Rule
from calsyncd.providers.base import Calendar
from calsyncd.providers.registry import open_calendar
from calsyncd.state.store import SIDES, Side, StateStore
from calsyncd.sync.engine import Cycle, CycleResult
from calsyncd.sync.planner import Policy
from calsyncd.sync.policy import config_hash, policy_for
from calsyncd.sync.window import window_around


def old_policy(rule: Rule) -> Policy:
    """The rule's policy as the version before own UIDs had it."""
    return replace(policy_for(rule), anonymous=frozenset(), keep_uids=True)


def run_old_version(config: Path, state: Path, *, cycles: int = 2) -> list[CycleResult]:
    """``cycles`` cycles of every rule of the settings file ``config``, as that version ran
    them, on the state database ``state``; the result of each."""
    loaded = load_config(config)
    results: list[CycleResult] = []

    async def cycle(rule: Rule, store: StateStore, http: httpx.AsyncClient) -> CycleResult:
        calendars: dict[Side, Calendar] = {}
        for side in SIDES:
            endpoint = rule.source if side == "source" else rule.target
            connection = loaded.connections[endpoint.connection]
            calendar = open_calendar(
                endpoint.connection, connection, endpoint, http=http, if_missing="create"
            )
            calendar.capabilities = replace(calendar.capabilities, published=False)
            calendars[side] = calendar
        window = window_around(datetime.now(UTC), rule.window.past, rule.window.future)
        async with calendars["source"], calendars["target"]:
            return await Cycle(old_policy(rule), window, config_hash(rule), store, calendars).run()

    async def run_all() -> None:
        store = StateStore.open(state)
        try:
            async with httpx.AsyncClient() as http:
                for _ in range(cycles):
                    for rule in loaded.rules.values():
                        results.append(await cycle(rule, store, http))
        finally:
            store.close()

    anyio.run(run_all)
    return results
