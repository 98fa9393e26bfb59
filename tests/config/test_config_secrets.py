"""Secret references: resolution, clear errors, literals rejected, values never shown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from calsyncd.cli import main
from calsyncd.config import load_config, load_rule_files
from calsyncd.config.secrets import resolve_reference, resolve_references
from calsyncd.errors import ConfigError

Write = Callable[[str, str], Path]

DAV = """\
connections:
  team:
    type: caldav
    url: https://dav.example.org/
    username: alice
    password: {password}
"""


def test_env_reference(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PW", "s3cret")

    assert resolve_reference("${env:PW}", base_dir=tmp_path) == "s3cret"


def test_file_reference_is_relative_to_the_file_and_strips_newline(
    write: Write, example: Any
) -> None:
    write("rules/secrets/dav.txt", example.secret + "\n")
    write("rules/dav.yaml", DAV.format(password='"${file:secrets/dav.txt}"'))

    rule_set = load_rule_files([Path("rules/dav.yaml")])

    password = rule_set.connections["team"].password  # type: ignore[union-attr]
    assert password is not None
    assert password.get_secret_value() == example.secret


def test_credential_reference(
    write: Write, example: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write("creds/dav", example.secret)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    write("rules/dav.yaml", DAV.format(password="${credential:dav}"))

    rule_set = load_rule_files([Path("rules/dav.yaml")])

    password = rule_set.connections["team"].password  # type: ignore[union-attr]
    assert password is not None
    assert password.get_secret_value() == example.secret


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("${env:NOPE}", "connections.team.password: ${env:NOPE} is not set"),
        ("${file:nope.txt}", "connections.team.password: ${file:nope.txt}: cannot read"),
        (
            "${credential:dav}",
            "connections.team.password: ${credential:dav}: CREDENTIALS_DIRECTORY is not set",
        ),
        ("${vault:x}", "connections.team.password: ${vault:x}: unknown reference kind"),
    ],
)
def test_unresolvable_reference_is_a_problem_at_the_value(
    write: Write, reference: str, message: str
) -> None:
    write("rules/dav.yaml", DAV.format(password=f'"{reference}"'))

    with pytest.raises(ConfigError) as caught:
        load_rule_files([Path("rules/dav.yaml")])

    (problem,) = caught.value.problems
    assert (problem.path, problem.line, problem.column) == ("rules/dav.yaml", 6, 15)
    assert problem.message.startswith(message)


def test_missing_credential_file(
    write: Write, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "creds").mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    write("rules/dav.yaml", DAV.format(password="${credential:dav}"))

    with pytest.raises(ConfigError, match=r"\$\{credential:dav\}: no credential 'dav' in "):
        load_rule_files([Path("rules/dav.yaml")])


@pytest.mark.parametrize("literal", ["hunter2", "12345", '"https://${env:HOST}/"'])
def test_literal_secret_is_rejected(
    capsys: pytest.CaptureFixture[str], write: Write, literal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOST", "h")
    write("rules/dav.yaml", DAV.format(password=literal))

    assert main(["check", "rules"]) == 1

    err = capsys.readouterr().err
    assert "rules/dav.yaml:6:15: connections.team.password: write secrets as ${env:NAME}," in err
    assert "rule files are kept in git" in err
    assert "hunter2" not in err


def test_partial_reference_is_an_error() -> None:
    result = resolve_references({"url": "https://${env:HOST}/x"}, base_dir=Path())

    assert result.errors == [
        (("url",), "a ${…} reference must be the whole value, not part of a longer string")
    ]


def test_secret_value_never_appears_in_errors_repr_or_dumps(
    write: Write, repo: Path, example: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(repo)
    for text in (
        repr(config),
        str(config),
        repr(config.connections),
        str(config.connections["team"]),
        config.connections["zoom"].model_dump_json(),
        str(config.connections["m365"].model_dump()),
    ):
        assert example.secret not in text
    assert config.connections["zoom"].client_secret.get_secret_value() == example.secret  # type: ignore[union-attr]

    # A reference used where a secret does not belong, with a value that is invalid there.
    monkeypatch.setenv("TIMEOUT", example.secret)
    monkeypatch.setenv("T", example.secret)
    monkeypatch.setenv("CALSYNCD_HEALTH__LISTEN", "localhost")  # a setting, shown as given
    write(
        "rules/more.yaml",
        """\
        connections:
          dav2: {type: caldav, url: "https://x/", timeout: "${env:TIMEOUT}", token: "${env:T}"}
          dav3: {type: caldav, url: "${env:TIMEOUT}", password: "${env:TIMEOUT}"}
        """,
    )

    with pytest.raises(ConfigError) as caught:
        load_config(repo)

    text = str(caught.value) + repr(caught.value) + "".join(repr(p) for p in caught.value.problems)
    assert example.secret not in text
    assert str(caught.value).splitlines() == [
        'CALSYNCD_HEALTH__LISTEN: expected host:port such as 127.0.0.1:8787 ("" disables the'
        ' server), got "localhost"',
        "rules/more.yaml:2:52: connections.dav2.timeout: expected a duration such as 30s, 5m,"
        " 1h30m or 7d, or a number of seconds (the value of ${env:TIMEOUT})",
        "rules/more.yaml:3:29: connections.dav3.url: expected an http:// or https:// URL"
        " (the value of ${env:TIMEOUT})",
    ]
