"""The benchmark's Radicale and Xandikos: the tests' server runner (``tests/caldav/servers.py``,
put on the import path here), with one Radicale setting changed.

Big calendars are written straight into a server's storage before it starts
(:func:`prefill`): creating 50,000 events over HTTP would take hours, as Radicale slows to a
few creates per second on a big calendar. Radicale runs with htpasswd auth, Xandikos serves
``/alice/`` without auth, both with stock settings except ``[reporting]
max_expand_occurrence`` (Radicale's default 10,000 caps the events one REPORT may return):
vdirsyncer 0.21 fetches every item it has no status for in a single ``calendar-multiget``, so
on a calendar of more than 10,000 events its first sync fails with HTTP 400; calsyncd fetches
in batches of 200 and is not affected.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from caldav.servers import PASSWORD, USER, Kind, free_port
from caldav.servers import DavServer as Server
from caldav.servers import prefill_many as prefill
from caldav.servers import start as _start

__all__ = ["PASSWORD", "USER", "Kind", "Server", "free_port", "prefill", "start"]

RADICALE_SETTINGS = "[reporting]\nmax_expand_occurrence = 1000000\n"


def start(kind: Kind, folder: Path) -> Server:
    """Start a server in ``folder`` and wait until it answers."""
    return _start(kind, folder, radicale_settings=RADICALE_SETTINGS)
