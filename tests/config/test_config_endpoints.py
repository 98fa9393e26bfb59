"""Endpoint identity: one calendar written two ways is one calendar; local names stay inside
their connection (issue 11, findings 10 and 11)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from calsyncd.config import Connection, load_rule_files
from calsyncd.config.endpoints import identity, is_plain_folder_name, normalize_url
from calsyncd.errors import ConfigError

Write = Callable[[str, str], Path]

_CONNECTION: TypeAdapter[Connection] = TypeAdapter(Connection)


def conn(**fields: object) -> Connection:
    return _CONNECTION.validate_python(fields)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("HTTP://Dav.Example.ORG:80/alice/cal", "http://dav.example.org/alice/cal/"),
        ("https://dav.example.org:443/a/", "https://dav.example.org/a/"),
        ("https://u:pw@dav.example.org/a/./b/../c/", "https://dav.example.org/a/c/"),
        ("https://dav.example.org/%7ealice/caf%c3%a9/", "https://dav.example.org/~alice/café/"),
        ("https://dav.example.org//a//", "https://dav.example.org/a/"),
        ("https://Bücher.example/a/", "https://xn--bcher-kva.example/a/"),
        ("http://[::1]:80/a", "http://[::1]/a/"),
    ],
)
def test_normalized_urls_are_equal(one: str, other: str) -> None:
    assert normalize_url(one) == normalize_url(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://dav.example.org/a/", "https://dav.example.org/b/"),
        ("https://dav.example.org:8443/a/", "https://dav.example.org/a/"),
        ("http://dav.example.org/a/", "https://dav.example.org/a/"),
        ("https://dav.example.org/a%2Fb/", "https://dav.example.org/a/b/"),
        ("https://dav.example.org/A/", "https://dav.example.org/a/"),
    ],
)
def test_different_urls_stay_different(one: str, other: str) -> None:
    assert normalize_url(one) != normalize_url(other)


def test_a_feed_url_keeps_its_shape() -> None:
    assert normalize_url("HTTPS://Example.org/h.ics?k=1", collection=False) == (
        "https://example.org/h.ics?k=1"
    )


def test_local_spellings_of_one_folder(tmp_path: Path) -> None:
    (tmp_path / "calendars" / "src").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "calendars")
    one = identity(conn(type="local", path=str(tmp_path / "calendars")), "src")
    for path, calendar in [
        (tmp_path / "calendars/./", "src"),
        (tmp_path / "x/../calendars", "src"),
        (tmp_path / "link", "src"),
        (tmp_path / "calendars/src", None),
        (tmp_path / "link/src/", None),
    ]:
        assert identity(conn(type="local", path=str(path)), calendar) == one, (path, calendar)
    assert identity(conn(type="local", path=str(tmp_path / "calendars")), "other") != one
    assert identity(conn(type="local", path=str(tmp_path)), "../x") is None


def test_ics_file_as_feed_and_as_writable_file(tmp_path: Path) -> None:
    feed = conn(type="ics", url=str(tmp_path / "a" / ".." / "busy.ics"))
    written = conn(type="ics", path=str(tmp_path / "busy.ics"))
    assert identity(feed, None) == identity(written, "any display name")


def test_caldav_paths_and_urls() -> None:
    a = conn(type="caldav", url="https://dav.example.org/")
    b = conn(type="caldav", url="https://DAV.example.org:443/dav/principals/", username="bob")
    by_path = identity(a, "/alice/cal")
    assert by_path == identity(b, "/alice/cal/")
    assert by_path == identity(b, "https://dav.example.org/alice/cal")
    assert identity(a, "cal") != by_path  # a name: only discovery can tell
    assert identity(a, "cal") == identity(conn(type="caldav", url="https://dav.example.org"), "cal")
    assert identity(a, "cal") != identity(b, "cal")  # another account's "cal"


def test_google_primary_is_the_subjects_calendar(tmp_path: Path) -> None:
    key = str(tmp_path / "sa.json")
    alice = conn(type="google", credentials=key, subject="alice@corp.example")
    other_key = conn(
        type="google", credentials=str(tmp_path / "b.json"), subject="alice@corp.example"
    )
    assert identity(alice, "primary") == identity(alice, "Alice@Corp.example")
    assert identity(alice, None) == identity(other_key, "primary")
    assert identity(alice, "team@group.calendar.google.com") != identity(alice, None)
    token = conn(type="google", credentials=key)
    assert identity(token, "primary") != identity(
        conn(type="google", credentials=str(tmp_path / "c")), None
    )
    assert identity(token, "primary") == identity(token, None)


def test_microsoft_tenant_user_and_calendar() -> None:
    m365 = conn(type="microsoft", tenant="contoso.onmicrosoft.com", client_id="a")
    assert identity(m365, None, "Alice@contoso.com") == identity(
        m365, "Calendar", "alice@contoso.com"
    )
    assert identity(m365, "Calendar", "alice@contoso.com") != identity(
        m365, "Calendar", "bob@contoso.com"
    )
    assert identity(m365, "Work", "alice@contoso.com") != identity(m365, None, "alice@contoso.com")


@pytest.mark.parametrize(
    ("name", "plain"),
    [
        ("work", True),
        ("Case files 2030", True),
        ("..work", True),
        ("", False),
        (".", False),
        ("..", False),
        ("../outside", False),
        ("/etc", False),
        ("a/b", False),
        ("a\\b", False),
        ("a\0b", False),
    ],
)
def test_plain_folder_names(name: str, plain: bool) -> None:
    assert is_plain_folder_name(name) is plain


def problems(caught: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(p) for p in caught.value.problems]


def test_check_refuses_a_target_that_is_the_source(write: Write, tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "calendars", target_is_directory=True)
    write(
        "rules/a.yaml",
        """\
        connections:
          loc: {type: local, path: ../calendars}
          same: {type: local, path: ../calendars/}
          linked: {type: local, path: ../link}
          dav: {type: caldav, url: "https://dav.example.org/"}
          dav2: {type: caldav, url: "HTTPS://dav.example.org:443"}
        rules:
          - name: spelled
            source: {connection: loc, calendar: src}
            target: {connection: same, calendar: src}
          - name: symlinked
            source: {connection: loc, calendar: src}
            target: {connection: linked, calendar: src}
          - name: by-path
            source: {connection: dav, calendar: /alice/cal/}
            target: {connection: dav2, calendar: "https://dav.example.org/alice/cal"}
          - name: fine
            source: {connection: loc, calendar: src}
            target: {connection: linked, calendar: dst}
        """,
    )

    with pytest.raises(ConfigError) as caught:
        load_rule_files([Path("rules")])

    folder = tmp_path / "calendars" / "src"
    assert problems(caught) == [
        f"rules/a.yaml:10:5: rules[0].target: the target is the same calendar as the source"
        f" ({folder})",
        f"rules/a.yaml:13:5: rules[1].target: the target is the same calendar as the source"
        f" ({folder})",
        "rules/a.yaml:16:5: rules[2].target: the target is the same calendar as the source",
    ]


def test_check_keeps_local_calendars_inside_their_connection(write: Write) -> None:
    write(
        "rules/a.yaml",
        """\
        connections:
          loc: {type: local, path: ../calendars}
        rules:
          - name: up
            source: {connection: loc, calendar: ../../outside}
            target: {connection: loc, calendar: /tmp/elsewhere}
        """,
    )

    with pytest.raises(ConfigError) as caught:
        load_rule_files([Path("rules")])

    rule = (
        "a local calendar is one folder name inside the connection's folder (not empty,"
        " no /, \\, . or .., not an absolute path)"
    )
    assert problems(caught) == [
        f'rules/a.yaml:5:41: rules[0].source.calendar: {rule}, got "../../outside"',
        f'rules/a.yaml:6:41: rules[0].target.calendar: {rule}, got "/tmp/elsewhere"',
    ]
