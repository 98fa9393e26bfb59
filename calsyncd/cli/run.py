"""``run``: the daemon, in the foreground, until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse

import anyio

from calsyncd import log
from calsyncd.cli.app import command, open_state, print_problems, settings_path
from calsyncd.config import load_config
from calsyncd.daemon.app import run_daemon
from calsyncd.errors import ConfigError

EXIT_INVALID_CONFIG = 2
"""An invalid configuration at start; systemd's ``RestartPreventExitStatus=2`` does not retry."""


@command("run", "run the daemon in the foreground until SIGTERM/SIGINT")
def run(args: argparse.Namespace) -> int:
    """Exit 0 after a graceful stop, 2 if the configuration is invalid at start, 1 if the state
    database or the HTTP port cannot be opened."""
    try:
        config = load_config(settings_path(args))
    except ConfigError as exc:
        print_problems(exc)
        return EXIT_INVALID_CONFIG
    log.setup(config.settings.log.level, config.settings.log.format)
    log.register_secrets(config.secret_values())
    store = open_state(config, readonly=False)
    if store is None:
        return 1
    try:
        return anyio.run(run_daemon, config, store)
    finally:
        store.close()
