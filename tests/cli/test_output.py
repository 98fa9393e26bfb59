"""What the command line prints when its reader goes away."""

from __future__ import annotations

import subprocess
import sys


def test_a_closed_pipe_ends_quietly() -> None:
    """``calsyncd schema | head -1``: the reader closes the pipe; no traceback, exit 141."""
    process = subprocess.Popen(
        [sys.executable, "-m", "calsyncd", "schema"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()
    _, stderr = process.communicate(timeout=30)
    assert b"Traceback" not in stderr, stderr
    assert process.returncode == 141
