"""Fixtures of the fidelity suite."""

from __future__ import annotations

from cli.conftest import project

__all__ = ["project"]
