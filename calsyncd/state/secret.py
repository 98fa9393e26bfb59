"""The deployment's copy secret: the key of the opaque keys anonymous copies carry.

32 random bytes, made on first need and kept in a file *beside* the state database
(``calsyncd.db`` → ``calsyncd.secret``, mode 0600), not in it: a lost or deleted database must
not take the secret along, or the anonymous copies already made could no longer be recognised
(adopted by key, or found orphaned). The file holds the bytes as 64 hexadecimal digits and a
newline. It is made atomically (written, fsynced, then linked into place), so two processes
starting at once agree on one secret.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from calsyncd.errors import StateError

SECRET_BYTES = 32
_TEXT = re.compile(r"[0-9a-f]{64}")


def secret_path(database: Path) -> Path:
    """The secret file of the state database ``database``."""
    path = database.with_suffix(".secret")
    return path if path != database else database.with_name(database.name + ".secret")


def read_secret(path: Path) -> bytes | None:
    """The secret in ``path``; ``None`` if there is no such file."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"{path}: cannot read the copy secret: {exc}") from exc
    if not _TEXT.fullmatch(text):
        raise StateError(
            f"{path} is not a calsyncd copy secret (64 hexadecimal digits): restore it from a"
            " backup, or remove it to make a new one (anonymous copies made under the old one"
            " are then no longer recognised)"
        )
    return bytes.fromhex(text)


def load_or_create_secret(path: Path) -> bytes:
    """The secret in ``path``, made (mode 0600) if the file does not exist yet."""
    found = read_secret(path)
    if found is not None:
        return found
    value = secrets.token_bytes(SECRET_BYTES)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.write(fd, (value.hex() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):  # made meanwhile by another: use that
            os.link(temp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise StateError(f"{path}: cannot write the copy secret: {exc}") from exc
    finally:
        temp.unlink(missing_ok=True)
    found = read_secret(path)
    if found is None:
        raise StateError(f"{path}: the copy secret vanished as it was written")
    return found


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
