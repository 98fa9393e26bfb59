"""The no-op plot: cycle time against calendar size, log-log, for each tool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.caldav.report import seconds

LINES = (
    ("calsyncd", "calsyncd sync (whole process)", "o-"),
    ("vdirsyncer", "vdirsyncer sync (whole process)", "s-"),
    ("daemon", "calsyncd daemon cycle (in-process)", "^--"),
    ("daemon_xandikos", "calsyncd daemon cycle, Xandikos on both sides", "v:"),
)


def noop_plot(summary: dict[str, Any], out: Path, title: str) -> bool:
    """Write the plot to ``out``; ``False`` when matplotlib is not installed (the ``bench``
    extra, which ``make bench`` installs)."""
    try:
        import matplotlib  # noqa: PLC0415 - optional: only the bench extra installs it

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: PLC0415
    except ImportError:
        return False
    noop = summary.get("noop", {})
    sizes = sorted(noop, key=int)
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for tool, label, style in LINES:
        points = [
            (int(s), noop[s][tool]["seconds"])
            for s in sizes
            if tool in noop[s] and noop[s][tool]["seconds"] is not None
        ]
        if not points:
            continue
        xs = [x for x, _ in points]
        medians = [p["median"] for _, p in points]
        below = [p["median"] - p["min"] for _, p in points]
        above = [p["max"] - p["median"] for _, p in points]
        axes.errorbar(xs, medians, yerr=[below, above], fmt=style, capsize=3, label=label)
    axes.axhline(0.05, linestyle=":", color="grey", label="daemon target: 50 ms")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks([int(s) for s in sizes])
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda y, _: seconds(y)))
    axes.yaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("events in each calendar")
    axes.set_ylabel("no-op sync (median, min–max)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)
    return True
