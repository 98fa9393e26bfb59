"""vdirsyncer 0.21 as its users run it: a config with one pair of ``caldav`` storages and
``vdirsyncer sync`` as a whole process, from its own venv (``make bench`` makes it).

The pair is set up like calsyncd's two-way rule: both sides writable, no date range or item
type restriction (every event is listed), ``conflict_resolution = "a wins"``, no metadata
sync; its status folder is the project's own.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from bench.caldav.proc import Outcome, measure, tail
from bench.caldav.servers import PASSWORD, USER, Server

_WRITE = re.compile(r"^(?:Copying \((?:uploading|updating)\)|Deleting) item ", re.MULTILINE)


@dataclass
class VdirsyncerProject:
    """One pair, ``a`` ↔ ``b``, in ``root``; ``executable`` is the ``vdirsyncer`` script."""

    root: Path
    executable: Path

    @property
    def config(self) -> Path:
        return self.root / "config"

    def write(self, a: Server, a_calendar: str, b: Server, b_calendar: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        lines = [
            "[general]",
            f"status_path = {json.dumps(str(self.root / 'status') + '/')}",
            "",
            "[pair bench]",
            'a = "bench_a"',
            'b = "bench_b"',
            "collections = null",
            'conflict_resolution = "a wins"',
            "",
        ]
        for name, server, calendar in (("bench_a", a, a_calendar), ("bench_b", b, b_calendar)):
            lines += [
                f"[storage {name}]",
                'type = "caldav"',
                f"url = {json.dumps(server.url.rstrip('/') + server.path(calendar))}",
            ]
            if server.auth is not None:
                lines += [f'username = "{USER}"', f'password = "{PASSWORD}"']
            lines.append("")
        self.config.write_text("\n".join(lines))

    def env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("VDIRSYNCER_")}

    def command(self, *args: str) -> list[str]:
        return [str(self.executable), "--config", str(self.config), *args]

    def discover(self) -> None:
        """Record the pair's collections (``sync`` refuses to run before it); untimed."""
        measure(self.command("discover"), self.env()).check()

    def sync(self) -> Outcome:
        """One ``vdirsyncer sync``, measured, and how many items it wrote (its log's
        upload, update and delete lines); failed on a non-zero exit."""
        run = measure(self.command("sync"), self.env())
        writes = len(_WRITE.findall(run.stderr + run.stdout))
        if run.returncode != 0:
            return Outcome(run, writes, f"exit {run.returncode}: {tail(run.stderr)}")
        return Outcome(run, writes)

    def version(self) -> str:
        run = measure([str(self.executable), "--version"], self.env()).check()
        return run.stdout.strip().rsplit(" ", 1)[-1]
