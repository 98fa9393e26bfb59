"""No secret in any output: a CalDAV connection whose password comes from the environment
and another from a file points at a port where nothing listens. Its rules fail, every
second, with errors naming the server; the local rule syncs regardless. Then everything the
process printed and every endpoint is searched for the two secret values."""

from __future__ import annotations

import socket
from collections.abc import Callable

from daemon.conftest import LOCAL, Daemon, Project, rule, wait_until, write_atomically

ENV_SECRET = "env-s3cret-Vq8Zt2"
FILE_SECRET = "file-s3cret-Kp4Wm9"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_no_secret_in_logs_or_endpoints_and_a_failing_rule_stops_no_other(
    project: Project, start: Callable[..., Daemon]
) -> None:
    port = closed_port()
    (project.root / "secrets").mkdir()
    (project.root / "secrets" / "dav").write_text(FILE_SECRET)
    dav = (
        f"  dav-env: {{type: caldav, url: 'http://127.0.0.1:{port}/dav/', username: alice,"
        " password: '${env:DAV_PASSWORD}'}\n"
        f"  dav-file: {{type: caldav, url: 'http://127.0.0.1:{port}/dav/', username: bob,"
        " password: '${file:../secrets/dav}'}\n"
    )
    write_atomically(
        project.rules_file,
        LOCAL
        + dav
        + "rules:\n"
        + rule("remote-env", "court", "x", connection="dav-env")
        + rule("remote-file", "court", "y", connection="dav-file")
        + rule("local", "a", "b"),
    )
    project.put("a", "one", "First")
    daemon = start(DAV_PASSWORD=ENV_SECRET)
    daemon.wait_ready()
    assert project.titles("b") == {"First"}
    project.put("a", "two", "Second")
    wait_until(lambda: "Second" in project.titles("b"), 5, "the local rule to go on")
    status = daemon.status()
    for name in ("remote-env", "remote-file"):
        assert status["rules"][name]["state"] in {"error", "held", "syncing"}
        assert f"127.0.0.1:{port}" in status["rules"][name]["last_error"]
    assert status["rules"]["local"]["state"] in {"ok", "syncing"}
    wait_until(lambda: len(daemon.events("cycle failed")) >= 2, 10, "failures logged")

    endpoints = [daemon.get(p).text for p in ("/healthz", "/readyz", "/status", "/metrics")]
    cli_status = project.cli("status", "--json")
    assert daemon.stop() == 0
    everything = "\n".join([daemon.text, *endpoints, cli_status.stdout, cli_status.stderr])
    assert "127.0.0.1" in everything  # the errors are there, naming the server …
    for secret in (ENV_SECRET, FILE_SECRET):
        assert secret not in everything  # … but never a password
