"""Hostile rule and settings files (issue 11, finding 8).

A 342-byte YAML alias bomb ("billion laughs": nine anchors, each a list of nine aliases of
the one before) expands to 9⁹ values; ``--config /dev/zero`` never ends; a settings file can
be any size. ``check`` answers each with one line naming the place, at once and in little
memory; the same bomb dropped into a running daemon's rules folder is refused by the reload
while the running rules go on.
"""

from __future__ import annotations

import time

from cli.conftest import Project
from daemon.conftest import ics, wait_until

from hostile.support import RSS_LIMIT_MIB, assert_no_traceback, calsyncd, hostile_daemon, report

BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
)

ONE_RULE = (
    "rules:\n"
    "  - name: copy\n"
    "    source: {connection: loc, calendar: a}\n"
    "    target: {connection: loc, calendar: b}\n"
)


def test_an_alias_bomb_is_one_clear_problem(project: Project) -> None:
    bomb = project.root / "rules" / "bomb.yaml"
    bomb.write_text(BOMB)
    done = calsyncd(project, "check", str(bomb), timeout=20)
    assert done.returncode == 1, done.output
    assert_no_traceback(done.output)
    assert done.stderr.startswith("rules/bomb.yaml:1:")
    assert "expands to more than 100,000 values" in done.stderr
    assert done.peak_rss_mib < RSS_LIMIT_MIB
    report(
        "yaml alias bomb, check",
        file_bytes=len(BOMB),
        seconds=round(done.seconds, 2),
        peak_rss_mib=round(done.peak_rss_mib, 1),
    )


def test_endless_or_huge_files_are_refused_unread(project: Project) -> None:
    figures: dict[str, object] = {}
    zero = calsyncd(project, "--config", "/dev/zero", "check", timeout=20)
    assert zero.returncode == 1
    assert zero.stderr.strip() == "/dev/zero: not a regular file"
    figures["dev_zero_s"] = round(zero.seconds, 2)
    huge = project.root / "rules" / "huge.yaml"
    huge.write_text("# padding\n" * 200_000)  # 2 MB of comments
    big = calsyncd(project, "check", str(huge), timeout=20)
    assert big.returncode == 1
    assert "rules/huge.yaml: larger than 1024 KiB" in big.stderr
    figures["two_mb_file_s"] = round(big.seconds, 2)
    for done in (zero, big):
        assert_no_traceback(done.output)
        assert done.peak_rss_mib < RSS_LIMIT_MIB
    report("endless and huge files, check", **figures)


def test_a_bomb_dropped_into_a_running_daemon_changes_nothing(project: Project) -> None:
    project.write_rules(ONE_RULE)
    (project.calendar("a")).mkdir()
    (project.calendar("a") / "one.ics").write_text(ics("one@test", "First"))
    with hostile_daemon(project) as running:
        daemon = running.daemon
        daemon.wait_ready(timeout=20)
        assert (project.calendar("b")).exists()
        dropped = time.monotonic()
        (project.root / "rules" / "bomb.yaml").write_text(BOMB)
        status = wait_until(
            lambda: (s := daemon.status())["config"]["error"] and s,
            10,
            "the reload to be refused",
        )
        refused_after = time.monotonic() - dropped
        assert "rules/bomb.yaml:1:" in status["config"]["error"]
        assert daemon.metric("calsyncd_config_valid") == 0.0
        # The running rule goes on: a new event is still copied.
        (project.calendar("a") / "two.ics").write_text(ics("two@test", "Second"))
        wait_until(lambda: len(list(project.calendar("b").glob("*.ics"))) == 2, 10, "a copy")
        running.stop(within=5)
    report(
        "yaml alias bomb, live reload",
        refused_after_s=round(refused_after, 2),
        **running.figures,
    )
