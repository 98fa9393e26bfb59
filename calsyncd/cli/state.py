"""``status``, ``conflicts`` and ``resolve``: what the state database knows, and settling
conflicts held by the ``manual`` policy."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

import anyio

from calsyncd import __version__
from calsyncd.cli.app import command, load_for_command, open_state, run_cycles
from calsyncd.config import Config
from calsyncd.model.ical import parse_object
from calsyncd.providers.registry import describe
from calsyncd.state.store import ConflictRecord, RuleRecord, StateStore
from calsyncd.sync.plan import display_start


def _when(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _rule_state(record: RuleRecord, paused: bool) -> str:
    if paused:
        return "paused"
    if record.held_reason:
        return "held"
    if record.last_attempt is None:
        return "syncing"
    if record.last_error and record.last_attempt != record.last_success:
        return "error"
    return "ok"


def state_report(
    config: Config | None, config_error: str | None, store: StateStore
) -> dict[str, Any]:
    """The ``/status`` document as the state database alone can tell it (no daemon)."""
    records = {r.rule: r for r in store.rules()}
    names = list(config.rules) if config is not None else list(records)
    conflicts: dict[str, int] = {}
    for conflict in store.conflicts():
        conflicts[conflict.rule] = conflicts.get(conflict.rule, 0) + 1
    rules: dict[str, Any] = {}
    for name in names:
        record = records.get(name, RuleRecord(rule=name))
        rule = config.rules.get(name) if config is not None else None
        rules[name] = {
            "state": _rule_state(record, bool(rule and rule.paused)),
            "last_success": _when(record.last_success),
            "last_attempt": _when(record.last_attempt),
            "last_error": record.held_reason or record.last_error,
            "next_run": None,
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
        "daemon": False,
        "config": {
            "revision": config.revision if config is not None else None,
            "loaded_at": None,
            "error": config_error,
        },
        "rules": rules,
    }


def _configure_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")


@command("status", "show each rule's state (from the state database)", _configure_status)
def status(args: argparse.Namespace) -> int:
    config = load_for_command(args)
    if config is None:
        return 1
    store = open_state(config, readonly=True)
    if store is None:
        return 1
    try:
        report = state_report(config, None, store)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"calsyncd {report['version']} — config {report['config']['revision']} (no daemon running)"
    )
    for name, rule in report["rules"].items():
        counts = rule["counts"]
        line = (
            f"{name:<24} {rule['state']:<8} last ok {rule['last_success'] or 'never':<25} "
            f"+{counts['created']} ~{counts['updated']} -{counts['deleted']}"
        )
        if counts["conflicts"]:
            line += f" !{counts['conflicts']}"
        print(line)
        if rule["last_error"] and rule["state"] in ("error", "held"):
            print(f"  {rule['last_error']}")
    return 0


def _configure_conflicts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rule", metavar="NAME", help="only this rule")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")


def _version(body: str | None, key: str) -> dict[str, str] | None:
    if body is None:
        return None
    obj = parse_object(body, source=key)
    return {"title": obj.first.title or "", "start": display_start(obj)}


def _conflict_json(conflict: ConflictRecord) -> dict[str, Any]:
    return {
        "item": conflict.key,
        "rule": conflict.rule,
        "title": conflict.title,
        "detected_at": _when(conflict.detected_at),
        "resolution": conflict.resolution,
        "source": _version(conflict.source_body, conflict.key),
        "target": _version(conflict.target_body, conflict.key),
    }


@command("conflicts", "list conflicts held by the manual policy", _configure_conflicts)
def conflicts(args: argparse.Namespace) -> int:
    config = load_for_command(args)
    if config is None:
        return 1
    store = open_state(config, readonly=True)
    if store is None:
        return 1
    try:
        found = [_conflict_json(c) for c in store.conflicts(args.rule)]
    finally:
        store.close()
    if args.json:
        print(json.dumps({"conflicts": found}, indent=2, ensure_ascii=False))
        return 0
    if not found:
        print("no conflicts")
        return 0
    for c in found:
        source, target = c["source"] or {}, c["target"] or {}
        print(f"{c['item']}  {c['rule']}  {c['title']!r}  held since {c['detected_at']}")
        print(f"    source: {source.get('start', '-'):<22} {source.get('title', '')!r}")
        print(f"    target: {target.get('start', '-'):<22} {target.get('title', '')!r}")
    print("settle one with: calsyncd resolve RULE ITEM --take source|target")
    return 0


def _configure_resolve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rule", metavar="RULE")
    parser.add_argument("item", metavar="ITEM", help="the id in the first column of `conflicts`")
    parser.add_argument("--take", choices=("source", "target"), required=True)


@command("resolve", "settle a held conflict by taking one side's version", _configure_resolve)
def resolve(args: argparse.Namespace) -> int:
    config = load_for_command(args)
    if config is None:
        return 1
    rule = config.rules.get(args.rule)
    if rule is None:
        print(f"no rule named {args.rule!r}", file=sys.stderr)
        return 1
    store = open_state(config, readonly=False)
    if store is None:
        return 1
    try:
        if not store.resolve_conflict(args.rule, args.item, args.take):
            print(
                f"{args.rule}: no conflict {args.item!r} (see `calsyncd conflicts`)",
                file=sys.stderr,
            )
            return 1
        (result,) = anyio.run(lambda: run_cycles(config, store, [rule]))
    finally:
        store.close()
    if result.ok:
        print(f"{args.rule}: {args.item} settled with the {args.take} version")
        return 0
    print(f"{args.rule}: recorded; the next cycle applies it ({result.error or result.held})")
    return 0
