"""``calsyncd run``: readiness, the endpoints of contract §7, a change propagating within the
interval, a manual trigger, a graceful stop, and an invalid configuration at start."""

from __future__ import annotations

import re
from collections.abc import Callable

from daemon.conftest import LOCAL, Daemon, Project, rule, wait_until

METRICS = (
    "calsyncd_reconcile_total",
    "calsyncd_reconcile_duration_seconds",
    "calsyncd_changes_total",
    "calsyncd_rule_last_success_timestamp_seconds",
    "calsyncd_rule_state",
    "calsyncd_config_reload_total",
    "calsyncd_config_valid",
    "calsyncd_provider_requests_total",
    "calsyncd_conflicts",
)


def two_rules(project: Project) -> None:
    project.rules_file.write_text(
        LOCAL
        + "rules:\n"
        + rule("alpha", "a", "b")
        + rule("beta", "c", "d", extra="    interval: 1h\n")
    )
    project.put("a", "one", "First")
    project.put("c", "two", "Second")


def test_ready_endpoints_propagation_and_graceful_stop(
    project: Project, start: Callable[..., Daemon]
) -> None:
    two_rules(project)
    daemon = start()
    assert daemon.get("/healthz").text == "ok"
    daemon.wait_ready()
    assert daemon.get("/readyz").json() == {"ready": True}
    assert project.titles("b") == {"First"}
    assert project.titles("d") == {"Second"}

    status = daemon.status()
    assert set(status) == {"version", "config", "rules"}
    assert set(status["config"]) == {"revision", "loaded_at", "error"}
    assert status["config"]["error"] is None
    assert set(status["rules"]) == {"alpha", "beta"}
    alpha = status["rules"]["alpha"]
    assert set(alpha) == {
        "state",
        "last_success",
        "last_attempt",
        "last_error",
        "next_run",
        "counts",
        "source",
        "target",
    }
    assert alpha["counts"] == {"created": 1, "updated": 0, "deleted": 0, "conflicts": 0}
    assert (alpha["source"], alpha["target"]) == ("loc/a", "loc/b")
    assert alpha["state"] in {"ok", "syncing"}
    assert status["rules"]["beta"]["state"] == "ok"

    metrics = daemon.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    for name in METRICS:
        assert re.search(rf"^# TYPE {name} ", metrics.text, re.M), name
    assert daemon.metric('calsyncd_reconcile_total{result="ok",rule="beta"}') == 1
    assert daemon.metric('calsyncd_changes_total{op="create",rule="alpha"}') == 1
    assert daemon.metric('calsyncd_rule_state{rule="beta",state="ok"}') == 1
    assert daemon.metric("calsyncd_config_valid") == 1

    # A change in a source folder is copied within the interval (1 s).
    project.put("a", "three", "Third")
    wait_until(lambda: project.titles("b") == {"First", "Third"}, 5, "the new event copied")

    # beta's interval is an hour: only a manual trigger runs it now.
    project.put("c", "four", "Fourth")
    assert daemon.post("/rules/beta/sync").status_code == 202
    wait_until(lambda: "Fourth" in project.titles("d"), 5, "the manual cycle")
    missing = daemon.post("/rules/nope/sync")
    assert missing.status_code == 404
    assert missing.json()["result"] == "unknown"
    assert daemon.get("/nothing-here").status_code == 404

    assert daemon.stop() == 0
    events = [e["event"] for e in daemon.events()]
    assert events[-2:] == ["stopping", "daemon stopped"]
    assert "Traceback" not in daemon.text
    # Stopped consistent: the next cycle of every rule has nothing to do.
    plan = project.cli("plan", "--json")
    assert plan.returncode == 0, plan.stderr
    assert '"actions": []' in plan.stdout
    assert '"actions": [{' not in plan.stdout


def test_status_command_asks_the_daemon_then_the_database(
    project: Project, start: Callable[..., Daemon]
) -> None:
    two_rules(project)
    daemon = start()
    daemon.wait_ready()
    listen = f'listen: "127.0.0.1:{daemon.port}"'
    project.config.write_text(project.config.read_text().replace('listen: "127.0.0.1:0"', listen))
    wait_until(lambda: daemon.events("configuration reloaded"), 10, "the settings reloaded")
    assert daemon.events("setting changes at the next start")
    live = project.cli("status")
    assert live.returncode == 0, live.stderr
    assert "(daemon running)" in live.stdout
    assert "next 20" in live.stdout  # next_run is known only to the daemon
    assert daemon.stop() == 0
    offline = project.cli("status")
    assert "(no daemon running)" in offline.stdout
    assert re.search(r"^alpha\s+ok", offline.stdout, re.M)


def test_invalid_config_at_start_exits_2_with_the_problem(
    project: Project, start: Callable[..., Daemon]
) -> None:
    project.rules_file.write_text(
        LOCAL + "rules:\n" + rule("alpha", "a", "b") + "    colour: red\n"
    )
    daemon = start(wait_listening=False)
    assert daemon.wait() == 2
    assert re.search(r"rules\.yaml:\d+:\d+: .*colour", daemon.text), daemon.text
    assert "Traceback" not in daemon.text


def test_a_permanent_error_holds_the_rule_until_asked_or_changed(
    project: Project, start: Callable[..., Daemon]
) -> None:
    """A calendar that does not exist: retrying cannot help, so no timer runs the rule until
    an operator asks for a cycle or its configuration changes."""
    project.rules_file.write_text(
        LOCAL
        + "  gone: {type: local, path: ../nowhere}\n"
        + "rules:\n"
        + rule("lost", "a", "b", connection="gone")
        + rule("fine", "c", "d")
    )
    project.put("c", "one", "First")
    daemon = start()
    daemon.wait_ready()
    lost = daemon.status()["rules"]["lost"]
    assert lost["state"] == "held"
    assert lost["next_run"] is None
    assert "neither the calendar folder nor its parent exists" in lost["last_error"]
    assert daemon.metric('calsyncd_rule_state{rule="lost",state="held"}') == 1
    (held,) = daemon.events("rule held until its configuration changes or a manual sync")
    assert held["rule"] == "lost"

    (project.root / "nowhere" / "a").mkdir(parents=True)  # fixed, but nobody says so
    project.put("c", "two", "Second")
    wait_until(lambda: "Second" in project.titles("d"), 5, "the other rule")
    assert daemon.status()["rules"]["lost"]["state"] == "held"
    assert daemon.post("/rules/lost/sync").status_code == 202
    wait_until(lambda: daemon.status()["rules"]["lost"]["state"] == "ok", 5, "the manual cycle")
    assert daemon.status()["rules"]["lost"]["next_run"] is not None
    assert daemon.stop() == 0
