"""Watching the configuration files for changes (watchfiles, i.e. inotify on Linux).

What is watched is the *folders*, never single files, non-recursively: the settings file's
folder, each rules folder, and the folder holding each rules folder. Watching folders sees an
editor's atomic save (write a temporary file, rename it over the old one) and a ``git pull``
rewriting many files. Watching the parent sees a symlink swap of the whole rules folder (as a
Kubernetes ConfigMap mount or a deploy tool does it: a new link renamed over the old one).

inotify follows a symlink once, when the watch is added; so after every batch of changes the
folders are resolved again and, if a link now points elsewhere, the watch is set up anew.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import anyio
import structlog
from watchfiles import Change, awatch

from calsyncd.config import Config

log = structlog.get_logger("calsyncd.daemon")

_SUFFIXES = (".yaml", ".yml")


def anchors(settings_path: Path, config: Config | None) -> list[Path]:
    """The paths the configuration is read from: the settings file and every ``rules`` entry
    (a glob stands for the folder it starts in)."""
    found = [settings_path.absolute()]
    if config is not None:
        found.extend(_fixed_part(pattern) for pattern in config.settings.rules)
    return found


def _fixed_part(pattern: str) -> Path:
    """The path up to a glob's first wildcard (the path itself when it has none)."""
    fixed: list[str] = []
    for part in Path(pattern).parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path.cwd()


def folders(paths: Iterable[Path]) -> frozenset[Path]:
    """The existing folders to watch for ``paths``, with symlinks resolved."""
    wanted: set[Path] = set()
    for path in paths:
        wanted.add(Path(os.path.realpath(path.parent)))
        real = Path(os.path.realpath(path))
        wanted.add(real if real.is_dir() else real.parent)
    return frozenset(p for p in wanted if p.is_dir())


def relevant(changed: str, watched: Iterable[Path]) -> bool:
    """Whether a change may alter the configuration: a YAML file, a configuration path itself
    (the settings file, a rules folder or its link), or a ConfigMap's ``..data`` link."""
    path = Path(changed)
    if path.suffix in _SUFFIXES or path.name.startswith(".."):
        return True
    return any(path == p or Path(os.path.realpath(path)) == p for p in watched)


async def watch(
    get_anchors: Callable[[], list[Path]],
    on_change: Callable[[], None],
    stop: anyio.Event,
    *,
    step_ms: int = 100,
    debounce_ms: int = 1000,
) -> None:
    """Call ``on_change`` after each batch of relevant changes, until ``stop`` is set."""
    while not stop.is_set():
        paths = get_anchors()
        watched = folders(paths)
        if not watched:
            await _sleep_or_stop(stop, 1.0)
            continue
        log.debug("watching", folders=sorted(str(p) for p in watched))
        try:
            async for changes in awatch(
                *watched,
                watch_filter=None,
                recursive=False,
                step=step_ms,
                debounce=debounce_ms,
                stop_event=stop,
                rust_timeout=1000,
                yield_on_timeout=True,
            ):
                if any(relevant(path, paths) for kind, path in changes if isinstance(kind, Change)):
                    on_change()
                if folders(get_anchors()) != watched:
                    break  # a link was swapped or a folder came or went: watch anew
        except (OSError, RuntimeError) as exc:  # a watched folder vanished under the watcher
            log.debug("watch restarted", error=str(exc))
            on_change()
            await _sleep_or_stop(stop, 0.2)


async def _sleep_or_stop(stop: anyio.Event, seconds: float) -> None:
    with anyio.move_on_after(seconds):
        await stop.wait()
