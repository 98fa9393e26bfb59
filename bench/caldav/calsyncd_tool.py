"""calsyncd as an operator runs it: a project folder (settings, rules, state) and the
``calsyncd`` command, ``sync`` for one cycle as a whole process."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.caldav.fill import WINDOW
from bench.caldav.proc import Outcome, measure, tail
from bench.caldav.servers import PASSWORD, USER, Server

PASSWORD_ENV = "BENCH_CALDAV_PASSWORD"
_OUTCOME = re.compile(r"^(\S+): ok: (\d+) created, (\d+) updated, (\d+) deleted", re.MULTILINE)


def executable() -> list[str]:
    """The installed ``calsyncd`` script beside this interpreter (what an operator runs)."""
    script = Path(sys.executable).with_name("calsyncd")
    return [str(script)] if script.exists() else [sys.executable, "-m", "calsyncd"]


def rule(name: str, source: str, target: str, direction: str) -> str:
    """One rule (YAML) between ``connection:calendar`` endpoints; a week's interval, so a
    daemon runs only the cycles the benchmark asks for."""
    (src_conn, src_cal), (dst_conn, dst_cal) = source.split(":"), target.split(":")
    return (
        f"  - name: {name}\n"
        f"    source: {{connection: {src_conn}, calendar: {src_cal}}}\n"
        f"    target: {{connection: {dst_conn}, calendar: {dst_cal}}}\n"
        f"    direction: {direction}\n"
        f"    interval: 7d\n"
        f"    window: {WINDOW}\n"
    )


@dataclass
class CalsyncdProject:
    root: Path
    radicale: Server
    xandikos: Server
    health_port: int | None = None

    @property
    def config(self) -> Path:
        return self.root / "config" / "calsyncd.yaml"

    @property
    def daemon_config(self) -> Path:
        return self.root / "config" / "daemon.yaml"

    def write(self, rules: str, health_port: int | None = None) -> None:
        """Settings for ``sync`` (no HTTP server) and for the daemon (``health_port``),
        sharing one rules folder and state database; ``rules`` from :func:`rule`."""
        for folder in ("config", "rules", "state"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        settings = (
            "rules: ../rules\nstate: ../state/calsyncd.db\nlog: {level: warning, format: json}\n"
        )
        self.config.write_text(settings + "health: {listen: ''}\n")
        self.health_port = health_port
        listen = f"127.0.0.1:{health_port}" if health_port else ""
        self.daemon_config.write_text(settings + f"health: {{listen: '{listen}'}}\n")
        connections = (
            "connections:\n"
            f"  rad: {{type: caldav, url: '{self.radicale.url}', username: {USER},"
            f" password: '${{env:{PASSWORD_ENV}}}'}}\n"
            f"  xan: {{type: caldav, url: '{self.xandikos.url}'}}\n"
        )
        (self.root / "rules" / "rules.yaml").write_text(connections + "rules:\n" + rules)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNCD_")}
        env[PASSWORD_ENV] = PASSWORD
        return env

    def command(self, *args: str, daemon: bool = False) -> list[str]:
        config = self.daemon_config if daemon else self.config
        return [*executable(), "--config", str(config), *args]

    def sync(self) -> Outcome:
        """One ``calsyncd sync`` (every rule), measured; failed unless every rule synced."""
        run = measure(self.command("sync"), self.env())
        outcomes = _OUTCOME.findall(run.stdout)
        writes = sum(int(o[i]) for o in outcomes for i in (1, 2, 3))
        if run.returncode != 0 or not outcomes:
            error = tail(run.stdout) or tail(run.stderr)
            return Outcome(run, writes, f"exit {run.returncode}: {error}")
        return Outcome(run, writes)
