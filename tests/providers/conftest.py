"""Fixtures of the provider tests."""

from conformance.fixtures import feed_path, feed_server, http_client, no_leaked_threads

__all__ = ["feed_path", "feed_server", "http_client", "no_leaked_threads"]
