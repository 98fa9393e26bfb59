"""Credentials: the installed-app flow of ``calsyncd auth google`` (token file 0600), user
token files and service accounts against the emulator's token endpoint, and no secret in
any log line."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import structlog
from cli.conftest import Project
from conformance import samples
from emulators.fixtures import FAST_RETRY, USER, GoogleSetup, rsa_key, write_json
from google_helpers import write_rules

from calsyncd.cli import main
from calsyncd.errors import AuthError
from calsyncd.model.ical import serialize_object
from calsyncd.providers.google import GoogleCalendar, GoogleClient
from calsyncd.providers.google import client as google_client

pytestmark = pytest.mark.anyio

PUBLISH = f"""
rules:
  - name: publish
    source: {{connection: loc, calendar: src}}
    target: {{connection: gcal, calendar: {USER}}}
    window: {{past: 3650d, future: 3650d}}
"""


@pytest.fixture(autouse=True)
def fresh_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def user_calendar(
    google: GoogleSetup, token_file: Path, auth_url: str | None = None
) -> GoogleCalendar:
    client = GoogleClient(
        token_file,
        where="test/user",
        base_url=google.emulator.base_url,
        auth_url=auth_url,
        retry=FAST_RETRY,
    )
    return GoogleCalendar(client, "primary", where="test/user")


def test_auth_command_writes_a_private_token_file_that_works(
    google: GoogleSetup, tmp_path: Path
) -> None:
    secrets_file = write_json(tmp_path / "client.json", google.emulator.oauth_client())
    token_file = tmp_path / "token.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OAUTHLIB_INSECURE_TRANSPORT": "1"}
    env = {k: v for k, v in env.items() if not k.lower().endswith("_proxy")}
    command = [sys.executable, "-m", "calsyncd", "auth", "google"]
    command += ["--client-secrets", str(secrets_file), "--token", str(token_file), "--no-browser"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stdout is not None
        url = ""
        for line in process.stdout:
            if line.startswith("http://"):
                url = line.strip()
                break
        assert url.startswith(google.emulator.url("/o/oauth2/auth?")), url
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=30) as answer:  # the user consents; the redirect lands
            assert answer.status == 200
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "wrote" in out
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    info = json.loads(token_file.read_text())
    assert info["type"] == "authorized_user"
    assert info["refresh_token"] in google.emulator.oauth.issued
    assert "token" not in info  # no access token at rest

    async def listing() -> int:
        async with user_calendar(google, token_file) as calendar:
            return len((await calendar.list_changes(None)).items)

    assert anyio.run(listing) == 0


async def test_user_token_file_uses_auth_url_not_googles_endpoint(
    google: GoogleSetup, tmp_path: Path
) -> None:
    info = google.emulator.user_token(USER)
    info["token_uri"] = "https://oauth2.googleapis.com/token"  # what the file says …
    token_file = write_json(tmp_path / "token.json", info)
    calendar = user_calendar(google, token_file, auth_url=google.emulator.token_url)  # … beaten
    async with calendar:
        assert (await calendar.list_changes(None)).full
    assert google.emulator.count("token", status=200) == 1


async def test_user_token_file_token_uri_is_honoured(google: GoogleSetup, tmp_path: Path) -> None:
    token_file = write_json(tmp_path / "token.json", google.emulator.user_token(USER))
    async with user_calendar(google, token_file) as calendar:
        await calendar.create(samples.single("u-1@auth.example"), "csauthuser01")
    assert google.emulator.count("token", status=200) == 1


async def test_service_account_acts_as_the_subject(google: GoogleSetup) -> None:
    async with google.calendar("primary") as calendar:
        item = await calendar.create(samples.single("sa-1@auth.example"), "csauthsa0001")
    assert item.id in google.emulator.store.calendar(USER).events
    assert google.emulator.store.calendar(USER).events[item.id].data["creator"] == {"email": USER}


async def test_service_account_auth_url_overrides_token_uri(
    google: GoogleSetup, tmp_path: Path
) -> None:
    info = google.emulator.service_account(key=rsa_key())
    info["token_uri"] = "http://127.0.0.1:9/nowhere"
    key_file = write_json(tmp_path / "elsewhere.json", info)
    client = GoogleClient(
        key_file,
        where="t",
        subject=USER,
        base_url=google.emulator.base_url,
        auth_url=google.emulator.token_url,
        retry=FAST_RETRY,
    )
    async with GoogleCalendar(client, USER, where="t") as calendar:
        assert (await calendar.list_changes(None)).full


async def test_an_expired_access_token_is_refreshed_once(google: GoogleSetup) -> None:
    async with google.calendar() as calendar:
        await calendar.list_changes(None)
        google.emulator.oauth.expire_access_tokens()
        await calendar.list_changes(None)
    assert google.emulator.count("token", status=200) == 2
    assert google.emulator.count("events.list", status=401) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('{"type": "external_account"}', "not a service-account key"),
        ('{"type": "service_account", "client_email": "x@y"}', "invalid service_account"),
    ],
)
async def test_unusable_credentials_are_an_auth_error(
    google: GoogleSetup, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "creds.json"
    path.write_text(content)
    client = GoogleClient(path, where="t", base_url=google.emulator.base_url, retry=FAST_RETRY)
    async with GoogleCalendar(client, USER, where="t") as calendar:
        with pytest.raises(AuthError, match=message):
            await calendar.list_changes(None)


async def test_a_revoked_refresh_token_is_an_auth_error(
    google: GoogleSetup, tmp_path: Path
) -> None:
    info = google.emulator.user_token(USER)
    info["refresh_token"] = "1//revoked"
    async with user_calendar(google, write_json(tmp_path / "t.json", info)) as calendar:
        with pytest.raises(AuthError, match="invalid_grant"):
            await calendar.list_changes(None)


def test_no_secret_or_token_reaches_the_logs(
    project: Project,
    google: GoogleSetup,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cycle with debug logging everywhere, a token refresh and retried faults: neither the
    private key, the refresh token, the client secret nor any access token is in the output."""
    monkeypatch.setattr(google_client, "DEFAULT_RETRY", FAST_RETRY)
    (project.root / "config" / "calsyncd.yaml").write_text(
        "rules: ../rules\nstate: ../state/calsyncd.db\nhealth: {listen: ''}\n"
        "log: {level: debug, format: json}\n"
    )
    user_file = write_json(project.root / "user-token.json", google.emulator.user_token(USER))
    folder = project.calendar("src")
    folder.mkdir(parents=True)
    for n in range(5):
        obj = samples.single(f"log-{n}@secrets.example", title=f"#{n}")
        (folder / f"e{n}.ics").write_bytes(serialize_object(obj))
    user_connection = (
        "  guser:\n    type: google\n"
        f"    credentials: {user_file}\n"
        f"    base_url: {google.emulator.base_url}\n"
        f"    auth_url: {google.emulator.token_url}\n"
    )
    second = PUBLISH.replace("rules:\n", "").replace("publish", "publish-user")
    write_rules(project, google, PUBLISH + second.replace("gcal", "guser"), user_connection)
    google.emulator.fail_next("429", "500", "403-rate", "drop")
    for name in ("", "calsyncd", "google", "googleapiclient", "google_auth_httplib2", "httplib2"):
        caplog.set_level(logging.DEBUG, logger=name)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main(["--config", str(project.config), "sync", "--rule", "publish"])
        google.emulator.oauth.expire_access_tokens()
        main(["--config", str(project.config), "sync", "--rule", "publish-user"])
    logs = "\n".join([out.getvalue(), err.getvalue(), caplog.text])
    assert "google request retried" in logs  # the logs did record the cycle
    key = json.loads(google.key_file.read_text())["private_key"]
    user = json.loads(user_file.read_text())
    secrets = [*google.emulator.oauth.issued, user["refresh_token"], user["client_secret"]]
    secrets += [line for line in key.splitlines() if "PRIVATE KEY" not in line]
    assert google.emulator.oauth.issued
    leaked = [s for s in secrets if s in logs]
    assert not leaked
