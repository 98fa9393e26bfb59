"""How a copy is made from the original (``fields:``) and written back (``reverse_fields:``).

Values are plain strings the sync engine compares against:

- ``title`` / ``description`` / ``location``: ``"keep"``, ``"drop"`` or a template such as
  ``"Court: {title}"`` (see :mod:`calsyncd.config.templates`; a text without placeholders is a
  constant, as ``"Busy"``). A literal text "keep" or "drop" cannot be written.
- ``attendees``: keep | drop (default drop: copies never send invitations).
- ``reminders``: keep | drop | a tuple of offsets before the start (``[15m]``).
- ``visibility``: keep | public | private; ``show_as``: keep | busy | free.
- ``categories``: keep | drop | a mapping old name → new name (names not in the mapping are
  kept as they are; map one to ``""`` to drop it).
- ``recurrence``: keep (series are always synced as series).
- ``conference``: keep | drop (the join URL).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, Discriminator, Tag

from calsyncd.config.base import StrictModel, custom_error
from calsyncd.config.durations import Duration
from calsyncd.config.templates import TemplateError, check_template

KEEP: Final = "keep"
DROP: Final = "drop"
BUSY_BLOCK: Final = "busy-block"
"""The preset name accepted for ``fields:``."""


def _check_text(value: str) -> str:
    if value not in {KEEP, DROP}:
        try:
            check_template(value)
        except TemplateError as exc:
            raise custom_error("template", str(exc)) from None
    return value


TextField = Annotated[str, AfterValidator(_check_text)]
"""keep | drop | a template."""


def _word_or(other_tag: str, other_types: tuple[type, ...]) -> Any:
    def shape(value: Any) -> str | None:
        if isinstance(value, str) and value in {KEEP, DROP}:
            return "(word)"
        return other_tag if isinstance(value, other_types) else None

    return shape


Reminders = Annotated[
    Annotated[Literal["keep", "drop"], Tag("(word)")]
    | Annotated[tuple[Duration, ...], Tag("(list)")],
    Discriminator(
        _word_or("(list)", (list, tuple)),
        custom_error_type="reminders",
        custom_error_message="expected keep, drop or a list of durations such as [15m, 1h]",
    ),
]

Categories = Annotated[
    Annotated[Literal["keep", "drop"], Tag("(word)")] | Annotated[dict[str, str], Tag("(mapping)")],
    Discriminator(
        _word_or("(mapping)", (dict,)),
        custom_error_type="categories",
        custom_error_message="expected keep, drop or a mapping of category names {old: new}",
    ),
]

KeepDrop = Literal["keep", "drop"]
Visibility = Literal["keep", "public", "private"]
ShowAs = Literal["keep", "busy", "free"]


class FieldMap(StrictModel):
    """The forward mapping; the defaults keep everything except attendees."""

    title: TextField = KEEP
    description: TextField = KEEP
    location: TextField = KEEP
    attendees: KeepDrop = DROP
    reminders: Reminders = KEEP
    visibility: Visibility = KEEP
    show_as: ShowAs = KEEP
    categories: Categories = KEEP
    recurrence: Literal["keep"] = KEEP
    conference: KeepDrop = KEEP


BUSY_BLOCK_FIELDS = FieldMap(
    title="Busy",
    description=DROP,
    location=DROP,
    attendees=DROP,
    reminders=DROP,
    visibility="private",
    show_as="busy",
    categories=DROP,
    recurrence=KEEP,
    conference=DROP,
)
"""``fields: busy-block``: a private "Busy" block that shows when, and nothing else."""


class ReverseFieldMap(StrictModel):
    """``reverse_fields`` of a two-way rule: how target edits are written back to the source.

    Same keys and values as :class:`FieldMap`; a key left out (``None``) gets the default: the
    field is written back as is when its forward mapping is ``keep``, and not at all otherwise.
    """

    title: TextField | None = None
    description: TextField | None = None
    location: TextField | None = None
    attendees: KeepDrop | None = None
    reminders: Reminders | None = None
    visibility: Visibility | None = None
    show_as: ShowAs | None = None
    categories: Categories | None = None
    recurrence: Literal["keep"] | None = None
    conference: KeepDrop | None = None
