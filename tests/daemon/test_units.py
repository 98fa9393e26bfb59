"""The daemon's pure parts, without a process: schedule, trigger box, reload diff, watch
helpers, notify messages and log redaction."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from calsyncd import log
from calsyncd.config import load_config
from calsyncd.daemon.mailbox import Mailbox
from calsyncd.daemon.notify import Notifier
from calsyncd.daemon.reload import rule_changes
from calsyncd.daemon.schedule import backoff, decide
from calsyncd.daemon.watch import anchors, folders, relevant


def test_backoff_doubles_from_the_interval_up_to_eight_times_it() -> None:
    assert [backoff(60, n) for n in range(1, 7)] == [60, 120, 240, 480, 480, 480]
    assert backoff(60, 1, retry_after=300) == 300  # the server's hint, within the cap
    assert backoff(60, 1, retry_after=3600) == 480


def test_decisions() -> None:
    rng = random.Random(1)
    ok = decide("ok", 100, failures=3, rng=rng)
    assert ok.state == "ok"
    assert ok.failures == 0
    assert ok.delay is not None
    assert 90 <= ok.delay <= 110
    failed = decide("temporary", 100, failures=3, rng=rng)
    assert (failed.state, failed.failures, failed.delay) == ("error", 4, 800)
    assert decide("permanent", 100, failures=0, rng=rng).delay is None
    assert decide("held", 100, failures=0, rng=rng).state == "held"
    assert decide("partial", 100, failures=0, rng=rng).state == "error"


@pytest.mark.anyio
async def test_mailbox_collapses_triggers_into_one_wake() -> None:
    box = Mailbox()
    assert await box.wait(0.01) == frozenset()  # the timer
    for reason in ("manual", "manual", "push"):
        box.post(reason)
    assert await box.wait(None) == {"manual", "push"}
    assert not box.pending
    with anyio.move_on_after(0.05) as scope:
        await box.wait(None)
    assert scope.cancelled_caught


def write_project(root: Path, rules: str) -> Path:
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "rules").mkdir(exist_ok=True)
    settings = root / "config" / "calsyncd.yaml"
    settings.write_text("rules: ../rules\nstate: ../state.db\n")
    (root / "rules" / "r.yaml").write_text(rules)
    return settings


RULES = """\
connections:
  loc: {type: local, path: ../cal}
  other: {type: local, path: ../other}
rules:
  - {name: keep, source: {connection: loc, calendar: a}, target: {connection: loc, calendar: b}}
  - {name: edit, source: {connection: loc, calendar: c}, target: {connection: loc, calendar: d}}
  - {name: conn, source: {connection: other, calendar: e}, target: {connection: loc, calendar: f}}
  - {name: gone, source: {connection: loc, calendar: g}, target: {connection: loc, calendar: h}}
"""


def test_rule_changes_include_a_changed_connection(tmp_path: Path) -> None:
    settings = write_project(tmp_path, RULES)
    old = load_config(settings)
    edited = (
        RULES.replace("calendar: d}", "calendar: d2}")
        .replace("../other", "../other2")
        .replace("  - {name: gone", "  - {name: new")
    )
    write_project(tmp_path, edited)
    new = load_config(settings)
    changes = rule_changes(old, new)
    assert changes.added == {"new"}
    assert changes.removed == {"gone"}
    assert changes.changed == {"edit", "conn"}
    assert not rule_changes(new, replace(new, revision="x"))


def test_watch_folders_follow_links_and_see_the_link_itself(tmp_path: Path) -> None:
    settings = write_project(tmp_path, RULES)
    (tmp_path / "rules").rename(tmp_path / "rules-v1")
    (tmp_path / "rules").symlink_to("rules-v1")
    config = load_config(settings)
    paths = anchors(settings, config)
    assert folders(paths) == {tmp_path / "config", tmp_path, tmp_path / "rules-v1"}
    assert relevant(str(tmp_path / "rules"), paths)  # the link renamed over
    assert relevant(str(tmp_path / "rules-v1" / "x.yml"), paths)
    assert relevant(str(tmp_path / "rules-v1" / "..data"), paths)  # a ConfigMap's swap
    assert not relevant(str(tmp_path / "notes.txt"), paths)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "n.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield sock, path
    sock.close()


def test_notifier_messages(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"})
    assert notifier.watchdog_interval == 5.0
    notifier.ready("2 rules: 2 ok")
    assert sock.recv(1024) == b"READY=1\nSTATUS=2 rules: 2 ok"
    notifier.status("2 rules: 2 ok")  # unchanged: not sent again
    notifier.status("2 rules: 1 error, 1 ok")
    assert sock.recv(1024) == b"STATUS=2 rules: 1 error, 1 ok"
    assert Notifier({}).watchdog_interval is None
    Notifier({}).ready("nothing happens without a socket")
    other_pid = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}
    assert Notifier(other_pid).watchdog_interval is None  # meant for another process


def test_redaction_of_keys_values_and_nested_values() -> None:
    log.register_secrets(["hunter2-secret"])
    event = log.redact(
        None,
        "info",
        {
            "event": "failed: hunter2-secret rejected",
            "password": "whatever",
            "details": {"token": "t", "note": ["x hunter2-secret y"]},
        },
    )
    assert event == {
        "event": "failed: [redacted] rejected",
        "password": "[redacted]",
        "details": {"token": "[redacted]", "note": ["x [redacted] y"]},
    }
