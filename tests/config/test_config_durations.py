"""Durations: parsing, the short form, the pydantic type and its JSON schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import BaseModel, ValidationError

from calsyncd.config.durations import (
    Duration,
    PositiveDuration,
    format_duration,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(days=14)),
        ("1h30m", timedelta(minutes=90)),
        ("1d 2h", timedelta(days=1, hours=2)),
        ("90", timedelta(seconds=90)),
        ("0.5s", timedelta(milliseconds=500)),
        (90, timedelta(seconds=90)),
        (1.5, timedelta(seconds=1.5)),
    ],
)
def test_parse(text: str | float, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "soon", "5x", "m5", "-1d", "1m1h", True, -3, None, [1]])
def test_parse_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(days=365), "365d"),
        (timedelta(days=1, seconds=1.25), "1d1.25s"),
    ],
)
def test_format_round_trips(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


class M(BaseModel):
    d: Duration
    p: PositiveDuration = timedelta(seconds=1)


def test_pydantic_type_validates_and_serializes_short_form() -> None:
    m = M.model_validate({"d": "1h30m", "p": 60})

    assert m.d == timedelta(minutes=90)
    assert m.model_dump(mode="json") == {"d": "1h30m", "p": "1m"}


def test_pydantic_errors_are_human() -> None:
    with pytest.raises(ValidationError) as caught:
        M.model_validate({"d": "soon", "p": "0s"})

    assert [(e["loc"], e["msg"]) for e in caught.value.errors()] == [
        (("d",), "expected a duration such as 30s, 5m, 1h30m or 7d, or a number of seconds"),
        (("p",), "must be longer than 0s"),
    ]


def test_json_schema_is_string_or_number_with_pattern() -> None:
    schema = M.model_json_schema()["properties"]["d"]

    string, number = schema["anyOf"]
    assert string["type"] == "string"
    assert number == {"type": "number", "minimum": 0}
    import re

    assert re.fullmatch(string["pattern"], "1h30m")
    assert not re.fullmatch(string["pattern"], "")
    assert not re.fullmatch(string["pattern"], "soon")
