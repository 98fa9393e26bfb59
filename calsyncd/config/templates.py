"""Field templates such as ``"Court: {title}"``.

A template is literal text with ``{name}`` placeholders taken from :data:`PLACEHOLDERS`;
``{{`` and ``}}`` are literal braces. Nothing else of :meth:`str.format` is allowed — no
attribute or index access, conversions or format specs — so a rule file can never reach into
Python objects. :func:`check_template` validates (rule files are checked at load time);
:func:`render` fills a template in with plain strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter

PLACEHOLDERS: tuple[str, ...] = (
    "title",
    "description",
    "location",
    "start",
    "end",
    "calendar",
    "organizer",
    "categories",
)
"""The names a template may use."""

_ALLOWED = ", ".join("{" + name + "}" for name in PLACEHOLDERS)


class TemplateError(ValueError):
    """A template is malformed or uses something other than a plain allowed placeholder."""


def _parts(template: str) -> list[tuple[str, str | None]]:
    """Split into (literal text, placeholder name or None), validating every placeholder."""
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(
            f"{exc}; write {{{{ and }}}} for literal braces, {{name}} for a placeholder"
        ) from None
    parts: list[tuple[str, str | None]] = []
    for literal, field, spec, conversion in parsed:
        if field is None:
            parts.append((literal, None))
            continue
        shown = (
            "{"
            + field
            + (f"!{conversion}" if conversion else "")
            + (f":{spec}" if spec else "")
            + "}"
        )
        if field == "":
            raise TemplateError(f"empty placeholder {shown}; allowed placeholders: {_ALLOWED}")
        name = field.split(".", 1)[0].split("[", 1)[0]
        if name != field:
            raise TemplateError(
                f"{shown}: attribute and index access are not allowed in templates"
                f" (write {{{name}}})"
            )
        if conversion:
            raise TemplateError(f"{shown}: conversions (!{conversion}) are not allowed")
        if spec:
            raise TemplateError(f"{shown}: format specs (:{spec}) are not allowed")
        if name not in PLACEHOLDERS:
            raise TemplateError(f"unknown placeholder {shown}; allowed placeholders: {_ALLOWED}")
        parts.append((literal, name))
    return parts


def check_template(template: str) -> tuple[str, ...]:
    """Validate ``template`` and return the placeholder names it uses, in order.

    Raises :class:`TemplateError` with a message naming the offending placeholder.
    """
    return tuple(name for _, name in _parts(template) if name is not None)


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``template`` in from ``values``; a placeholder without a value renders as ``""``.

    Pure string substitution: no ``eval``, no attribute access. Raises :class:`TemplateError`
    for a template :func:`check_template` would reject.
    """
    out: list[str] = []
    for literal, name in _parts(template):
        out.append(literal)
        if name is not None:
            out.append(values.get(name, ""))
    return "".join(out)
