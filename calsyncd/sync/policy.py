"""From a rule's configuration to what the planner needs (:class:`Policy`), and the hash that
tells when a rule's mapping changed so every copy must be rendered again."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from calsyncd.config.fieldmap import KEEP, FieldMap, ReverseFieldMap
from calsyncd.config.rules import Rule
from calsyncd.state.store import SIDES, Side
from calsyncd.sync.mapping import MAPPED_FIELDS, FieldMapping
from calsyncd.sync.planner import Policy


def forward_mapping(fields: FieldMap) -> FieldMapping:
    return FieldMapping(**{name: getattr(fields, name) for name in MAPPED_FIELDS})


def reverse_mapping(fields: FieldMap, reverse: ReverseFieldMap | None) -> FieldMapping:
    """``reverse_fields`` where given; elsewhere a field flows back only if kept forward."""
    values: dict[str, Any] = {}
    for name in MAPPED_FIELDS:
        given = getattr(reverse, name) if reverse is not None else None
        values[name] = (
            given if given is not None else (KEEP if getattr(fields, name) == KEEP else None)
        )
    return FieldMapping(**values)


def _max_deletes(rule: Rule) -> tuple[int | None, float | None]:
    value = rule.guard.max_deletes
    if isinstance(value, int):
        return value, None
    return None, float(value.rstrip("%"))


def _calendar_name(rule: Rule, side: Side) -> str:
    endpoint = rule.source if side == "source" else rule.target
    return endpoint.calendar or endpoint.connection


def policy_for(rule: Rule) -> Policy:
    count, percent = _max_deletes(rule)
    return Policy(
        rule=rule.name,
        two_way=rule.two_way,
        forward=forward_mapping(rule.fields),
        reverse=reverse_mapping(rule.fields, rule.reverse_fields),
        include=rule.filter.include,
        exclude=rule.filter.exclude,
        conflict=rule.conflict,
        revert_target_changes=rule.on_target_change == "revert",
        propagate_deletes=rule.deletes == "propagate",
        max_deletes=count,
        max_deletes_percent=percent,
        calendars={side: _calendar_name(rule, side) for side in ("source", "target")},
        owners={"source": rule.source.user, "target": rule.target.user},
        anonymous=frozenset(SIDES) if rule.anonymous_copies else frozenset(),
        keep_uids=rule.uid == "keep",
    )


def config_hash(rule: Rule) -> str:
    """A hash of everything that decides what a copy looks like or which events are synced.

    Interval, window, guard and pause do not count: changing them re-renders nothing; nor
    does ``uid`` (it names copies made from then on). Whether copies are anonymous counts,
    but the engine adds it (it depends on the target too: :class:`~calsyncd.sync.engine.Cycle`).
    """
    relevant = rule.model_dump(
        mode="json",
        include={"source", "target", "direction", "filter", "fields", "reverse_fields"},
    )
    text = json.dumps(relevant, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
