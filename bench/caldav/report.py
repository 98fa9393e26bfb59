"""Figures from the raw samples: medians (with min and max), the targets the issue sets and
whether each was met, and the markdown table. Targets are judged from the figures here,
never written in by hand; a figure that was not measured (a size left out) says so, and a
tool run that failed is left out of the medians, counted, and fails the target it is in."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

TARGET_SIZE = "10000"


def stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    """Same shape as ``raw``, each tool's list of runs replaced by statistics of the
    ``seconds`` and (whole processes) ``peak_rss_kib`` of its runs that did not fail, the
    number of runs and failures, and why they failed."""
    summary: dict[str, Any] = {}
    for scenario, groups in raw.items():
        summary[scenario] = {}
        for key, tools in groups.items():
            summary[scenario][key] = {}
            for tool, runs in tools.items():
                ok = [r for r in runs if "failed" not in r]
                entry: dict[str, Any] = {
                    "runs": len(runs),
                    "failed": len(runs) - len(ok),
                    "errors": sorted({r["failed"] for r in runs if "failed" in r}),
                    "seconds": stats([r["seconds"] for r in ok]),
                }
                if runs and "peak_rss_kib" in runs[0]:
                    entry["peak_rss_mib"] = stats([r["peak_rss_kib"] / 1024 for r in ok or runs])
                summary[scenario][key][tool] = entry
    return summary


@dataclass(frozen=True)
class Figure:
    """One tool's figure in one scenario: the median of its good runs (``None`` if none)."""

    median: float | None
    failed: int
    runs: int

    @property
    def text(self) -> str:
        shown = "–" if self.median is None else seconds(self.median)
        return shown + (f" ({self.failed} of {self.runs} runs failed)" if self.failed else "")


def figure(summary: dict[str, Any], scenario: str, key: str, tool: str) -> Figure | None:
    entry = summary.get(scenario, {}).get(key, {}).get(tool)
    if entry is None:
        return None
    median = None if entry["seconds"] is None else float(entry["seconds"]["median"])
    return Figure(median, entry["failed"], entry["runs"])


def _rss(summary: dict[str, Any], scenario: str, key: str, tool: str) -> float | None:
    entry = summary.get(scenario, {}).get(key, {}).get(tool)
    if entry is None or entry.get("peak_rss_mib") is None:
        return None
    return float(entry["peak_rss_mib"]["max"])


@dataclass(frozen=True)
class Target:
    target: str
    calsyncd: str
    reference: str
    ratio: float | None
    met: bool | None
    """``None``: not measured in this run."""

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "not measured"
        return "met" if self.met else "**missed**"


def seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _judge(
    target: str,
    ours: Figure | None,
    reference: Figure | None,
    label: str,
    passes: Callable[[float], bool],
) -> Target:
    """``ours`` against ``reference`` (a figure, or a fixed bound as a figure of one run)."""
    if ours is None or reference is None:
        return Target(target, "–", "–", None, None)
    if ours.median is None or reference.median is None:
        return Target(target, ours.text, f"{label} {reference.text}", None, False)
    ratio = ours.median / reference.median
    met = passes(ratio) and ours.failed == 0
    return Target(target, ours.text, f"{label} {reference.text}", ratio, met)


def targets(summary: dict[str, Any], copy_events: int) -> list[Target]:
    """The issue's targets, each judged from this run's medians (the initial copy's at
    whatever ``copy_events`` this run used; the issue's is 2,000)."""
    size = TARGET_SIZE
    found = [
        _judge(
            "whole-process no-op `sync` at 10k events ≤ 0.5 × vdirsyncer",
            figure(summary, "noop", size, "calsyncd"),
            figure(summary, "noop", size, "vdirsyncer"),
            "vdirsyncer",
            lambda r: r <= 0.5,
        ),
        _judge(
            "daemon in-process no-op cycle at 10k events < 50 ms (Radicale ↔ Xandikos)",
            figure(summary, "noop", size, "daemon"),
            Figure(0.05, 0, 1),
            "bound",
            lambda r: r < 1.0,
        ),
        _judge(
            "daemon in-process no-op cycle at 10k events < 50 ms (Xandikos ↔ Xandikos)",
            figure(summary, "noop", size, "daemon_xandikos"),
            Figure(0.05, 0, 1),
            "bound",
            lambda r: r < 1.0,
        ),
    ]
    for tool, how in (("calsyncd", "whole-process `sync`"), ("daemon", "daemon in-process")):
        found.append(
            _judge(
                f"10 edits among 10k events, {how} < 0.1 × vdirsyncer `sync`",
                figure(summary, "edits", size, tool),
                figure(summary, "edits", size, "vdirsyncer"),
                "vdirsyncer",
                lambda r: r < 0.1,
            )
        )
    for kind in summary.get("initial_copy", {}):
        ours = figure(summary, "initial_copy", kind, "calsyncd")
        what = f"initial copy of {copy_events:,} events into {kind.capitalize()}"
        found += [
            _judge(
                f"{what} ≤ vdirsyncer",
                ours,
                figure(summary, "initial_copy", kind, "vdirsyncer"),
                "vdirsyncer",
                lambda r: r <= 1.0,
            ),
            _judge(
                f"{what} ≤ 1.2 × raw PUT loop",
                ours,
                figure(summary, "initial_copy", kind, "raw"),
                "raw loop",
                lambda r: r <= 1.2,
            ),
        ]
    for scenario, what in (("noop", "no-op sync"), ("first_sync", "first sync")):
        ours_rss = _rss(summary, scenario, size, "calsyncd")
        theirs_rss = _rss(summary, scenario, size, "vdirsyncer")
        measured = ours_rss is not None and theirs_rss is not None
        found.append(
            Target(
                f"peak RSS at 10k events ({what}) reported beside vdirsyncer's",
                "–" if ours_rss is None else f"{ours_rss:.0f} MiB",
                "–" if theirs_rss is None else f"vdirsyncer {theirs_rss:.0f} MiB",
                ours_rss / theirs_rss if ours_rss is not None and theirs_rss else None,
                True if measured else None,
            )
        )
    return found


# -- markdown ---------------------------------------------------------------------------------


def _cell(summary: dict[str, Any], scenario: str, key: str, tool: str) -> str:
    entry = summary.get(scenario, {}).get(key, {}).get(tool)
    if entry is None:
        return "–"
    s = entry["seconds"]
    shown = "all runs failed" if s is None else seconds(s["median"])
    if s is not None and s["n"] > 1:
        shown += f" ({seconds(s['min'])}–{seconds(s['max'])})"
    if entry["failed"]:
        shown += f"; **{entry['failed']} of {entry['runs']} failed**"
    return shown


def _rss_cell(summary: dict[str, Any], scenario: str, key: str, tool: str) -> str:
    value = _rss(summary, scenario, key, tool)
    return "–" if value is None else f"{value:.0f} MiB"


def _ratio_cell(summary: dict[str, Any], scenario: str, key: str) -> str:
    ours = figure(summary, scenario, key, "calsyncd")
    theirs = figure(summary, scenario, key, "vdirsyncer")
    if ours is None or theirs is None or ours.median is None or not theirs.median:
        return "–"
    return f"{ours.median / theirs.median:.2f}×"


def _rows(summary: dict[str, Any], copy_events: int) -> list[tuple[str, str, str, str]]:
    """(label, events, scenario, key) for each row, in table order."""
    rows = [
        (
            f"(a) initial copy Radicale → {kind.capitalize()}",
            f"{copy_events:,}",
            "initial_copy",
            kind,
        )
        for kind in summary.get("initial_copy", {})
    ]
    for scenario, label in (
        ("first_sync", "first sync (already in sync; not a target)"),
        ("noop", "(b) no-op sync"),
        ("edits", "(c) 10 edits, one sync"),
    ):
        rows += [(label, f"{int(key):,}", scenario, key) for key in summary.get(scenario, {})]
    return rows


def _failures(summary: dict[str, Any]) -> list[str]:
    lines = []
    for scenario, groups in summary.items():
        for key, tools in groups.items():
            for tool, entry in tools.items():
                for error in entry["errors"]:
                    lines.append(f"- {scenario} {key}, {tool}: {error}")
    return lines


def markdown(document: dict[str, Any]) -> str:
    summary = document["summary"]
    machine, versions = document["machine"], document["versions"]
    settings = document["settings"]
    lines = [
        "# calsyncd side by side with vdirsyncer",
        "",
        f"Run {machine['date']} with `{document['command']}`; the whole benchmark took "
        f"{document['wall_seconds'] / 60:.1f} min. Medians of {settings['reps']} runs per "
        "tool, alternating (min–max in brackets; the daemon's no-op cycles: "
        f"{settings['daemon_cycles']} per size).",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['ram_gib']} GiB RAM, "
        f"{machine['platform']}; load average {machine['load_average_at_start']} at the "
        f"start, {machine.get('load_average_at_end', '?')} at the end.",
        "Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()) + ".",
        "",
        "## Targets",
        "",
        "| target | calsyncd | reference | ratio | result |",
        "|---|---:|---:|---:|---|",
    ]
    for t in document["targets"]:
        target = Target(**t)
        ratio = "–" if target.ratio is None else f"{target.ratio:.2f}×"
        lines.append(
            f"| {target.target} | {target.calsyncd} | {target.reference} | {ratio} "
            f"| {target.verdict} |"
        )
    lines += [
        "",
        "## Figures",
        "",
        "Whole processes (`calsyncd sync`, `vdirsyncer sync`, start-up included) and the "
        "calsyncd daemon's own cycle time (`calsyncd_reconcile_duration_seconds`) for the "
        "same work; peak RSS is the largest of the runs.",
        "",
        "| scenario | events | calsyncd `sync` | vdirsyncer `sync` | calsyncd / vdirsyncer "
        "| calsyncd daemon (in-process) | daemon, Xandikos on both sides | raw PUT loop "
        "| peak RSS calsyncd | peak RSS vdirsyncer |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, events, scenario, key in _rows(summary, settings["copy_events"]):
        cells = [
            *(_cell(summary, scenario, key, tool) for tool in ("calsyncd", "vdirsyncer")),
            _ratio_cell(summary, scenario, key),
            *(_cell(summary, scenario, key, t) for t in ("daemon", "daemon_xandikos", "raw")),
            *(_rss_cell(summary, scenario, key, tool) for tool in ("calsyncd", "vdirsyncer")),
        ]
        lines.append(f"| {label} | {events} | " + " | ".join(cells) + " |")
    failures = _failures(summary)
    if failures:
        lines += ["", "## Failed runs", "", *failures]
    if document["errors"]:
        lines += ["", "## Scenarios that did not complete", ""]
        lines += [f"- {what}: {why}" for what, why in document["errors"].items()]
    return "\n".join(lines) + "\n"


def document(
    raw: dict[str, Any],
    *,
    command: str,
    settings: dict[str, Any],
    machine: dict[str, Any],
    versions: dict[str, str],
    wall_seconds: float,
    errors: dict[str, str],
) -> dict[str, Any]:
    """The JSON file's content."""
    summary = summarise(raw)
    return {
        "command": command,
        "wall_seconds": wall_seconds,
        "settings": settings,
        "machine": machine,
        "versions": versions,
        "errors": errors,
        "targets": [asdict(t) for t in targets(summary, settings["copy_events"])],
        "summary": summary,
        "raw": raw,
    }
