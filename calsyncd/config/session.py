"""One load of the configuration: files read, problems collected, revision hashed."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from calsyncd.config.base import normalize_path
from calsyncd.config.problems import located, plain_problem, with_path
from calsyncd.config.secrets import resolve_references
from calsyncd.config.yamlsource import Loc, YamlDocument, parse_yaml
from calsyncd.errors import ConfigError, Problem

_LINE_BREAK = re.compile("[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
"""Characters that end a line (as :meth:`str.splitlines` sees them) — written escaped."""

MAX_FILE_BYTES = 1024 * 1024
"""The largest settings or rule file read: a hundred rules take a few dozen KiB."""


def display_path(path: Path) -> str:
    """How a path is shown in messages: as given if relative, else relative to cwd if inside."""
    if not path.is_absolute():
        return os.path.normpath(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class Session:
    """One load: the problems found so far, the order of sources, the revision hash."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.order: dict[str, int] = {}
        self.digest = hashlib.sha256()
        self.secrets: set[str] = set()
        """Every value a reference resolved to, for the scrubber."""

    def source(self, name: str) -> str:
        self.order.setdefault(name, len(self.order))
        return name

    def add(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.source(problem.path)
            if _LINE_BREAK.search(problem.message):  # one problem, one line of output
                message = _LINE_BREAK.sub(lambda m: repr(m[0])[1:-1], problem.message)
                self.problems.append(dataclasses.replace(problem, message=message))
            else:
                self.problems.append(problem)

    def sorted_problems(self) -> list[Problem]:
        return sorted(self.problems, key=lambda p: (self.order.get(p.path, 0), p.line, p.column))

    def read(self, path: Path) -> YamlDocument | None:
        shown = self.source(display_path(path))
        try:
            raw = _read_bounded(path)
        except FileNotFoundError:
            self.add([plain_problem(shown, "no such file")])
            return None
        except IsADirectoryError:
            self.add([plain_problem(shown, "is a folder, not a file")])
            return None
        except _NotARegularFile:
            self.add([plain_problem(shown, "not a regular file")])
            return None
        except _TooLarge:
            limit = MAX_FILE_BYTES // 1024
            self.add([plain_problem(shown, f"larger than {limit} KiB; is it the right file?")])
            return None
        except OSError as exc:
            self.add([plain_problem(shown, f"cannot read: {exc.strerror or exc}")])
            return None
        except ValueError:  # a NUL in the path
            self.add([plain_problem(shown, "cannot read: not a valid path")])
            return None
        self.digest.update(f"{normalize_path(path)}\0{len(raw)}\0".encode())
        self.digest.update(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.add([plain_problem(shown, f"not UTF-8 text (byte {exc.start})")])
            return None
        try:
            return parse_yaml(text, shown)
        except ConfigError as exc:
            self.add(exc.problems)
            return None

    def resolve(self, doc: YamlDocument, base_dir: Path) -> tuple[Any, dict[Loc, str]]:
        """Resolve secret references; unresolvable ones are problems at their value."""
        resolution = resolve_references(doc.data, base_dir=base_dir)
        self.add(located(doc, loc, with_path(loc, msg)) for loc, msg in resolution.errors)
        self.secrets |= resolution.secrets
        return resolution.data, resolution.references


class _NotARegularFile(OSError):
    pass


class _TooLarge(OSError):
    pass


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, refusing what is not a regular file (``/dev/zero``, a FIFO that
    would block) and reading no more than :data:`MAX_FILE_BYTES`."""
    if path.is_dir():
        raise IsADirectoryError(path)
    if not stat.S_ISREG(path.stat().st_mode):
        raise _NotARegularFile(path)
    with path.open("rb") as file:
        raw = file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise _TooLarge(path)
    return raw
