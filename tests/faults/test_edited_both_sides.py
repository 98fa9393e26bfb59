"""The same event edited on both sides during a cycle, under each conflict policy.

Five two-way rules — ``source-wins``, ``target-wins``, ``newest-wins``, ``merge``,
``manual`` — each sync a pair of Radicale calendars reached through a :class:`FaultProxy`.
In every rule two events race:

- **forward**: the original's title is edited; while calsyncd writes that edit to the copy,
  another client edits the copy's location (later) — just before calsyncd's ``PUT`` reaches
  the server, so its ``If-Match`` fails with 412;
- **backward**: the copy's description is edited; while calsyncd writes it back to the
  original, another client edits the original's title (later) — 412 again.

Nothing is overwritten blindly: the next cycle sees both edits and does what the policy says
(``merge`` keeps both, ``newest-wins`` the later one, ``manual`` holds both until
``calsyncd resolve``). Every calendar still holds each event exactly once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial

from caldav.helpers import dump, href_of, put_at, seed
from caldav.servers import DavServer
from cli.conftest import Project

from calsyncd.model.event import CalendarObject
from faults.proxy import FaultProxy, Seen
from faults.support import (
    Stopwatch,
    assert_exactly_once,
    by_origin,
    dav_connection,
    report,
    simple_event,
    two_way,
    write_rules,
)

POLICIES = ("source-wins", "target-wins", "newest-wins", "merge", "manual")
EVENTS = 8
EARLIER = datetime(2026, 11, 20, 9, tzinfo=UTC)
LATER = EARLIER + timedelta(hours=1)
SOURCE_TITLE = "Title edited on the source"
TARGET_LOCATION = "Location edited on the target"
TARGET_DESCRIPTION = "Description edited on the target"

OUTCOME = {
    # policy: (forward race, backward race) — whose version both sides end with
    "source-wins": ("source", "source"),
    "target-wins": ("target", "target"),
    "newest-wins": ("target", "source"),  # the edit made during the cycle is the later one
    "merge": ("both", "both"),
    "manual": ("held", "held"),
}


def edited(obj: CalendarObject, when: datetime, **fields: object) -> CalendarObject:
    assert obj.master is not None
    return replace(obj, master=replace(obj.master, last_modified=when, **fields))  # type: ignore[arg-type]


def fields(obj: CalendarObject) -> tuple[str | None, str | None, str | None]:
    event = obj.first
    return event.title, event.location, event.description


class Races:
    """Edits to make on the server the moment calsyncd's conditional ``PUT`` of an href
    arrives at the proxy (before it is forwarded)."""

    def __init__(self) -> None:
        self.armed: dict[str, Callable[[], None]] = {}
        self.fired: list[str] = []
        self._lock = threading.Lock()

    def arm(self, href: str, edit: Callable[[], None]) -> None:
        self.armed[href] = edit

    def __call__(self, request: Seen) -> None:
        if request.method != "PUT" or "if-match" not in {k.lower() for k in request.headers}:
            return
        with self._lock:
            edit = self.armed.pop(request.path, None)
            if edit is not None:
                edit()
                self.fired.append(request.path)


@dataclass
class Pair:
    """One rule's two calendars and its two racing events."""

    policy: str
    source: str
    target: str
    originals: dict[str, CalendarObject]

    @property
    def forward(self) -> str:
        return f"{self.policy}-0@race.example"

    @property
    def backward(self) -> str:
        return f"{self.policy}-1@race.example"

    def sides(self, server: DavServer) -> dict[str, dict[str, CalendarObject]]:
        return {"source": dump(server, self.source), "target": dump(server, self.target)}

    def race(self, server: DavServer, races: Races) -> None:
        """Make the first edit of both races now; arm the second."""
        sides = self.sides(server)
        for uid, first, second, change, later_change in (
            (self.forward, "source", "target", {"title": SOURCE_TITLE},
             {"location": TARGET_LOCATION}),
            (self.backward, "target", "source", {"description": TARGET_DESCRIPTION},
             {"title": SOURCE_TITLE}),
        ):  # fmt: skip
            href = href_of(sides[first], uid)
            put_at(server, href, edited(sides[first][href], EARLIER, **change))
            other = href_of(sides[second], uid)
            racing = edited(sides[second][other], LATER, **later_change)
            races.arm(other, partial(put_at, server, other, racing))

    def versions(self, uid: str) -> dict[str, tuple[str | None, ...]]:
        """The fields each outcome leaves for the race of ``uid``."""
        title, location, description = fields(self.originals[uid])
        if uid == self.forward:
            return {
                "source": (SOURCE_TITLE, location, description),
                "target": (title, TARGET_LOCATION, description),
                "both": (SOURCE_TITLE, TARGET_LOCATION, description),
            }
        return {
            "source": (SOURCE_TITLE, location, description),
            "target": (title, location, TARGET_DESCRIPTION),
            "both": (SOURCE_TITLE, location, TARGET_DESCRIPTION),
        }

    def check(self, server: DavServer) -> dict[str, int]:
        """Each event once on each side; the races ended as the policy says, the rest
        untouched. The duplicates/lost figures."""
        sides = self.sides(server)
        figures = assert_exactly_once(
            {side: objects.values() for side, objects in sides.items()}, self.originals
        )
        source, target = (by_origin(sides[s].values()) for s in ("source", "target"))
        for uid, outcome in zip((self.forward, self.backward), OUTCOME[self.policy], strict=True):
            versions = self.versions(uid)
            if outcome == "held":
                assert fields(source[uid]) == versions["source"], uid
                assert fields(target[uid]) == versions["target"], uid
            else:
                assert fields(source[uid]) == fields(target[uid]) == versions[outcome], uid
        for uid, original in self.originals.items():
            if uid not in (self.forward, self.backward):
                assert fields(source[uid]) == fields(target[uid]) == fields(original), uid
        return figures


def test_an_event_edited_on_both_sides_during_a_cycle(
    project: Project, radicale_server: DavServer
) -> None:
    clock = Stopwatch()
    server = radicale_server
    pairs = []
    for policy in POLICIES:
        originals = [
            edited(simple_event(f"{policy}-{n}@race.example", n), EARLIER - timedelta(days=1))
            for n in range(EVENTS)
        ]
        pair = Pair(policy, server.make_calendar(), server.make_calendar(),
                    {o.uid: o for o in originals})  # fmt: skip
        seed(server, pair.source, originals)
        pairs.append(pair)
    races = Races()
    with FaultProxy(server.url) as proxy:
        proxy.before = races
        write_rules(
            project,
            [dav_connection("rad", server, proxy.url)],
            [two_way(p.policy, f"rad:{p.source}", f"rad:{p.target}", conflict=p.policy)
             for p in pairs],
        )  # fmt: skip
        project.run("sync")
        for pair in pairs:
            pair.race(server, races)
        project.run("sync", check=None)  # the cycle the other client races
        assert not races.armed, races.armed
        lost_races = proxy.statuses("PUT")[412]
        assert lost_races == len(races.fired) == 2 * len(POLICIES)
        project.run("sync", check=None)  # the next cycle does what the policies say
        quiet = project.run("sync", check=None).stdout
        for policy in POLICIES:
            assert f"{policy}: ok: 0 created, 0 updated, 0 deleted" in quiet, quiet
        figures = [pair.check(server) for pair in pairs]

        # The manual rule holds both races until told; taking the target's version settles.
        held = project.run_json("conflicts")["conflicts"]
        assert sorted(c["rule"] for c in held) == ["manual", "manual"], held
        for conflict in held:
            project.run("resolve", "manual", conflict["item"], "--take", "target")
        assert project.run_json("conflicts") == {"conflicts": []}
    manual = pairs[-1]
    sides = manual.sides(server)
    assert_exactly_once({s: objects.values() for s, objects in sides.items()}, manual.originals)
    source, target = (by_origin(sides[s].values()) for s in ("source", "target"))
    for uid in (manual.forward, manual.backward):
        assert fields(source[uid]) == fields(target[uid]) == manual.versions(uid)["target"], uid
    report(
        "edited-on-both-sides",
        policies=len(POLICIES),
        races=len(races.fired),
        writes_refused_412=lost_races,
        conflicts_held=len(held),
        duplicates=sum(f["duplicates"] for f in figures),
        lost=sum(f["lost"] for f in figures),
        time=clock,
    )
