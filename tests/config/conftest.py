"""Fixtures for configuration tests: a clean environment and a tmp folder as cwd."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

Write = Callable[[str, str], Path]

SECRET = "hunter2-do-not-print"
"""The value behind every secret reference in the example; must never appear in any output."""

CONNECTIONS = """\
connections:
  archive:   {type: local,  path: ../calendars}
  holidays:  {type: ics,    url: https://example.org/h.ics}
  feed-out:  {type: ics,    path: ../public/busy.ics}
  team:      {type: caldav, url: https://dav.example.org/, username: alice, password: "${env:TEAM_DAV_PASSWORD}"}
  work:      {type: google, credentials: /etc/calsyncd/google-sa.json, subject: alice@corp.example}
  m365:      {type: microsoft, tenant: contoso.onmicrosoft.com, client_id: "abc", client_secret: "${credential:m365}"}
  zoom:      {type: zoom, account_id: "acc", client_id: "cid", client_secret: "${env:ZOOM_SECRET}"}
"""  # noqa: E501 - the contract's example, line for line

COURT = """\
rules:
  - name: court-dates
    source: {connection: team, calendar: court}
    target: {connection: m365, calendar: Calendar, user: alice@corp.example}
    direction: one-way
    interval: 1m
    window: {past: 7d}
    filter:
      include: [{categories: [Court Date, Interview Date]}]
      exclude: [{title: "(?i)^cancel"}, {all_day: true}, {response: declined}]
    fields:
      title: "Court: {title}"
      description: keep
      location: keep
      attendees: drop
      reminders: [15m]
      visibility: private
      show_as: busy
      categories: {Court Date: Court}
    conflict: newest-wins
    on_target_change: revert
    deletes: propagate
    guard: {max_deletes: 25%}
    meeting: {connection: zoom, when: missing}
  - name: busy
    source: {connection: work}
    target: {connection: feed-out}
    fields: busy-block
"""

SETTINGS = """\
rules: ../rules
state: ../state/calsyncd.db
health:
  listen: 127.0.0.1:8787
log:
  level: info
  format: auto
defaults:
  interval: 10m
  window: {past: 14d, future: 90d}
shutdown_timeout: 30s
"""


@dataclass(frozen=True)
class Example:
    """The shipped-style example files (secrets written as quoted references)."""

    connections: str = CONNECTIONS
    court: str = COURT
    settings: str = SETTINGS
    secret: str = SECRET


@pytest.fixture
def example() -> Example:
    return Example()


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CALSYNCD_* or systemd variables leak in; the cwd is the test's tmp folder."""
    for name in list(os.environ):
        if name.upper().startswith("CALSYNCD_") or name in {
            "CREDENTIALS_DIRECTORY",
            "STATE_DIRECTORY",
            "TEAM_DAV_PASSWORD",
            "ZOOM_SECRET",
        }:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write a (dedented) file under tmp_path and return its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every reference of the example resolves (to SECRET)."""
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "m365").write_text(SECRET + "\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("TEAM_DAV_PASSWORD", SECRET)
    monkeypatch.setenv("ZOOM_SECRET", SECRET)


@pytest.fixture
def repo(write: Write, secrets_env: None) -> Path:
    """The shipped layout: config/calsyncd.yaml and rules/*.yaml; returns the settings path."""
    write("rules/connections.yaml", CONNECTIONS)
    write("rules/court.yaml", COURT)
    return write("config/calsyncd.yaml", SETTINGS)
