"""Checks JSON against the schemas of the Calendar discovery document the client library ships.

The emulator runs every request body and every answer through :func:`violations`, so a
field it invents (or a type it gets wrong) shows up in its tests, and so does a field the
provider sends that the API does not have.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from typing import Any

from googleapiclient import discovery_cache


@cache
def document() -> dict[str, Any]:
    """``calendar.v3.json`` as shipped in googleapiclient/discovery_cache/documents."""
    doc: dict[str, Any] = json.loads(discovery_cache.get_static_doc("calendar", "v3"))
    return doc


def schema(name: str) -> dict[str, Any]:
    found: dict[str, Any] = document()["schemas"][name]
    return found


def violations(value: Any, name: str, *, allow_null: bool = False) -> list[str]:
    """Every way ``value`` differs from schema ``name`` (``allow_null``: patch bodies)."""
    found: list[str] = []
    _check(value, {"$ref": name}, name, found, allow_null)
    return found


def _string_ok(value: str, spec: dict[str, Any]) -> bool:
    fmt = spec.get("format")
    try:
        if fmt == "date-time":
            return datetime.fromisoformat(value).tzinfo is not None
        if fmt == "date":
            date.fromisoformat(value)
        elif fmt in ("int64", "uint64"):
            int(value)
    except ValueError:
        return False
    return "enum" not in spec or value in spec["enum"]


def _check(value: Any, spec: dict[str, Any], path: str, out: list[str], allow_null: bool) -> None:
    if "$ref" in spec:
        spec = schema(spec["$ref"])
    if value is None:
        if not allow_null:
            out.append(f"{path}: null")
        return
    kind = spec.get("type")
    if kind == "object" or (kind is None and "properties" in spec):
        if not isinstance(value, dict):
            out.append(f"{path}: expected an object, got {type(value).__name__}")
            return
        properties = spec.get("properties", {})
        extra = spec.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                _check(item, properties[key], f"{path}.{key}", out, allow_null)
            elif extra is not None:
                _check(item, extra, f"{path}[{key!r}]", out, allow_null)
            else:
                out.append(f"{path}.{key}: not in the discovery document")
    elif kind == "array":
        if not isinstance(value, list):
            out.append(f"{path}: expected an array, got {type(value).__name__}")
            return
        for n, item in enumerate(value):
            _check(item, spec.get("items", {}), f"{path}[{n}]", out, allow_null)
    elif kind == "string":
        if not isinstance(value, str) or not _string_ok(value, spec):
            out.append(f"{path}: {value!r} is not a valid {spec.get('format', 'string')}")
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            out.append(f"{path}: expected an integer, got {value!r}")
    elif kind == "boolean" and not isinstance(value, bool):
        out.append(f"{path}: expected a boolean, got {value!r}")
    elif kind == "number" and (not isinstance(value, int | float) or isinstance(value, bool)):
        out.append(f"{path}: expected a number, got {value!r}")
