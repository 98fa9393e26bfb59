"""Field templates: allowed placeholders only, and a pure render."""

from __future__ import annotations

import pytest

from calsyncd.config.templates import TemplateError, check_template, render


def test_check_returns_placeholders() -> None:
    assert check_template("Court: {title} @ {location} {{literal}}") == ("title", "location")
    assert check_template("Busy") == ()


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{title.upper}", "{title.upper}: attribute and index access are not allowed"),
        ("{title[0]}", "{title[0]}: attribute and index access are not allowed"),
        ("{title!r}", "{title!r}: conversions (!r) are not allowed"),
        ("{title:>10}", "{title:>10}: format specs (:>10) are not allowed"),
        ("{room}", "unknown placeholder {room}; allowed placeholders: {title}, {description}"),
        ("{}", "empty placeholder {}"),
        ("{0}", "unknown placeholder {0}"),
        ("oops }", "Single '}' encountered in format string; write {{ and }} for literal braces"),
        ("{title", "expected '}' before end of string"),
    ],
)
def test_check_rejects(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        check_template(template)

    assert str(caught.value).startswith(message)


def test_render_substitutes_plain_strings() -> None:
    values = {"title": "Hearing {x}", "location": "Room 1"}

    assert (
        render("Court: {title} ({location}) {{id}}", values) == "Court: Hearing {x} (Room 1) {id}"
    )
    assert render("{description}|{title}", values) == "|Hearing {x}"


def test_render_refuses_attribute_access() -> None:
    with pytest.raises(TemplateError):
        render("{title.__class__}", {"title": "x"})
