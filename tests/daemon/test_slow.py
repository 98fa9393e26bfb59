"""A slow rule (an ICS feed served by a test server that answers only when told) delays no
other rule, is never run twice at once, holds back readiness until its first cycle, and is
waited for — up to ``shutdown_timeout`` — by a graceful stop."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from daemon.conftest import LOCAL, Daemon, Project, ics, rule, wait_until


class Feed:
    """An ICS feed whose answers wait for :attr:`gate`."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.requests = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with feed._lock:
                    feed.requests += 1
                    feed.in_flight += 1
                    feed.most_in_flight = max(feed.most_in_flight, feed.in_flight)
                feed.gate.wait(20)
                body = ics("slow-1@test", "From the feed").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with feed._lock:
                    feed.in_flight -= 1

            def log_message(self, format: str, *args: object) -> None:
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/feed.ics"


@pytest.fixture
def feed() -> Iterator[Feed]:
    made = Feed()
    made.thread.start()
    yield made
    made.gate.set()
    made.server.shutdown()
    made.server.server_close()
    made.thread.join(5)


def slow_and_fast(project: Project, feed: Feed) -> None:
    connections = LOCAL + f"  feed: {{type: ics, url: '{feed.url}'}}\n"
    project.rules_file.write_text(
        connections
        + "rules:\n"
        + "  - name: slow\n    source: {connection: feed}\n"
        + "    target: {connection: loc, calendar: s-copy}\n"
        + rule("fast", "a", "b")
    )


def test_a_slow_rule_delays_no_other_and_is_waited_for_at_stop(
    project: Project, start: Callable[..., Daemon], feed: Feed
) -> None:
    slow_and_fast(project, feed)
    project.put("a", "one", "First")
    daemon = start()
    wait_until(lambda: feed.requests == 1, 10, "the slow cycle to start")
    wait_until(lambda: project.titles("b") == {"First"}, 5, "the fast rule")
    ready = daemon.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"ready": False, "reason": "waiting for the first cycle of: slow"}
    assert daemon.get("/healthz").status_code == 200

    project.put("a", "two", "Second")
    wait_until(lambda: "Second" in project.titles("b"), 5, "the fast rule, again")
    for _ in range(3):  # asked for again and again: still one cycle at a time
        assert daemon.post("/rules/slow/sync").status_code == 202
    assert daemon.status()["rules"]["slow"]["state"] == "syncing"

    daemon.signal(signal.SIGTERM)
    wait_until(lambda: daemon.events("stopping"), 5, "the stop to begin")
    assert daemon.process.poll() is None  # waiting for the running cycle
    feed.gate.set()
    assert daemon.wait() == 0
    assert feed.most_in_flight == 1
    assert feed.requests == 1  # no cycle started after the stop
    assert project.titles("s-copy") == {"From the feed"}
    done = [e for e in daemon.events("cycle done") if e["rule"] == "slow"]
    assert [e["result"] for e in done] == ["ok"]


def test_a_cycle_outlasting_shutdown_timeout_is_cancelled_and_the_exit_is_0(
    project: Project, start: Callable[..., Daemon], feed: Feed
) -> None:
    project.settings(shutdown_timeout="2s")
    slow_and_fast(project, feed)
    daemon = start()
    wait_until(lambda: feed.requests == 1, 10, "the slow cycle to start")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(timeout=2.0 + 1.5) == 0  # + the interpreter's own exit
    (cancelled,) = daemon.events("cycles cancelled at shutdown_timeout")
    assert cancelled["rules"] == ["slow"]
