"""No secret leaves, in any form, through any output (issue 11, findings 1 and 3).

Secrets written as references — a Basic-auth password and a bearer token in files (the
token with the newline an editor leaves), two feed URLs carrying tokens in the environment
— are used against hostile peers: a server that answers every request with 401/500 and
echoes the ``Authorization`` header (and the request line) in its reason phrase and body,
a CalDAV URL that redirects to another origin (itself echoing), and an HTTPS feed whose
certificate nobody trusts. Everything calsyncd then prints or
stores — ``check``, ``plan --json``, ``sync``, ``status --json``, a daemon's log lines,
``/status``, ``/metrics``, ``/readyz`` and the state database's files — is searched for every
form of every secret: raw, stripped, Base64 ``user:password``, URL-encoded.

A Google service-account key given as ``credentials: "${file:…}"`` (or
``${credential:…}``) is the key file itself, not its contents taken for a path (finding 1).
"""

from __future__ import annotations

import base64
import contextlib
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import trustme
from cli.conftest import Project
from emulators.fixtures import GoogleSetup, google, google_emulator
from faults.proxy import FaultProxy, Reply, Seen

from hostile.support import assert_no_traceback, calsyncd, grep, hostile_daemon, report

__all__ = ["google", "google_emulator"]

USER = "alice"
PASSWORD = "pä ss/wörd+Zq9%x"  # non-ASCII, and characters that URL-encode differently
TOKEN = "Zq9-tok3n_SECRET.value"
FEED_TOKEN = "feedtok-7Hq2Lm9Rx"
TLS_TOKEN = "tlstok-Wc4Pn8Jd"


def forms(secret: str) -> set[str]:
    """The shapes a secret could leak in (computed here, independently of calsyncd)."""
    found = {secret, secret.strip(), quote(secret), quote(secret, safe=""), quote_plus(secret)}
    found.add(base64.b64encode(secret.encode()).decode())
    return found


BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
ALL_FORMS = forms(PASSWORD) | forms(TOKEN) | forms(FEED_TOKEN) | forms(TLS_TOKEN) | {BASIC}


def echo(seen: Seen, elsewhere: str = "") -> Reply:
    """Answer like a careless server: the credentials and the request line in the reason
    phrase and the body; ``/moved/…`` redirects to the same path at ``elsewhere``."""
    credentials = seen.headers.get("Authorization", "-")
    if seen.path.startswith("/moved/") and elsewhere:
        location = elsewhere + seen.path.removeprefix("/")
        return Reply(
            301, [], reason=f"Moved {credentials}", headers={"Location": location}, length=0
        )
    if seen.path.startswith("/feed/"):
        return Reply(
            403, [f"no {seen.path}".encode()], reason=f"Forbidden {seen.path}", length=None
        )
    status = 401 if credentials.startswith("Basic") else 500
    body = f"refused {credentials} for {seen.path}".encode()
    return Reply(status, [body], reason=f"Nope {credentials}", length=len(body))


@contextlib.contextmanager
def untrusted_tls_server() -> Iterator[int]:
    """An HTTPS server whose certificate is signed by a CA nobody trusts; its port."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            return  # the refused handshakes are the point

    server = Server(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def rules(echo_url: str) -> str:
    return (
        f"  dav-basic: {{type: caldav, url: '{echo_url}dav/', username: {USER},"
        " password: '${file:../secrets/password}', timeout: 5s}\n"
        f"  dav-bearer: {{type: caldav, url: '{echo_url}dav/',"
        " token: '${file:../secrets/token}', timeout: 5s}\n"
        f"  dav-moved: {{type: caldav, url: '{echo_url}moved/', username: {USER},"
        " password: '${file:../secrets/password}', timeout: 5s}\n"
        "  feed-echo: {type: ics, url: '${env:ECHO_FEED_URL}', timeout: 5s}\n"
        "  feed-tls: {type: ics, url: '${env:TLS_FEED_URL}', timeout: 5s}\n"
        "rules:\n"
        + "".join(
            f"  - name: {name}\n"
            f"    source: {{connection: {name}, calendar: {'court' if 'dav' in name else 'x'}}}\n"
            f"    target: {{connection: loc, calendar: {name}}}\n"
            for name in ("dav-basic", "dav-bearer", "dav-moved", "feed-echo", "feed-tls")
        )
    )


def state_bytes(project: Project) -> str:
    """Every file of the state folder (database, WAL, shared memory) as text."""
    folder = project.root / "state"
    return "\n".join(
        p.read_bytes().decode("latin-1") for p in sorted(folder.iterdir()) if p.is_file()
    )


def test_no_form_of_any_secret_in_any_output(project: Project, tmp_path: Path) -> None:
    secrets = project.root / "secrets"
    secrets.mkdir()
    (secrets / "password").write_text(PASSWORD + "\n")
    (secrets / "token").write_text(TOKEN + "\n")  # the newline an editor leaves
    with (
        FaultProxy("http://127.0.0.1:9/") as server,
        FaultProxy("http://127.0.0.1:9/") as elsewhere,
        untrusted_tls_server() as tls_port,
    ):
        server.tamper = lambda seen: echo(seen, elsewhere.url)
        elsewhere.tamper = echo
        env = {
            "ECHO_FEED_URL": f"{server.url}feed/{FEED_TOKEN}.ics?key={FEED_TOKEN}",
            "TLS_FEED_URL": f"https://127.0.0.1:{tls_port}/cal.ics?token={TLS_TOKEN}",
        }
        project.write_rules(rules(server.url))
        outputs: list[str] = []
        check = calsyncd(project, "check", env=env)
        assert check.returncode == 0, check.output
        plan = calsyncd(project, "plan", "--json", env=env)
        sync = calsyncd(project, "sync", env=env)
        status = calsyncd(project, "status", "--json", env=env)
        for done in (check, plan, sync, status):
            assert_no_traceback(done.output)
            outputs.append(done.output)
        assert sync.returncode == 1
        # Every rule failed, each for its reason (the test is not vacuous) …
        assert "dav-basic: failed:" in sync.stdout
        assert "401" in sync.stdout
        assert "dav-bearer: failed:" in sync.stdout
        assert "500" in sync.stdout
        assert "feed-echo: failed:" in sync.stdout
        assert "403" in sync.stdout
        assert "feed-tls: failed:" in sync.stdout
        assert "CERTIFICATE_VERIFY_FAILED" in sync.stdout
        assert "dav-moved: failed:" in sync.stdout
        # … the server did receive the credentials it echoed, and the origin a redirect
        # pointed at was asked without them.
        sent = {s.headers.get("Authorization", "") for s in server.seen}
        assert {f"Basic {BASIC}", f"Bearer {TOKEN}"} <= sent
        assert any(s.path.startswith("/moved/") for s in elsewhere.seen)
        assert not [s for s in elsewhere.seen if "Authorization" in s.headers]

        with hostile_daemon(project, **env) as running:
            daemon = running.daemon
            daemon.wait_ready(timeout=20)
            endpoints = [daemon.get(p).text for p in ("/status", "/metrics", "/readyz")]
            running.stop(within=5)
        outputs += [daemon.text, *endpoints, state_bytes(project)]
    leaked = grep(outputs, ALL_FORMS)
    report(
        "secrets in every output",
        forms_searched=len(ALL_FORMS),
        outputs_searched=len(outputs),
        requests_echoed=len(server.seen),
        leaked=len(leaked),
        **running.figures,
    )
    assert leaked == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("tok\u00e9n-value-9Zq", "non-ASCII characters, which an HTTP header cannot carry"),
        ("first-line-Zq9\nsecond-line", "a line break or control character"),
    ],
)
def test_a_token_that_cannot_be_sent_is_a_clear_check_error(
    project: Project, content: str, expected: str
) -> None:
    secrets = project.root / "secrets"
    secrets.mkdir()
    (secrets / "token").write_text(content)
    project.write_rules(
        "  dav: {type: caldav, url: 'http://127.0.0.1:9/', token: '${file:../secrets/token}'}\n"
        "rules:\n"
        "  - name: r\n"
        "    source: {connection: dav, calendar: court}\n"
        "    target: {connection: loc, calendar: out}\n"
    )
    for command in ("check", "sync"):
        done = calsyncd(project, command)
        assert done.returncode == 1
        assert_no_traceback(done.output)
        assert "rules.yaml:3:58: connections.dav.token: " in done.stderr
        assert expected in done.stderr
        assert "(the value of ${file:../secrets/token})" in done.stderr
        assert grep([done.output], forms(content) | set(content.splitlines())) == []
    report("unsendable token", exit=done.returncode, seconds=round(done.seconds, 2))


@pytest.mark.parametrize("spelling", ["file", "credential"])
def test_a_key_file_given_as_a_reference_is_the_file(
    project: Project, google: GoogleSetup, spelling: str
) -> None:
    key = google.key_file.read_text()
    private_key = key.split('"private_key": "', 1)[1].split('"', 1)[0]
    env = {}
    if spelling == "file":
        reference = f"${{file:{google.key_file}}}"
    else:
        reference = "${credential:google-key}"
        env["CREDENTIALS_DIRECTORY"] = str(google.key_file.parent)
        google.key_file.rename(google.key_file.parent / "google-key")
    project.write_rules(
        f"  work: {{type: google, credentials: '{reference}', subject: {google.subject},"
        f" base_url: '{google.emulator.base_url}', auth_url: '{google.emulator.token_url}'}}\n"
        "rules:\n"
        "  - name: g\n"
        f"    source: {{connection: work, calendar: '{google.calendar_id}'}}\n"
        "    target: {connection: loc, calendar: out}\n"
    )
    outputs = [calsyncd(project, command, env=env) for command in ("check", "sync")]
    assert [done.returncode for done in outputs] == [0, 0], outputs
    assert "g: ok:" in outputs[1].stdout
    # The key is read as a key: nothing of it, and no "cannot read credentials", anywhere.
    text = "\n".join(done.output for done in outputs)
    assert "cannot read credentials" not in text
    assert private_key[:60] not in text
    assert "BEGIN PRIVATE KEY" not in text
    report(f"key file as ${{{spelling}:}}", exit=0, seconds=round(outputs[1].seconds, 2))
