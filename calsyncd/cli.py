"""The command line: ``calsyncd [--config PATH] COMMAND …``.

Each command is a function ``(args) -> exit code`` registered with :func:`command` in
:data:`COMMANDS`, together with a function adding its arguments; :func:`build_parser` turns the
table into argparse sub-commands. A user mistake (a missing file, an invalid rule) is printed
as one line per problem on stderr and gives a non-zero exit code — never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from calsyncd import __version__
from calsyncd.config import (
    DEFAULT_SETTINGS_PATH,
    SETTINGS_ENV,
    Config,
    display_path,
    find_settings_path,
    load_config,
    rule_file_json_schema,
)
from calsyncd.errors import ConfigError

Handler = Callable[[argparse.Namespace], int]
Configure = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    """A sub-command: its name, one-line help, argument setup and handler."""

    name: str
    help: str
    configure: Configure
    run: Handler


COMMANDS: dict[str, Command] = {}
"""Every sub-command, by name, in the order ``--help`` lists them."""


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def command(
    name: str, help: str, configure: Configure = _no_arguments
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the sub-command ``name``."""

    def register(run: Handler) -> Handler:
        COMMANDS[name] = Command(name, help, configure, run)
        return run

    return register


def settings_path(args: argparse.Namespace) -> Path:
    """The settings file this invocation uses (``--config``, ``$CALSYNCD_CONFIG``, default)."""
    value: str | None = args.config
    return find_settings_path(value)


def print_problems(error: ConfigError) -> None:
    for problem in error.problems:
        print(problem, file=sys.stderr)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary(config: Config) -> str:
    """``ok: 3 rules, 5 connections in 2 files``."""
    return (
        f"ok: {_plural(len(config.rules), 'rule')}, "
        f"{_plural(len(config.connections), 'connection')} "
        f"in {_plural(len(config.rule_files), 'file')}"
    )


# -- check --------------------------------------------------------------------------------


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


# -- schema -------------------------------------------------------------------------------


@command("schema", "print the JSON Schema of rule files")
def schema(args: argparse.Namespace) -> int:
    del args
    print(json.dumps(rule_file_json_schema(), indent=2, ensure_ascii=False))
    return 0


# -- entry point --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calsyncd",
        description="Declarative calendar sync daemon.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=f"settings file (default: ${SETTINGS_ENV}, else {DEFAULT_SETTINGS_PATH})",
    )
    parser.add_argument("--version", action="version", version=f"calsyncd {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS.values():
        sub = commands.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        # `calsyncd check --config X` works as well as `calsyncd --config X check`.
        sub.add_argument(
            "--config", metavar="PATH", default=argparse.SUPPRESS, help="settings file"
        )
        cmd.configure(sub)
        sub.set_defaults(handler=cmd.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (2 for a usage error, as argparse does)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
