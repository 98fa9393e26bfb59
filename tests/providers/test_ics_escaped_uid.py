"""An ICS object whose UID is written with an escape that turns unreadable is skipped under
the UID it was listed with: the raw-text scan that finds the UIDs of unreadable objects
decodes a UID as the reader does."""

from __future__ import annotations

from pathlib import Path

import pytest

from calsyncd.providers.ics import IcsFeed, IcsFile

pytestmark = pytest.mark.anyio


def document(uid_text: str, start: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid_text}\r\nDTSTART:{start}\r\nSUMMARY:s\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("uid_text", "uid"),
    [
        ("a\\:b@example.org", "a:b@example.org"),  # not an RFC 5545 escape; readers undo it
        ("a\\,b\\;c@example.org", "a,b;c@example.org"),
    ],
)
@pytest.mark.parametrize("kind", [IcsFeed, IcsFile])
async def test_escaped_uid_turning_unreadable_is_skipped_not_deleted(
    tmp_path: Path, uid_text: str, uid: str, kind: type[IcsFeed] | type[IcsFile]
) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(document(uid_text, "20300101T100000Z"))
    async with (
        IcsFeed(str(path), where="c/f") if kind is IcsFeed else IcsFile(path, where="c/f")
    ) as calendar:
        full = await calendar.list_changes(None)
        assert [item.id for item in full.items] == [uid]
        path.write_bytes(document(uid_text, "garbage"))
        broken = await calendar.list_changes(full.cursor)
    assert broken.deleted == []
    assert [skip.id for skip in broken.skipped] == [uid]
    assert "DTSTART has an invalid date/time 'garbage'" in broken.skipped[0].reason
