"""A throw-away calsyncd project whose rules reach the test servers, driven through the real
command line in a subprocess (``python -m calsyncd``), as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from caldav.servers import PASSWORD, USER, DavServer

PASSWORD_ENV = "CALDAV_TEST_PASSWORD"


@dataclass
class DavProject:
    root: Path
    radicale: DavServer
    xandikos: DavServer
    cyrus: DavServer | None = None

    @property
    def config(self) -> Path:
        return self.root / "config" / "calsyncd.yaml"

    @property
    def state(self) -> Path:
        return self.root / "state" / "calsyncd.db"

    def folder(self, name: str) -> Path:
        return self.root / "calendars" / name

    def write_rules(self, rules: str) -> None:
        """The rules (YAML, ``rules:`` list) with connections ``rad``, ``xan``, ``loc`` and,
        with a Cyrus server, ``cyr``."""
        connections = (
            "connections:\n"
            f"  rad: {{type: caldav, url: '{self.radicale.url}', username: {USER},"
            f" password: '${{env:{PASSWORD_ENV}}}'}}\n"
            f"  xan: {{type: caldav, url: '{self.xandikos.url}'}}\n"
            "  loc: {type: local, path: ../calendars}\n"
        )
        if self.cyrus is not None:
            connections += (
                f"  cyr: {{type: caldav, url: '{self.cyrus.url}', username: {USER},"
                f" password: '${{env:{PASSWORD_ENV}}}'}}\n"
            )
        (self.root / "rules" / "rules.yaml").write_text(connections + rules)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "calsyncd", "--config", str(self.config), *args]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNCD_")}
        env[PASSWORD_ENV] = PASSWORD
        return env

    def run(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=600,
            check=False,
        )
        if check is not None:
            assert done.returncode == check, (done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        assert PASSWORD not in done.stdout + done.stderr
        return done

    def run_json(self, *args: str, check: int | None = 0) -> Any:
        return json.loads(self.run(*args, "--json", check=check).stdout)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.command(*args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env(),
        )


def make_project(
    root: Path, radicale: DavServer, xandikos: DavServer, cyrus: DavServer | None = None
) -> DavProject:
    for folder in ("config", "rules", "calendars"):
        (root / folder).mkdir(parents=True)
    (root / "config" / "calsyncd.yaml").write_text(
        "rules: ../rules\nstate: ../state/calsyncd.db\nhealth: {listen: ''}\n"
        "log: {level: warning, format: json}\n"
    )
    return DavProject(root, radicale, xandikos, cyrus)
