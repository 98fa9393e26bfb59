"""The SQLite state store: what calsyncd remembers between cycles, per rule.

One database file (mode 0600) in WAL mode; every write is one short transaction so a cycle
killed at any point leaves the database consistent, and each synced pair is committed right
after its remote write. Readers (``plan``, ``status``) open it read-only and never create it.
No secret is ever stored here: every message stored (errors, hold reasons) passes through
the scrubber (:mod:`calsyncd.scrub`) on its way in.
"""

from __future__ import annotations

import math
import os
import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Literal, Self

from calsyncd.errors import StateError
from calsyncd.scrub import scrub
from calsyncd.state.schema import MIGRATIONS
from calsyncd.state.secret import (
    SECRET_BYTES,
    load_or_create_secret,
    read_secret,
    secret_path,
)

Side = Literal["source", "target"]
SIDES: tuple[Side, Side] = ("source", "target")


@dataclass(frozen=True, slots=True)
class SeenRecord:
    """An object a side held at its last listing (metadata only)."""

    id: str
    etag: str
    uid: str
    hash: str
    marker_rule: str | None = None
    marker_key: str | None = None
    selected: bool = False
    span_start: float | None = None
    span_end: float | None = None


@dataclass(frozen=True, slots=True)
class PairRecord:
    """An original and its copy, as of the last successful sync of the pair.

    ``*_base`` is the iCalendar text of each side as last synced (the base of a three-way
    merge); ``written_hash`` is the hash of the copy as calsyncd last rendered it, so a copy
    that a provider stores lossily is not rewritten every cycle. ``dismissed`` marks a copy the
    user deleted under ``on_target_change: keep``: it is not created again. ``*_pending``
    holds the content hashes writes of ours may have left on that side since the row was last
    committed (space-separated; added before each write, cleared when the row is committed):
    content equal to one of them is calsyncd's own write, not a user's edit. Every intended
    hash is kept, not only the latest: after a cycle killed right after a write, a later cycle
    may intend another content and fail or be killed before writing it, and the object then
    still holds the earlier write.
    """

    key: str
    origin: Side
    origin_uid: str
    source_id: str | None
    source_etag: str | None
    source_hash: str | None
    source_base: str | None
    target_id: str | None
    target_etag: str | None
    target_hash: str | None
    target_base: str | None
    written_hash: str | None
    dismissed: bool = False
    synced_at: float = 0.0
    source_pending: str | None = None
    target_pending: str | None = None

    def side_id(self, side: Side) -> str | None:
        return self.source_id if side == "source" else self.target_id

    def pending(self, side: Side) -> frozenset[str]:
        """The content hashes our uncommitted writes may have left on ``side``."""
        return _hashes(self.source_pending if side == "source" else self.target_pending)


@dataclass(frozen=True, slots=True)
class ConflictRecord:
    """A pair held by the ``manual`` policy, with both versions as iCalendar text."""

    rule: str
    key: str
    title: str
    source_body: str | None
    target_body: str | None
    source_hash: str | None
    target_hash: str | None
    detected_at: float
    resolution: Side | None = None


@dataclass(frozen=True, slots=True)
class RuleRecord:
    rule: str
    config_hash: str = ""
    held_reason: str | None = None
    held_at: float | None = None
    last_attempt: float | None = None
    last_success: float | None = None
    last_error: str | None = None
    created: int = 0
    updated: int = 0
    deleted: int = 0
    quiet_until: float | None = None
    """Set by a quiet cycle: the end of its window (see :meth:`StateStore.set_quiet`)."""


@dataclass(frozen=True, slots=True)
class ItemErrorRecord:
    side: Side
    id: str
    message: str
    at: float


PENDING_KEPT = 16
"""At most this many pending hashes are kept per side (the most recent ones)."""


def _scrubbed(text: str | None) -> str | None:
    return scrub(text) if text is not None else None


def _hashes(value: str | None) -> frozenset[str]:
    return frozenset(value.split()) if value else frozenset()


_PAIR_COLUMNS = ", ".join(f.name for f in fields(PairRecord))
_SEEN_COLUMNS = ", ".join(f.name for f in fields(SeenRecord))
_CHUNK = 500  # stay well below SQLite's bound-parameter limit


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def _seen(row: sqlite3.Row) -> SeenRecord:
    values = dict(row)
    values["selected"] = bool(values["selected"])
    return SeenRecord(**values)


def _pair(row: sqlite3.Row) -> PairRecord:
    values = dict(row)
    values["dismissed"] = bool(values["dismissed"])
    return PairRecord(**values)


class StateStore:
    """Access to the state database. Not thread-safe: one store per thread/event loop."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: str,
        *,
        secret_file: Path | None = None,
        secret_writable: bool = False,
        secret: bytes | None = None,
    ) -> None:
        self._db = connection
        self._db.row_factory = sqlite3.Row
        self.path = path
        self._secret_file = secret_file
        self._secret_writable = secret_writable
        self._secret = secret

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> Self:
        """Open (creating if needed, mode 0600) and migrate the database for writing."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            os.chmod(path, 0o600)
            db = sqlite3.connect(path, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"{path}: cannot open the state database: {exc}") from exc
        store = cls(db, str(path), secret_file=secret_path(path), secret_writable=True)
        store._migrate()
        return store

    @classmethod
    def open_readonly(cls, path: Path) -> Self:
        """Open for reading only; a missing database reads as empty (nothing is created)."""
        if not path.exists():
            store = cls.in_memory()
            store._secret_file = secret_path(path)
            return store
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            db.execute("PRAGMA busy_timeout=30000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise StateError(f"{path}: cannot read the state database: {exc}") from exc
        if version != len(MIGRATIONS):
            db.close()
            raise StateError(
                f"{path}: state database has schema version {version}, expected "
                f"{len(MIGRATIONS)}; run `calsyncd sync` or the daemon once to migrate it"
            )
        return cls(db, str(path), secret_file=secret_path(path))

    @classmethod
    def in_memory(cls, *, secret: bytes | None = None) -> Self:
        """A database in memory; ``secret`` is its copy secret (default: a random one)."""
        db = sqlite3.connect(":memory:", isolation_level=None)
        store = cls(db, ":memory:", secret=secret)
        store._migrate()
        return store

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StateError(
                f"{self.path}: state database schema version {version} is newer than this "
                f"calsyncd ({len(MIGRATIONS)}); upgrade calsyncd"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; rolled back on any exception."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot write the state database: {exc}") from exc
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    # -- the copy secret -------------------------------------------------------------------

    def copy_secret(self, *, create: bool) -> bytes | None:
        """The deployment's copy secret (see :mod:`calsyncd.state.secret`), or ``None`` if
        there is none yet and ``create`` is false. It lives beside the database file, so a
        lost database does not lose it. A store opened read-only never writes one: lacking
        the file, it uses one of its own for as long as it is open (``plan`` then shows
        the creates a first ``sync`` would make, under other keys)."""
        if self._secret is None and self._secret_file is not None:
            if create and self._secret_writable:
                self._secret = load_or_create_secret(self._secret_file)
            else:
                self._secret = read_secret(self._secret_file)
        if self._secret is None and create:
            self._secret = secrets.token_bytes(SECRET_BYTES)
        return self._secret

    # -- rules -----------------------------------------------------------------------------

    def rule(self, rule: str) -> RuleRecord:
        row = self._db.execute("SELECT * FROM rule WHERE rule = ?", (rule,)).fetchone()
        return RuleRecord(**dict(row)) if row else RuleRecord(rule=rule)

    def rules(self) -> list[RuleRecord]:
        rows = self._db.execute("SELECT * FROM rule ORDER BY rule").fetchall()
        return [RuleRecord(**dict(row)) for row in rows]

    def _ensure_rule(self, db: sqlite3.Connection, rule: str) -> None:
        db.execute("INSERT OR IGNORE INTO rule (rule) VALUES (?)", (rule,))

    def set_config_hash(self, rule: str, config_hash: str) -> None:
        with self.transaction() as db:
            self._ensure_rule(db, rule)
            db.execute("UPDATE rule SET config_hash = ? WHERE rule = ?", (config_hash, rule))

    def hold(self, rule: str, reason: str) -> None:
        with self.transaction() as db:
            self._ensure_rule(db, rule)
            db.execute(
                "UPDATE rule SET held_reason = ?, held_at = ? WHERE rule = ?",
                (scrub(reason), time.time(), rule),
            )

    def set_quiet(self, rule: str, until: float | None) -> None:
        """Mark the rule's last cycle quiet up to the window end ``until`` (``None``: not
        quiet). Cleared before any write to a calendar, so a cycle killed after a write
        never leaves the mark of the quiet cycle before it."""
        with self.transaction() as db:
            self._ensure_rule(db, rule)
            db.execute("UPDATE rule SET quiet_until = ? WHERE rule = ?", (until, rule))

    def release(self, rule: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE rule SET held_reason = NULL, held_at = NULL WHERE rule = ?", (rule,))

    def record_cycle(
        self,
        rule: str,
        *,
        ok: bool,
        error: str | None = None,
        created: int = 0,
        updated: int = 0,
        deleted: int = 0,
    ) -> None:
        now = time.time()
        with self.transaction() as db:
            self._ensure_rule(db, rule)
            db.execute(
                "UPDATE rule SET last_attempt = ?, last_error = ?,"
                " last_success = CASE WHEN ? THEN ? ELSE last_success END,"
                " created = created + ?, updated = updated + ?, deleted = deleted + ?"
                " WHERE rule = ?",
                (now, _scrubbed(error), ok, now, created, updated, deleted, rule),
            )

    # -- cursors ---------------------------------------------------------------------------

    def cursors(self, rule: str) -> dict[Side, str | None]:
        rows = self._db.execute("SELECT side, cursor FROM cursor WHERE rule = ?", (rule,))
        found: dict[Side, str | None] = {"source": None, "target": None}
        for side, cursor in rows:
            found[side] = cursor
        return found

    def set_cursor(self, rule: str, side: Side, cursor: str | None) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO cursor (rule, side, cursor) VALUES (?, ?, ?)"
                " ON CONFLICT (rule, side) DO UPDATE SET cursor = excluded.cursor",
                (rule, side, cursor),
            )

    def reset_cursors(self, rule: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM cursor WHERE rule = ?", (rule,))

    # -- seen ------------------------------------------------------------------------------

    def seen(self, rule: str, side: Side, ids: Iterable[str]) -> dict[str, SeenRecord]:
        return self._seen_where(rule, side, "id", list(ids))

    def seen_by_uid(self, rule: str, side: Side, uids: Iterable[str]) -> dict[str, SeenRecord]:
        """Records by UID (one per UID; with duplicates, the first by id)."""
        found: dict[str, SeenRecord] = {}
        for record in sorted(
            self._seen_where(rule, side, "uid", list(uids)).values(), key=lambda r: r.id
        ):
            found.setdefault(record.uid, record)
        return found

    def seen_by_marker(self, rule: str, side: Side, keys: Iterable[str]) -> dict[str, SeenRecord]:
        records = self._seen_where(rule, side, "marker_key", list(keys)).values()
        return {r.marker_key: r for r in records if r.marker_key is not None}

    def seen_all(self, rule: str, side: Side) -> dict[str, SeenRecord]:
        rows = self._db.execute(
            f"SELECT {_SEEN_COLUMNS} FROM seen WHERE rule = ? AND side = ?", (rule, side)
        )
        return {row["id"]: _seen(row) for row in rows}

    def window_candidates(
        self,
        rule: str,
        side: Side,
        start: float,
        end: float,
        *,
        since: float | None = None,
        limit: int = 1000,
    ) -> list[str]:
        """Ids of selected, unpaired originals that overlap ``[start, end)`` — and, with
        ``since``, begin at or after it (those that entered the window since a quiet cycle
        whose window ended at ``since``).

        They were out of the window (or failed) when last listed; the engine fetches them so
        the planner can create their copies now.
        """
        column = "source_id" if side == "source" else "target_id"
        rows = self._db.execute(
            "SELECT s.id FROM seen s WHERE s.rule = ? AND s.side = ? AND s.selected = 1"
            " AND s.span_start >= ? AND s.span_start < ?"
            " AND (s.span_end IS NULL OR s.span_end > ?)"
            f" AND NOT EXISTS (SELECT 1 FROM pair p WHERE p.rule = s.rule AND p.{column} = s.id)"
            " ORDER BY s.span_start LIMIT ?",
            (rule, side, -math.inf if since is None else since, end, start, limit),
        )
        return [row[0] for row in rows]

    def unlisted_pair_ids(self, rule: str, side: Side) -> list[str]:
        """Ids of ``side`` that pairs hold but no listing has shown yet: objects calsyncd
        itself wrote after the listing of their cycle (a copy it created, say). An incremental
        listing may never mention one that is deleted before the next listing, so the engine
        reads them once more to learn whether they still exist."""
        column = "source_id" if side == "source" else "target_id"
        rows = self._db.execute(
            f"SELECT {column} FROM pair WHERE rule = ? AND {column} IS NOT NULL"
            f" AND {column} NOT IN (SELECT id FROM seen WHERE rule = ? AND side = ?)"
            f" ORDER BY {column}",
            (rule, rule, side),
        )
        return [row[0] for row in rows]

    def forget_seen_copy(self, rule: str, side: Side, key: str) -> None:
        """Before creating the copy ``key`` on ``side``: forget what listings said about an
        earlier copy with that key (or the object the pair ``key`` holds there). A copy made
        again after a delete usually gets the same id (derived from the key); had the old
        record stayed, the new object would pass for one a listing has shown, and if it is
        deleted before a cycle commits a listing, no incremental listing will ever tell (it
        was made and deleted after the stored cursor). Forgotten, it is read again."""
        column = "source_id" if side == "source" else "target_id"
        with self.transaction() as db:
            db.execute(
                "DELETE FROM seen WHERE rule = ? AND side = ? AND (marker_key = ?"
                f" OR id IN (SELECT {column} FROM pair WHERE rule = ? AND key = ?))",
                (rule, side, key, rule, key),
            )

    def seen_count(self, rule: str, side: Side) -> int:
        row = self._db.execute(
            "SELECT count(*) FROM seen WHERE rule = ? AND side = ?", (rule, side)
        ).fetchone()
        return int(row[0])

    def _seen_where(
        self, rule: str, side: Side, column: str, values: Sequence[str]
    ) -> dict[str, SeenRecord]:
        found: dict[str, SeenRecord] = {}
        for chunk in _chunks(values):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT {_SEEN_COLUMNS} FROM seen WHERE rule = ? AND side = ?"
                f" AND {column} IN ({marks})",
                (rule, side, *chunk),
            )
            for row in rows:
                found[row["id"]] = _seen(row)
        return found

    def update_seen(
        self,
        rule: str,
        side: Side,
        upserts: Iterable[SeenRecord],
        deleted: Iterable[str] = (),
        *,
        replace_all: bool = False,
    ) -> None:
        """Apply a listing: ``replace_all`` for a full one, else upserts and deletions."""
        with self.transaction() as db:
            if replace_all:
                db.execute("DELETE FROM seen WHERE rule = ? AND side = ?", (rule, side))
            db.executemany(
                "DELETE FROM seen WHERE rule = ? AND side = ? AND id = ?",
                ((rule, side, item_id) for item_id in deleted),
            )
            marks = ",".join("?" * (len(fields(SeenRecord)) + 2))
            db.executemany(
                f"INSERT OR REPLACE INTO seen (rule, side, {_SEEN_COLUMNS}) VALUES ({marks})",
                ((rule, side, *astuple(record)) for record in upserts),
            )

    # -- pairs -----------------------------------------------------------------------------

    def pairs(
        self,
        rule: str,
        *,
        keys: Iterable[str] = (),
        source_ids: Iterable[str] = (),
        target_ids: Iterable[str] = (),
    ) -> dict[str, PairRecord]:
        """The pairs with any of the given keys or side ids, by key."""
        found: dict[str, PairRecord] = {}
        for column, values in (("key", keys), ("source_id", source_ids), ("target_id", target_ids)):
            for chunk in _chunks(list(values)):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT {_PAIR_COLUMNS} FROM pair WHERE rule = ? AND {column} IN ({marks})",
                    (rule, *chunk),
                )
                for row in rows:
                    found[row["key"]] = _pair(row)
        return found

    def all_pairs(self, rule: str) -> dict[str, PairRecord]:
        rows = self._db.execute(f"SELECT {_PAIR_COLUMNS} FROM pair WHERE rule = ?", (rule,))
        return {row["key"]: _pair(row) for row in rows}

    def pair_count(self, rule: str) -> int:
        row = self._db.execute(
            "SELECT count(*) FROM pair WHERE rule = ? AND dismissed = 0", (rule,)
        ).fetchone()
        return int(row[0])

    def put_pair(self, rule: str, pair: PairRecord) -> None:
        """Insert or replace a pair; a stale row holding one of its side ids is replaced."""
        marks = ",".join("?" * (len(fields(PairRecord)) + 1))
        with self.transaction() as db:
            for column, value in (("source_id", pair.source_id), ("target_id", pair.target_id)):
                if value is not None:
                    db.execute(
                        f"DELETE FROM pair WHERE rule = ? AND {column} = ? AND key != ?",
                        (rule, value, pair.key),
                    )
            db.execute(
                f"INSERT OR REPLACE INTO pair (rule, {_PAIR_COLUMNS}) VALUES ({marks})",
                (rule, *astuple(pair)),
            )

    def set_pending(self, rule: str, key: str, pending: Mapping[Side, str]) -> None:
        """Record, before writing, the content hash each side will have after the writes of
        the pair ``key`` (a pair not stored yet has nothing to record). The hashes add to those
        recorded since the row was last committed: an earlier write of ours may still be what
        the side holds if this one never lands."""
        with self.transaction() as db:
            for side, value in pending.items():
                column = "source_pending" if side == "source" else "target_pending"
                row = db.execute(
                    f"SELECT {column} FROM pair WHERE rule = ? AND key = ?", (rule, key)
                ).fetchone()
                if row is None:
                    continue
                kept = [h for h in (row[0] or "").split() if h != value]
                kept = [*kept, value][-PENDING_KEPT:]
                db.execute(
                    f"UPDATE pair SET {column} = ? WHERE rule = ? AND key = ?",
                    (" ".join(kept), rule, key),
                )

    def delete_pair(self, rule: str, key: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM pair WHERE rule = ? AND key = ?", (rule, key))

    # -- conflicts -------------------------------------------------------------------------

    def conflicts(self, rule: str | None = None) -> list[ConflictRecord]:
        query = "SELECT * FROM conflict"
        params: tuple[str, ...] = ()
        if rule is not None:
            query += " WHERE rule = ?"
            params = (rule,)
        rows = self._db.execute(query + " ORDER BY rule, detected_at, key", params)
        return [ConflictRecord(**dict(row)) for row in rows]

    def put_conflict(self, record: ConflictRecord) -> None:
        marks = ",".join("?" * len(fields(ConflictRecord)))
        with self.transaction() as db:
            db.execute(f"INSERT OR REPLACE INTO conflict VALUES ({marks})", astuple(record))

    def resolve_conflict(self, rule: str, key: str, take: Side) -> bool:
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE conflict SET resolution = ? WHERE rule = ? AND key = ?", (take, rule, key)
            )
            return cursor.rowcount > 0

    def delete_conflict(self, rule: str, key: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM conflict WHERE rule = ? AND key = ?", (rule, key))

    # -- item errors -----------------------------------------------------------------------

    def item_errors(self, rule: str) -> list[ItemErrorRecord]:
        rows = self._db.execute(
            "SELECT side, id, message, at FROM item_error WHERE rule = ? ORDER BY at", (rule,)
        )
        return [ItemErrorRecord(**dict(row)) for row in rows]

    def set_item_error(self, rule: str, side: Side, item_id: str, message: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO item_error VALUES (?, ?, ?, ?, ?)",
                (rule, side, item_id, scrub(message), time.time()),
            )

    def clear_item_errors(self, rule: str, side: Side, ids: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM item_error WHERE rule = ? AND side = ? AND id = ?",
                ((rule, side, item_id) for item_id in ids),
            )
