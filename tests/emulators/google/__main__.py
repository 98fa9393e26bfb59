"""Run the emulator by hand: ``python -m tests.emulators.google [--port 8080] …``.

Prints the ``base_url`` and ``auth_url`` for a ``google`` connection and writes a
service-account key file whose ``token_uri`` points at the emulator.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from .server import Faults, GoogleEmulator


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.emulators.google")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--calendar", action="append", default=[], help="calendar id (repeatable)")
    parser.add_argument("--user", default="user@example.com", help="the primary calendar's owner")
    parser.add_argument("--key-file", type=Path, default=Path("google-emulator-key.json"))
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--latency", type=float, default=0.0, help="max seconds per request")
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a token")
    args = parser.parse_args()
    emulator = GoogleEmulator(
        port=args.port,
        require_auth=not args.no_auth,
        faults=Faults(rate=args.fault_rate),
        latency=(0.0, args.latency),
        user=args.user,
    )
    for calendar_id in [args.user, *args.calendar]:
        emulator.add_calendar(calendar_id, time_zone="Europe/Berlin")
    args.key_file.write_text(json.dumps(emulator.service_account(), indent=2))
    args.key_file.chmod(0o600)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with emulator:
        print(f"base_url: {emulator.base_url}")
        print(f"auth_url: {emulator.token_url}")
        print(f"credentials: {args.key_file.resolve()}  (subject: {args.user})")
        print("calendars:", ", ".join([args.user, *args.calendar]))
        stop.wait()


if __name__ == "__main__":
    main()
