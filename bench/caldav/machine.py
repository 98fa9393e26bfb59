"""What the figures were measured on: the machine and every program's version."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any


def _first(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def machine() -> dict[str, Any]:
    memory = _first("/proc/meminfo", "MemTotal")
    kib = int(memory.split()[0]) if memory else 0
    return {
        "cpu": _first("/proc/cpuinfo", "model name") or platform.processor(),
        "cores": os.cpu_count(),
        "ram_gib": round(kib / 1024 / 1024, 1),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def versions(vdirsyncer: str) -> dict[str, str]:
    """Python and package versions; ``vdirsyncer`` as its own venv reports it."""
    found = {"python": sys.version.split()[0], "vdirsyncer": vdirsyncer}
    for name in ("calsyncd", "httpx", "Radicale", "xandikos", "dulwich"):
        try:
            found[name.lower()] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name.lower()] = "not installed"
    return found
