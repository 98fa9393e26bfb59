"""One reconcile cycle of one rule: list, complete the view from state, plan, execute, commit.

Level-based: each cycle looks at what changed on both sides since the stored cursors, adds
what the state database knows (pairs, earlier listings) and the objects it must look at again
(items that failed, originals entering the window, copies to adopt), and hands it all to the
pure planner. Cursors and the listing metadata are committed only after every step ran, so a
cycle killed half-way is simply re-planned from the same changes by the next one.

The CPU-heavy steps — placing every object read in time (expanding series), planning, hashing
what each side holds — run in a worker thread, so the daemon keeps answering while a large
or hostile calendar is worked through; each stops soon after the cycle is cancelled. An
object the window cannot place (a recurrence beyond its budget) is set aside like one the
provider could not read: skipped, named, read again next cycle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import anyio
import structlog

from calsyncd.errors import CalsyncdError, ItemError, NotFound, PermanentError, ProviderError
from calsyncd.model.budget import checkpoint, in_worker_thread
from calsyncd.model.hashing import content_hash
from calsyncd.providers.base import Calendar, Changes, Item, Skipped, Window
from calsyncd.state.store import SIDES, ConflictRecord, PairRecord, SeenRecord, Side, StateStore
from calsyncd.sync.executor import Executor, Outcome
from calsyncd.sync.filters import selected
from calsyncd.sync.plan import Plan, other
from calsyncd.sync.planner import PlanInput, Policy, SideView, plan
from calsyncd.sync.window import Extent, Unexpandable, extent

log = structlog.get_logger("calsyncd.sync")


@dataclass(slots=True)
class CycleResult:
    """What one cycle found and did.

    ``error`` (the message) and ``failure`` (the error itself: temporary or permanent, with
    the server's retry hint) are set when the rule could not be synced.
    """

    rule: str
    plan: Plan | None = None
    outcome: Outcome = field(default_factory=Outcome)
    error: str | None = None
    failure: CalsyncdError | None = None
    held: str | None = None
    problems: list[str] = field(default_factory=list)

    def fail(self, exc: CalsyncdError) -> None:
        self.error = str(exc)
        self.failure = exc

    @property
    def ok(self) -> bool:
        return self.error is None and self.held is None and self.outcome.ok


@dataclass(slots=True)
class _Listed:
    side: Side
    changes: Changes
    items: dict[str, Item]
    gone: set[str] = field(default_factory=set)
    """Ids the listing did not mention that were found deleted when read again."""
    tried: set[str] = field(default_factory=set)
    """Ids read again this cycle (each is read once)."""
    set_aside: list[Skipped] = field(default_factory=list)
    """Objects read that the window cannot place in time: skipped like unreadable ones."""
    extents: dict[str, Extent] = field(default_factory=dict)
    """The span of every object in ``items``, as :func:`~calsyncd.sync.window.extent` told."""

    @property
    def deleted(self) -> list[str]:
        return [*self.changes.deleted, *sorted(self.gone - set(self.changes.deleted))]

    @property
    def changes_anything(self) -> bool:
        """Whether the listing was full or told of any change or unreadable object."""
        changes = self.changes
        return changes.full or bool(changes.items or changes.deleted or changes.skipped)


def _seen_record(policy: Policy, side: Side, item: Item, span: Extent) -> SeenRecord:
    obj = item.obj
    marker = obj.marker
    may_hold_originals = side == "source" or policy.two_way
    is_original = marker is None
    chosen = (
        may_hold_originals
        and is_original
        and selected(obj, policy.include, policy.exclude, policy.owners[side])
    )
    span_start, span_end = span
    return SeenRecord(
        id=item.id,
        etag=item.etag,
        uid=obj.uid,
        hash=content_hash(obj),
        marker_rule=marker.rule if marker else None,
        marker_key=marker.key if marker else None,
        selected=chosen,
        span_start=span_start,
        span_end=span_end,
    )


def _with_copy_identity(
    policy: Policy, store: StateStore, calendars: Mapping[Side, Calendar]
) -> Policy:
    """``policy`` with the sides whose copies are anonymous — the rule's (``anonymous``, busy
    blocks) and any published calendar copies go to — and the deployment's copy secret
    (made on first need: a rule with anonymous copies; read if it exists otherwise, so that
    copies made while the rule's copies were anonymous are still recognised)."""
    copy_sides: tuple[Side, ...] = SIDES if policy.two_way else ("target",)
    published = {side for side in copy_sides if calendars[side].capabilities.published}
    anonymous = (policy.anonymous & set(copy_sides)) | published
    secret = store.copy_secret(create=bool(anonymous)) or b""
    return replace(policy, anonymous=frozenset(anonymous), secret=secret)


def _effective_hash(config_hash: str, policy: Policy) -> str:
    """The rule's config hash with the sides whose copies are anonymous and (a hash of) the
    secret their keys are made with: when either changes (the rule, the kind of its target,
    a lost secret), every pair is planned again, and copies made under another key are
    replaced at once (:func:`~calsyncd.sync.paired._rekey`)."""
    if not policy.anonymous:
        return config_hash
    secret = hashlib.sha256(policy.secret).hexdigest()[:16]
    text = f"{config_hash}\0anonymous:{','.join(sorted(policy.anonymous))}\0{secret}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _leaves(group: BaseExceptionGroup[ProviderError]) -> list[ProviderError]:
    found: list[ProviderError] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


class Cycle:
    """One cycle; create a new one each time."""

    def __init__(
        self,
        policy: Policy,
        window: Window,
        config_hash: str,
        store: StateStore,
        calendars: Mapping[Side, Calendar],
        *,
        limiters: Mapping[Side, anyio.CapacityLimiter] | None = None,
    ) -> None:
        self.policy = _with_copy_identity(policy, store, calendars)
        self.keys = self.policy.copy_keys()
        self.rule = policy.rule
        self.window = window
        self.config_hash = _effective_hash(config_hash, self.policy)
        self.store = store
        self.calendars = calendars
        self.limiters = limiters or {
            side: anyio.CapacityLimiter(calendars[side].capabilities.max_concurrency)
            for side in SIDES
        }
        self.result = CycleResult(self.rule)
        self._quiet_so_far = False

    # -- listing ---------------------------------------------------------------------------

    async def _list(self, side: Side, cursor: str | None) -> _Listed:
        changes = await self.calendars[side].list_changes(cursor, self.window)
        items = {item.id: item for item in changes.items}
        for skipped in changes.skipped:
            self.result.problems.append(f"{side} {skipped.reason}")
        return _Listed(side, changes, items)

    async def _get_many(self, side: Side, ids: Iterable[str], into: dict[str, Item]) -> None:
        calendar = self.calendars[side]
        for item_id in sorted(set(ids) - into.keys()):
            try:
                into[item_id] = await calendar.get(item_id)
            except ItemError as exc:
                self.result.problems.append(f"{side} {item_id}: {exc}")

    async def _read_again(self, listed: _Listed, item_id: str) -> None:
        """Read an item the listing may not tell about: one that failed in an earlier cycle,
        or one a pair holds that no listing has shown yet. One deleted meanwhile is reported
        as deleted — the listing that saw it go is behind the cursor, or none ever will —
        since otherwise the planner takes the pair's remembered version for the current one."""
        if (
            listed.changes.full
            or item_id in listed.tried
            or item_id in listed.items
            or item_id in listed.changes.deleted
            or any(s.id == item_id for s in listed.changes.skipped)
        ):
            return
        listed.tried.add(item_id)
        try:
            listed.items[item_id] = await self.calendars[listed.side].get(item_id)
        except NotFound:
            listed.gone.add(item_id)
        except ItemError as exc:
            self.result.problems.append(f"{listed.side} {item_id}: {exc}")

    async def _complete(
        self,
        listed: dict[Side, _Listed],
        quiet_until: float | None,
        conflicts: Mapping[str, ConflictRecord],
    ) -> None:
        """Fetch what the planner needs beyond the changes: retries, window entries, copies
        and originals to pair up.

        After a quiet cycle (``quiet_until``: the end of its window), when both listings are
        empty again, no pair can hold an unlisted id and no original can wait in the window
        but one that entered it since: only those are looked up, through the span index, so
        a quiet cycle costs what changed rather than the calendar's size."""
        errors = self.store.item_errors(self.rule)
        for error in errors:
            await self._read_again(listed[error.side], error.id)
        nothing_listed = not any(listed[side].changes_anything for side in SIDES)
        still_quiet = (
            quiet_until is not None
            and not errors
            and not any(c.resolution for c in conflicts.values())
            and nothing_listed
        )
        since = quiet_until if still_quiet else None
        loose_ends = bool(errors)
        for side in SIDES:
            if not listed[side].changes.full and not still_quiet:
                for item_id in self.store.unlisted_pair_ids(self.rule, side):
                    loose_ends = True
                    await self._read_again(listed[side], item_id)
        origin_sides: tuple[Side, ...] = SIDES if self.policy.two_way else ("source",)
        for side in origin_sides:
            if listed[side].changes.full:
                continue
            candidates = self.store.window_candidates(
                self.rule,
                side,
                self.window.start.timestamp(),
                self.window.end.timestamp(),
                since=since,
            )
            loose_ends = loose_ends or bool(candidates)
            await self._get_many(side, candidates, listed[side].items)
        self._quiet_so_far = nothing_listed and not loose_ends
        for side in SIDES:
            there = other(side)
            if listed[there].changes.full:
                continue
            ids = list(listed[side].items)
            paired = (
                self.store.pairs(self.rule, source_ids=ids)
                if side == "source"
                else self.store.pairs(self.rule, target_ids=ids)
            )
            paired_ids = {p.side_id(side) for p in paired.values()}
            uids: set[str] = set()
            keys: set[str] = set()
            copy_keys: set[str] = set()
            for item in listed[side].items.values():
                if item.id in paired_ids:
                    continue
                marker = item.obj.marker
                if marker is None:  # an original: its copy, by key (or an object by UID)
                    uids.add(item.obj.uid)
                    keys.update(self._keys_of_copy(side, item.obj.uid))
                elif self.keys.owns(marker):  # a copy: its original
                    if marker.origin is not None:
                        uids.add(marker.origin)
                    else:
                        copy_keys.add(marker.key)
            found = self.store.seen_by_uid(self.rule, there, uids)
            found.update(self.store.seen_by_marker(self.rule, there, keys))
            found.update(self._originals_by_copy_key(there, copy_keys))
            await self._get_many(there, [r.id for r in found.values()], listed[there].items)

    def _keys_of_copy(self, origin: Side, uid: str) -> tuple[str, ...]:
        """The keys the copy of an original may have: the rule's, and the one a copy made
        before the rule's copies became anonymous has."""
        earlier = self.keys.earlier_key(origin, uid)
        key = self.keys.key(origin, uid)
        return (key,) if earlier is None else (key, earlier)

    def _originals_by_copy_key(self, side: Side, keys: set[str]) -> dict[str, SeenRecord]:
        """Originals on ``side`` whose copies have these (opaque) keys. An anonymous copy
        names no original, so every original remembered is tried — only for copies not
        paired yet (a create whose row a killed cycle never committed), so rarely."""
        if not keys:
            return {}
        return {
            record.id: record
            for record in self.store.seen_all(self.rule, side).values()
            if record.marker_key is None and self.keys.key(side, record.uid) in keys
        }

    def _pairs(
        self,
        listed: dict[Side, _Listed],
        rerender: bool,
        conflicts: Mapping[str, ConflictRecord],
    ) -> dict[str, PairRecord]:
        if rerender or any(listed[side].changes.full for side in SIDES):
            return self.store.all_pairs(self.rule)
        keys = {c.key for c in conflicts.values() if c.resolution}
        for side in SIDES:
            for item in listed[side].items.values():
                marker = item.obj.marker
                if marker is None:
                    keys.update(self._keys_of_copy(side, item.obj.uid))
                elif self.keys.owns(marker):
                    keys.add(marker.key)
        return self.store.pairs(
            self.rule,
            keys=keys,
            source_ids=[*listed["source"].items, *listed["source"].deleted],
            target_ids=[*listed["target"].items, *listed["target"].deleted],
        )

    async def _resolved_conflicts(
        self,
        pairs: Mapping[str, PairRecord],
        listed: dict[Side, _Listed],
        conflicts: Mapping[str, ConflictRecord],
    ) -> None:
        """Read both sides of every conflict the operator settled, to apply the choice."""
        for conflict in conflicts.values():
            pair = pairs.get(conflict.key)
            if conflict.resolution is None or pair is None:
                continue
            for side in SIDES:
                item_id = pair.side_id(side)
                if item_id is not None and not listed[side].changes.full:
                    await self._get_many(side, [item_id], listed[side].items)

    async def _list_both(
        self, listed: dict[Side, _Listed], cursors: dict[Side, str | None]
    ) -> None:
        """List both sides at once; a calendar error is raised as itself, not in a group."""

        async def list_side(side: Side) -> None:
            listed[side] = await self._list(side, cursors[side])

        failed: list[ProviderError] = []
        try:
            async with anyio.create_task_group() as tasks:
                for side in SIDES:
                    tasks.start_soon(list_side, side)
        except* ProviderError as group:
            failed.extend(_leaves(group))
        if failed:
            raise failed[0]

    def _check_two_calendars(self) -> None:
        """Refuse a rule whose two sides are one calendar — known once both are listed (CalDAV
        after discovery) — before any write: its copies would overwrite its originals."""
        source, target = self.calendars["source"], self.calendars["target"]
        if source.identity is not None and source.identity == target.identity:
            raise PermanentError(
                f"the target {target.where} is the same calendar as the source {source.where};"
                " nothing was written: point the target at another calendar"
            )

    # -- the cycle -------------------------------------------------------------------------

    async def run(self, *, dry_run: bool = False, allow_mass_delete: bool = False) -> CycleResult:
        if self.policy.keep_uids and self.policy.anonymous:
            target = self.calendars[sorted(self.policy.anonymous)[-1]]
            self.result.fail(
                PermanentError(
                    f"rule {self.rule} keeps its originals' UIDs (uid: keep), but {target.where}"
                    " is a published calendar whose copies are anonymous; nothing was written:"
                    " remove uid: keep"
                )
            )
            return self.result
        meta = self.store.rule(self.rule)
        rerender = bool(meta.config_hash) and meta.config_hash != self.config_hash
        cursors: dict[Side, str | None] = (
            {"source": None, "target": None} if rerender else self.store.cursors(self.rule)
        )
        conflicts = {c.key: c for c in self.store.conflicts(self.rule)}
        listed: dict[Side, _Listed] = {}
        pairs: dict[str, PairRecord] = {}
        try:
            await self._list_both(listed, cursors)
            self._check_two_calendars()
            await self._complete(listed, None if rerender else meta.quiet_until, conflicts)
            pairs = self._pairs(listed, rerender, conflicts)
            await self._resolved_conflicts(pairs, listed, conflicts)
        except ProviderError as exc:
            self.result.fail(exc)
            return self.result
        for side in SIDES:
            await in_worker_thread(self._place, listed[side])
            self.result.problems.extend(f"{side} {s.reason}" for s in listed[side].set_aside)
        given = PlanInput(
            policy=self.policy,
            window=self.window,
            source=self._view(listed["source"]),
            target=self._view(listed["target"]),
            pairs=pairs,
            pair_count=self.store.pair_count(self.rule),
            conflicts=conflicts,
            rerender=rerender,
            allow_mass_delete=allow_mass_delete,
        )
        the_plan = await in_worker_thread(plan, given)
        self.result.plan = the_plan
        self.result.problems.extend(f"{p.side} {p.item_id}: {p.message}" for p in the_plan.problems)
        if dry_run:
            return self.result
        if the_plan.steps and meta.quiet_until is not None:
            self.store.set_quiet(self.rule, None)  # before any write: see set_quiet
        if the_plan.hold is not None:
            self.store.hold(self.rule, the_plan.hold)
            self.result.held = the_plan.hold
            log.warning("rule held", rule=self.rule, reason=the_plan.hold)
            return self.result
        if meta.held_reason is not None:
            self.store.release(self.rule)
        executor = Executor(self.rule, self.calendars, self.store, self.limiters)
        self.result.outcome = outcome = await executor.run(the_plan)
        if outcome.calendar_errors:
            self.result.fail(outcome.calendar_errors[0])
            return self.result
        for side in SIDES:
            # Earlier failures of the items read this cycle are settled — unless they failed
            # again. Only now: a cycle that fails or is killed keeps them for the next one.
            settled = [
                item_id
                for item_id in (*listed[side].items, *listed[side].deleted)
                if (side, item_id) not in executor.failed
            ]
            self.store.clear_item_errors(self.rule, side, settled)
        await self._commit_listings(listed)
        self.store.set_config_hash(self.rule, self.config_hash)
        quiet = self._quiet_so_far and not the_plan.steps and not the_plan.problems
        if quiet or meta.quiet_until is not None:
            self.store.set_quiet(self.rule, self.window.end.timestamp() if quiet else None)
        return self.result

    def _place(self, listed: _Listed) -> None:
        """Place every object read in time (blocking: a worker thread); set aside those the
        window cannot place."""
        for item in list(listed.items.values()):
            checkpoint()
            try:
                listed.extents[item.id] = extent(item.obj, self.window)
            except Unexpandable as exc:
                del listed.items[item.id]
                listed.set_aside.append(Skipped(item.id, f"{item.id}: {exc}; skipped"))

    def _view(self, listed: _Listed) -> SideView:
        changes = listed.changes
        skipped = [*changes.skipped, *listed.set_aside]
        held = gone = 0
        if not changes.full and listed.deleted and not listed.items and not skipped:
            held, gone = self._holdings(listed)
        return SideView(
            items=listed.items,
            deleted=frozenset(listed.deleted),
            full=changes.full,
            skipped=frozenset(s.id for s in skipped),
            held=held,
            held_gone=gone,
        )

    def _holdings(self, listed: _Listed) -> tuple[int, int]:
        """How many objects the side held before this cycle — its last listing, plus objects
        of pairs no listing has shown yet — and how many of them this cycle found deleted
        (the guard's "suddenly empty" for an incremental listing)."""
        side, deleted = listed.side, set(listed.deleted)
        unlisted = set(self.store.unlisted_pair_ids(self.rule, side))
        held = self.store.seen_count(self.rule, side) + len(unlisted)
        gone = len(self.store.seen(self.rule, side, deleted)) + len(unlisted & deleted)
        return held, gone

    def _seen_records(self, side: Side, listed: _Listed) -> list[SeenRecord]:
        return [
            _seen_record(self.policy, side, item, listed.extents.get(item.id, (None, None)))
            for item in listed.items.values()
        ]

    async def _commit_listings(self, listed: dict[Side, _Listed]) -> None:
        """Remember what each side holds now, then move the cursors past this cycle."""
        for side in SIDES:
            changes = listed[side].changes
            records = await in_worker_thread(self._seen_records, side, listed[side])
            self.store.update_seen(
                self.rule, side, records, listed[side].deleted, replace_all=changes.full
            )
            for skipped in [*changes.skipped, *listed[side].set_aside]:
                self.store.set_item_error(self.rule, side, skipped.id, skipped.reason)
            self.store.set_cursor(self.rule, side, changes.cursor)
