"""Rule filters (contract §4.2): which events a rule syncs.

An event is synced when it matches any ``include`` clause (or there is none) and no
``exclude`` clause. A clause matches when all of its keys match. Regular expressions are
compiled at load time (``re.search`` semantics: write ``^…$`` to anchor).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from calsyncd.config.base import StrictModel, custom_error


def _compile(value: Any) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise custom_error("regex", "expected a regular expression (a string)")
    try:
        return re.compile(value)
    except re.error as exc:
        raise custom_error("regex", f"invalid regular expression: {exc}") from None


Regex = Annotated[re.Pattern[str], BeforeValidator(_compile)]
"""A regular expression, compiled when the file is loaded."""

FILTER_KEYS: tuple[str, ...] = (
    "title",
    "description",
    "location",
    "categories",
    "all_day",
    "show_as",
    "status",
    "response",
    "recurring",
)


class FilterClause(StrictModel):
    """One clause; it matches an event when every key given matches."""

    title: Regex | None = None
    description: Regex | None = None
    location: Regex | None = None
    categories: tuple[str, ...] | None = Field(default=None, min_length=1)
    """Matches when the event has any of these categories."""
    all_day: bool | None = None
    show_as: Literal["busy", "free"] | None = None
    status: Literal["confirmed", "tentative", "cancelled"] | None = None
    response: Literal["accepted", "declined", "tentative", "needs-action"] | None = None
    """The calendar owner's own answer to the invitation."""
    recurring: bool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> FilterClause:
        if all(getattr(self, key) is None for key in FILTER_KEYS):
            raise custom_error(
                "empty_clause",
                "an empty filter clause would match every event; give at least one of "
                + ", ".join(FILTER_KEYS),
            )
        return self


class Filter(StrictModel):
    """``include`` and ``exclude`` lists of clauses; both default to empty."""

    include: tuple[FilterClause, ...] = ()
    exclude: tuple[FilterClause, ...] = ()
