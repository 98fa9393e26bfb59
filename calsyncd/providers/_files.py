"""Helpers shared by the file-backed providers (``local``, ``ics``).

- stat etags: cheap version stamps of a file that need no read of its contents;
- crash-safe writes: a temp file in the same folder, fsynced, then linked or renamed into place;
- cursors: a compact, versioned, tamper-tolerant encoding of ``{id: etag}`` maps;
- listings: the diff of two ``{id: etag}`` maps into changed and deleted ids.

Everything here is blocking; callers run it in worker threads.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import secrets
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calsyncd.errors import PermanentError, TemporaryError
from calsyncd.providers.base import Item, Skipped

ABSENT = "absent"
"""The stat etag of a file that does not exist (``write_atomic(if_match=ABSENT)``)."""

SKIPPED = "!"
"""Cursor etag of an object that could not be read: never equal to a real etag, so the object
is read (and reported) again by every listing, and its removal is seen as a deletion."""

TEMP_SUFFIX = ".tmp"
STALE_TEMP_SECONDS = 3600
"""Age after which a temp file of ours is litter from a killed process, safe to remove."""

_OUR_TEMP = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")


class StaleFile(Exception):
    """The file changed between the caller's check and the write (``if_match`` failed)."""


def stat_etag(st: os.stat_result) -> str:
    """A version stamp from ``stat`` alone.

    The inode is part of it because a same-size rewrite inside one mtime tick (a few ms on
    Linux) would otherwise keep the etag; every atomic replace makes a new inode.
    """
    return f"{st.st_mtime_ns}-{st.st_size}-{st.st_ino}"


def current_etag(path: Path) -> str:
    """The stat etag of ``path``, or :data:`ABSENT`."""
    try:
        return stat_etag(path.stat())
    except FileNotFoundError:
        return ABSENT


def is_candidate(name: str, suffix: str = ".ics") -> bool:
    """Whether a folder entry is a calendar file: not hidden, not a temp file, right suffix."""
    return not name.startswith(".") and name.endswith(suffix) and len(name) > len(suffix)


def read_versioned(path: Path) -> tuple[bytes, str]:
    """Read a file and the etag of exactly the version read (fstat of the open file)."""
    with path.open("rb") as fh:
        etag = stat_etag(os.fstat(fh.fileno()))
        return fh.read(), etag


def write_atomic(path: Path, data: bytes, *, if_match: str | None = None) -> os.stat_result:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never a part.

    With ``if_match`` the current etag of ``path`` (or :data:`ABSENT`) is checked right before
    the rename; a mismatch raises :class:`StaleFile`. Returns the ``stat`` of the new file.
    """
    with _temp_copy(path, data) as tmp:
        try:
            old: os.stat_result | None = path.stat()
        except FileNotFoundError:
            old = None
        if if_match is not None and (stat_etag(old) if old else ABSENT) != if_match:
            raise StaleFile(str(path))
        if old is not None:
            _newer_than(tmp, old)
        os.replace(tmp, path)
    return _settled(path)


def _newer_than(tmp: Path, old: os.stat_result) -> None:
    """Give ``tmp`` an mtime after ``old``'s, so that writes in one clock tick still differ."""
    st = tmp.stat()
    if st.st_mtime_ns <= old.st_mtime_ns:
        os.utime(tmp, ns=(st.st_atime_ns, old.st_mtime_ns + 1))


def create_exclusive(path: Path, data: bytes) -> os.stat_result | None:
    """Create ``path`` with ``data`` unless it exists (then ``None``); never a partial file.

    The temp file is hard-linked into place, which fails atomically if the name is taken.
    File systems without hard links fall back to an exclusive create (still atomic as to
    *whether* the file is made, though a reader may briefly see it partly written).
    """
    with _temp_copy(path, data) as tmp:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return None
        except OSError:
            try:
                _write_synced(path, data)
            except FileExistsError:
                return None
    return _settled(path)


@contextlib.contextmanager
def _temp_copy(path: Path, data: bytes) -> Iterator[Path]:
    """A synced hidden temp file beside ``path`` holding ``data``, removed afterwards."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
    try:
        _write_synced(tmp, data)
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def is_stale_temp(name: str, st: os.stat_result) -> bool:
    """Whether a folder entry is a temp file a killed writer of ours left behind."""
    return bool(_OUR_TEMP.fullmatch(name)) and time.time() - st.st_mtime > STALE_TEMP_SECONDS


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _settled(path: Path) -> os.stat_result:
    st = path.stat()
    fsync_dir(path.parent)
    return st


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def fsync_dir(folder: Path) -> None:
    """Make a rename, link or unlink in ``folder`` durable (best effort where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def os_errors(where: str, path: Path) -> Iterator[None]:
    """Translate unexpected ``OSError`` into the error tree, naming the path."""
    try:
        yield
    except PermissionError as exc:
        raise PermanentError(f"{path}: permission denied", where=where) from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TemporaryError(f"{path}: {reason}", where=where) from exc


def source_tag(source: str) -> str:
    """A short fingerprint of where a cursor came from, so another source's cursor is refused."""
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def encode_cursor(kind: str, payload: Mapping[str, Any]) -> str:
    """``kind.1.`` + urlsafe-base64 of the zlib-compressed JSON ``payload``."""
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    packed = base64.urlsafe_b64encode(zlib.compress(raw, 6)).decode("ascii")
    return f"{kind}.1.{packed}"


def decode_cursor(kind: str, cursor: str | None) -> dict[str, Any] | None:
    """The payload of a cursor made by :func:`encode_cursor` for ``kind``, else ``None``."""
    prefix = f"{kind}.1."
    if not cursor or not cursor.startswith(prefix):
        return None
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(cursor[len(prefix) :]))
        payload = json.loads(raw)
    except (binascii.Error, zlib.error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def str_map(value: object) -> dict[str, str] | None:
    """``value`` if it is a ``{str: str}`` mapping (as decoded from a cursor), else ``None``."""
    if not isinstance(value, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return value


def diff_ids(
    previous: Mapping[str, str] | None, current: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """Ids new or changed in ``current`` and ids gone from it; without ``previous``, all ids."""
    if previous is None:
        return list(current), []
    changed = [i for i, etag in current.items() if previous.get(i) != etag]
    deleted = [i for i in previous if i not in current]
    return changed, deleted


@dataclass(slots=True)
class Listing:
    """What a file provider gathered for one ``list_changes`` answer."""

    items: list[Item] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)
    """The ``{id: etag}`` map the next cursor carries (:data:`SKIPPED` for skipped ids)."""
