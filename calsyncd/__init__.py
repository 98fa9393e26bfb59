"""calsyncd — declarative calendar sync daemon."""

__version__ = "0.1.0"
"""The one place the version is written (``pyproject.toml`` reads it from here): no
package-metadata lookup at start, which costs every command ~30 ms."""

__all__ = ["__version__"]
