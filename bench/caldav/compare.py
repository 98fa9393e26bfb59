"""``python -m bench compare``: run the scenarios, write ``compare.json``, ``compare.md`` and
``noop.png`` under ``bench/results/``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.caldav import machine, plot, report
from bench.caldav.scenarios import Settings, run_all, say
from bench.caldav.servers import Kind
from bench.caldav.vdirsyncer_tool import VdirsyncerProject

ROOT = Path(__file__).resolve().parents[2]
VDIRSYNCER = ROOT / ".venv-bench-vdirsyncer" / "bin" / "vdirsyncer"
DEFAULT_SIZES = (1000, 10_000, 50_000)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("compare (side by side with vdirsyncer)")
    group.add_argument("--reps", type=int, default=3, help="runs per tool and scenario (3)")
    group.add_argument(
        "--copy-events", type=int, default=2000, help="events in the initial copy (2000)"
    )
    group.add_argument(
        "--copy-targets",
        default="radicale",
        help="servers the initial copy goes to: radicale, xandikos or both (radicale; each "
        "takes ~15 min at the defaults, both servers slowing as the target calendar grows)",
    )
    group.add_argument(
        "--edit-size",
        type=int,
        default=None,
        help="calendar size for the 10 edits (10000 if measured, else the smallest size)",
    )
    group.add_argument(
        "--daemon-cycles", type=int, default=5, help="daemon no-op cycles per size (5)"
    )
    group.add_argument(
        "--vdirsyncer", type=Path, default=VDIRSYNCER, help=f"vdirsyncer script ({VDIRSYNCER})"
    )
    group.add_argument("--keep", action="store_true", help="keep the servers' folders")


def settings_from(args: argparse.Namespace) -> Settings:
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else DEFAULT_SIZES
    targets: tuple[Kind, ...] = tuple(
        t for t in ("xandikos", "radicale") if t in args.copy_targets.split(",")
    )
    edit_size = args.edit_size or (10_000 if 10_000 in sizes else min(sizes))
    return Settings(
        sizes=sizes,
        reps=args.reps,
        copy_events=args.copy_events,
        copy_targets=targets,
        edit_size=edit_size,
        daemon_cycles=args.daemon_cycles,
        vdirsyncer=args.vdirsyncer,
    )


def _command(settings: Settings) -> str:
    return (
        "python -m bench compare"
        f" --sizes {','.join(map(str, settings.sizes))} --reps {settings.reps}"
        f" --copy-events {settings.copy_events} --copy-targets {','.join(settings.copy_targets)}"
        f" --edit-size {settings.edit_size} --daemon-cycles {settings.daemon_cycles}"
    )


def main(args: argparse.Namespace, results: Path) -> int:
    settings = settings_from(args)
    if not settings.vdirsyncer.exists():
        print(
            f"no vdirsyncer at {settings.vdirsyncer}: `make bench` installs vdirsyncer 0.21.0 "
            "there (or pass --vdirsyncer PATH)",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    info = machine.machine()
    vdirsyncer = VdirsyncerProject(Path(), settings.vdirsyncer).version()
    versions = machine.versions(vdirsyncer)
    say(f"compare: {_command(settings)}; {versions}")
    work = Path(tempfile.mkdtemp(prefix="calsyncd-bench-"))
    try:
        raw, errors = run_all(settings, work)
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    settings_json: dict[str, Any] = {**asdict(settings), "vdirsyncer": str(settings.vdirsyncer)}
    document = report.document(
        raw,
        command=_command(settings),
        settings=settings_json,
        machine=info,
        versions=versions,
        wall_seconds=time.perf_counter() - started,
        errors=errors,
    )
    results.mkdir(exist_ok=True)
    (results / "compare.json").write_text(json.dumps(document, indent=2) + "\n")
    table = report.markdown(document)
    (results / "compare.md").write_text(table)
    title = f"No-op sync, Radicale ↔ Xandikos ({info['cores']} cores)"
    plotted = plot.noop_plot(document["summary"], results / "noop.png", title)
    print(table)
    written = ["compare.json", "compare.md"] + (["noop.png"] if plotted else [])
    print(f"written: {', '.join(str(results / name) for name in written)}")
    if not plotted:
        print("no plot: matplotlib is not installed (`pip install -e '.[bench]'`)")
    return 1 if errors else 0
