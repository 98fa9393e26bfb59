"""The executor: carries out a plan's writes and commits each pair right after them.

Steps run concurrently, bounded per calendar by its ``max_concurrency``; the writes of one step
run in order. Each step's state row is committed in its own transaction as soon as its writes
succeed, so a cycle killed at any point loses at most the bookkeeping of writes in flight —
which the next cycle recognises by the deterministic create keys and the copy markers.

One failing item never stops the others: a stale etag (:class:`PreconditionFailed`), a vanished
object or a rejected write is recorded against the item and re-read next cycle. Errors about a
whole calendar (unreachable, credentials) end the cycle as failed.

An original is written as a client would write it: stamped with the time of the write, and a
higher SEQUENCE when it was rescheduled (:mod:`calsyncd.sync.stamping`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import anyio
import anyio.lowlevel
import structlog

from calsyncd.errors import (
    ItemError,
    NotFound,
    PermanentError,
    PreconditionFailed,
    ProviderError,
    TemporaryError,
)
from calsyncd.model.hashing import content_hash
from calsyncd.model.ical import serialize_object
from calsyncd.providers.base import Calendar, Item
from calsyncd.state.store import SIDES, PairRecord, Side, StateStore
from calsyncd.sync.plan import Plan, Step, Write
from calsyncd.sync.stamping import stamped

log = structlog.get_logger("calsyncd.sync")


@dataclass(slots=True)
class Outcome:
    """What a plan's execution did."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    conflicts: int = 0
    item_errors: list[str] = field(default_factory=list)
    calendar_errors: list[ProviderError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.item_errors and not self.calendar_errors


def _side_columns(side: Side, item: Item | None) -> dict[str, str | None]:
    if item is None:
        return {
            f"{side}_id": None,
            f"{side}_etag": None,
            f"{side}_hash": None,
            f"{side}_base": None,
        }
    return {
        f"{side}_id": item.id,
        f"{side}_etag": item.etag,
        f"{side}_hash": content_hash(item.obj),
        f"{side}_base": serialize_object(item.obj).decode("utf-8"),
    }


def pair_after(step: Step, results: Mapping[Side, Item | None]) -> PairRecord:
    """The state row for ``step`` once its writes returned ``results``."""
    return PairRecord(
        key=step.key,
        origin=step.origin,
        origin_uid=step.origin_uid,
        written_hash=step.written_hash,
        dismissed=step.dismissed,
        synced_at=time.time(),
        **_side_columns("source", results.get("source")),
        **_side_columns("target", results.get("target")),
    )


class Executor:
    def __init__(
        self,
        rule: str,
        calendars: Mapping[Side, Calendar],
        store: StateStore,
        limiters: Mapping[Side, anyio.CapacityLimiter],
    ) -> None:
        self.rule = rule
        self.calendars = calendars
        self.store = store
        self.limiters = limiters
        self.outcome = Outcome()
        self.failed: set[tuple[Side, str]] = set()
        """Items recorded as failed by this run (to be read again next cycle)."""

    async def run(self, plan: Plan) -> Outcome:
        # As many steps under way as writes may be in flight: a step records its intent just
        # before writing, not all thousands of them before the first write goes out.
        in_flight = sum(int(limiter.total_tokens) for limiter in self.limiters.values())
        under_way = anyio.CapacityLimiter(in_flight)

        async def run_step(step: Step) -> None:
            async with under_way:
                await self._run_step(step)

        async with anyio.create_task_group() as tasks:
            for step in plan.steps:
                tasks.start_soon(run_step, step)
        return self.outcome

    async def _write(self, write: Write, replaced: Item | None) -> Item | None:
        calendar = self.calendars[write.side]
        if write.obj is not None and write.obj.marker is None:  # an original
            now = datetime.now(UTC)
            write = replace(write, obj=stamped(write.obj, replaced.obj if replaced else None, now))
        async with self.limiters[write.side]:
            if write.op == "create":
                assert write.obj is not None
                assert write.key is not None
                return await calendar.create(write.obj, write.key)
            assert write.item_id is not None
            assert write.etag is not None
            if write.op == "update":
                assert write.obj is not None
                return await calendar.update(write.item_id, write.obj, write.etag)
            with contextlib.suppress(NotFound):  # already gone: what we wanted
                await calendar.delete(write.item_id, write.etag)
            return None

    async def _run_step(self, step: Step) -> None:
        self._intend(step)
        results: dict[Side, Item | None] = dict(step.current)
        for write in step.writes:
            try:
                results[write.side] = await self._write(write, results[write.side])
            except ItemError as exc:
                self._item_failed(step, write, exc)
                return
            except (TemporaryError, PermanentError) as exc:
                self.outcome.calendar_errors.append(exc)
                log.warning(
                    "write failed", rule=self.rule, side=write.side, op=write.op, error=str(exc)
                )
                return
            self._count(write)
        # Let the next write go out before this step's commit: servers take writes one at a
        # time, so the commit's work then overlaps the server's instead of adding to it.
        await anyio.lowlevel.checkpoint()
        self._commit(step, results)

    def _intend(self, step: Step) -> None:
        """Before a step's writes, record in its pair's row the content each will leave, so
        that if the cycle dies before the row is committed, the next one can tell these
        writes from users' edits. Writes that change no content (a marker) are left out:
        their result is indistinguishable from what was there. Before a create, what listings
        said about an earlier copy with its key is forgotten, so the new one is read again
        until a listing shows it (see :meth:`StateStore.forget_seen_copy`)."""
        pending: dict[Side, str] = {}
        for write in step.writes:
            if write.obj is None:
                continue
            intended = content_hash(write.obj)
            before = step.current.get(write.side)
            if before is None or content_hash(before.obj) != intended:
                pending[write.side] = intended
        if pending:
            self.store.set_pending(self.rule, step.replaces or step.key, pending)
        for write in step.writes:
            if write.op == "create" and write.key is not None:
                self.store.forget_seen_copy(self.rule, write.side, write.key)

    def _count(self, write: Write) -> None:
        if write.op == "create":
            self.outcome.created += 1
        elif write.op == "update":
            self.outcome.updated += 1
        else:
            self.outcome.deleted += 1

    def _item_failed(self, step: Step, write: Write, exc: ItemError) -> None:
        item_id = write.item_id or write.key or step.key
        reason = (
            "changed meanwhile; re-planned next cycle"
            if isinstance(exc, PreconditionFailed)
            else str(exc)
        )
        self.outcome.item_errors.append(f"{write.side} {item_id}: {reason}")
        log.warning(
            "item skipped",
            rule=self.rule,
            side=write.side,
            op=write.op,
            item=item_id,
            title=step.title,
            error=reason,
        )
        # Read *every* object of the pair again next cycle, not only the one written: the
        # cursors move on, and the pair's row (not committed) still holds the old version of
        # both sides, so a change or a delete seen this cycle would otherwise be planned from
        # stale content (or a deleted object brought back) next time.
        ids: set[tuple[Side, str]] = set()
        if write.item_id is not None:
            ids.add((write.side, write.item_id))
        ids.update((side, item.id) for side, item in step.current.items() if item is not None)
        keys = [key for key in (step.key, step.replaces) if key is not None]
        for pair in self.store.pairs(self.rule, keys=keys).values():
            ids.update((side, i) for side in SIDES if (i := pair.side_id(side)) is not None)
        for side, failed_id in sorted(ids):
            self.store.set_item_error(self.rule, side, failed_id, reason)
        self.failed.update(ids)

    def _commit(self, step: Step, results: Mapping[Side, Item | None]) -> None:
        if step.conflict is not None:
            conflict = step.conflict
            if not conflict.detected_at:
                conflict = replace(conflict, detected_at=time.time())
            self.store.put_conflict(conflict)
            self.outcome.conflicts += 1
            return
        if step.replaces is not None:
            self.store.delete_pair(self.rule, step.replaces)
        if step.forget:
            self.store.delete_pair(self.rule, step.key)
        else:
            self.store.put_pair(self.rule, pair_after(step, results))
        if step.settles_conflict:
            self.store.delete_conflict(self.rule, step.key)
            if step.replaces is not None:  # a promoted pair: its conflict was held by the old key
                self.store.delete_conflict(self.rule, step.replaces)
        ids = {side: item.id for side, item in results.items() if item is not None}
        for side, item_id in ids.items():
            self.store.clear_item_errors(self.rule, side, [item_id])
