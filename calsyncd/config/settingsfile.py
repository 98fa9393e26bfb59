"""Reading the settings file and the ``CALSYNCD_*`` environment into :class:`Settings`.

The environment overrides the file. A problem with a value from the environment is reported
under the variable's name instead of ``path:line:col``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_settings import EnvSettingsSource, SettingsError

from calsyncd.config.base import normalize_path, resolve_path
from calsyncd.config.problems import located, plain_problem, validation_problems
from calsyncd.config.session import Session
from calsyncd.config.settings import ENV_NESTED_DELIMITER, ENV_PREFIX, Settings, rule_sources
from calsyncd.config.yamlsource import Loc, YamlDocument
from calsyncd.errors import Problem

_RULES_ADAPTER: TypeAdapter[tuple[str, ...]] = TypeAdapter(tuple[str, ...])


def env_var(path: Loc) -> str | None:
    """The ``CALSYNCD_*`` variable that provided ``path`` (or a parent of it)."""
    names = {name.upper(): name for name in os.environ}
    for end in range(len(path), 0, -1):
        wanted = ENV_PREFIX + ENV_NESTED_DELIMITER.join(str(p) for p in path[:end])
        if wanted.upper() in names:
            return names[wanted.upper()]
    return None


def _leaves(data: Any, loc: Loc = ()) -> Iterable[Loc]:
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from _leaves(value, (*loc, key))
    else:
        yield loc


def _env_overrides() -> tuple[dict[str, Any], dict[Loc, str]]:
    """The settings given by the environment, and which variable gave each path."""
    data = EnvSettingsSource(Settings)()
    sources: dict[Loc, str] = {}
    for leaf in _leaves(data):
        name = env_var(leaf)
        if name is not None:
            sources[leaf] = name
    return data, sources


def _env_parse_problem(exc: SettingsError) -> Problem:
    """pydantic-settings could not decode a variable (bad JSON for a nested setting)."""
    match = re.search(r'field "([^"]+)"', str(exc))
    if match is None:
        return plain_problem("environment", str(exc))
    var = ENV_PREFIX + match[1].upper()
    for name, value in os.environ.items():  # the variable (maybe nested) holding bad JSON
        if name.upper().startswith(var) and value.lstrip()[:1] in {"{", "["}:
            try:
                json.loads(value)
            except ValueError:
                var = name
                break
    return plain_problem(
        var,
        f"not valid JSON; set one key with {var}{ENV_NESTED_DELIMITER}KEY instead",
    )


def _empty_doc(source: str) -> YamlDocument:
    return YamlDocument(source, {}, {}, {})


def _deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base.get(key), value)
        return merged
    return override


@dataclass
class SettingsResult:
    settings: Settings | None
    """``None`` when invalid."""
    rules: tuple[str, ...] | None
    """Where the rule files are (absolute), known even when other settings are invalid."""
    doc: YamlDocument


def _absolute(settings: Settings, base_dir: Path) -> Settings:
    """Relative paths in the settings are relative to the settings file's folder."""
    return settings.model_copy(
        update={
            "state": resolve_path(settings.state, base_dir),
            "rules": tuple(str(resolve_path(p, base_dir)) for p in settings.rules),
        }
    )


def _rules_only(
    data: dict[str, Any], env_data: dict[str, Any], base_dir: Path
) -> tuple[str, ...] | None:
    """``rules`` alone, so the rule files are checked even when other settings are invalid."""
    raw = env_data.get("rules", data.get("rules", Settings.model_fields["rules"].default))
    try:
        patterns = _RULES_ADAPTER.validate_python(rule_sources(raw))
    except ValidationError:
        return None
    return tuple(str(resolve_path(p, base_dir)) for p in patterns)


def load_settings(session: Session, path: Path | None) -> SettingsResult:
    """The settings file at ``path`` (``None``: none) under the environment's overrides."""
    base_dir = normalize_path(path.parent if path is not None else Path.cwd())
    doc = _empty_doc("settings")
    data: Any = {}
    if path is not None:
        parsed = session.read(path)
        if parsed is None:
            return SettingsResult(None, None, doc)
        doc = parsed
        data, _ = session.resolve(doc, base_dir)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            session.add([located(doc, (), "the settings file must be a mapping of settings")])
            return SettingsResult(None, None, doc)
        for key in [k for k in data if k.startswith("_")]:  # not BaseSettings' init options
            session.add([located(doc, (key,), f'unknown key "{key}"', key=True)])
            del data[key]
    env_data: dict[str, Any] = {}
    try:
        env_data, env_sources = _env_overrides()
        settings = Settings(**data)
    except SettingsError as exc:
        session.add([_env_parse_problem(exc)])
        return SettingsResult(None, _rules_only(data, env_data, base_dir), doc)
    except ValidationError as exc:
        merged = _deep_merge(data, env_data)
        session.add(validation_problems(exc, doc, Settings, data=merged, overrides=env_sources))
        return SettingsResult(None, _rules_only(data, env_data, base_dir), doc)
    if env_data:
        session.digest.update(repr(sorted(env_sources.items())).encode())
        session.digest.update(repr(env_data).encode())
    settings = _absolute(settings, base_dir)
    return SettingsResult(settings, settings.rules, doc)
