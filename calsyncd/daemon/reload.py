"""Reloading the configuration: what changed between two configs, and when to reload.

A reload reads and validates the whole configuration into a new :class:`Config`; only a valid
one is swapped in. A rule counts as changed when its definition or any connection it uses
changed — a new password in a ``${file:…}`` secret restarts the rules that use it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from calsyncd.config import Config
from calsyncd.daemon.mailbox import Mailbox
from calsyncd.daemon.supervisor import RuleChanges

SIGNAL = "signal"
"""A reload asked for by SIGHUP: done at once, not debounced, and always reported."""
FILES = "files"
"""A reload asked for by the file watcher: debounced."""


def _inputs(config: Config, name: str) -> tuple[Any, ...]:
    rule = config.rules[name]
    used = [rule.source.connection, rule.target.connection]
    if rule.meeting is not None:
        used.append(rule.meeting.connection)
    return (rule, *(config.connections.get(c) for c in used))


def rule_changes(old: Config, new: Config) -> RuleChanges:
    """Which rules ``new`` adds, removes and changes compared with ``old``."""
    both = old.rules.keys() & new.rules.keys()
    return RuleChanges(
        added=frozenset(new.rules.keys() - old.rules.keys()),
        removed=frozenset(old.rules.keys() - new.rules.keys()),
        changed=frozenset(n for n in both if _inputs(old, n) != _inputs(new, n)),
    )


class Reloader:
    """Collects reload requests; file changes are debounced until ``quiet`` seconds pass
    without another, so a ``git pull`` or an editor's save reloads once."""

    def __init__(self, quiet: float = 0.5) -> None:
        self.quiet = quiet
        self._mailbox = Mailbox()

    def request(self, reason: str) -> None:
        self._mailbox.post(reason)

    async def run(self, reload: Callable[[frozenset[str]], Awaitable[None]]) -> None:
        """Call ``reload(reasons)`` for each settled batch of requests, forever."""
        while True:
            reasons = await self._mailbox.wait(None)
            while SIGNAL not in reasons:
                more = await self._mailbox.wait(self.quiet)
                if not more:
                    break
                reasons |= more
            await reload(reasons)
