"""Shared building blocks of the config models: the strict base model, errors, paths, URLs.

Models are validated with a context ``{"base_dir": Path, "defaults": Defaults}`` (see
:func:`validation_context`): relative paths resolve against ``base_dir`` — the folder of the
file being loaded — and rules inherit ``defaults``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo
from pydantic_core import PydanticCustomError

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
"""Rule and connection names: lowercase letters, digits and ``-`` (used in URLs and metrics)."""


class StrictModel(BaseModel):
    """Immutable, and unknown keys are errors (a typo must not pass silently).

    Numbers are accepted where text is expected (``client_id: 12345``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


def custom_error(kind: str, message: str) -> PydanticCustomError:
    """A validation error whose message is exactly ``message`` (braces in it are safe)."""
    return PydanticCustomError(kind, "{message}", {"message": message})


def validation_context(base_dir: Path, defaults: Any = None) -> dict[str, Any]:
    """The context rule files and settings are validated with."""
    return {"base_dir": base_dir, "defaults": defaults}


def context_value(info: ValidationInfo, key: str) -> Any:
    """A value of the validation context, or ``None`` without one."""
    context = info.context
    return context.get(key) if isinstance(context, dict) else None


def normalize_path(path: Path) -> Path:
    """An absolute path with ``..`` folded, without resolving symlinks.

    Symlinks are kept on purpose: a config folder swapped by an atomic symlink change (a
    Kubernetes ConfigMap, a deploy tool) must be read through the link.
    """
    return Path(os.path.normpath(expand_user(Path(path)).absolute()))


def expand_user(path: Path) -> Path:
    """``~`` and ``~user`` expanded; an unknown user's ``~name`` stays as written, as in a shell."""
    try:
        return path.expanduser()
    except RuntimeError:  # "Could not determine home directory."
        return path


def resolve_path(value: Path | str, base_dir: Path | None) -> Path:
    """``value`` made absolute against ``base_dir`` (the current folder without one)."""
    path = expand_user(Path(value))
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return normalize_path(path)


def _resolve_in_context(value: Path, info: ValidationInfo) -> Path:
    base = context_value(info, "base_dir")
    return resolve_path(value, base if isinstance(base, Path) else None)


ResolvedPath = Annotated[Path, AfterValidator(_resolve_in_context)]
"""A file or folder path; a relative one is relative to the file it is written in."""


def check_http_url(value: str) -> str:
    """Accept only absolute ``http://`` or ``https://`` URLs."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise custom_error("url", "expected an http:// or https:// URL")
    return value


HttpUrl = Annotated[str, AfterValidator(check_http_url)]
"""An absolute http(s) URL, kept as the string written."""
