"""A throw-away calsyncd project (settings, rule file, local calendars) driven through the real
command line in a subprocess, as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calsyncd.model.event import CalendarObject
from calsyncd.model.ical import parse_object, serialize_object


@dataclass
class Project:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config" / "calsyncd.yaml"

    @property
    def state(self) -> Path:
        return self.root / "state" / "calsyncd.db"

    def calendar(self, name: str) -> Path:
        return self.root / "calendars" / name

    def write_rules(self, text: str) -> None:
        connections = "connections:\n  loc: {type: local, path: ../calendars}\n"
        (self.root / "rules" / "rules.yaml").write_text(connections + text)

    def put(self, calendar: str, name: str, obj: CalendarObject) -> Path:
        path = self.calendar(calendar) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(serialize_object(obj))
        return path

    def objects(self, calendar: str) -> dict[str, CalendarObject]:
        """Every object of a calendar, by file name."""
        folder = self.calendar(calendar)
        return {
            p.name: parse_object(p.read_bytes(), source=p.name)
            for p in sorted(folder.glob("*.ics"))
        }

    def stamps(self, calendar: str) -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in self.calendar(calendar).glob("*.ics")}

    def run(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNCD_")}
        done = subprocess.run(
            [sys.executable, "-m", "calsyncd", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        if check is not None:
            assert done.returncode == check, (done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def run_json(self, *args: str, check: int | None = 0) -> Any:
        return json.loads(self.run(*args, "--json", check=check).stdout)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    for folder in ("config", "rules", "calendars"):
        (root / folder).mkdir(parents=True)
    (root / "config" / "calsyncd.yaml").write_text(
        "rules: ../rules\nstate: ../state/calsyncd.db\nhealth: {listen: ''}\n"
        "log: {level: warning, format: json}\n"
    )
    return Project(root)
