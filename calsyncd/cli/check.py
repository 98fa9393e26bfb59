"""``check`` and ``schema``: validating configuration without touching a calendar."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from calsyncd.cli.app import command, print_problems, settings_path
from calsyncd.config import SETTINGS_ENV, Config, display_path, load_config, rule_file_json_schema
from calsyncd.errors import ConfigError


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary(config: Config) -> str:
    """``ok: 3 rules, 5 connections in 2 files``."""
    return (
        f"ok: {_plural(len(config.rules), 'rule')}, "
        f"{_plural(len(config.connections), 'connection')} "
        f"in {_plural(len(config.rule_files), 'file')}"
    )


def _configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        type=Path,
        help="rule files or folders to check instead of those the settings name",
    )


@command("check", "validate the settings and rule files; touches no calendar", _configure_check)
def check(args: argparse.Namespace) -> int:
    """Exit 0 when valid, 1 with every problem on stderr otherwise.

    With PATHs only those rule files are checked; the settings (for ``defaults``) are read when
    ``--config`` or ``$CALSYNCD_CONFIG`` names them or the default file exists, else the
    built-in defaults apply.
    """
    found = settings_path(args)
    explicit = bool(args.config or os.environ.get(SETTINGS_ENV))
    rule_paths: list[Path] | None = args.paths or None
    path: Path | None = found
    if not explicit and not found.exists():
        if rule_paths is None:
            print(
                f"{display_path(found)}: no such file (give --config PATH or set {SETTINGS_ENV})",
                file=sys.stderr,
            )
            return 1
        path = None
    try:
        config = load_config(path, rule_paths=rule_paths)
    except ConfigError as exc:
        print_problems(exc)
        return 1
    print(summary(config))
    return 0


@command("schema", "print the JSON Schema of rule files")
def schema(args: argparse.Namespace) -> int:
    del args
    print(json.dumps(rule_file_json_schema(), indent=2, ensure_ascii=False))
    return 0
