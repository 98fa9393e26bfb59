"""The ``/status`` document (contract §7), also printed by ``calsyncd status``.

Built from the state database (last success and attempt, error, counts, conflicts) and, when
a daemon runs, its live view of each rule (state, next run). No event content is ever
included — errors name items by id. Messages were scrubbed when stored; the HTTP answer and
the command line's output pass through the scrubber again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from calsyncd import __version__
from calsyncd.config import Config
from calsyncd.daemon.runtime import RuleRuntime
from calsyncd.daemon.schedule import RuleState
from calsyncd.providers.registry import describe
from calsyncd.state.store import RuleRecord, StateStore


def when(timestamp: float | None) -> str | None:
    """A Unix time as ISO 8601 in UTC, to the second."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _stored_state(record: RuleRecord) -> RuleState:
    """A rule's state as the database alone tells it (no daemon)."""
    if record.held_reason:
        return "held"
    if record.last_attempt is None:
        return "syncing"
    if record.last_error and record.last_attempt != record.last_success:
        return "error"
    return "ok"


def status_document(
    config: Config | None,
    store: StateStore,
    *,
    config_error: str | None = None,
    loaded_at: float | None = None,
    runtime: Mapping[str, RuleRuntime] | None = None,
) -> dict[str, Any]:
    """The ``/status`` document; ``runtime`` is the running daemon's view (``None``: none)."""
    records = {r.rule: r for r in store.rules()}
    names = list(config.rules) if config is not None else list(records)
    conflicts: dict[str, int] = {}
    for conflict in store.conflicts():
        conflicts[conflict.rule] = conflicts.get(conflict.rule, 0) + 1
    rules: dict[str, Any] = {}
    for name in names:
        record = records.get(name, RuleRecord(rule=name))
        rule = config.rules.get(name) if config is not None else None
        live = runtime.get(name) if runtime is not None else None
        state: RuleState
        if rule is not None and rule.paused:
            state = "paused"
        elif live is not None:
            state = live.shown_state
        else:
            state = _stored_state(record)
        error = (live.hold if live is not None else None) or record.held_reason
        rules[name] = {
            "state": state,
            "last_success": when(record.last_success),
            "last_attempt": when(record.last_attempt),
            "last_error": error or record.last_error,
            "next_run": when(live.next_run) if live is not None else None,
            "counts": {
                "created": record.created,
                "updated": record.updated,
                "deleted": record.deleted,
                "conflicts": conflicts.get(name, 0),
            },
            "source": describe(rule.source.connection, rule.source) if rule else None,
            "target": describe(rule.target.connection, rule.target) if rule else None,
        }
    return {
        "version": __version__,
        "config": {
            "revision": config.revision if config is not None else None,
            "loaded_at": when(loaded_at),
            "error": config_error,
        },
        "rules": rules,
    }
