"""Provider-specific tests (what the shared conformance suite cannot say)."""
