"""`calsyncd check` / `calsyncd schema`: exit codes and `path:line:col: message` output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from calsyncd.cli import COMMANDS, main
from calsyncd.config import rule_file_json_schema

Write = Callable[[str, str], Path]

REPO_ROOT = Path(__file__).resolve().parents[2]


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args])
    out, err = capsys.readouterr()
    return code, out, err


def col(text: str, line: int, token: str) -> int:
    """The 1-based column of ``token`` on ``line`` of ``text`` (the place an error must point)."""
    return text.splitlines()[line - 1].index(token) + 1


RULE_HEAD = """\
rules:
  - name: r
    source: {connection: team}
    target: {connection: m365}
"""


@pytest.mark.usefixtures("secrets_env")
@pytest.mark.parametrize(
    ("body", "line", "token", "message"),
    [
        pytest.param(
            RULE_HEAD + "    filters: {}\n",
            5,
            "filters",
            'rules[0]: unknown key "filters"; did you mean "filter"?',
            id="unknown-key",
        ),
        pytest.param(
            RULE_HEAD + "    direction: sideways\n",
            5,
            "sideways",
            'rules[0].direction: expected one of one-way, two-way, got "sideways"',
            id="wrong-enum",
        ),
        pytest.param(
            RULE_HEAD + "    interval: soon\n",
            5,
            "soon",
            "rules[0].interval: expected a duration such as 30s, 5m, 1h30m or 7d,"
            ' or a number of seconds, got "soon"',
            id="bad-duration",
        ),
        pytest.param(
            RULE_HEAD + '    fields: {title: "{title.upper}"}\n',
            5,
            '"{title.upper}"',
            "rules[0].fields.title: {title.upper}: attribute and index access are not allowed"
            " in templates (write {title})",
            id="template-attribute",
        ),
        pytest.param(
            RULE_HEAD + "    fields:\n      location: 'Room {room}'\n",
            6,
            "'Room",
            "rules[0].fields.location: unknown placeholder {room}; allowed placeholders:"
            " {title}, {description}, {location}, {start}, {end}, {calendar}, {organizer},"
            " {categories}",
            id="template-unknown-placeholder",
        ),
        pytest.param(
            "connections:\n"
            "  dav2:\n"
            "    type: caldav\n"
            "    url: https://dav2.example.org/\n"
            "    username: bob\n"
            '    password: "${env:MISSING_DAV_PASSWORD}"\n',
            6,
            '"${env',
            "connections.dav2.password: ${env:MISSING_DAV_PASSWORD} is not set",
            id="unresolvable-env",
        ),
    ],
)
def test_check_reports_problem_at_its_place(
    *,
    capsys: pytest.CaptureFixture[str],
    write: Write,
    example: Any,
    body: str,
    line: int,
    token: str,
    message: str,
) -> None:
    write("rules/connections.yaml", example.connections)
    write("rules/bad.yaml", body)

    code, out, err = check(capsys, "check", "rules")

    assert code == 1
    assert out == ""
    assert err == f"rules/bad.yaml:{line}:{col(body, line, token)}: {message}\n"


@pytest.mark.usefixtures("secrets_env")
def test_duplicate_rule_name_in_two_files_names_both_places(
    capsys: pytest.CaptureFixture[str], write: Write, example: Any
) -> None:
    write("rules/a-connections.yaml", example.connections)
    write(
        "rules/b.yaml",
        "rules:\n  - {name: x, source: {connection: team}, target: {connection: m365}}\n",
    )
    write(
        "rules/c.yaml",
        "# the same name again\nrules:\n  - name: x\n    source: {connection: work}\n"
        "    target: {connection: archive}\n",
    )

    code, _, err = check(capsys, "check", "rules")

    assert code == 1
    assert (
        err
        == 'rules/c.yaml:3:11: rules[0].name: rule "x" is already defined at rules/b.yaml:2:12\n'
    )


def test_every_problem_of_every_file_is_reported_in_file_order(
    capsys: pytest.CaptureFixture[str], write: Write
) -> None:
    write("rules/a.yaml", "rules:\n  - name: A\n    source: {connection: nowhere}\n")
    write("rules/b.yaml", "connections:\n  c: {type: local}\n  c2: {type: carrier-pigeon}\n")

    code, _, err = check(capsys, "check", "rules")

    assert code == 1
    assert err.splitlines() == [
        'rules/a.yaml:2:5: rules[0]: missing required key "target"',
        "rules/a.yaml:2:11: rules[0].name: names use lowercase letters, digits and '-',"
        ' starting with a letter or digit, got "A"',
        'rules/b.yaml:2:3: connections.c: missing required key "path"',
        'rules/b.yaml:3:14: connections.c2.type: unknown type "carrier-pigeon"; expected one of'
        " local, ics, caldav, google, microsoft, zoom",
    ]


def test_valid_config_prints_summary(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    code, out, err = check(capsys, "--config", str(repo), "check")

    assert (code, err) == (0, "")
    assert out == "ok: 2 rules, 7 connections in 2 files\n"


def test_config_option_after_the_command(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    assert check(capsys, "check", "--config", "config/calsyncd.yaml")[0] == 0


def test_settings_from_environment_variable(
    capsys: pytest.CaptureFixture[str], repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALSYNCD_CONFIG", str(repo))
    monkeypatch.chdir(repo.parent.parent / "rules")

    assert check(capsys, "check")[0] == 0


def test_missing_default_settings_file_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check(capsys, "check")

    assert (code, out) == (1, "")
    assert err == (
        "config/calsyncd.yaml: no such file (give --config PATH or set CALSYNCD_CONFIG)\n"
    )


def test_missing_given_file_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert check(capsys, "--config", "nope.yaml", "check") == (1, "", "nope.yaml: no such file\n")
    assert check(capsys, "check", "gone.yaml") == (1, "", "gone.yaml: no such file\n")


@pytest.mark.usefixtures("secrets_env")
def test_check_without_settings_uses_builtin_defaults(
    capsys: pytest.CaptureFixture[str], write: Write, example: Any
) -> None:
    write("rules/connections.yaml", example.connections)
    write("rules/court.yaml", example.court)

    assert check(capsys, "check", "rules/connections.yaml", "rules/court.yaml") == (
        0,
        "ok: 2 rules, 7 connections in 2 files\n",
        "",
    )


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_commands_are_registered_in_one_table() -> None:
    assert {"check", "schema"} <= set(COMMANDS)


def test_check_in_a_real_process(write: Write, tmp_path: Path) -> None:
    write("rules/bad.yaml", RULE_HEAD.replace("team", "archive") + "    direction: sideways\n")
    write(
        "rules/c.yaml",
        "connections:\n  archive: {type: local, path: cal}\n  m365: {type: local, path: m}\n",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNCD_")}
    env["PYTHONPATH"] = str(REPO_ROOT)

    result = subprocess.run(
        [sys.executable, "-m", "calsyncd", "check", "rules"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "rules/bad.yaml:5:16: rules[0].direction: expected one of one-way, two-way,"
        ' got "sideways"\n'
    )


# -- schema -------------------------------------------------------------------------------


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        schema = {**root["$defs"][name], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any], at: str = "") -> list[str]:
    """A tiny JSON Schema checker: the keywords the rule-file schema uses."""
    schema = _resolve(schema, root)
    errors: list[str] = []
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema["oneOf"]
        passing = [o for o in options if not validate(value, o, root, at)]
        if not passing or ("oneOf" in schema and len(passing) != 1):
            errors.append(f"{at}: matches {len(passing)} of the alternatives")
    kind = schema.get("type")
    if kind is not None:
        ok = isinstance(value, _TYPES[kind]) and not (
            kind in {"integer", "number"} and isinstance(value, bool)
        )
        if not ok:
            return [*errors, f"{at}: expected {kind}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{at}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{at}: expected one of {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{at}: does not match {schema['pattern']}")
    if "minimum" in schema and isinstance(value, int | float) and value < schema["minimum"]:
        errors.append(f"{at}: below minimum")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{at}: missing {key}")
        for key, item in value.items():
            if key in props:
                errors += validate(item, props[key], root, f"{at}.{key}")
                continue
            pattern = next(
                (s for p, s in schema.get("patternProperties", {}).items() if re.search(p, key)),
                None,
            )
            if pattern is not None:
                errors += validate(item, pattern, root, f"{at}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{at}: unexpected key {key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += validate(item, schema["additionalProperties"], root, f"{at}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += validate(item, schema["items"], root, f"{at}[{i}]")
    return errors


def test_schema_command_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(capsys, "schema")

    assert code == 0
    schema = json.loads(out)
    assert schema == json.loads(json.dumps(rule_file_json_schema()))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == {"connections", "rules"}


def test_schema_accepts_the_shipped_style_example_and_rejects_typos(example: Any) -> None:
    schema = rule_file_json_schema()
    data = yaml.safe_load(example.connections + example.court)

    assert validate(data, schema, schema) == []

    data["rules"][0]["filters"] = {}
    data["connections"]["team"]["password"] = example.secret
    assert validate(data, schema, schema) == [
        ".connections.team: matches 0 of the alternatives",  # password is not a reference
        ".rules[0]: unexpected key filters",
    ]
