"""The command line: ``calsyncd [--config PATH] COMMAND …``.

Each command is a function ``(args) -> exit code`` registered with :func:`command` in
:data:`COMMANDS`, together with a function adding its arguments; :func:`build_parser` turns the
table into argparse sub-commands. A user mistake (a missing file, an invalid rule) is printed
as one line per problem on stderr and gives a non-zero exit code — never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from calsyncd import __version__, log
from calsyncd.config import (
    DEFAULT_SETTINGS_PATH,
    SETTINGS_ENV,
    Config,
    Rule,
    find_settings_path,
    load_config,
)
from calsyncd.errors import ConfigError, StateError
from calsyncd.scrub import ScrubbedStream
from calsyncd.state.store import StateStore
from calsyncd.sync.engine import CycleResult
from calsyncd.sync.service import SyncService

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


def load_for_command(args: argparse.Namespace) -> Config | None:
    """The configuration, with logging set up from it; ``None`` after printing problems."""
    try:
        config = load_config(settings_path(args))
    except ConfigError as exc:
        print_problems(exc)
        return None
    log.setup(config.settings.log.level, config.settings.log.format)
    log.register_secrets(config.secret_values())
    return config


def open_state(config: Config, *, readonly: bool) -> StateStore | None:
    """The state database (read-only: nothing is created); ``None`` after printing why."""
    path = config.settings.state
    try:
        return StateStore.open_readonly(path) if readonly else StateStore.open(path)
    except StateError as exc:
        print(exc, file=sys.stderr)
        return None


def rules_to_run(config: Config, name: str | None) -> list[Rule] | None:
    """The rule named (paused or not), or every rule that is not paused."""
    if name is None:
        return [rule for rule in config.rules.values() if not rule.paused]
    rule = config.rules.get(name)
    if rule is None:
        known = ", ".join(config.rules) or "none"
        print(f"no rule named {name!r} (rules: {known})", file=sys.stderr)
        return None
    return [rule]


async def run_cycles(
    config: Config,
    store: StateStore,
    rules: list[Rule],
    *,
    dry_run: bool = False,
    allow_mass_delete: bool = False,
) -> list[CycleResult]:
    """One cycle of each rule, in order, sharing one HTTP client."""
    async with httpx.AsyncClient(timeout=30, follow_redirects=True) as http:
        service = SyncService(config.connections, store, http)
        return [
            await service.cycle(rule, dry_run=dry_run, allow_mass_delete=allow_mass_delete)
            for rule in rules
        ]


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
    """Run one command; returns its exit code (2 for a usage error, as argparse does).

    Everything the command prints — to stdout and stderr, log lines included — passes
    through the scrubber (:mod:`calsyncd.scrub`).
    """
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbedStream(stdout), ScrubbedStream(stderr)
    try:
        return _main(argv)
    except BrokenPipeError:  # `calsyncd plan | head`: the reader has gone, as with SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
        return 128 + signal.SIGPIPE
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _main(argv: list[str] | None) -> int:
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
