"""Hot reload of the real process: an edit, an invalid edit, a symlink swap of the rules
folder, and SIGHUP for a change no watcher can see."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from daemon.conftest import LOCAL, Daemon, Project, rule, wait_until, write_atomically


def reloads(daemon: Daemon) -> int:
    return len(daemon.events("configuration reloaded"))


def test_edit_reloads_and_an_invalid_edit_keeps_the_old_rules_running(
    project: Project, start: Callable[..., Daemon]
) -> None:
    write_atomically(project.rules_file, LOCAL + "rules:\n" + rule("alpha", "a", "b"))
    project.put("a", "one", "First")
    project.put("c", "two", "Second")
    daemon = start()
    daemon.wait_ready()
    assert project.titles("b") == {"First"}

    # An editor's atomic save adding a rule: it starts; alpha goes on undisturbed.
    write_atomically(
        project.rules_file, LOCAL + "rules:\n" + rule("alpha", "a", "b") + rule("beta", "c", "d")
    )
    wait_until(lambda: project.titles("d") == {"Second"}, 10, "the added rule to sync")
    (reloaded,) = daemon.events("configuration reloaded")
    assert (reloaded["added"], reloaded["changed"], reloaded["removed"]) == (["beta"], [], [])
    assert set(daemon.status()["rules"]) == {"alpha", "beta"}

    # An invalid edit: both rules keep running; the error is shown with path:line:col.
    write_atomically(
        project.rules_file,
        LOCAL + "rules:\n" + rule("alpha", "a", "b") + "    colour: red\n" + rule("beta", "c", "d"),
    )
    error = wait_until(lambda: daemon.status()["config"]["error"], 10, "config.error")
    assert re.search(r"rules\.yaml:\d+:\d+: .*colour", error), error
    assert daemon.metric("calsyncd_config_valid") == 0
    assert daemon.metric('calsyncd_config_reload_total{result="error"}') == 1
    (logged,) = daemon.events("configuration invalid; the running rules go on unchanged")
    assert any(re.match(r".*rules\.yaml:\d+:\d+: ", p) for p in logged["problems"])
    project.put("a", "three", "Third")
    project.put("c", "four", "Fourth")
    wait_until(lambda: "Third" in project.titles("b"), 5, "alpha to go on syncing")
    wait_until(lambda: "Fourth" in project.titles("d"), 5, "beta to go on syncing")
    assert daemon.get("/readyz").status_code == 200

    # Removing a rule stops it and keeps its copies; the fix clears the error.
    write_atomically(project.rules_file, LOCAL + "rules:\n" + rule("alpha", "a", "b"))
    wait_until(lambda: daemon.status()["config"]["error"] is None, 10, "the error cleared")
    assert daemon.metric("calsyncd_config_valid") == 1
    assert set(daemon.status()["rules"]) == {"alpha"}
    assert project.titles("d") == {"Second", "Fourth"}
    assert daemon.metric('calsyncd_reconcile_total{result="ok",rule="beta"}') is None
    assert daemon.stop() == 0


def test_symlink_swap_of_the_rules_folder(project: Project, start: Callable[..., Daemon]) -> None:
    """As a Kubernetes ConfigMap or a deploy tool does it: a new link renamed over the old."""
    (project.root / "rules").rmdir()
    for version, name, source in (("v1", "alpha", "a"), ("v2", "gamma", "c")):
        folder = project.root / f"rules-{version}"
        folder.mkdir()
        (folder / "rules.yaml").write_text(LOCAL + "rules:\n" + rule(name, source, "b"))
    (project.root / "rules").symlink_to("rules-v1")
    project.put("a", "one", "First")
    project.put("c", "two", "Second")
    daemon = start()
    daemon.wait_ready()
    assert set(daemon.status()["rules"]) == {"alpha"}

    link = project.root / "rules.new"
    link.symlink_to("rules-v2")
    os.replace(link, project.root / "rules")
    wait_until(lambda: set(daemon.status()["rules"]) == {"gamma"}, 10, "the swapped rules")
    wait_until(lambda: "Second" in project.titles("b"), 5, "the new rule to sync")

    # Edits inside the folder the link points to now are seen too (the watch followed it).
    (project.root / "rules-v2" / "more.yaml").write_text("rules:\n" + rule("delta", "e", "f"))
    wait_until(lambda: "delta" in daemon.status()["rules"], 10, "an edit after the swap")
    assert daemon.stop() == 0


def test_sighup_reloads_a_change_no_watcher_sees(
    project: Project, start: Callable[..., Daemon]
) -> None:
    """The interval comes from a ``${file:…}`` reference to a file outside the watched
    folders: only SIGHUP can bring its change in."""
    hidden = project.root / "elsewhere" / "interval"
    hidden.parent.mkdir()
    hidden.write_text("1h")
    write_atomically(
        project.rules_file,
        LOCAL
        + "rules:\n"
        + rule("alpha", "a", "b", extra="    interval: ${file:../elsewhere/interval}\n"),
    )
    daemon = start()
    daemon.wait_ready()
    hidden.write_text("1s")
    project.put("a", "one", "First")
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: reloads(daemon) == 1, 10, "the reload")
    (reloaded,) = daemon.events("configuration reloaded")
    assert reloaded["changed"] == ["alpha"]
    # The restarted rule runs at once and then every second.
    wait_until(lambda: "First" in project.titles("b"), 5, "the restarted rule")
    project.put("a", "two", "Second")
    wait_until(lambda: "Second" in project.titles("b"), 5, "the new interval")
    assert daemon.metric('calsyncd_config_reload_total{result="ok"}') == 1
    assert daemon.stop() == 0


GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_git_pull_reloads_once(project: Project, start: Callable[..., Daemon]) -> None:
    """The pull splits one file into two; half-way the connection is defined twice — an
    invalid state the debounce never loads."""
    origin = project.root / "origin"
    origin.mkdir()

    def git(*args: str, cwd: Path = origin) -> None:
        env = {**os.environ, **GIT_ENV}
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (origin / "rules.yaml").write_text(LOCAL + "rules:\n" + rule("alpha", "a", "b"))
    git("add", ".")
    git("commit", "-q", "-m", "one")
    (project.root / "rules").rmdir()
    git("clone", "-q", str(origin), str(project.root / "rules"), cwd=project.root)
    project.put("c", "one", "First")
    daemon = start()
    daemon.wait_ready()

    (origin / "a-connections.yaml").write_text(LOCAL)
    (origin / "rules.yaml").write_text(
        "rules:\n" + rule("alpha", "a", "b") + rule("beta", "c", "d")
    )
    git("add", ".")
    git("commit", "-q", "-m", "two")
    git("pull", "-q", "--ff-only", cwd=project.root / "rules")
    wait_until(lambda: project.titles("d") == {"First"}, 10, "the pulled rule to sync")
    (reloaded,) = daemon.events("configuration reloaded")
    assert reloaded["added"] == ["beta"]
    assert not daemon.events("configuration invalid; the running rules go on unchanged")
    assert daemon.stop() == 0
