"""The ``local`` provider beyond the shared contract: cheap listings, file hygiene, races."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from conformance import samples
from conformance.backends import write_file
from conformance.contract import marked

from calsyncd.errors import CalendarNotFound, MalformedObject, NotFound
from calsyncd.model.ical import serialize_object
from calsyncd.providers import _files
from calsyncd.providers.local import LocalCalendar, file_name_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "cal"


def seed(folder: Path, count: int) -> list[str]:
    folder.mkdir(exist_ok=True)
    names = []
    for n in range(count):
        name = f"ev-{n}.ics"
        write_file(folder / name, serialize_object(samples.single(f"ev-{n}@x", title=f"#{n}")))
        names.append(name)
    return names


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file whose contents the provider reads."""
    seen: list[Path] = []
    real = _files.read_versioned

    def counting(path: Path) -> tuple[bytes, str]:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(_files, "read_versioned", counting)
    return seen


async def test_no_op_listing_reads_no_file(folder: Path, reads: list[Path]) -> None:
    seed(folder, 20)
    async with LocalCalendar(folder, where="t/local") as cal:
        full = await cal.list_changes(None)
        assert len(full.items) == 20
        assert len(reads) == 20
        reads.clear()
        quiet = await cal.list_changes(full.cursor)
        assert quiet.items == []
        assert quiet.deleted == []
        assert reads == []


async def test_cursor_listing_reads_only_changed_files(folder: Path, reads: list[Path]) -> None:
    names = seed(folder, 10)
    async with LocalCalendar(folder, where="t/local") as cal:
        full = await cal.list_changes(None)
        reads.clear()
        write_file(folder / names[3], serialize_object(samples.single("ev-3@x", title="new")))
        (folder / names[7]).unlink()
        changes = await cal.list_changes(full.cursor)
        assert reads == [folder / names[3]]
        assert [i.id for i in changes.items] == [names[3]]
        assert changes.deleted == [names[7]]


async def test_scan_and_parse_take_few_thread_hops(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(folder, 300)
    hops: list[str] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__name__", "?"))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    async with LocalCalendar(folder, where="t/local") as cal:
        full = await cal.list_changes(None)
        assert len(full.items) == 300
        assert hops == ["_scan", "_load_many", "_load_many"]  # 1 scan, 300 files in 2 batches
        hops.clear()
        await cal.list_changes(full.cursor)
        assert hops == ["_scan"]


async def test_temp_hidden_and_other_files_are_ignored(folder: Path) -> None:
    seed(folder, 1)
    data = serialize_object(samples.single("hidden@x"))
    for name in (
        ".hidden.ics",
        ".ev-9.ics.3f2a.tmp",
        "ev-9.ics.tmp",
        "notes.txt",
        "ev-9.ics~",
        ".ics",
    ):
        (folder / name).write_bytes(data)
    (folder / "sub.ics").mkdir()
    async with LocalCalendar(folder, where="t/local") as cal:
        changes = await cal.list_changes(None)
    assert [i.id for i in changes.items] == ["ev-0.ics"]
    assert changes.skipped == []


async def test_writes_leave_no_temp_files(folder: Path) -> None:
    async with LocalCalendar(folder, where="t/local") as cal:
        obj = marked(samples.single("tmp@x", title="a"), "key-tmp")
        item = await cal.create(obj, "key-tmp")
        item = await cal.update(item.id, obj, item.etag)
        await cal.create(marked(samples.single("tmp2@x"), "key-tmp2"), "key-tmp2")
        await cal.delete(item.id, item.etag)
    assert sorted(os.listdir(folder)) == ["key-tmp2.ics"]


async def test_concurrent_creates_race_to_one_file(folder: Path) -> None:
    folder.mkdir()
    ours = [marked(samples.single("race@x", title=f"writer {n}"), "key-race") for n in range(8)]
    results = []

    async def create(n: int) -> None:
        async with LocalCalendar(folder, where=f"t/local{n}") as cal:  # separate instances
            results.append(await cal.create(ours[n], "key-race"))

    async with anyio.create_task_group() as tg:
        for n in range(8):
            tg.start_soon(create, n)
    assert os.listdir(folder) == ["key-race.ics"]
    assert {(r.id, r.etag) for r in results} == {("key-race.ics", results[0].etag)}
    assert len({r.obj.master.title for r in results if r.obj.master}) == 1


async def test_create_with_existing_key_returns_it_unchanged(folder: Path) -> None:
    async with LocalCalendar(folder, where="t/local") as cal:
        first = await cal.create(marked(samples.single("a@x", title="first"), "k"), "k")
        again = await cal.create(marked(samples.single("a@x", title="second"), "k"), "k")
    assert again.id == first.id
    assert again.etag == first.etag
    assert again.obj.master is not None
    assert again.obj.master.title == "first"


@pytest.mark.parametrize(
    "key", ["../../etc/passwd", "with space", ".hidden", "a/b", "ü", "x" * 300]
)
def test_unsafe_keys_become_hashed_names(key: str) -> None:
    name = file_name_for(key)
    assert name.startswith("k-")
    assert name.endswith(".ics")
    assert "/" not in name
    assert len(name) < 100
    assert file_name_for(key) == name


def test_safe_keys_are_kept() -> None:
    assert file_name_for("rule-1.abc_DEF") == "rule-1.abc_DEF.ics"


@pytest.mark.parametrize("item_id", ["../x.ics", ".hidden.ics", "a/b.ics", "x.txt", ".ics"])
async def test_ids_outside_the_folder_are_not_found(folder: Path, item_id: str) -> None:
    async with LocalCalendar(folder, where="t/local") as cal:
        with pytest.raises(NotFound):
            await cal.get(item_id)
        with pytest.raises(NotFound):
            await cal.delete(item_id, "1-2-3")


async def test_missing_folder_lists_empty_and_is_made_by_the_first_create(folder: Path) -> None:
    """``if_missing="create"`` (the default): a listing makes nothing (a dry run or a cycle
    that fails later leaves no folder behind); the first object written makes the folder."""
    async with LocalCalendar(folder, where="t/local") as cal:
        changes = await cal.list_changes(None)
        assert changes.full
        assert changes.items == []
        assert not folder.exists()
        await cal.create(marked(samples.single("a@x"), "k"), "k")
    assert os.listdir(folder) == ["k.ics"]


async def test_missing_folder_is_an_error_naming_the_calendars_that_exist(tmp_path: Path) -> None:
    for name in ("work", "home", ".hidden"):
        (tmp_path / name).mkdir()
    (tmp_path / "notes.txt").write_text("x")
    async with LocalCalendar(tmp_path / "wrok", where="t/wrok", if_missing="error") as cal:
        message = f'no calendar folder "wrok" in {tmp_path}; did you mean "work"?'
        with pytest.raises(CalendarNotFound) as caught:
            await cal.list_changes(None)
        assert str(caught.value) == f't/wrok: {message} (calendars: "home", "work")'
        with pytest.raises(CalendarNotFound):
            await cal.create(samples.single("a@x"), "k")
    async with LocalCalendar(tmp_path / "x\ny", where="t/x", if_missing="error") as cal:
        with pytest.raises(CalendarNotFound, match=r'"x\\ny" in .*\(calendars: "home", "work"\)$'):
            await cal.list_changes(None)
    assert sorted(os.listdir(tmp_path)) == [".hidden", "home", "notes.txt", "work"]


async def test_identity_is_the_real_path(tmp_path: Path) -> None:
    (tmp_path / "cal").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "cal")
    one = LocalCalendar(tmp_path / "link", where="t/a")
    other = LocalCalendar(tmp_path / "x" / ".." / "cal", where="t/b")
    assert one.identity == other.identity == (tmp_path / "cal").resolve().as_uri()


async def test_missing_parent_is_calendar_not_found(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "cal"
    async with LocalCalendar(path, where="t/local") as cal:
        with pytest.raises(CalendarNotFound, match=r"t/local: .*nope/cal"):
            await cal.list_changes(None)
        with pytest.raises(CalendarNotFound):
            await cal.create(samples.single("a@x"), "k")
    assert not path.parent.exists()


async def test_folder_that_is_a_file_is_calendar_not_found(tmp_path: Path) -> None:
    (tmp_path / "cal").write_text("x")
    async with LocalCalendar(tmp_path / "cal", where="t/local") as cal:
        with pytest.raises(CalendarNotFound, match="not a folder"):
            await cal.list_changes(None)


async def test_malformed_file_is_reported_until_fixed_or_deleted(folder: Path) -> None:
    seed(folder, 1)
    (folder / "bad.ics").write_text("garbage")
    async with LocalCalendar(folder, where="t/local") as cal:
        full = await cal.list_changes(None)
        assert [s.id for s in full.skipped] == ["bad.ics"]
        assert str(folder / "bad.ics") in full.skipped[0].reason
        again = await cal.list_changes(full.cursor)
        assert [s.id for s in again.skipped] == ["bad.ics"]
        assert again.deleted == []
        with pytest.raises(MalformedObject):
            await cal.get("bad.ics")
        write_file(folder / "bad.ics", serialize_object(samples.single("fixed@x")))
        fixed = await cal.list_changes(again.cursor)
        assert [i.id for i in fixed.items] == ["bad.ics"]
        assert fixed.skipped == []
        (folder / "bad.ics").unlink()
        gone = await cal.list_changes(fixed.cursor)
        assert gone.deleted == ["bad.ics"]


async def test_file_vanishing_between_scan_and_read(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = seed(folder, 2)
    async with LocalCalendar(folder, where="t/local") as cal:
        full = await cal.list_changes(None)
        write_file(folder / names[0], serialize_object(samples.single("ev-0@x", title="changed")))
        real = _files.read_versioned

        def vanishing(path: Path) -> tuple[bytes, str]:
            path.unlink()
            return real(path)

        monkeypatch.setattr(_files, "read_versioned", vanishing)
        changes = await cal.list_changes(full.cursor)
        monkeypatch.undo()
        assert changes.items == []
        assert changes.deleted == [names[0]]
        assert await cal.list_changes(changes.cursor) == type(changes)([], changes.cursor, False)


async def test_cursor_of_another_folder_gives_full_listing(tmp_path: Path) -> None:
    seed(tmp_path / "a", 1)
    seed(tmp_path / "b", 1)
    async with (
        LocalCalendar(tmp_path / "a", where="t/a") as a,
        LocalCalendar(tmp_path / "b", where="t/b") as b,
    ):
        cursor = (await a.list_changes(None)).cursor
        changes = await b.list_changes(cursor)
    assert changes.full
    assert len(changes.items) == 1


async def test_etag_is_stat_based_and_changes_with_each_write(folder: Path) -> None:
    async with LocalCalendar(folder, where="t/local") as cal:
        obj = marked(samples.single("e@x", title="same size"), "k")
        item = await cal.create(obj, "k")
        etags = {item.etag}
        for _ in range(5):  # same content, same size, same mtime tick: the etag still moves
            item = await cal.update(item.id, obj, item.etag)
            etags.add(item.etag)
        assert len(etags) == 6
        assert item.etag == _files.stat_etag((folder / item.id).stat())
