"""load_config / load_rule_files: defaults, environment, cross-file checks, positions."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from calsyncd.config import (
    BUSY_BLOCK_FIELDS,
    FieldMap,
    IcsConnection,
    LocalConnection,
    find_settings_path,
    load_config,
    load_rule_files,
)
from calsyncd.config.rules import Guard
from calsyncd.errors import ConfigError

Write = Callable[[str, str], Path]


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_valid_multi_file_config_with_inherited_defaults(repo: Path, tmp_path: Path) -> None:
    config = load_config(repo)

    assert config.settings_path == tmp_path / "config/calsyncd.yaml"
    assert config.rule_files == (tmp_path / "rules/connections.yaml", tmp_path / "rules/court.yaml")
    assert config.settings.state == tmp_path / "state/calsyncd.db"
    assert list(config.rules) == ["court-dates", "busy"]
    assert len(config.connections) == 7

    court, busy = config.rules["court-dates"], config.rules["busy"]
    assert court.interval == timedelta(minutes=1)
    assert (court.window.past, court.window.future) == (timedelta(days=7), timedelta(days=90))
    assert busy.interval == timedelta(minutes=10)
    assert (busy.window.past, busy.window.future) == (timedelta(days=14), timedelta(days=90))

    assert busy.fields == BUSY_BLOCK_FIELDS
    assert busy.fields.title == "Busy"
    assert court.fields.reminders == (timedelta(minutes=15),)
    assert court.fields.categories == {"Court Date": "Court"}
    assert court.fields.attendees == "drop"
    assert court.guard.max_deletes == "25%"
    assert court.conflict == "newest-wins"
    assert busy.conflict == "newest-wins"
    assert court.filter.exclude[0].title is not None
    assert court.filter.exclude[0].title.search("Cancelled hearing")

    archive = config.connections["archive"]
    assert isinstance(archive, LocalConnection)
    assert archive.path == tmp_path / "calendars"  # relative to the rule file's folder
    holidays = config.connections["holidays"]
    assert isinstance(holidays, IcsConnection)
    assert holidays.read_only
    assert holidays.remote

    assert config.origin("court-dates") == "rules/court.yaml:2:11"
    assert config.origin("team") == "rules/connections.yaml:5:3"
    assert config.origin("zoom", "connection") == "rules/connections.yaml:8:3"
    with pytest.raises(KeyError):
        config.origin("nope")


def test_config_is_immutable(repo: Path) -> None:
    config = load_config(repo)

    with pytest.raises(dataclasses.FrozenInstanceError):
        config.revision = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.rules["x"] = config.rules["busy"]  # type: ignore[index]
    with pytest.raises(Exception, match="frozen"):
        config.rules["busy"].paused = True  # type: ignore[misc]


def test_revision_follows_file_contents(repo: Path, write: Write, example: Any) -> None:
    first = load_config(repo).revision

    assert len(first) == 12
    assert load_config(repo).revision == first
    write("rules/court.yaml", example.court.replace("interval: 1m", "interval: 2m"))
    assert load_config(repo).revision != first


def test_environment_overrides_the_settings_file(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALSYNCD_HEALTH__LISTEN", "127.0.0.1:9000")
    monkeypatch.setenv("CALSYNCD_DEFAULTS__INTERVAL", "2m")
    monkeypatch.setenv("CALSYNCD_LOG__LEVEL", "debug")

    config = load_config(repo)

    assert config.settings.health.listen == "127.0.0.1:9000"
    assert config.settings.health.address == ("127.0.0.1", 9000)
    assert config.settings.log.level == "debug"
    assert config.settings.log.format == "auto"  # from the file
    assert config.rules["busy"].interval == timedelta(minutes=2)


def test_environment_errors_name_the_variable(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALSYNCD_HEALTH__LISTEN", "[::1]:99999")
    monkeypatch.setenv("CALSYNCD_DEFAULTS__WINDOW", "{not json")

    with pytest.raises(ConfigError) as caught:
        load_config(repo)

    assert problems(caught) == [
        "CALSYNCD_DEFAULTS__WINDOW: not valid JSON; set one key with"
        " CALSYNCD_DEFAULTS__WINDOW__KEY instead"
    ]

    monkeypatch.delenv("CALSYNCD_DEFAULTS__WINDOW")
    with pytest.raises(ConfigError) as caught:
        load_config(repo)

    assert problems(caught) == [
        "CALSYNCD_HEALTH__LISTEN: '99999' is not a port number (0-65535), got \"[::1]:99999\""
    ]


def test_settings_file_problems_have_positions(write: Write) -> None:
    settings = write(
        "config/calsyncd.yaml",
        """\
        rules: [../rules, ../more/*.yaml]
        helth: {listen: ""}
        log: {level: loud}
        defaults:
          window: {past: 3 days}
        """,
    )
    write("rules/empty.yaml", "")

    with pytest.raises(ConfigError) as caught:
        load_config(settings)

    assert problems(caught) == [
        "config/calsyncd.yaml:1:19: rules: more/*.yaml: matches no file",
        'config/calsyncd.yaml:2:1: unknown key "helth"; did you mean "health"?',
        "config/calsyncd.yaml:3:14: log.level: expected one of debug, info, warning, error,"
        ' got "loud"',
        "config/calsyncd.yaml:5:18: defaults.window.past: expected a duration such as 30s, 5m,"
        ' 1h30m or 7d, or a number of seconds, got "3 days"',
    ]


def test_rule_files_are_still_checked_when_settings_are_invalid(write: Write) -> None:
    settings = write("config/calsyncd.yaml", "rules: ../rules\nshutdown_timeout: never\n")
    write("rules/a.yaml", "rules: [{name: a}]\n")

    with pytest.raises(ConfigError) as caught:
        load_config(settings)

    assert [p.path for p in caught.value.problems] == [
        "config/calsyncd.yaml",
        "rules/a.yaml",
        "rules/a.yaml",
    ]


def test_rules_folder_is_sorted_and_not_recursive(write: Write, tmp_path: Path) -> None:
    settings = write("calsyncd.yaml", "rules: [r, extra/*.rules]\n")
    write("r/b.yml", "connections: {b: {type: local, path: b}}\n")
    write("r/a.yaml", "connections: {a: {type: local, path: a}}\n")
    write("r/notes.txt", "not yaml")
    write("r/.hidden.yaml", "{{{")
    write("r/sub/c.yaml", "{{{")
    write("extra/x.rules", "connections: {x: {type: local, path: x}}\n")

    config = load_config(settings)

    assert config.rule_files == (
        tmp_path / "r/a.yaml",
        tmp_path / "r/b.yml",
        tmp_path / "extra/x.rules",
    )
    assert list(config.connections) == ["a", "b", "x"]


def test_no_settings_file_means_builtin_defaults(write: Write, tmp_path: Path) -> None:
    write("rules/a.yaml", "connections: {a: {type: local, path: a}}\n")

    config = load_config(None)

    assert config.settings_path is None
    assert config.rule_files == (tmp_path / "rules/a.yaml",)
    assert config.settings.state == tmp_path / "state/calsyncd.db"
    assert config.settings.health.listen == "127.0.0.1:8787"
    assert config.settings.shutdown_timeout == timedelta(seconds=30)


def test_state_defaults_to_the_systemd_state_directory(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/calsyncd")
    settings = write("calsyncd.yaml", "rules: []\n")

    assert load_config(settings).settings.state == Path("/var/lib/calsyncd/state.db")


def test_missing_settings_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(Path("config/calsyncd.yaml"))

    assert problems(caught) == ["config/calsyncd.yaml: no such file"]


def test_find_settings_path() -> None:
    assert find_settings_path("x.yaml", {"CALSYNCD_CONFIG": "y.yaml"}) == Path("x.yaml")
    assert find_settings_path(None, {"CALSYNCD_CONFIG": "y.yaml"}) == Path("y.yaml")
    assert find_settings_path(None, {}) == Path("config/calsyncd.yaml")


CONNECTIONS = """\
connections:
  dav: {type: caldav, url: "https://dav/"}
  feed: {type: ics, url: feeds/h.ics}
  out: {type: ics, path: out.ics}
  zoom: {type: zoom, account_id: a, client_id: c, client_secret: "${env:ZOOM_SECRET}"}
"""


def test_cross_file_checks(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOM_SECRET", "z")
    write("rules/a.yaml", CONNECTIONS)
    write(
        "rules/b.yaml",
        """\
        connections:
          dav: {type: local, path: x}
        rules:
          - name: unknown
            source: {connection: dab}
            target: {connection: out}
          - name: zoom-endpoint
            source: {connection: dav}
            target: {connection: zoom}
          - name: read-only-target
            source: {connection: dav}
            target: {connection: feed}
          - name: two-way-feed
            direction: two-way
            source: {connection: feed}
            target: {connection: dav}
          - name: meeting
            source: {connection: dav}
            target: {connection: out}
            meeting: {connection: dav}
          - name: reverse
            source: {connection: dav}
            target: {connection: out}
            reverse_fields: {title: keep}
        """,
    )

    with pytest.raises(ConfigError) as caught:
        load_rule_files([Path("rules")])

    assert problems(caught) == [
        'rules/b.yaml:2:3: connections.dav: connection "dav" is already defined at'
        " rules/a.yaml:2:3",
        'rules/b.yaml:5:26: rules[0].source.connection: unknown connection "dab"; did you mean'
        ' "dav"?',
        'rules/b.yaml:9:26: rules[1].target.connection: "zoom" is a zoom connection; use it as'
        " meeting.connection",
        'rules/b.yaml:12:26: rules[2].target.connection: "feed" is a read-only feed (ics with'
        " url), it cannot be the target of a rule",
        'rules/b.yaml:15:26: rules[3].source.connection: "feed" is a read-only feed (ics with'
        " url), it cannot be a side of a two-way rule",
        'rules/b.yaml:20:27: rules[4].meeting.connection: "dav" is a caldav connection; meetings'
        " need a zoom connection",
        "rules/b.yaml:24:5: rules[5].reverse_fields: only two-way rules have reverse_fields"
        " (this rule is one-way)",
    ]


def test_ics_url_file_path_is_relative_to_the_rule_file(write: Write, tmp_path: Path) -> None:
    write("rules/a.yaml", "connections:\n  f: {type: ics, url: feeds/h.ics}\n")

    feed = load_rule_files([Path("rules/a.yaml")]).connections["f"]

    assert isinstance(feed, IcsConnection)
    assert feed.url == str(tmp_path / "rules/feeds/h.ics")
    assert feed.read_only
    assert not feed.remote


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        (
            "{type: ics}",
            "give exactly one of url (a read-only feed) or path (a writable .ics file)",
        ),
        (
            "{type: ics, url: x.ics, path: y.ics}",
            "give exactly one of url (a read-only feed) or path (a writable .ics file)",
        ),
        (
            '{type: caldav, url: "https://d/", token: "${env:T}", username: u,'
            ' password: "${env:T}"}',
            "give password (with username) or token, not both",
        ),
        (
            "{type: local, path: x, max_concurrency: 0}",
            "max_concurrency: must be at least 1, got 0",
        ),
        ("{type: local, path: x, timeout: 0s}", 'timeout: must be longer than 0s, got "0s"'),
    ],
)
def test_connection_checks(
    write: Write, monkeypatch: pytest.MonkeyPatch, conn: str, message: str
) -> None:
    monkeypatch.setenv("T", "t")
    write("a.yaml", f"connections:\n  c: {conn}\n")

    with pytest.raises(ConfigError) as caught:
        load_rule_files([Path("a.yaml")])

    (problem,) = caught.value.problems
    assert problem.line == 2
    assert problem.message.removeprefix("connections.c").lstrip(".: ") == message


RULE = """\
rules:
  - name: r
    source: {connection: a}
    target: {connection: b}
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "    fields: busy-blok\n",
            'rules[0].fields: expected busy-block or a mapping of fields, got "busy-blok"',
        ),
        (
            "    fields: {reminders: 15m}\n",
            "rules[0].fields.reminders: expected keep, drop or a list of durations such as"
            ' [15m, 1h], got "15m"',
        ),
        (
            "    fields: {recurrence: drop}\n",
            'rules[0].fields.recurrence: expected keep, got "drop"',
        ),
        (
            "    filter: {include: [{}]}\n",
            "rules[0].filter.include[0]: an empty filter clause would match every event;"
            " give at least one of title, description, location, categories, all_day,"
            " show_as, status, response, recurring",
        ),
        (
            "    filter: {exclude: [{title: '(x'}]}\n",
            "rules[0].filter.exclude[0].title: invalid regular expression: missing ),"
            ' unterminated subpattern at position 0, got "(x"',
        ),
        (
            "    guard: {max_deletes: 101%}\n",
            "rules[0].guard.max_deletes: expected a count (25) or a percentage (0%-100%),"
            ' got "101%"',
        ),
        ("    paused: maybe\n", 'rules[0].paused: expected true or false, got "maybe"'),
    ],
)
def test_rule_value_problems(write: Write, extra: str, message: str) -> None:
    write(
        "a.yaml",
        "connections: {a: {type: local, path: a}, b: {type: local, path: b}}\n" + RULE + extra,
    )

    with pytest.raises(ConfigError) as caught:
        load_rule_files([Path("a.yaml")])

    (problem,) = caught.value.problems
    assert problem.line == 6
    assert problem.message == message


def test_defaults_without_fields_and_two_way_reverse_fields(write: Write) -> None:
    write(
        "a.yaml",
        "connections: {a: {type: local, path: a}, b: {type: local, path: b}}\n"
        + RULE
        + "    direction: two-way\n    reverse_fields: {title: drop}\n",
    )

    rule = load_rule_files([Path("a.yaml")]).rules["r"]

    assert rule.fields == FieldMap()
    assert rule.fields.attendees == "drop"
    assert rule.fields.title == "keep"
    assert rule.reverse_fields is not None
    assert rule.reverse_fields.title == "drop"
    assert rule.reverse_fields.description is None
    assert rule.two_way


def test_names_and_shapes(write: Write) -> None:
    write(
        "a.yaml",
        "connections:\n  Bad_Name: {type: local, path: x}\n  ok: [1]\n",
    )
    write("b.yaml", "- just\n- a list\n")

    with pytest.raises(ConfigError) as caught:
        load_rule_files([Path("a.yaml"), Path("b.yaml")])

    assert problems(caught) == [
        "a.yaml:2:3: connections: \"Bad_Name\": names use lowercase letters, digits and '-',"
        " starting with a letter or digit",
        "a.yaml:3:7: connections.ok: expected a mapping (key: value)",
        "b.yaml:1:1: a rule file is a mapping with connections: and/or rules:",
    ]


def test_guard_limit() -> None:
    assert Guard().limit(10) == 5
    assert Guard(max_deletes="25%").limit(10) == 2
    assert Guard(max_deletes=3).limit(1000) == 3
