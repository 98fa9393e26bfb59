"""The test hooks of the in-memory provider (its protocol is checked by the conformance suite,
``tests/conformance/test_memory.py``)."""

from __future__ import annotations

import anyio
import pytest

from calsyncd.errors import MalformedObject, NotFound, PreconditionFailed, TemporaryError
from sync.helpers import edit, event
from sync.memory import Killed, MemoryCalendar, MemoryServer, Op

pytestmark = pytest.mark.anyio


async def test_fail_next_counts_and_kinds() -> None:
    calendar = MemoryCalendar(name="m")
    server = calendar.server
    item = await calendar.create(event("a@x"), "k1")
    server.fail_next(2, "temporary")
    for _ in range(2):
        with pytest.raises(TemporaryError):
            await calendar.update(item.id, edit(item.obj, title="x"), item.etag)
    server.fail_next(1, "precondition")
    made = await calendar.create(event("b@x"), "k2")  # creates are not refused for etags
    with pytest.raises(PreconditionFailed):
        await calendar.delete(made.id, made.etag)
    await calendar.delete(made.id, made.etag)
    assert server.fired == 3
    assert [w.op for w in server.writes] == ["create", "create", "delete"]


async def test_before_next_write_makes_the_write_lose_a_real_race() -> None:
    calendar = MemoryCalendar(name="m")
    server = calendar.server
    item = await calendar.create(event("a@x"), "k1")
    seen: list[tuple[Op, str | None]] = []

    def edit_first(op: Op, item_id: str | None) -> None:
        seen.append((op, item_id))
        assert item_id is not None
        server.put(item_id, edit(server.item(item_id).obj, title="theirs"))

    server.before_next_write(edit_first)
    with pytest.raises(PreconditionFailed):
        await calendar.update(item.id, edit(item.obj, title="ours"), item.etag)
    assert seen == [("update", item.id)]
    assert server.item(item.id).obj.first.title == "theirs"


async def test_kill_after_the_nth_write_lands_the_write() -> None:
    calendar = MemoryCalendar(name="m")
    calendar.server.kill_after(2)
    await calendar.create(event("a@x"), "k1")
    with pytest.raises(Killed):
        await calendar.create(event("b@x"), "k2")
    assert sorted(i.obj.uid for i in calendar.server.items()) == ["a@x", "b@x"]
    await calendar.create(event("c@x"), "k3")  # one kill only


async def test_cursor_reports_only_what_its_holder_could_know() -> None:
    server = MemoryServer("m")
    calendar = MemoryCalendar(server)
    kept = server.add(event("kept@x"))
    gone = server.add(event("gone@x"))
    cursor = (await calendar.list_changes(None)).cursor
    server.remove(gone.id)
    brief = server.add(event("brief@x"))
    server.remove(brief.id)  # made and removed after the cursor: never reported
    server.touch(kept.id)
    changes = await calendar.list_changes(cursor)
    assert not changes.full
    assert [i.id for i in changes.items] == [kept.id]
    assert changes.deleted == [gone.id]
    server.expire_cursors()
    assert (await calendar.list_changes(changes.cursor)).full


async def test_idempotent_create_writes_nothing_and_key_is_reusable_after_delete() -> None:
    calendar = MemoryCalendar(name="m")
    first = await calendar.create(event("a@x"), "k1")
    again = await calendar.create(event("a@x", "different"), "k1")
    assert again == first
    assert [w.made for w in calendar.server.writes] == [True, False]
    await calendar.delete(first.id, first.etag)
    remade = await calendar.create(event("a@x", "new"), "k1")
    assert remade.obj.first.title == "new"
    assert remade.etag != first.etag


async def test_malformed_and_missing() -> None:
    calendar = MemoryCalendar(name="m")
    calendar.server.add_malformed("bad.ics", "bad.ics: broken")
    listing = await calendar.list_changes(None)
    assert [s.id for s in listing.skipped] == ["bad.ics"]
    with pytest.raises(MalformedObject):
        await calendar.get("bad.ics")
    with pytest.raises(NotFound):
        await calendar.get("nope.ics")


async def test_concurrent_writes_interleave() -> None:
    calendar = MemoryCalendar(name="m")
    order: list[str] = []

    async def make(n: int) -> None:
        order.append(f"start {n}")
        await calendar.create(event(f"{n}@x"), f"k{n}")
        order.append(f"end {n}")

    async with anyio.create_task_group() as tasks:
        for n in range(2):
            tasks.start_soon(make, n)
    assert order[:2] == ["start 0", "start 1"]
