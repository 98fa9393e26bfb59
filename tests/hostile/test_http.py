"""Hostile HTTP peers: huge, slow, looping and redirecting answers, XML bombs (issue 11,
finding 7 and secrets finding 2).

A real Radicale answers everything behind the fault proxy except the one request a test's
``tamper`` answers itself, as a malicious or broken server would:

- a 200 MB multistatus, streamed without ``Content-Length``: calsyncd stops reading at its
  answer limit and names the request; its peak RSS and what the server managed to send are
  the figures;
- an answer dripping one byte a second (CalDAV, an ICS feed, the Google API through the
  emulator): the connection's ``timeout`` bounds the whole request, so the error comes at
  the timeout, not never; a daemon keeps answering ``/healthz`` and stops within its
  ``shutdown_timeout`` while such answers are still dripping;
- a ``507`` "truncated" sync answer that never makes progress: a few rounds, then an error
  (there were 10,000 rounds per cycle);
- ``/.well-known/caldav`` redirecting to another origin: the request goes there without the
  password, and the log says so;
- an entity bomb in a multistatus: refused before anything is expanded.

Each test runs ``calsyncd sync`` (or the daemon under a ``/healthz`` watch) with a tight
timeout configured and prints one figure line.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from caldav.servers import USER as DAV_USER
from caldav.servers import DavServer
from cli.conftest import Project
from daemon.conftest import wait_until
from emulators.fixtures import GoogleSetup, google, google_emulator
from faults.proxy import FaultProxy, Reply, Seen
from faults.support import PASSWORD_FILE, WINDOW, write_rules

from hostile.bodies import (
    FEED_HEAD,
    JSON_HEAD,
    MULTISTATUS_HEAD,
    XML,
    Sent,
    billion_laughs,
    drip,
    huge_multistatus,
    loop_507,
    quadratic_blowup,
)
from hostile.support import RSS_LIMIT_MIB, assert_no_traceback, calsyncd, hostile_daemon, report

__all__ = ["google", "google_emulator"]

MIB = 1024 * 1024
HUGE = 200 * 1000 * 1000
"""What the hostile server is ready to send."""
ANSWER_LIMIT = 64 * MIB
"""calsyncd's limit on one CalDAV answer (``calsyncd.providers.caldav.client.MAX_ANSWER_BYTES``)."""
TIMEOUT = 2.0
"""The connection's ``timeout`` in these tests, seconds."""
NOWHERE = "http://127.0.0.1:9/"
"""Upstream of a proxy that answers every request itself."""


# -- rule files --------------------------------------------------------------------------------


def dav_connection(url: str, timeout: str = f"{TIMEOUT:g}s") -> str:
    """The Radicale connection through ``url`` (the proxy), Basic auth, a tight timeout."""
    return (
        f"  rad: {{type: caldav, url: '{url}', username: {DAV_USER},"
        f" password: '${{file:../{PASSWORD_FILE}}}', timeout: {timeout}}}\n"
    )


def google_connection(setup: GoogleSetup, proxy: FaultProxy, timeout: str) -> str:
    """The emulated Google account, its API reached through ``proxy``."""
    base = setup.emulator.base_url.replace(setup.emulator.url("/"), proxy.url)
    return (
        f"  gcal: {{type: google, credentials: '{setup.key_file}', subject: {setup.subject},"
        f" base_url: '{base}', auth_url: '{setup.emulator.token_url}', timeout: {timeout}}}\n"
    )


def one_way(project: Project, name: str, connection: str, calendar: str) -> str:
    """A one-way rule from ``connection``'s ``calendar`` into a local folder."""
    project.calendar(name).mkdir(parents=True, exist_ok=True)
    return (
        f"  - name: {name}\n"
        f"    source: {{connection: {connection}, calendar: '{calendar}'}}\n"
        f"    target: {{connection: loc, calendar: {name}}}\n"
        f"    window: {WINDOW}\n"
    )


# -- hostile bodies ----------------------------------------------------------------------------


def is_sync_report(seen: Seen) -> bool:
    return seen.report == "sync-collection"


def is_events_list(seen: Seen) -> bool:
    return seen.method == "GET" and seen.path.partition("?")[0].endswith("/events")


# -- 7: answers without bound --------------------------------------------------------------------


def test_a_200_mb_propfind_answer_is_cut_at_the_limit(
    project: Project, radicale_server: DavServer
) -> None:
    calendar = radicale_server.make_calendar()
    sent = Sent()

    def tamper(seen: Seen) -> Reply | None:
        if seen.method == "PROPFIND" and seen.path == calendar:
            return Reply(207, sent.stream(huge_multistatus(HUGE)), headers=XML)
        return None

    with FaultProxy(radicale_server.url) as proxy:
        proxy.tamper = tamper
        connection = dav_connection(proxy.url, timeout="30s")  # the size is the point here
        write_rules(project, [connection], [one_way(project, "big", "rad", calendar)])
        done = calsyncd(project, "sync", timeout=60)
    assert_no_traceback(done.output)
    assert done.returncode == 1, done.output
    expected = f"big: failed: rad/{calendar}: PROPFIND {proxy.url.rstrip('/')}{calendar}: "
    assert expected in done.stdout, done.output
    assert "answer larger than 67108864 bytes (64 MiB); stopped reading" in done.stdout
    report(
        "caldav 200 MB PROPFIND answer",
        peak_rss_mib=round(done.peak_rss_mib),
        server_sent_mib=round(sent.bytes / MIB, 1),
        limit_mib=ANSWER_LIMIT // MIB,
        time=f"{done.seconds:.1f}s",
    )
    assert sent.bytes < ANSWER_LIMIT + 8 * MIB  # stopped at the limit (plus socket buffers)
    assert done.peak_rss_mib < 120, done.peak_rss_mib  # the answer was never held whole


def test_a_caldav_answer_dripping_a_byte_a_second_times_out(
    project: Project, radicale_server: DavServer
) -> None:
    calendar = radicale_server.make_calendar()
    sent = Sent()

    def tamper(seen: Seen) -> Reply | None:
        if is_sync_report(seen):
            return Reply(207, sent.stream(drip(MULTISTATUS_HEAD)), headers=XML, drip=1.0)
        return None

    with FaultProxy(radicale_server.url) as proxy:
        proxy.tamper = tamper
        write_rules(
            project, [dav_connection(proxy.url)], [one_way(project, "slow", "rad", calendar)]
        )
        done = calsyncd(project, "sync", timeout=30)
    assert_no_traceback(done.output)
    assert done.returncode == 1, done.output
    request = f"REPORT {proxy.url.rstrip('/')}{calendar}"
    assert f"slow: failed: rad/{calendar}: {request}: no complete answer within 2s" in done.stdout
    report(
        "caldav answer at 1 byte/s",
        timeout=f"{TIMEOUT:g}s",
        error_after=f"{done.seconds:.1f}s",
        server_sent_bytes=sent.bytes,
    )
    assert done.seconds < TIMEOUT + 8  # start-up, the ctag PROPFIND, then the timeout


def test_an_ics_feed_dripping_a_byte_a_second_times_out(project: Project) -> None:
    sent = Sent()

    def tamper(seen: Seen) -> Reply | None:
        return Reply(
            200, sent.stream(drip(FEED_HEAD)), headers={"Content-Type": "text/calendar"}, drip=1.0
        )

    with FaultProxy(NOWHERE) as feed:
        feed.tamper = tamper
        connection = f"  feed: {{type: ics, url: '{feed.url}holidays.ics', timeout: 2s}}\n"
        write_rules(project, [connection], [one_way(project, "holidays", "feed", "x")])
        done = calsyncd(project, "sync", timeout=30)
    assert_no_traceback(done.output)
    assert done.returncode == 1, done.output
    expected = f"GET {feed.url}holidays.ics: no complete answer within 2s"
    assert expected in done.stdout, done.output
    report(
        "ics feed at 1 byte/s",
        timeout=f"{TIMEOUT:g}s",
        error_after=f"{done.seconds:.1f}s",
        server_sent_bytes=sent.bytes,
    )
    assert done.seconds < TIMEOUT + 6


def test_a_feed_validator_no_header_can_carry_is_not_sent_back(project: Project) -> None:
    """A feed whose ETag holds a non-ASCII byte: the next conditional GET goes without it
    (it used to fail every later cycle with an encoding error)."""
    feed = (
        FEED_HEAD + b"BEGIN:VEVENT\r\nUID:one@hostile.example\r\nDTSTAMP:20300101T000000Z\r\n"
        b"DTSTART:20300101T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )

    def tamper(seen: Seen) -> Reply:
        return Reply(200, [feed], headers={"ETag": '"caf\u00e9"'}, length=len(feed))

    with FaultProxy(NOWHERE) as server:
        server.tamper = tamper
        connection = f"  feed: {{type: ics, url: '{server.url}cal.ics', timeout: 2s}}\n"
        write_rules(project, [connection], [one_way(project, "etag", "feed", "x")])
        runs = [calsyncd(project, "sync", timeout=30) for _ in range(2)]
        conditional = [s.headers.get("If-None-Match") for s in server.seen]
    for done in runs:
        assert_no_traceback(done.output)
        assert done.returncode == 0, done.output
    assert conditional == [None, None]
    report("feed etag not ASCII", runs_ok=len(runs), conditional_gets_sent=0)


def test_a_google_answer_dripping_a_byte_a_second_times_out(
    project: Project, google: GoogleSetup
) -> None:
    """Google's client library (httplib2) applies its timeout per socket read too; the
    connection's timeout bounds each attempt whole, and the abandoned one is cut off."""
    sent = Sent()

    def tamper(seen: Seen) -> Reply | None:
        if is_events_list(seen):
            return Reply(200, sent.stream(drip(JSON_HEAD)), drip=1.0)
        return None

    with FaultProxy(google.emulator.url("/")) as proxy:
        proxy.tamper = tamper
        connection = google_connection(google, proxy, timeout="2s")
        write_rules(project, [connection], [one_way(project, "gslow", "gcal", google.calendar_id)])
        done = calsyncd(project, "sync", timeout=30)
    assert_no_traceback(done.output)
    assert done.returncode == 1, done.output
    assert "events.list: no complete answer within 2s" in done.stdout, done.output
    report(
        "google answer at 1 byte/s",
        timeout=f"{TIMEOUT:g}s",
        error_after=f"{done.seconds:.1f}s",
        server_sent_bytes=sent.bytes,
    )
    assert done.seconds < TIMEOUT + 8


def test_the_daemon_stays_healthy_and_stops_during_drips(
    project: Project, radicale_server: DavServer, google: GoogleSetup
) -> None:
    """An ICS feed dripping past its 2 s timeout fails every cycle; a CalDAV answer and a
    Google answer dripping under a 60 s timeout are still coming when SIGTERM arrives.
    /healthz answers within 1 s throughout, and the daemon exits within its
    shutdown_timeout."""
    calendar = radicale_server.make_calendar()
    feed_sent, dav_sent, google_sent = Sent(), Sent(), Sent()

    def dav_tamper(seen: Seen) -> Reply | None:
        if seen.path.endswith(".ics") and seen.method == "GET":
            return Reply(200, feed_sent.stream(drip(FEED_HEAD)), drip=1.0)
        if is_sync_report(seen):
            return Reply(207, dav_sent.stream(drip(MULTISTATUS_HEAD)), headers=XML, drip=1.0)
        return None

    def google_tamper(seen: Seen) -> Reply | None:
        if is_events_list(seen):
            return Reply(200, google_sent.stream(drip(JSON_HEAD)), drip=1.0)
        return None

    with (
        FaultProxy(radicale_server.url) as proxy,
        FaultProxy(google.emulator.url("/")) as google_proxy,
    ):
        proxy.tamper = dav_tamper
        google_proxy.tamper = google_tamper
        connections = [
            dav_connection(proxy.url, timeout="60s"),
            f"  feed: {{type: ics, url: '{proxy.url}holidays.ics', timeout: 2s}}\n",
            google_connection(google, google_proxy, timeout="60s"),
        ]
        rules = [
            one_way(project, "slow-dav", "rad", calendar),
            one_way(project, "slow-feed", "feed", "x"),
            one_way(project, "slow-google", "gcal", google.calendar_id),
        ]
        write_rules(project, connections, rules)
        with hostile_daemon(project, shutdown_timeout="3s") as running:
            daemon = running.daemon
            timed_out = wait_until(
                lambda: [
                    e
                    for e in daemon.events("cycle failed")
                    if "holidays.ics: no complete answer within 2s" in str(e.get("error"))
                ],
                20,
                "the feed's timeout",
            )
            assert dav_sent.started.wait(10)
            assert google_sent.started.wait(10)
            assert dav_sent.streaming  # the CalDAV and Google answers are still dripping …
            assert google_sent.streaming
            running.stop(within=3.0)  # … when SIGTERM comes
    report(
        "daemon during drips",
        feed_timeouts=len(timed_out),
        **running.figures,
    )


# -- 7: the 507 loop -----------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["same", "new"], ids=["same-token", "new-token-nothing-new"])
def test_a_507_loop_ends_after_a_few_rounds(
    project: Project, radicale_server: DavServer, token: str
) -> None:
    calendar = radicale_server.make_calendar()
    rounds = itertools.count(1)

    def tamper(seen: Seen) -> Reply | None:
        if not is_sync_report(seen):
            return None
        n = next(rounds)
        body = loop_507(calendar, n if token == "new" else 0)
        return Reply(207, [body], headers=XML, length=len(body))

    with FaultProxy(radicale_server.url) as proxy:
        proxy.tamper = tamper
        write_rules(
            project, [dav_connection(proxy.url)], [one_way(project, "loop", "rad", calendar)]
        )
        done = calsyncd(project, "sync", timeout=60)
        reports = proxy.statuses("REPORT", "sync-collection").total()
    assert_no_traceback(done.output)
    assert done.returncode == 1, done.output
    assert "507 (truncated) 3 times in a row without progress" in done.stdout, done.output
    report(
        f"507 loop ({token} token)", sync_requests_per_cycle=reports, time=f"{done.seconds:.1f}s"
    )
    assert reports == 1 + 3  # the first round makes progress, three more do not


# -- secrets 2: credentials stay with their origin -----------------------------------------------


@contextlib.contextmanager
def header_recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback server on another port that records each request's headers and answers
    404; its URL and the records."""
    records: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            records.append({"method": self.command, "path": self.path, **self.headers})
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_PROPFIND = do_GET = do_REPORT = _any

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", records
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_cross_origin_redirect_gets_no_password(
    project: Project, radicale_server: DavServer
) -> None:
    calendar = radicale_server.make_calendar()
    name = calendar.strip("/").rpartition("/")[2]  # found by discovery, by name
    with header_recorder() as (elsewhere, records), FaultProxy(radicale_server.url) as proxy:

        def tamper(seen: Seen) -> Reply | None:
            if seen.path == "/.well-known/caldav":
                return Reply(301, headers={"Location": f"{elsewhere}dav/"}, length=0)
            return None

        proxy.tamper = tamper
        write_rules(project, [dav_connection(proxy.url)], [one_way(project, "moved", "rad", name)])
        done = calsyncd(project, "sync", timeout=60)
        sent_home = [s for s in proxy.seen if s.headers.get("Authorization")]
    assert_no_traceback(done.output)
    assert done.returncode == 0, done.output  # discovery went on at the configured origin
    assert [r["path"] for r in records] == ["/dav/"], records  # the redirect was followed …
    assert not any("Authorization" in r or "authorization" in r for r in records)  # … bare
    assert sent_home  # the configured origin did get the credentials
    assert "credentials withheld" in done.stderr, done.stderr
    assert elsewhere.rstrip("/") in done.stderr
    report(
        "cross-origin redirect",
        requests_elsewhere=len(records),
        with_authorization=0,
        requests_home_with_authorization=len(sent_home),
    )


# -- 7: XML bombs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bomb", [billion_laughs, quadratic_blowup], ids=lambda b: b.__name__)
def test_an_entity_bomb_in_a_multistatus_is_refused(
    project: Project, radicale_server: DavServer, bomb: object
) -> None:
    assert callable(bomb)
    calendar = radicale_server.make_calendar()
    body: bytes = bomb()

    def tamper(seen: Seen) -> Reply | None:
        if is_sync_report(seen):
            return Reply(207, [body], headers=XML, length=len(body))
        return None

    with FaultProxy(radicale_server.url) as proxy:
        proxy.tamper = tamper
        write_rules(
            project, [dav_connection(proxy.url)], [one_way(project, "bomb", "rad", calendar)]
        )
        done = calsyncd(project, "sync", timeout=60)
    assert_no_traceback(done.output)
    assert done.returncode == 1, done.output
    assert "unreadable answer: a DTD" in done.stdout, done.output
    report(
        f"entity bomb ({bomb.__name__.replace('_', ' ')})",
        body_kib=len(body) // 1024,
        peak_rss_mib=round(done.peak_rss_mib),
        time=f"{done.seconds:.1f}s",
    )
    assert done.peak_rss_mib < min(RSS_LIMIT_MIB, 120)
