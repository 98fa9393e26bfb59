"""Whole sync cycles (the CLI's ``sync``, in process) against the emulator: faults, an expired
sync token, a no-op cycle on a 10,000-event calendar."""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import structlog
from cli.conftest import Project
from emulators.fixtures import FAST_RETRY, USER, GoogleSetup
from emulators.google import Faults, foreign
from google_helpers import WRITES, read_google, stored_events, view, write_rules

from calsyncd.cli import main
from calsyncd.model.event import CalendarObject, Event, ShowAs, Status
from calsyncd.model.ical import serialize_object
from calsyncd.providers.google import client as google_client

ZONES = [ZoneInfo(z) for z in ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC")]

LOCAL_TO_GOOGLE = f"""
rules:
  - name: publish
    source: {{connection: loc, calendar: src}}
    target: {{connection: gcal, calendar: {USER}}}
    window: {{past: 3650d, future: 3650d}}
    fields: {{attendees: keep}}
"""

GOOGLE_TO_LOCAL = f"""
rules:
  - name: fetch
    source: {{connection: gcal, calendar: {USER}}}
    target: {{connection: loc, calendar: mirror}}
    window: {{past: 3650d, future: 3650d}}
"""


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tiny guessed backoff (a server's ``Retry-After`` is still honoured); structlog as the
    test found it."""
    monkeypatch.setattr(google_client, "DEFAULT_RETRY", FAST_RETRY)
    yield
    structlog.reset_defaults()


def sync(project: Project, *args: str) -> tuple[int, str, str]:
    """``calsyncd sync`` in this process: ``(exit code, stdout, stderr)``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--config", str(project.config), "sync", *args])
    return code, out.getvalue(), err.getvalue()


def sample(n: int) -> CalendarObject:
    """Object ``n`` of a varied calendar: zoned and all-day singles, every 25th a series with
    a moved and a cancelled occurrence."""
    zone = ZONES[n % len(ZONES)]
    start = datetime(2030, 1, 1, 8, tzinfo=zone) + timedelta(days=n // 3, hours=n % 9)
    uid = f"evt-{n:04d}@load.example"
    if n % 25 == 0:
        master = Event(
            start=start,
            end=start + timedelta(hours=1),
            title=f"Series {n}",
            rrules=("FREQ=WEEKLY;COUNT=6",),
        )
        moved, gone = start + timedelta(weeks=1), start + timedelta(weeks=2)
        overrides = {
            moved: replace(
                master,
                recurrence_id=moved,
                start=moved + timedelta(hours=2),
                end=moved + timedelta(hours=3),
                title=f"Series {n} (moved)",
                rrules=(),
            ),
            gone: replace(
                master,
                recurrence_id=gone,
                start=gone,
                end=gone + timedelta(hours=1),
                status=Status.CANCELLED,
                rrules=(),
            ),
        }
        return CalendarObject(uid, master, overrides)
    if n % 7 == 0:
        day = date(2030, 1, 1) + timedelta(days=n)
        master = Event(
            start=day, end=day + timedelta(days=1), title=f"Day {n}", show_as=ShowAs.FREE
        )
        return CalendarObject(uid, master)
    master = Event(
        start=start,
        end=start + timedelta(minutes=30 + n % 90),
        title=f"Appointment {n}",
        location=f"Room {n % 17}",
        description=f"Case {n}\nsecond line",
        reminders=(timedelta(minutes=10),),
    )
    return CalendarObject(uid, master)


def api_operations(google: GoogleSetup) -> dict[str, int]:
    """Calendar API requests by operation (token requests left out: tokens are reused)."""
    return {k: v for k, v in google.emulator.operations().items() if k != "token"}


def other_event(n: int) -> CalendarObject:
    """An event someone else made in the Google calendar."""
    start = datetime(2030, 1, 1, 7, tzinfo=ZONES[n % 3]) + timedelta(hours=n)
    master = Event(start=start, end=start + timedelta(hours=1), title=f"Other {n}")
    return CalendarObject(f"other-{n}@elsewhere.example", master)


def put_local(project: Project, calendar: str, objects: list[CalendarObject]) -> None:
    folder = project.calendar(calendar)
    folder.mkdir(parents=True, exist_ok=True)
    for n, obj in enumerate(objects):
        (folder / f"o{n:05d}.ics").write_bytes(serialize_object(obj))


def test_a_thousand_events_converge_through_thirty_percent_faults(
    project: Project, google: GoogleSetup
) -> None:
    originals = [sample(n) for n in range(1000)]
    put_local(project, "src", originals)
    write_rules(project, google, LOCAL_TO_GOOGLE)
    google.emulator.faults = Faults(rate=0.3, seed=20300101)
    outputs = []
    for _ in range(6):
        _, out, _ = sync(project)
        outputs.append(out.strip())
        if "publish: ok: 0 created, 0 updated, 0 deleted" in out:
            break
    else:
        pytest.fail(f"no convergence: {outputs}")
    google.emulator.faults = Faults()
    faults = Counter(r.fault for r in google.emulator.requests if r.fault)
    assert set(faults) == {"429", "403-rate", "403-user", "500", "503", "drop", "drop-after"}
    live = {i: e for i, e in stored_events(google).items() if e["status"] != "cancelled"}
    masters = [e for e in live.values() if "recurringEventId" not in e]
    assert len(masters) == 1000  # no duplicate, no loss
    on_google = read_google(google)
    assert on_google.keys() == {o.uid for o in originals}
    keys = {item.obj.marker.key for item in on_google.values() if item.obj.marker}
    assert len(keys) == 1000
    for obj in originals:
        assert view(on_google[obj.uid].obj) == view(obj), obj.uid


def test_an_expired_sync_token_gives_one_full_listing_and_no_duplicate(
    project: Project, google: GoogleSetup
) -> None:
    store = google.emulator.store
    for n in range(30):
        foreign.seed(store, USER, sample(n))
    write_rules(project, google, GOOGLE_TO_LOCAL)
    assert sync(project)[0] == 0
    assert len(project.objects("mirror")) == 30
    foreign.seed(store, USER, sample(30))
    store.expire_sync_tokens(USER)
    google.emulator.reset_log()
    code, out, _ = sync(project)
    assert code == 0
    assert "fetch: ok: 1 created, 0 updated, 0 deleted" in out
    assert google.emulator.count("events.list") == 2  # the refused token, one full listing
    assert google.emulator.count("events.list", status=410) == 1
    uids = [o.marker.origin for o in project.objects("mirror").values() if o.marker]
    assert len(uids) == len(set(uids)) == 31


def test_a_no_op_cycle_on_ten_thousand_events_makes_one_list_request(
    project: Project, google: GoogleSetup
) -> None:
    """200 local originals copied to a Google calendar that holds 9,800 other events."""
    store = google.emulator.store
    for n in range(200, 10_000):
        foreign.seed(store, USER, other_event(n))
    put_local(project, "src", [sample(n) for n in range(200)])
    write_rules(project, google, LOCAL_TO_GOOGLE)
    code, out, _ = sync(project)
    assert (code, out.strip()) == (0, "publish: ok: 200 created, 0 updated, 0 deleted")
    assert len(stored_events(google)) == 10_000 + 8 * 2  # 8 series with 2 exceptions each
    google.emulator.reset_log()
    code, out, _ = sync(project)  # sees its own writes: each series is read whole once
    assert (code, out.strip()) == (0, "publish: ok: 0 created, 0 updated, 0 deleted")
    assert api_operations(google) == {"events.list": 1 + 8}
    google.emulator.reset_log()
    code, out, _ = sync(project)
    assert (code, out.strip()) == (0, "publish: ok: 0 created, 0 updated, 0 deleted")
    assert api_operations(google) == {"events.list": 1}
    (request,) = [r for r in google.emulator.requests if r.operation == "events.list"]
    assert "syncToken" in request.query
    assert not any(google.emulator.count(w) for w in WRITES)
