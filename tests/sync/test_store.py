"""The parts of the state store the engine's fixes rely on: the migration that adds pending
hashes, the pending hashes themselves, the ids pairs hold that no listing has shown, and forgetting
an earlier copy's listing before a copy is made again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from calsyncd.state.schema import MIGRATIONS
from calsyncd.state.store import PairRecord, SeenRecord, StateStore


def pair(key: str, source_id: str | None, target_id: str | None) -> PairRecord:
    return PairRecord(
        key=key,
        origin="source",
        origin_uid=f"{key}@x",
        source_id=source_id,
        source_etag="e1" if source_id else None,
        source_hash="h1" if source_id else None,
        source_base=None,
        target_id=target_id,
        target_etag="e2" if target_id else None,
        target_hash="h2" if target_id else None,
        target_base=None,
        written_hash="h2",
        synced_at=1.0,
    )


def test_version_1_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + ";PRAGMA user_version=1;")
    db.execute(
        "INSERT INTO pair (rule, key, origin, origin_uid, source_id, target_id, written_hash,"
        " synced_at) VALUES ('r', 'k', 'source', 'u', 's.ics', 't.ics', 'h', 1.0)"
    )
    db.commit()
    db.close()
    store = StateStore.open(path)
    try:
        (row,) = store.all_pairs("r").values()
        assert (row.source_id, row.target_id) == ("s.ics", "t.ics")
        assert (row.source_pending, row.target_pending) == (None, None)
    finally:
        store.close()
    db = sqlite3.connect(path)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    assert version == len(MIGRATIONS) == 3
    readonly = StateStore.open_readonly(path)
    assert list(readonly.all_pairs("r")) == ["k"]
    readonly.close()


def test_pending_hashes_are_set_and_cleared_by_the_next_row() -> None:
    store = StateStore.in_memory()
    store.put_pair("r", pair("k", "s.ics", "t.ics"))
    store.set_pending("r", "k", {"target": "new-hash"})
    row = store.all_pairs("r")["k"]
    assert (row.pending("source"), row.pending("target")) == (frozenset(), {"new-hash"})
    store.set_pending("r", "k", {"target": "newer-hash"})
    store.set_pending("r", "k", {"target": "new-hash"})
    assert store.all_pairs("r")["k"].target_pending == "newer-hash new-hash"
    store.set_pending("r", "missing", {"source": "x"})  # no row yet: nothing to record
    assert list(store.all_pairs("r")) == ["k"]
    store.put_pair("r", pair("k", "s.ics", "t.ics"))
    assert store.all_pairs("r")["k"].target_pending is None


def test_unlisted_pair_ids() -> None:
    store = StateStore.in_memory()
    store.put_pair("r", pair("a", "a.ics", "copy-a.ics"))
    store.put_pair("r", pair("b", "b.ics", "copy-b.ics"))
    store.put_pair("other", pair("c", "c.ics", "copy-c.ics"))
    store.update_seen(
        "r",
        "source",
        [SeenRecord(id, "e", f"{id}@x", "h") for id in ("a.ics", "b.ics")],
    )
    store.update_seen("r", "target", [SeenRecord("copy-a.ics", "e", "a@x", "h")])
    assert store.unlisted_pair_ids("r", "source") == []
    assert store.unlisted_pair_ids("r", "target") == ["copy-b.ics"]
    assert store.unlisted_pair_ids("other", "target") == ["copy-c.ics"]


def test_forget_seen_copy_makes_the_pair_id_unlisted() -> None:
    store = StateStore.in_memory()
    store.put_pair("r", pair("k", "a.ics", "k.ics"))
    store.update_seen(
        "r",
        "target",
        [
            SeenRecord("k.ics", "e", "a@x", "h", marker_rule="r", marker_key="k"),
            SeenRecord("moved.ics", "e", "a@x", "h", marker_rule="r", marker_key="k"),
            SeenRecord("other.ics", "e", "o@x", "h"),
        ],
    )
    store.forget_seen_copy("r", "target", "k")
    assert list(store.seen_all("r", "target")) == ["other.ics"]
    assert store.unlisted_pair_ids("r", "target") == ["k.ics"]
