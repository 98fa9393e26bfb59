"""``status``, ``conflicts`` and ``resolve``: what the running daemon (else the state
database) knows, and settling conflicts held by the ``manual`` policy."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio
import httpx

from calsyncd.cli.app import command, load_for_command, open_state, run_cycles
from calsyncd.config import Config
from calsyncd.daemon.status import status_document, when
from calsyncd.model.ical import parse_object
from calsyncd.state.store import ConflictRecord, StateStore
from calsyncd.sync.plan import display_start


def _when(timestamp: float | None) -> str | None:
    return when(timestamp)


def state_report(
    config: Config | None, config_error: str | None, store: StateStore
) -> dict[str, Any]:
    """The ``/status`` document as the state database alone can tell it (no daemon), with
    ``daemon: false``."""
    return {**status_document(config, store, config_error=config_error), "daemon": False}


def daemon_report(config: Config, timeout: float = 2.0) -> dict[str, Any] | None:
    """The running daemon's ``/status`` with ``daemon: true``, or ``None`` when no daemon
    answers on the settings' ``health.listen`` (or it is disabled)."""
    address = config.settings.health.address
    if address is None:
        return None
    host, port = address
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    url = f"http://[{host}]:{port}/status" if ":" in host else f"http://{host}:{port}/status"
    try:
        response = httpx.get(url, timeout=timeout)
        document = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    if not isinstance(document, dict) or not {"version", "config", "rules"} <= document.keys():
        return None  # something else listens there
    return {**document, "daemon": True}


def _configure_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")


@command(
    "status",
    "show each rule's state (from the running daemon, else the state database)",
    _configure_status,
)
def status(args: argparse.Namespace) -> int:
    config = load_for_command(args)
    if config is None:
        return 1
    report = daemon_report(config)
    if report is None:
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
    source = "daemon running" if report["daemon"] else "no daemon running"
    print(f"calsyncd {report['version']} — config {report['config']['revision']} ({source})")
    if report["config"]["error"]:
        print("the configuration on disk is invalid; the daemon runs the last valid one:")
        for line in report["config"]["error"].splitlines():
            print(f"  {line}")
    for name, rule in report["rules"].items():
        counts = rule["counts"]
        line = (
            f"{name:<24} {rule['state']:<8} last ok {rule['last_success'] or 'never':<25} "
            f"+{counts['created']} ~{counts['updated']} -{counts['deleted']}"
        )
        if counts["conflicts"]:
            line += f" !{counts['conflicts']}"
        if rule["next_run"]:
            line += f"  next {rule['next_run']}"
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
