"""The deployment's copy secret (``calsyncd.state.secret``): made once, beside the state
database and not in it, so that losing the database does not lose it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from calsyncd.errors import StateError
from calsyncd.state.secret import secret_path
from calsyncd.state.store import StateStore


def test_made_on_first_need_beside_the_database_mode_0600(tmp_path: Path) -> None:
    db = tmp_path / "state" / "calsyncd.db"
    store = StateStore.open(db)
    assert store.copy_secret(create=False) is None
    assert not secret_path(db).exists()
    secret = store.copy_secret(create=True)
    assert secret is not None
    assert len(secret) == 32
    path = tmp_path / "state" / "calsyncd.secret"
    assert secret_path(db) == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == secret.hex() + "\n"
    store.close()
    assert StateStore.open(db).copy_secret(create=True) == secret


def test_survives_the_loss_of_the_database(tmp_path: Path) -> None:
    db = tmp_path / "calsyncd.db"
    store = StateStore.open(db)
    secret = store.copy_secret(create=True)
    store.close()
    for leftover in tmp_path.glob("calsyncd.db*"):
        leftover.unlink()
    assert StateStore.open(db).copy_secret(create=True) == secret


def test_a_reader_never_writes_one(tmp_path: Path) -> None:
    """``plan`` opens the state read-only: with no secret yet it uses one of its own."""
    db = tmp_path / "calsyncd.db"
    missing = StateStore.open_readonly(db)
    assert missing.copy_secret(create=False) is None
    assert missing.copy_secret(create=True) is not None
    StateStore.open(db).close()
    reader = StateStore.open_readonly(db)
    assert reader.copy_secret(create=True) is not None
    assert not secret_path(db).exists()
    made = StateStore.open(db).copy_secret(create=True)
    assert StateStore.open_readonly(db).copy_secret(create=False) == made


def test_a_broken_secret_file_is_an_error_naming_it(tmp_path: Path) -> None:
    db = tmp_path / "calsyncd.db"
    secret_path(db).write_text("not a secret\n")
    with pytest.raises(StateError, match=r"calsyncd\.secret is not a calsyncd copy secret"):
        StateStore.open(db).copy_secret(create=True)


def test_the_secret_file_is_never_the_database(tmp_path: Path) -> None:
    assert secret_path(tmp_path / "state.db") == tmp_path / "state.secret"
    assert secret_path(tmp_path / "state") == tmp_path / "state.secret"
    assert secret_path(tmp_path / "x.secret") == tmp_path / "x.secret.secret"
