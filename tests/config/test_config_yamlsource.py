"""YAML loading with positions, duplicate keys and syntax errors."""

from __future__ import annotations

import pytest

from calsyncd.config.yamlsource import Position, parse_yaml
from calsyncd.errors import ConfigError

TEXT = """\
# comment
connections:
  team: {type: caldav, url: "https://x/"}
rules:
  - name: one
    fields:
      reminders: [15m, 1h]
  - name: two
"""


def test_positions_of_keys_and_values() -> None:
    doc = parse_yaml(TEXT, "r.yaml")

    assert doc.data["rules"][0]["fields"]["reminders"] == ["15m", "1h"]
    assert doc.keys[("connections",)] == Position(2, 1)
    assert doc.keys[("connections", "team")] == Position(3, 3)
    assert doc.values[("connections", "team")] == Position(3, 9)
    assert doc.values[("connections", "team", "url")] == Position(3, 29)
    assert doc.values[("rules", 1)] == Position(8, 5)
    assert doc.keys[("rules", 1, "name")] == Position(8, 5)
    assert doc.values[("rules", 1, "name")] == Position(8, 11)
    assert doc.values[("rules", 0, "fields", "reminders", 1)] == Position(7, 24)


def test_position_of_a_missing_path_is_its_nearest_parent_key() -> None:
    doc = parse_yaml(TEXT, "r.yaml")

    assert doc.position(("connections", "team", "password")) == Position(3, 3)
    assert doc.position(("rules", 0, "fields", "title")) == Position(6, 5)
    assert doc.position(("rules", 1, "name"), key=True) == Position(8, 5)


def test_only_plain_types_and_string_keys() -> None:
    doc = parse_yaml("on: yes\n1: 2020-01-02\nx: ~\n", "s.yaml")

    assert doc.data == {"on": True, "1": __import__("datetime").date(2020, 1, 2), "x": None}


def test_empty_document_is_none() -> None:
    assert parse_yaml("# nothing\n", "e.yaml").data is None


def test_duplicate_key_is_an_error_at_the_second_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_yaml(
            "rules:\n  - name: a\n    direction: one-way\n    direction: two-way\n", "d.yaml"
        )

    assert [str(p) for p in caught.value.problems] == [
        'd.yaml:4:5: duplicate key "direction" (first at line 3, column 5)'
    ]


def test_merge_keys_are_not_duplicates() -> None:
    doc = parse_yaml("base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  b: 3\n", "m.yaml")

    assert doc.data["x"] == {"a": 1, "b": 3}


def test_syntax_error_at_the_mark_pyyaml_reports() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_yaml("rules:\n  - name: a\n    source: {connection: x\n", "s.yaml")

    (problem,) = caught.value.problems
    assert (problem.path, problem.line, problem.column) == ("s.yaml", 4, 1)
    assert problem.message.startswith("YAML syntax error: expected ',' or '}'")


def test_unquoted_reference_in_flow_mapping_gets_a_hint() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_yaml("team: {type: caldav, password: ${env:PW}}\n", "f.yaml")

    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (1, 33)
    assert problem.message.endswith('quote a reference: "${env:NAME}"')


def test_python_tags_are_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_yaml("x: !!python/object/apply:os.system [echo hi]\n", "p.yaml")

    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (1, 4)
    assert "unsupported YAML tag" in problem.message


def test_recursive_alias_is_an_error() -> None:
    with pytest.raises(ConfigError, match="refers to its own anchor"):
        parse_yaml("a: &x [*x]\n", "r.yaml")
