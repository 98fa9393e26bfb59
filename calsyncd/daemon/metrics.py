"""Prometheus metrics of one daemon (contract §7), in a registry of its own.

A per-daemon :class:`~prometheus_client.CollectorRegistry` rather than the global one, so
several daemons (tests) can live in one process. The ``*_created`` series prometheus-client
adds to counters and histograms by default are switched off: they only add noise here.
"""

from __future__ import annotations

import contextlib

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from calsyncd.daemon.schedule import RULE_STATES, RuleState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RESULTS = ("ok", "error", "held")
OPS = ("create", "update", "delete")
_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    """Every metric the contract names; the supervisor and reloader feed them."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry = CollectorRegistry()
        self.reconcile = Counter(
            "calsyncd_reconcile_total",
            "Cycles run, by rule and result (ok, error, held).",
            ["rule", "result"],
            registry=registry,
        )
        self.duration = Histogram(
            "calsyncd_reconcile_duration_seconds",
            "How long a cycle took.",
            ["rule"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.changes = Counter(
            "calsyncd_changes_total",
            "Writes made to calendars, by rule and operation (create, update, delete).",
            ["rule", "op"],
            registry=registry,
        )
        self.last_success = Gauge(
            "calsyncd_rule_last_success_timestamp_seconds",
            "Unix time of the rule's last successful cycle.",
            ["rule"],
            registry=registry,
        )
        self.rule_state = Gauge(
            "calsyncd_rule_state",
            "1 for the state the rule is in (ok, syncing, error, held, paused), else 0.",
            ["rule", "state"],
            registry=registry,
        )
        self.reloads = Counter(
            "calsyncd_config_reload_total",
            "Configuration reloads, by result (ok, error).",
            ["result"],
            registry=registry,
        )
        self.config_valid = Gauge(
            "calsyncd_config_valid",
            "1 when the configuration last read is valid, 0 while it is invalid.",
            registry=registry,
        )
        self.provider_requests = Counter(
            "calsyncd_provider_requests_total",
            "HTTP requests to calendar providers, by connection and status code"
            ' ("error": no response).',
            ["connection", "status"],
            registry=registry,
        )
        self.conflicts = Gauge(
            "calsyncd_conflicts",
            "Conflicts held by the manual policy, waiting for `calsyncd resolve`.",
            ["rule"],
            registry=registry,
        )
        for result in ("ok", "error"):
            self.reloads.labels(result)
        self.config_valid.set(1)

    def add_rule(self, rule: str) -> None:
        """Create a rule's series at zero, so rates and alerts work from the start."""
        for result in RESULTS:
            self.reconcile.labels(rule, result)
        for op in OPS:
            self.changes.labels(rule, op)
        self.duration.labels(rule)
        self.conflicts.labels(rule)

    def remove_rule(self, rule: str) -> None:
        """Drop every series of a rule that is no longer configured."""
        for metric, label_sets in (
            (self.reconcile, [(rule, r) for r in RESULTS]),
            (self.changes, [(rule, op) for op in OPS]),
            (self.rule_state, [(rule, s) for s in RULE_STATES]),
            (self.duration, [(rule,)]),
            (self.last_success, [(rule,)]),
            (self.conflicts, [(rule,)]),
        ):
            for labels in label_sets:
                with contextlib.suppress(KeyError):
                    metric.remove(*labels)

    def set_state(self, rule: str, state: RuleState) -> None:
        for each in RULE_STATES:
            self.rule_state.labels(rule, each).set(1 if each == state else 0)

    def cycle(
        self,
        rule: str,
        *,
        result: str,
        duration: float,
        created: int,
        updated: int,
        deleted: int,
    ) -> None:
        self.reconcile.labels(rule, result).inc()
        self.duration.labels(rule).observe(duration)
        for op, count in (("create", created), ("update", updated), ("delete", deleted)):
            if count:
                self.changes.labels(rule, op).inc(count)

    def request(self, connection: str, status: str) -> None:
        self.provider_requests.labels(connection, status).inc()

    def reload(self, ok: bool) -> None:
        self.reloads.labels("ok" if ok else "error").inc()
        self.config_valid.set(1 if ok else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
