"""Loading the settings and every rule file into one validated, immutable :class:`Config`.

Everything is read and checked before anything is reported: every problem of every file is
collected, then one :class:`~calsyncd.errors.ConfigError` is raised with all of them, sorted by
file (settings first, then rule files in load order) and position. Checks that span files —
duplicate names, endpoints naming unknown or unsuitable connections — are done here, with the
positions of both places where it helps.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from calsyncd.config.base import normalize_path
from calsyncd.config.connections import Connection
from calsyncd.config.rulefiles import (
    Kind,
    RuleSet,
    expand_given,
    load_rules,
    lookup_origin,
    rule_paths_from_settings,
    unique_paths,
)
from calsyncd.config.rules import Rule
from calsyncd.config.session import Session, display_path
from calsyncd.config.settings import Defaults, Settings
from calsyncd.config.settingsfile import load_settings
from calsyncd.errors import ConfigError

SETTINGS_ENV = "CALSYNCD_CONFIG"
"""The environment variable naming the settings file when ``--config`` is not given."""
DEFAULT_SETTINGS_PATH = Path("config/calsyncd.yaml")
"""The settings file used when neither ``--config`` nor ``$CALSYNCD_CONFIG`` is given."""


def find_settings_path(
    cli_value: str | Path | None, environ: Mapping[str, str] | None = None
) -> Path:
    """The settings file: ``--config``, else ``$CALSYNCD_CONFIG``, else ``config/calsyncd.yaml``."""
    env = os.environ if environ is None else environ
    if cli_value:
        return Path(cli_value)
    if env.get(SETTINGS_ENV):
        return Path(env[SETTINGS_ENV])
    return DEFAULT_SETTINGS_PATH


@dataclass(frozen=True)
class Config:
    """Everything the daemon runs from; replaced as a whole on reload.

    ``rules`` have the settings ``defaults`` applied and keep file order; ``revision`` is a
    short hash of the settings file and rule files (and ``CALSYNCD_*`` overrides) shown on
    ``/status``. Secrets inside are :class:`~pydantic.SecretStr`: ``repr`` shows none.
    ``references`` holds every value a ``${…}`` reference resolved to: all are treated as
    secrets.
    """

    settings: Settings
    settings_path: Path | None
    connections: Mapping[str, Connection]
    rules: Mapping[str, Rule]
    rule_files: tuple[Path, ...]
    revision: str
    origins: Mapping[tuple[Kind, str], str] = field(repr=False)
    references: frozenset[str] = field(default=frozenset(), repr=False)

    def origin(self, name: str, kind: Kind | None = None) -> str:
        """``path:line:col`` where the rule (else the connection) ``name`` is defined."""
        return lookup_origin(self.origins, name, kind)

    def secret_values(self) -> list[str]:
        """Every secret of the configuration, for the scrubber: the connections' secrets
        (with ``username:password`` as a ``Basic`` header encodes it) and every value a
        reference resolved to."""
        values = set(self.references)
        for connection in self.connections.values():
            for name in type(connection).model_fields:
                value = getattr(connection, name)
                if isinstance(value, SecretStr):
                    secret = value.get_secret_value()
                    values.add(secret)
                    username = getattr(connection, "username", None)
                    if name == "password" and username:
                        values.add(f"{username}:{secret}")
        return sorted(values)


def load_rule_files(paths: Sequence[Path], defaults: Defaults | None = None) -> RuleSet:
    """Validate the given rule files (folders: their ``*.yaml``/``*.yml``) on their own.

    Rules inherit ``defaults`` (the built-in ones without). Raises :class:`ConfigError` with
    every problem found.
    """
    session = Session()
    rule_set = load_rules(session, unique_paths(expand_given(paths)), defaults or Defaults())
    if session.problems:
        raise ConfigError(session.sorted_problems())
    return rule_set


def load_config(settings_path: Path | None, *, rule_paths: Sequence[Path] | None = None) -> Config:
    """Load the settings file (``None``: built-in defaults and environment only) and the rule
    files it names — or, with ``rule_paths``, those files and folders instead.

    Raises :class:`ConfigError` listing every problem of every file.
    """
    session = Session()
    loaded = load_settings(session, settings_path)
    settings = loaded.settings
    if rule_paths is not None:
        paths = expand_given(rule_paths)
    elif loaded.rules is not None:
        paths = rule_paths_from_settings(session, loaded.rules, loaded.doc)
    else:
        paths = []
    defaults = settings.defaults if settings is not None else Defaults()
    rule_set = load_rules(session, unique_paths(paths), defaults)
    if session.problems or settings is None:
        raise ConfigError(session.sorted_problems())
    return Config(
        settings=settings,
        settings_path=normalize_path(settings_path) if settings_path is not None else None,
        connections=rule_set.connections,
        rules=rule_set.rules,
        rule_files=rule_set.files,
        revision=session.digest.hexdigest()[:12],
        origins=rule_set.origins,
        references=frozenset(session.secrets),
    )


__all__ = [
    "DEFAULT_SETTINGS_PATH",
    "SETTINGS_ENV",
    "Config",
    "RuleSet",
    "display_path",
    "find_settings_path",
    "load_config",
    "load_rule_files",
]
