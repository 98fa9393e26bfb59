"""Rules and rule files (contract §4.2).

A :class:`Rule` says which events of a source calendar become copies on a target calendar
and how. After validation a rule is complete: ``fields`` is always a :class:`FieldMap`
(``busy-block`` and a missing ``fields:`` are expanded), and ``interval`` / ``window`` are
filled in from the settings ``defaults`` given in the validation context (the built-in
defaults without one). Checks that need other rules or connections (names, endpoints, a
target that is the source) are done by :mod:`calsyncd.config.rulefiles`.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from calsyncd.config.base import NAME_PATTERN, StrictModel, context_value, custom_error
from calsyncd.config.connections import Connection
from calsyncd.config.durations import PositiveDuration
from calsyncd.config.fieldmap import BUSY_BLOCK, BUSY_BLOCK_FIELDS, FieldMap, ReverseFieldMap
from calsyncd.config.filters import Filter
from calsyncd.config.settings import Defaults, SyncWindow

Direction = Literal["one-way", "two-way"]
ConflictPolicy = Literal["source-wins", "target-wins", "newest-wins", "merge", "manual"]
OnTargetChange = Literal["revert", "keep"]
Deletes = Literal["propagate", "keep"]
CopyUid = Literal["own", "keep"]

_NAME_RE = re.compile(NAME_PATTERN)


def _check_name(value: Any) -> Any:
    if isinstance(value, str) and not _NAME_RE.fullmatch(value):  # not "a\n"
        raise custom_error(
            "name", "names use lowercase letters, digits and '-', starting with a letter or digit"
        )
    return value


Name = Annotated[
    str,
    BeforeValidator(_check_name),
    WithJsonSchema({"type": "string", "pattern": NAME_PATTERN}),
]
"""A rule or connection name: ``[a-z0-9][a-z0-9-]*``."""


class Endpoint(StrictModel):
    """One side of a rule: a connection and, where it has several, a calendar of it.

    ``calendar`` is provider-specific (local: sub-folder; caldav: collection path or URL;
    google: calendar id or ``primary``; microsoft: name or id). ``user`` is the mailbox for
    Microsoft app-only access.
    """

    connection: Name
    calendar: str | None = None
    user: str | None = None


_PERCENT_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*%$")


def _check_max_deletes(value: Any) -> Any:
    if isinstance(value, bool):
        raise custom_error("max_deletes", "expected a count (25) or a percentage (25%)")
    if isinstance(value, int):
        if value < 0:
            raise custom_error("max_deletes", "cannot be negative")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        match = _PERCENT_RE.match(text)
        if match and float(match[1]) <= 100:
            return f"{match[1]}%"
    raise custom_error("max_deletes", "expected a count (25) or a percentage (0%-100%)")


MaxDeletes = Annotated[
    int | str,
    BeforeValidator(_check_max_deletes),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
            ],
            "description": "a number of events, or a percentage of the side (25%)",
        }
    ),
]


class Guard(StrictModel):
    """The mass-delete guard: a cycle deleting more than ``max_deletes`` is held."""

    max_deletes: MaxDeletes = "50%"

    def limit(self, total: int) -> int:
        """The most deletes allowed on a side that holds ``total`` events."""
        if isinstance(self.max_deletes, int):
            return self.max_deletes
        return math.floor(total * float(self.max_deletes.rstrip("%")) / 100)


class Meeting(StrictModel):
    """Give matching events a unique Zoom meeting."""

    connection: Name
    """A ``zoom`` connection."""
    when: Literal["missing", "always"] = "missing"
    """``missing``: only events without a join URL; ``always``: every event."""
    on_reschedule: Literal["update", "replace"] = "update"
    """Move the existing meeting (``update``) or make a new one (``replace``)."""


def _no_default(schema: dict[str, Any]) -> None:
    """No ``default: null`` for a key whose default depends on the rule."""
    schema.pop("default", None)


def _fields_schema(schema: dict[str, Any]) -> None:
    ref = schema.pop("$ref", None) or schema.pop("allOf", [{}])[0].get("$ref")
    schema["anyOf"] = [{"$ref": ref}, {"const": BUSY_BLOCK, "type": "string"}]


class Rule(StrictModel):
    """One sync rule.

    Defaults (beyond the contract's): ``conflict`` is ``newest-wins`` for both directions
    (on a one-way rule it decides between an edited copy kept by ``on_target_change: keep``
    and a newer original); ``reverse_fields`` ``None`` means "write back keep-fields only".
    """

    name: Name
    source: Endpoint
    target: Endpoint
    direction: Direction = "one-way"
    interval: PositiveDuration = Field(
        default=timedelta(minutes=5),
        description="poll interval; default: settings defaults.interval",
        json_schema_extra={"default": "5m"},
    )
    window: SyncWindow = Field(
        default_factory=SyncWindow, description="default: settings defaults.window"
    )
    filter: Filter = Field(default_factory=Filter)
    fields: FieldMap = Field(
        default_factory=FieldMap,
        description="busy-block, or how each field of the copy is made",
        json_schema_extra=_fields_schema,
    )
    reverse_fields: ReverseFieldMap | None = None
    """Two-way only: how target edits are written back (default: keep-fields only)."""
    conflict: ConflictPolicy = "newest-wins"
    on_target_change: OnTargetChange = "revert"
    deletes: Deletes = "propagate"
    guard: Guard = Field(default_factory=Guard)
    meeting: Meeting | None = None
    paused: bool = False
    """A paused rule is loaded and checked but runs no cycle."""
    anonymous: Annotated[bool | None, WithJsonSchema({"type": "boolean"})] = Field(
        default=None,
        description=(
            "copies carry nothing that identifies their original or this rule — their own UID"
            " and an opaque key only — for targets others read. Default: true with"
            " fields: busy-block (and always into a published ics file), else false"
        ),
        json_schema_extra=_no_default,
    )
    uid: CopyUid = Field(
        default="own",
        description=(
            "own: each copy gets its own UID, made from its key (Cyrus/Fastmail and iCloud"
            " allow a UID once per account); keep: copies keep their original's UID (true"
            " mirrors into another account or server)"
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _inherit_defaults(cls, data: Any, info: ValidationInfo) -> Any:
        """Fill ``interval`` and the parts of ``window`` the rule leaves out from settings."""
        defaults = context_value(info, "defaults")
        if not isinstance(defaults, Defaults) or not isinstance(data, dict):
            return data
        data = dict(data)
        data.setdefault("interval", defaults.interval)
        window = data.get("window")
        if "window" not in data:
            data["window"] = defaults.window
        elif isinstance(window, dict):
            data["window"] = {
                "past": defaults.window.past,
                "future": defaults.window.future,
                **window,
            }
        return data

    @field_validator("fields", mode="before")
    @classmethod
    def _preset(cls, value: Any) -> Any:
        if value == BUSY_BLOCK:
            return BUSY_BLOCK_FIELDS
        if isinstance(value, str):
            raise custom_error("fields", f"expected {BUSY_BLOCK} or a mapping of fields")
        return value

    @field_validator("reverse_fields")
    @classmethod
    def _two_way_only(
        cls, value: ReverseFieldMap | None, info: ValidationInfo
    ) -> ReverseFieldMap | None:
        if value is not None and info.data.get("direction", "one-way") != "two-way":
            raise custom_error(
                "misplaced", "only two-way rules have reverse_fields (this rule is one-way)"
            )
        return value

    @field_validator("anonymous")
    @classmethod
    def _busy_blocks_are_anonymous(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        if value is False and info.data.get("fields") == BUSY_BLOCK_FIELDS:
            raise custom_error(
                "anonymous",
                "busy blocks are always anonymous: remove anonymous: false (or spell the"
                " fields out instead of busy-block)",
            )
        return value

    @field_validator("uid")
    @classmethod
    def _anonymous_copies_have_their_own(cls, value: CopyUid, info: ValidationInfo) -> CopyUid:
        busy_block = info.data.get("fields") == BUSY_BLOCK_FIELDS
        if value == "keep" and (info.data.get("anonymous") or busy_block):
            what = "a busy block" if busy_block else "an anonymous copy"
            raise custom_error(
                "uid",
                f"uid: keep would give {what} its original's UID, which identifies the"
                " original: remove uid: keep",
            )
        return value

    @property
    def two_way(self) -> bool:
        return self.direction == "two-way"

    @property
    def anonymous_copies(self) -> bool:
        """Whether the rule's copies are anonymous (``anonymous``; busy blocks always are)."""
        if self.anonymous is not None:
            return self.anonymous
        return self.fields == BUSY_BLOCK_FIELDS


class RuleFile(StrictModel):
    """A rule file: ``connections`` and ``rules``, both optional. Names are global."""

    connections: dict[Name, Connection] = Field(default_factory=dict)
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        """An empty file, or ``rules:`` with nothing under it, is an empty rule file."""
        if data is None:
            return {}
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


def rule_file_json_schema() -> dict[str, Any]:
    """The JSON Schema of rule files, for editors (yaml-language-server) and CI."""
    schema = RuleFile.model_json_schema()
    schema["properties"]["connections"]["additionalProperties"] = False  # names follow NAME_PATTERN
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "calsyncd rule file",
    }
