"""``run``: the daemon, in the foreground, until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse

import anyio

from calsyncd.cli.app import command, load_for_command, open_state

EXIT_INVALID_CONFIG = 2
"""An invalid configuration at start; systemd's ``RestartPreventExitStatus=2`` does not retry."""


@command("run", "run the daemon in the foreground until SIGTERM/SIGINT")
def run(args: argparse.Namespace) -> int:
    """Exit 0 after a graceful stop, 2 if the configuration is invalid at start, 1 if the state
    database or the HTTP port cannot be opened."""
    # The HTTP server and metrics stack only load here: one-shot commands start faster.
    from calsyncd.daemon.app import run_daemon  # noqa: PLC0415

    config = load_for_command(args)
    if config is None:
        return EXIT_INVALID_CONFIG
    store = open_state(config, readonly=False)
    if store is None:
        return 1
    try:
        return anyio.run(run_daemon, config, store)
    finally:
        store.close()
