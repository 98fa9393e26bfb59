"""Secret references: ``${env:NAME}``, ``${file:PATH}`` and ``${credential:NAME}``.

Rule files live in git, so secrets are written as references and resolved when the file is
loaded. A reference is a whole string value (``password: ${env:DAV_PASSWORD}``); ``file``
paths are relative to the file that contains the reference; ``credential`` reads
``$CREDENTIALS_DIRECTORY/NAME`` (systemd ``LoadCredential=``). Messages about a reference
name the reference, never what it resolved to.

A resolved value is stripped of surrounding whitespace (the newline an editor or ``echo``
leaves at the end of a secret file would otherwise be sent in a header). Every value a
reference resolved to is a secret: :attr:`Resolution.secrets` collects them for the
scrubber.

Keys whose value names a file (:data:`FILE_KEYS`: a Google key, a token cache) take a
reference as the file itself: ``credentials: ${file:/etc/calsyncd/sa.json}`` means that file,
as ``credentials: /etc/calsyncd/sa.json`` does, and ``${credential:NAME}`` the file systemd
placed in ``$CREDENTIALS_DIRECTORY`` — never the file's contents used as a path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calsyncd.config.base import expand_user
from calsyncd.config.yamlsource import Loc

SECRET_KEYS: frozenset[str] = frozenset({"password", "token", "client_secret", "webhook_secret"})
"""Connection keys that hold secrets: they must be references and are kept as ``SecretStr``."""

FILE_KEYS: frozenset[str] = frozenset({"credentials", "token_cache", "client_certificate"})
"""Keys whose value is a file path: a reference there names the file, not its contents."""

REFERENCE_PATTERN = r"^\$\{(env|file|credential):[^{}]+\}$"
"""A whole-value reference (as in the JSON Schema of secret keys)."""

LITERAL_SECRET_MESSAGE = (
    "write secrets as ${env:NAME}, ${file:PATH} or ${credential:NAME}; rule files are kept in git"
)

_REFERENCE_RE = re.compile(r"\$\{(?P<kind>[a-z]+):(?P<arg>[^{}]*)\}")
_LOOKS_LIKE_REFERENCE = re.compile(r"\$\{[a-z]+:")


class ReferenceError_(ValueError):  # the trailing _ avoids the builtin ReferenceError
    """A reference cannot be resolved; the message names the reference, never a value."""


def is_reference(value: object) -> bool:
    """Whether ``value`` is a string that is exactly one reference."""
    return isinstance(value, str) and _REFERENCE_RE.fullmatch(value.strip()) is not None


def resolve_reference(
    reference: str,
    *,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    as_path: bool = False,
) -> str:
    """The value ``reference`` (``${kind:arg}``) stands for, stripped.

    ``base_dir`` is the folder of the file holding the reference. With ``as_path`` a
    ``file`` or ``credential`` reference stands for the file's path, not its contents (the
    provider reading the file reports it missing, by path). Raises :class:`ReferenceError_`
    when the reference is malformed or its target is missing.
    """
    env = os.environ if environ is None else environ
    match = _REFERENCE_RE.fullmatch(reference.strip())
    if match is None:
        raise ReferenceError_(f"{reference} is not a reference; write ${{env:NAME}}")
    kind, arg = match["kind"], match["arg"].strip()
    shown = f"${{{kind}:{arg}}}"
    if not arg:
        raise ReferenceError_(f"{shown} names nothing")
    if kind == "env":
        value = env.get(arg)
        if value is None:
            raise ReferenceError_(f"{shown} is not set")
        return value.strip()
    if kind == "file":
        path = base_dir / expand_user(Path(arg))  # an absolute path replaces base_dir
        if as_path:
            return str(path)
        return _read(path, shown, f"cannot read {path}")
    if kind == "credential":
        folder = env.get("CREDENTIALS_DIRECTORY")
        if not folder:
            raise ReferenceError_(
                f"{shown}: CREDENTIALS_DIRECTORY is not set"
                " (credentials come from systemd LoadCredential=)"
            )
        if "/" in arg or arg in {".", ".."}:
            raise ReferenceError_(f"{shown}: a credential name cannot contain '/'")
        path = Path(folder) / arg
        return str(path) if as_path else _read(path, shown, f"no credential {arg!r} in {folder}")
    raise ReferenceError_(f"{shown}: unknown reference kind {kind!r}; use env, file or credential")


def _read(path: Path, shown: str, missing: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReferenceError_(f"{shown}: {missing}") from None
    except ValueError as exc:  # UnicodeDecodeError, or a NUL in the path
        reason = "UnicodeDecodeError" if isinstance(exc, UnicodeDecodeError) else "NUL in the path"
        raise ReferenceError_(f"{shown}: cannot read {path}: {reason}") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ReferenceError_(f"{shown}: cannot read {path}: {reason}") from None
    return text.strip()


@dataclass
class Resolution:
    """The result of :func:`resolve_references`.

    ``references`` maps each resolved path to the reference text written there (so messages
    about that value can name the reference instead of the value); ``secrets`` holds every
    value a reference resolved to (file paths of :data:`FILE_KEYS` excepted); ``errors``
    pairs a path with a message for every reference that could not be resolved or is misused.
    """

    data: Any
    references: dict[Loc, str] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    errors: list[tuple[Loc, str]] = field(default_factory=list)


def resolve_references(
    data: Any, *, base_dir: Path, environ: Mapping[str, str] | None = None
) -> Resolution:
    """Replace every reference in ``data`` (nested dicts and lists) by its value.

    Unresolvable references become ``""`` (and an error) so validation of the rest goes on.
    A string that merely contains a reference (``"https://${env:HOST}/"``) is an error too:
    references are whole values only.
    """
    result = Resolution(None)

    def walk(node: Any, loc: Loc) -> Any:
        if isinstance(node, dict):
            return {key: walk(value, (*loc, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value, (*loc, i)) for i, value in enumerate(node)]
        if not isinstance(node, str):
            return node
        if is_reference(node):
            result.references[loc] = node.strip()
            as_path = bool(loc) and loc[-1] in FILE_KEYS
            try:
                value = resolve_reference(node, base_dir=base_dir, environ=environ, as_path=as_path)
            except ReferenceError_ as exc:
                result.errors.append((loc, str(exc)))
                return ""
            if not as_path:
                result.secrets.add(value)
            return value
        if _LOOKS_LIKE_REFERENCE.search(node):
            result.errors.append(
                (loc, "a ${…} reference must be the whole value, not part of a longer string")
            )
        return node

    result.data = walk(data, ())
    return result
