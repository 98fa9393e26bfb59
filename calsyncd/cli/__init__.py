"""The command line: ``calsyncd [--config PATH] COMMAND …`` (also ``python -m calsyncd``).

Each command lives in a module of this package and registers itself in
:data:`calsyncd.cli.app.COMMANDS`; importing the package loads them all.
"""

from calsyncd.cli import auth, check, run, state, sync
from calsyncd.cli.app import COMMANDS, main

__all__ = ["COMMANDS", "auth", "check", "main", "run", "state", "sync"]
