"""Turning pydantic validation errors into ``path:line:col: message`` problems.

A pydantic error location (``("connections", "team", "caldav", "password")``) contains union
tags that are not in the document; :func:`validation_problems` walks it against the parsed
data to find the real path, then the position of the key (unknown, missing or misplaced keys;
whole mappings) or of the value (bad values), and writes a short message in the user's terms.
Values that came from a secret reference, and values of secret keys, are never shown.
"""

from __future__ import annotations

import difflib
import json
import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from calsyncd.config.secrets import SECRET_KEYS
from calsyncd.config.yamlsource import Loc, YamlDocument
from calsyncd.errors import Problem


@dataclass(frozen=True, slots=True)
class PlainProblem(Problem):
    """A problem without a position in a file: a missing file, an environment variable.

    Printed as ``path: message`` (``path`` is the file or the variable name).
    """

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def plain_problem(where: str, message: str) -> Problem:
    return PlainProblem(where, 0, 0, message)


def located(doc: YamlDocument, loc: Loc, message: str, *, key: bool = False) -> Problem:
    """A problem at ``loc`` of ``doc`` (its key with ``key``, else its value)."""
    at = doc.position(loc, key=key)
    return Problem(doc.source, at.line, at.column, message)


_SIMPLE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def dotted(loc: Loc) -> str:
    """A path as people read it: ``rules[0].fields.categories["Court Date"]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SIMPLE_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


def with_path(loc: Loc, text: str) -> str:
    """``text`` prefixed by the dotted path, when there is one."""
    where = dotted(loc)
    return f"{where}: {text}" if where else text


def show(value: Any) -> str:
    """A value as a person would recognize it from the YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "…"
        return json.dumps(text, ensure_ascii=False)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, datetime | date):
        return f"the date {value.isoformat()}"
    return f"a {type(value).__name__}"


_MISSING = object()


def _walk(loc: Iterable[str | int], data: Any, *, missing: bool) -> tuple[Loc, Any, bool]:
    """The real path of a pydantic loc in ``data``, the node there, and whether it is a key.

    Parts that are not in the data are union tags (``"caldav"``, ``"(list)"``) and are
    skipped — except the last part of a ``missing`` error, which is the missing key.
    """
    parts = list(loc)
    path: list[str | int] = []
    node = data
    for i, part in enumerate(parts):
        if part == "[key]":
            return tuple(path), node, True
        if isinstance(part, str) and part.startswith("(") and part.endswith(")"):
            continue
        if isinstance(node, dict) and isinstance(part, str):
            if part in node:
                path.append(part)
                node = node[part]
            elif missing and i == len(parts) - 1:
                path.append(part)
                node = _MISSING
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
    return tuple(path), node, False


def _unwrap(tp: Any, node: Any) -> Any:
    """The concrete type of an annotation for this data node (unions resolved by ``type``)."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in {Union, types.UnionType}:
        members = [_unwrap(arg, node) for arg in get_args(tp) if arg is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if isinstance(node, dict) and len(models) > 1:
            for model in models:
                field = model.model_fields.get("type")
                if field is not None and node.get("type") in get_args(field.annotation):
                    return model
        if models:
            return models[0]
        return members[0] if members else tp
    return tp


def allowed_keys(root: type[BaseModel], path: Loc, data: Any) -> tuple[str, ...]:
    """The keys the model at ``path`` accepts (for "did you mean" hints)."""
    tp: Any = root
    node = data
    for part in path:
        tp = _unwrap(tp, node)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return ()
            tp = field.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) in {tuple, list}:
            tp = get_args(tp)[0]
        else:
            return ()
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    tp = _unwrap(tp, node)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tuple(tp.model_fields)
    return ()


def _choices(expected: str) -> list[str]:
    return re.findall(r"'([^']*)'", expected)


def _one_of(options: list[str]) -> str:
    if len(options) == 1:
        return options[0]
    return "one of " + ", ".join(options)


def _unknown_key(key: str, allowed: tuple[str, ...]) -> str:
    text = f'unknown key "{key}"'
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f'{text}; did you mean "{close[0]}"?'
    if allowed:
        return f"{text}; expected one of {', '.join(allowed)}"
    return text


_TYPE_NAMES = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
    "tuple_type": "a list",
    "path_type": "a path",
}

_SHAPE_ERRORS = {*_TYPE_NAMES, "reminders", "categories", "fields", "regex", "duration"}
"""Errors about a value's shape: reported at the value even when it is a list or mapping."""

_NO_INPUT = {"missing", "extra_forbidden", "template", "misplaced", "union_tag_not_found"}


def _describe(err: ErrorDetails, key: str | int | None, allowed: tuple[str, ...]) -> str:
    kind = err["type"]
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    if kind == "missing":
        return f'missing required key "{key}"'
    if kind == "extra_forbidden":
        return _unknown_key(str(key), allowed)
    if kind in {"enum", "literal_error"}:
        return f"expected {_one_of(_choices(str(ctx.get('expected', ''))))}"
    if kind == "union_tag_invalid":
        tags = _choices(str(ctx.get("expected_tags", "")))
        name = str(ctx.get("discriminator", "")).strip("'")
        return f'unknown {name} "{ctx.get("tag")}"; expected {_one_of(tags)}'
    if kind == "union_tag_not_found":
        name = str(ctx.get("discriminator", "")).strip("'")
        return f'missing required key "{name}"'
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')}"
    message = err["msg"]
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def validation_problems(
    exc: ValidationError,
    doc: YamlDocument,
    root: type[BaseModel],
    *,
    data: Any = None,
    references: Mapping[Loc, str] | None = None,
    overrides: Mapping[Loc, str] | None = None,
) -> list[Problem]:
    """One problem per error of ``exc``, located in ``doc``.

    ``data`` is what was validated (default ``doc.data``); ``references`` maps paths that
    held a secret reference to its text (see :mod:`calsyncd.config.secrets`); ``overrides``
    maps paths whose value came from elsewhere (an environment variable) to that source's
    name — their problems are :class:`PlainProblem` named after it.
    """
    refs = references or {}
    base = doc.data if data is None else data
    problems: list[Problem] = []
    seen: set[Problem] = set()
    for err in exc.errors(include_url=False):
        kind = err["type"]
        path, node, key_error = _walk(err["loc"], base, missing=kind == "missing")
        if kind == "union_tag_invalid" and isinstance(node, dict) and "type" in node:
            path, node = (*path, "type"), node["type"]
        full = path
        about_key = key_error or kind in {"missing", "extra_forbidden", "misplaced"}
        if about_key and kind != "misplaced" and path:
            shown_path, key = full[:-1], path[-1]
        else:
            shown_path, key = full, None
        allowed = allowed_keys(root, path[:-1], base) if kind == "extra_forbidden" else ()
        text = _describe(err, key, allowed)
        if key_error:
            text = f"{show(path[-1])}: {text}" if path else text
        hidden = any(part in SECRET_KEYS for part in full) or full in refs
        value = err.get("input")
        if full in refs and isinstance(value, str) and value:
            text = text.replace(value, "…")  # never echo what a reference resolved to
        if not about_key and kind not in _NO_INPUT and not isinstance(value, dict | list):
            if full in refs:
                text += f" (the value of {refs[full]})"
            elif not hidden and node is not _MISSING:
                text += f", got {show(value)}"
        source = _override(overrides or {}, full)
        if source is not None:
            problem: Problem = plain_problem(source, text)
        else:
            whole = isinstance(node, dict | list) and kind not in _SHAPE_ERRORS
            at = doc.position(full, key=about_key or whole)
            problem = Problem(doc.source, at.line, at.column, with_path(shown_path, text))
        if problem not in seen:
            seen.add(problem)
            problems.append(problem)
    return problems


def _override(overrides: Mapping[Loc, str], loc: Loc) -> str | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in overrides:
            return overrides[loc[:end]]
    return None
