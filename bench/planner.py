"""Planner alone, in memory: how long planning takes and how much memory it needs.

Scenarios, each at several calendar sizes:

- ``initial``: N new originals, nothing synced yet — the plan creates N copies.
- ``full-relist``: N synced pairs, both sides listed in full with nothing changed (what a
  restart without cursors or a provider without sync tokens costs) — the plan is empty.
- ``ten-edits``: N synced pairs, an incremental listing with 10 edited originals.

Time is the median of several runs (``time.perf_counter``); memory is the peak of Python
allocations during one planning run (``tracemalloc``), inputs excluded.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calsyncd.model.event import CalendarObject, Event, Marker
from calsyncd.model.hashing import content_hash
from calsyncd.model.ical import serialize_object
from calsyncd.providers.base import Item, Window
from calsyncd.state.store import PairRecord
from calsyncd.sync.keys import copy_key
from calsyncd.sync.mapping import FieldMapping, derive
from calsyncd.sync.planner import PlanInput, Policy, SideView, plan

ZONE = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
WINDOW = Window(NOW - timedelta(days=30), NOW + timedelta(days=365))
POLICY = Policy(rule="bench", two_way=False, forward=FieldMapping(), reverse=FieldMapping())


def originals(n: int) -> list[Item]:
    items = []
    for i in range(n):
        start = datetime(2026, 12, 1, 9, tzinfo=ZONE) + timedelta(hours=i % 5000)
        event = Event(
            start=start,
            end=start + timedelta(hours=1),
            title=f"Event {i}",
            description="A description long enough to be realistic. " * 3,
            location="Room 4.12",
            categories=("Court Date",),
        )
        items.append(Item(f"e{i}.ics", f"etag-{i}", CalendarObject(uid=f"uid-{i}", master=event)))
    return items


def synced(items: list[Item]) -> tuple[dict[str, PairRecord], list[Item]]:
    """Pairs as a successful first cycle leaves them, and the copies on the target."""
    pairs: dict[str, PairRecord] = {}
    copies: list[Item] = []
    for item in items:
        key = copy_key("bench", "source", item.obj.uid)
        copy = derive(
            item.obj, POLICY.forward, marker=Marker("bench", item.obj.uid, key), calendar=""
        )
        copy_item = Item(f"{key}.ics", f"c-{item.etag}", copy)
        copies.append(copy_item)
        source_hash = content_hash(item.obj)
        copy_hash = content_hash(copy)
        pairs[key] = PairRecord(
            key=key,
            origin="source",
            origin_uid=item.obj.uid,
            source_id=item.id,
            source_etag=item.etag,
            source_hash=source_hash,
            source_base=serialize_object(item.obj).decode(),
            target_id=copy_item.id,
            target_etag=copy_item.etag,
            target_hash=copy_hash,
            target_base=serialize_object(copy).decode(),
            written_hash=copy_hash,
        )
    return pairs, copies


def scenario_inputs(name: str, n: int) -> PlanInput:
    items = originals(n)
    if name == "initial":
        return PlanInput(
            POLICY,
            WINDOW,
            SideView({i.id: i for i in items}, full=True),
            SideView(full=True),
            pairs={},
            pair_count=0,
        )
    pairs, copies = synced(items)
    if name == "full-relist":
        return PlanInput(
            POLICY,
            WINDOW,
            SideView({i.id: i for i in items}, full=True),
            SideView({c.id: c for c in copies}, full=True),
            pairs=pairs,
            pair_count=n,
        )
    edited = {}
    for item in items[:10]:
        master = item.obj.master
        assert master is not None
        obj = replace(item.obj, master=replace(master, title=f"{master.title} (moved)"))
        edited[item.id] = Item(item.id, item.etag + "-2", obj)
    touched = {k: p for k, p in pairs.items() if p.source_id in edited}
    return PlanInput(POLICY, WINDOW, SideView(edited), SideView(), pairs=touched, pair_count=n)


def measure(run: Callable[[], Any], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20


def main(sizes: tuple[int, ...] = (10_000, 100_000)) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        for name in ("initial", "full-relist", "ten-edits"):
            given = scenario_inputs(name, n)
            repeat = 3 if n <= 10_000 else 1
            seconds, mib = measure(lambda given=given: plan(given), repeat)
            steps = len(plan(given).steps)
            rows.append(
                {
                    "scenario": name,
                    "events": n,
                    "seconds": round(seconds, 4),
                    "peak_mib": round(mib, 1),
                    "steps": steps,
                }
            )
            line = (
                f"| {name:12} | {n:>7} | {seconds * 1000:>8.1f} ms | {mib:>6.1f} MiB | {steps:>7} |"
            )
            print(line, flush=True)
    return rows
