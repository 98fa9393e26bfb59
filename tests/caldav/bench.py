"""CalDAV benchmark: the servers' raw create rate, and calsyncd's cycles on 10,000 events.

Run from ``tests/``: ``../.venv/bin/python -m caldav.bench [--events N] [--puts N]``. Prints
the figures docs/benchmarks.md records. Servers run with stock settings in a temp folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx

from caldav.helpers import Recorder, client
from caldav.project import PASSWORD_ENV, make_project
from caldav.servers import KINDS, PASSWORD, DavServer, Kind, prefill, start
from caldav.test_noop_10k import RULE, copy_of, file_name, original
from calsyncd.config import load_config
from calsyncd.model.ical import serialize_object
from calsyncd.providers.registry import open_calendar
from calsyncd.state.store import StateStore
from calsyncd.sync.service import SyncService


def raw_put_rate(kind: Kind, folder: Path, count: int) -> float:
    """Sequential ``If-None-Match: *`` PUTs per second into a new calendar."""
    server = start(kind, folder)
    try:
        path = server.make_calendar("raw")
        bodies = [serialize_object(original(n)) for n in range(count)]
        with server.client() as http:
            started = time.perf_counter()
            for n, body in enumerate(bodies):
                answer = http.put(
                    f"{path}{n}.ics",
                    content=body,
                    headers={"If-None-Match": "*", "Content-Type": "text/calendar"},
                )
                assert answer.status_code == 201, answer.status_code
            return count / (time.perf_counter() - started)
    finally:
        server.stop()


def big_servers(folder: Path, events: int) -> tuple[DavServer, DavServer]:
    originals = [original(n) for n in range(events)]
    calendars = {
        "radicale": {file_name(o): serialize_object(o) for o in originals},
        "xandikos": {file_name(o): serialize_object(copy_of(o)) for o in originals},
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [pool.submit(prefill, k, folder / k, "big", f) for k, f in calendars.items()]
        for job in jobs:
            job.result()
    return start("radicale", folder / "radicale"), start("xandikos", folder / "xandikos")


async def cycles(folder: Path, radicale: DavServer, xandikos: DavServer, noops: int) -> None:
    project = make_project(folder / "project", radicale, xandikos)
    project.write_rules(RULE)
    os.environ[PASSWORD_ENV] = PASSWORD
    config = load_config(project.config)
    project.state.parent.mkdir(parents=True)
    store = StateStore.open(project.state)
    recorder = Recorder()
    try:
        async with client(recorder) as http:
            service = SyncService(config.connections, store, http)
            rule = config.rules["big"]
            started = time.perf_counter()
            await service.cycle(rule)
            print(f"first cycle (full listings, adopt all): {time.perf_counter() - started:.1f} s")
            timings = []
            for _ in range(noops):
                recorder.clear()
                started = time.perf_counter()
                result = await service.cycle(rule)
                timings.append(time.perf_counter() - started)
                assert result.ok, result.error
            print(
                f"no-op cycle: median {statistics.median(timings):.3f} s, "
                f"min {min(timings):.3f} s, max {max(timings):.3f} s over {noops}; "
                f"requests per no-op cycle: {dict(recorder.counts())}"
            )
            await per_side(http, store, config.connections, rule, noops)
    finally:
        store.close()


async def per_side(
    http: httpx.AsyncClient, store: StateStore, connections: Any, rule: Any, rounds: int
) -> None:
    """How long each side's quiet listing (one ctag PROPFIND) takes alone."""
    cursors = store.cursors(rule.name)
    for side, endpoint in (("source", rule.source), ("target", rule.target)):
        calendar = open_calendar(
            endpoint.connection, connections[endpoint.connection], endpoint, http=http
        )
        timings = []
        for _ in range(rounds):
            started = time.perf_counter()
            changes = await calendar.list_changes(cursors[side])
            timings.append(time.perf_counter() - started)
            assert not changes.full
            assert not changes.items
        name = connections[endpoint.connection].url
        print(f"{side} ({name}): quiet listing median {statistics.median(timings) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--puts", type=int, default=300)
    parser.add_argument("--noops", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calsyncd-bench-") as tmp:
        root = Path(tmp)
        for kind in KINDS:
            rate = raw_put_rate(kind, root / f"raw-{kind}", args.puts)
            print(f"{kind}: raw create rate {rate:.0f}/s ({args.puts} sequential PUTs)")
        started = time.perf_counter()
        radicale, xandikos = big_servers(root / "big", args.events)
        print(f"prefill {args.events} + {args.events}: {time.perf_counter() - started:.1f} s")
        try:
            anyio.run(cycles, root / "big", radicale, xandikos, args.noops)
        finally:
            radicale.stop()
            xandikos.stop()
    print(f"cpus: {os.cpu_count()}; httpx {httpx.__version__}")


if __name__ == "__main__":
    main()
