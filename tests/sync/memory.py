"""An in-memory calendar for the sync tests: the provider protocol, faithfully, plus faults.

A :class:`MemoryServer` is the store ("the server"); a :class:`MemoryCalendar` is one provider
instance talking to it (several may, as several connections to one server would). What the
protocol in :mod:`calsyncd.providers.base` promises, this keeps:

- every stored version has its own etag (a global write counter), so any write — even one
  that leaves the content as it was — changes the etag;
- ``list_changes(None)`` is a full listing; a cursor names a point in the server's history and
  yields exactly the objects created or changed since and the ids (known at that point) deleted
  since; an unknown, foreign or expired cursor gives a full listing again, never an error;
- ``create(obj, key)`` is idempotent per key: while the object made with ``key`` exists, a
  second create returns it unchanged and writes nothing (once it is deleted, the key makes a
  new one, as a file name or an href would);
- ``update``/``delete`` raise :class:`PreconditionFailed` on a stale etag and
  :class:`NotFound` when the object is gone;
- malformed objects are reported in ``Changes.skipped`` by every listing and never count as
  deleted; ``get`` of one raises :class:`MalformedObject`.

Test hooks, none of which goes through the protocol (so they make no entry in ``writes``):

- another client's edits: :meth:`MemoryServer.add`, :meth:`~MemoryServer.put`,
  :meth:`~MemoryServer.touch` (new etag, same content), :meth:`~MemoryServer.remove`,
  :meth:`~MemoryServer.add_malformed`, :meth:`~MemoryServer.expire_cursors`;
- faults: :meth:`~MemoryServer.fail_next` (the next *n* writes raise ``TemporaryError`` or
  ``PreconditionFailed``), :meth:`~MemoryServer.before_next_write` (run a callback — typically
  an edit behind the provider's back — right before the next write checks its etag, so the
  write loses a real race), :meth:`~MemoryServer.kill_after` (raise :class:`Killed`, a
  ``BaseException``, right after the *n*-th write succeeded: the process "dies" between a
  remote write and the commit of its state row).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Literal

import anyio.lowlevel

from calsyncd.errors import (
    MalformedObject,
    NotFound,
    PreconditionFailed,
    ProviderError,
    TemporaryError,
)
from calsyncd.model.event import CalendarObject
from calsyncd.providers.base import Calendar, Capabilities, Changes, Item, Skipped, Window
from sync.helpers import names

Op = Literal["create", "update", "delete"]
ALL_OPS: frozenset[Op] = frozenset({"create", "update", "delete"})

_servers = itertools.count(1)


class Killed(BaseException):
    """The process died right after a remote write (kill -9): not an ``Exception``, so no
    ``except Exception`` in the engine can swallow it."""


@dataclass(slots=True)
class _Stored:
    etag: str
    obj: CalendarObject | None  # None: malformed (``reason`` says why)
    created: int  # server clock when this incarnation of the id was made
    changed: int  # server clock of the last write
    reason: str = ""


@dataclass(slots=True)
class _Fault:
    remaining: int
    ops: frozenset[Op]
    make: Callable[[str, str], ProviderError]


@dataclass(slots=True)
class WriteRecord:
    """One write that reached the server through the protocol."""

    op: Op
    id: str
    key: str | None = None
    made: bool = True
    """False for an idempotent create that returned an existing object (nothing written)."""


@dataclass(slots=True)
class MemoryServer:
    """The store behind one or more :class:`MemoryCalendar` instances."""

    name: str = "memory"
    objects: dict[str, _Stored] = field(default_factory=dict)
    writes: list[WriteRecord] = field(default_factory=list)
    lists: int = 0
    gets: int = 0
    fired: int = 0
    """How many injected faults (failures, races, kills) have gone off."""
    _keys: dict[str, str] = field(default_factory=dict)
    _tombstones: dict[str, tuple[int, int]] = field(default_factory=dict)
    _clock: int = 0
    _epoch: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _faults: list[_Fault] = field(default_factory=list)
    _before_write: list[Callable[[Op, str | None], None]] = field(default_factory=list)
    _kill_in: int | None = None

    def __post_init__(self) -> None:
        self._epoch = f"{self.name}-{next(_servers)}"

    # -- state ---------------------------------------------------------------------------

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    def _store(self, item_id: str, obj: CalendarObject | None, reason: str = "") -> Item | None:
        now = self._tick()
        old = self.objects.get(item_id)
        created = old.created if old is not None else now
        self._tombstones.pop(item_id, None)
        self.objects[item_id] = _Stored(f'"{self.name}-{now}"', obj, created, now, reason)
        return self.item(item_id) if obj is not None else None

    def _drop(self, item_id: str) -> None:
        stored = self.objects.pop(item_id)
        self._tombstones[item_id] = (stored.created, self._tick())

    def item(self, item_id: str) -> Item:
        """The stored object ``item_id`` (``KeyError`` if absent or malformed)."""
        stored = self.objects[item_id]
        if stored.obj is None:
            raise KeyError(item_id)
        return Item(item_id, stored.etag, stored.obj)

    def items(self) -> list[Item]:
        """Every readable object, by id."""
        return [self.item(i) for i in sorted(self.objects) if self.objects[i].obj is not None]

    def find(self, uid: str) -> list[Item]:
        """The object ``uid`` and its copies, which have UIDs of their own (more than one
        means a duplicate; see :func:`sync.helpers.names`)."""
        return [item for item in self.items() if names(item.obj, uid)]

    def __len__(self) -> int:
        return len(self.objects)

    # -- another client ------------------------------------------------------------------

    def add(self, obj: CalendarObject, item_id: str | None = None) -> Item:
        """Create an object as another client would (its own id, no idempotency key)."""
        item_id = item_id or f"other-{next(self._ids)}.ics"
        if item_id in self.objects:
            raise ValueError(f"{item_id} exists")
        stored = self._store(item_id, obj)
        assert stored is not None
        return stored

    def put(self, item_id: str, obj: CalendarObject) -> Item:
        """Overwrite an object behind the provider's back."""
        if item_id not in self.objects:
            raise KeyError(item_id)
        stored = self._store(item_id, obj)
        assert stored is not None
        return stored

    def touch(self, item_id: str) -> Item:
        """Rewrite an object unchanged: a new etag, the same content."""
        return self.put(item_id, self.item(item_id).obj)

    def remove(self, item_id: str) -> None:
        """Delete an object behind the provider's back."""
        self._drop(item_id)

    def add_malformed(self, item_id: str = "broken.ics", reason: str = "") -> str:
        """Store an object no listing can read."""
        self._store(item_id, None, reason or f"{item_id}: not an iCalendar object")
        return item_id

    def expire_cursors(self) -> None:
        """Every cursor handed out so far is rejected from now on (a sync token expired)."""
        self._epoch = f"{self.name}-{next(_servers)}"

    # -- faults --------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        error: Literal["temporary", "precondition"] = "temporary",
        ops: Collection[Op] | None = None,
    ) -> None:
        """Make the next ``count`` writes (of ``ops``) raise instead of writing.

        ``precondition`` applies to updates and deletes only by default (a create has no etag).
        """

        def make(op: str, item_id: str) -> ProviderError:
            if error == "temporary":
                return TemporaryError(f"injected failure of {op} {item_id}", where=self.name)
            return PreconditionFailed(
                f"injected stale etag on {op} {item_id}", where=self.name, item=item_id
            )

        default: frozenset[Op] = (
            ALL_OPS if error == "temporary" else frozenset({"update", "delete"})
        )
        chosen = frozenset(ops) if ops is not None else default
        self._faults.append(_Fault(count, chosen, make))

    def before_next_write(self, callback: Callable[[Op, str | None], None]) -> None:
        """Run ``callback(op, item_id)`` right before the next write looks at the store."""
        self._before_write.append(callback)

    def kill_after(self, writes: int = 1) -> None:
        """Raise :class:`Killed` right after the ``writes``-th next successful write."""
        self._kill_in = writes

    def clear_faults(self) -> None:
        self._faults.clear()
        self._before_write.clear()
        self._kill_in = None

    @property
    def faults_pending(self) -> bool:
        return bool(self._faults or self._before_write or self._kill_in is not None)

    def _enter_write(self, op: Op, item_id: str | None) -> None:
        if self._before_write:
            self.fired += 1
            self._before_write.pop(0)(op, item_id)
        for fault in self._faults:
            if op in fault.ops:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                self.fired += 1
                raise fault.make(op, item_id or "(new)")

    def _written(self, record: WriteRecord) -> None:
        self.writes.append(record)
        if self._kill_in is not None:
            self._kill_in -= 1
            if self._kill_in <= 0:
                self._kill_in = None
                self.fired += 1
                raise Killed(f"killed after {record.op} {record.id}")

    # -- the protocol, server side -------------------------------------------------------

    def cursor(self) -> str:
        return f"mem:{self._epoch}:{self._clock}"

    def _since(self, cursor: str | None) -> int | None:
        if not cursor:
            return None
        prefix, _, rest = cursor.partition(":")
        epoch, _, clock = rest.rpartition(":")
        if prefix != "mem" or epoch != self._epoch or not clock.isdigit():
            return None
        since = int(clock)
        return since if since <= self._clock else None

    def list_changes(self, cursor: str | None) -> Changes:
        self.lists += 1
        since = self._since(cursor)
        items: list[Item] = []
        skipped: list[Skipped] = []
        for item_id in sorted(self.objects):
            stored = self.objects[item_id]
            if stored.obj is None:
                skipped.append(Skipped(item_id, stored.reason))
            elif since is None or stored.changed > since:
                items.append(Item(item_id, stored.etag, stored.obj))
        deleted: list[str] = []
        if since is not None:
            deleted = sorted(
                item_id
                for item_id, (created, gone) in self._tombstones.items()
                if created <= since < gone
            )
        return Changes(
            items=items,
            cursor=self.cursor(),
            full=since is None,
            deleted=deleted,
            skipped=skipped,
        )

    def get(self, item_id: str) -> Item:
        self.gets += 1
        stored = self.objects.get(item_id)
        if stored is None:
            raise NotFound(f"{item_id} does not exist", where=self.name, item=item_id)
        if stored.obj is None:
            raise MalformedObject(stored.reason, where=self.name, item=item_id)
        return Item(item_id, stored.etag, stored.obj)

    def create(self, obj: CalendarObject, key: str) -> Item:
        self._enter_write("create", None)
        existing = self._keys.get(key)
        if existing is not None and existing in self.objects:
            self._written(WriteRecord("create", existing, key, made=False))
            return self.get(existing)
        item_id = f"{key}.ics"
        if item_id in self.objects:  # someone else took the name: still one object per key
            item_id = f"{key}-{next(self._ids)}.ics"
        self._keys[key] = item_id
        stored = self._store(item_id, obj)
        assert stored is not None
        self._written(WriteRecord("create", item_id, key))
        return stored

    def _check(self, item_id: str, etag: str) -> None:
        stored = self.objects.get(item_id)
        if stored is None:
            raise NotFound(f"{item_id} does not exist", where=self.name, item=item_id)
        if stored.etag != etag:
            raise PreconditionFailed(
                f"{item_id} changed since it was read", where=self.name, item=item_id
            )

    def update(self, item_id: str, obj: CalendarObject, etag: str) -> Item:
        self._enter_write("update", item_id)
        self._check(item_id, etag)
        stored = self._store(item_id, obj)
        assert stored is not None
        self._written(WriteRecord("update", item_id))
        return stored

    def delete(self, item_id: str, etag: str) -> None:
        self._enter_write("delete", item_id)
        self._check(item_id, etag)
        self._drop(item_id)
        self._written(WriteRecord("delete", item_id))


class MemoryCalendar(Calendar):
    """A provider instance on a :class:`MemoryServer` (a new server unless one is given).

    Every call yields to the event loop once before it touches the store, so concurrent
    writes interleave (and can be cancelled) as they would over a network.
    """

    def __init__(
        self,
        server: MemoryServer | None = None,
        *,
        name: str = "memory",
        incremental: bool = True,
        read_only: bool = False,
        max_concurrency: int = 4,
    ) -> None:
        super().__init__(f"memory/{server.name if server else name}")
        self.server = server if server is not None else MemoryServer(name)
        self.capabilities = Capabilities(
            read_only=read_only,
            incremental=incremental,
            series=True,
            markers=True,
            max_concurrency=max_concurrency,
        )
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True

    async def list_changes(self, cursor: str | None, window: Window | None = None) -> Changes:
        await anyio.lowlevel.checkpoint()
        if not self.capabilities.incremental:
            cursor = None
        return self.server.list_changes(cursor)

    async def get(self, item_id: str) -> Item:
        await anyio.lowlevel.checkpoint()
        return self.server.get(item_id)

    async def _create(self, obj: CalendarObject, key: str) -> Item:
        await anyio.lowlevel.checkpoint()
        return self.server.create(obj, key)

    async def _update(self, item_id: str, obj: CalendarObject, etag: str) -> Item:
        await anyio.lowlevel.checkpoint()
        return self.server.update(item_id, obj, etag)

    async def _delete(self, item_id: str, etag: str) -> None:
        await anyio.lowlevel.checkpoint()
        self.server.delete(item_id, etag)


__all__ = [
    "ALL_OPS",
    "Killed",
    "MemoryCalendar",
    "MemoryServer",
    "Op",
    "WriteRecord",
]
