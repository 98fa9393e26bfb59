"""``plan`` and ``sync``: one cycle of every rule (or one), dry or for real."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio

from calsyncd.cli.app import command, load_for_command, open_state, rules_to_run, run_cycles
from calsyncd.sync.engine import CycleResult
from calsyncd.sync.plan import Plan, Step

_SYMBOL = {"create": "+", "update": "~", "delete": "-", "adopt": "=", "conflict": "!"}


def _configure_plan(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rule", metavar="NAME", help="only this rule")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")


def _configure_sync(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rule", metavar="NAME", help="only this rule")
    parser.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="run a cycle the mass-delete guard would hold",
    )


def _step_lines(step: Step) -> list[str]:
    lines = []
    what = f"{step.start:<22} {step.title!r}"
    changed = f"  [{', '.join(step.fields)}]" if step.fields else ""
    if step.adopt:
        lines.append(f"  = adopt   {'existing copy':<6} {what}{changed}")
    if step.conflict is not None:
        lines.append(f"  ! conflict        {what}{changed}  (calsyncd conflicts)")
    for write in step.writes:
        lines.append(f"  {_SYMBOL[write.op]} {write.op:<7} {write.side:<6} {what}{changed}")
    return lines


def _print_plan(result: CycleResult) -> None:
    plan: Plan | None = result.plan
    if result.error is not None:
        print(f"{result.rule}: cannot plan: {result.error}")
        return
    assert plan is not None
    if plan.hold is not None:
        print(f"{result.rule}: would be held: {plan.hold}")
        print("  held back (run only with --allow-mass-delete):")
        for step in plan.steps:
            for line in _step_lines(step):
                print("  " + line)
        return
    visible = [step for step in plan.steps if step.visible]
    if not visible:
        print(f"{result.rule}: nothing to do")
        return
    counts = ", ".join(f"{n} {op}" for op, n in plan.counts().items() if n)
    print(f"{result.rule}: {counts}")
    for step in visible:
        for line in _step_lines(step):
            print(line)


def _plan_json(results: list[CycleResult]) -> dict[str, Any]:
    return {
        "rules": {
            r.rule: {
                "actions": r.plan.actions() if r.plan is not None and r.error is None else [],
                "error": r.error,
            }
            for r in results
        }
    }


def _cycles(args: argparse.Namespace, *, dry_run: bool) -> list[CycleResult] | None:
    """One cycle of the rules the arguments name; ``None`` after printing why not."""
    config = load_for_command(args)
    rules = rules_to_run(config, args.rule) if config is not None else None
    store = open_state(config, readonly=dry_run) if config and rules is not None else None
    if config is None or rules is None or store is None:
        return None
    allow = getattr(args, "allow_mass_delete", False)
    try:
        return anyio.run(
            lambda: run_cycles(config, store, rules, dry_run=dry_run, allow_mass_delete=allow)
        )
    finally:
        store.close()


@command("plan", "show what the next cycle would do; writes nothing", _configure_plan)
def plan(args: argparse.Namespace) -> int:
    """Exit 0, or 1 if a rule could not be read."""
    results = _cycles(args, dry_run=True)
    if results is None:
        return 1
    if args.json:
        print(json.dumps(_plan_json(results), indent=2, ensure_ascii=False))
    else:
        for result in results:
            _print_plan(result)
    return 1 if any(r.error for r in results) else 0


def _outcome_line(result: CycleResult) -> str:
    if result.error is not None:
        return f"{result.rule}: failed: {result.error}"
    if result.held is not None:
        return f"{result.rule}: held: {result.held}"
    o = result.outcome
    parts = [f"{o.created} created", f"{o.updated} updated", f"{o.deleted} deleted"]
    if o.conflicts:
        parts.append(f"{o.conflicts} conflicts held")
    status = "ok" if result.ok else f"{len(o.item_errors)} items failed"
    return f"{result.rule}: {status}: {', '.join(parts)}"


@command("sync", "run one cycle of every rule (or one) and exit", _configure_sync)
def sync(args: argparse.Namespace) -> int:
    """Exit 0 when every rule synced, 1 when any failed or was held."""
    results = _cycles(args, dry_run=False)
    if results is None:
        return 1
    for result in results:
        print(_outcome_line(result))
        for problem in result.problems + result.outcome.item_errors:
            print(f"  skipped: {problem}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1
