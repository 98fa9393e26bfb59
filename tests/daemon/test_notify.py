"""The systemd notify protocol, received on a unix datagram socket the test binds."""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from daemon.conftest import LOCAL, Daemon, Project, rule, wait_until


class Receiver:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[str] = []

    def poll(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def first(self, field: str) -> int | None:
        """The index of the first message with ``field`` (``READY=1`` …)."""
        for i, message in enumerate(self.poll()):
            if field in message.splitlines():
                return i
        return None


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    made = Receiver(tmp_path / "notify.sock")
    yield made
    made.sock.close()


def test_ready_status_watchdog_reloading_stopping(
    project: Project, start: Callable[..., Daemon], receiver: Receiver
) -> None:
    project.rules_file.write_text(LOCAL + "rules:\n" + rule("alpha", "a", "b"))
    daemon = start(NOTIFY_SOCKET=str(receiver.path), WATCHDOG_USEC="200000")
    ready = wait_until(lambda: receiver.first("READY=1") is not None, 10, "READY=1")
    assert ready
    # READY=1 comes once the HTTP port listens.
    assert daemon.get("/healthz").status_code == 200
    message = receiver.messages[receiver.first("READY=1") or 0]
    assert any(line.startswith("STATUS=1 rule") for line in message.splitlines()), message
    wait_until(lambda: sum(m == "WATCHDOG=1" for m in receiver.poll()) >= 3, 5, "watchdog pings")

    count = len(receiver.poll())
    daemon.signal(signal.SIGHUP)
    wait_until(
        lambda: any(m.startswith("RELOADING=1") for m in receiver.poll()[count:]), 5, "RELOADING"
    )
    reloading = next(
        i for i, m in enumerate(receiver.messages) if i >= count and m.startswith("RELOADING=1")
    )
    assert "MONOTONIC_USEC=" in receiver.messages[reloading]
    wait_until(
        lambda: any("READY=1" in m.splitlines() for m in receiver.poll()[reloading:]),
        5,
        "READY=1 after the reload",
    )

    assert daemon.stop() == 0
    stopping = [m for m in receiver.poll() if "STOPPING=1" in m.splitlines()]
    assert len(stopping) == 1
