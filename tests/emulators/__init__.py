"""Loopback emulators of calendar APIs, faithful to their documented semantics (test code)."""
