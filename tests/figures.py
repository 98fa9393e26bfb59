"""Figure lines: what a suite's tests measured, repeated in the session summary.

A test calls :func:`record` (through its suite's ``report`` helper); the root ``conftest.py``
attaches the lines recorded during each test phase to that phase's report as
``user_properties`` (``("figure", section, line)``), and prints them per section at the end
of the session. Going through the reports, the lines reach the summary from ``pytest-xdist``
workers as well, where a module-level list would stay in the worker.
"""

from __future__ import annotations

from collections.abc import Iterable

_pending: list[tuple[str, str]] = []


def record(section: str, line: str) -> None:
    """Keep ``line`` for the ``section`` of the session summary (e.g. "hostile-input figures")."""
    _pending.append((section, line))


def report_figures(section: str, tag: str, name: str, **figures: object) -> str:
    """``name: key value, …`` from ``figures``, printed (``pytest -s``, prefixed by ``tag``)
    and recorded for ``section``; the line."""
    line = f"{name}: " + ", ".join(
        f"{key.replace('_', ' ')} {value}" for key, value in figures.items()
    )
    record(section, line)
    print(f"\n{tag} {line}")
    return line


def take() -> list[tuple[str, str]]:
    """The lines recorded since the last call."""
    taken = list(_pending)
    _pending.clear()
    return taken


def by_section(properties: Iterable[tuple[str, object]]) -> dict[str, list[str]]:
    """Figure lines out of reports' ``user_properties``, by section, in order."""
    sections: dict[str, list[str]] = {}
    for name, value in properties:
        if name == "figure" and isinstance(value, tuple) and len(value) == 2:
            section, line = value
            sections.setdefault(str(section), []).append(str(line))
    return sections
