"""What hostile servers and feeds send: bodies huge, endless, slow, looping or explosive.

Shared by the tests of ``tests/hostile/`` that play such a peer through the fault proxy's
``tamper`` hook (:class:`~faults.proxy.Reply`).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

MULTISTATUS_HEAD = b'<?xml version="1.0" encoding="utf-8"?>\n<multistatus xmlns="DAV:">'
JSON_HEAD = b'{"kind": "calendar#events", "items": ['
FEED_HEAD = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hostile//EN\r\n"
XML = {"Content-Type": "application/xml; charset=utf-8"}


@dataclass
class Sent:
    """What a streamed reply managed to hand to the socket, and whether it is still going."""

    bytes: int = 0
    started: threading.Event = field(default_factory=threading.Event)
    streaming: bool = False

    def stream(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        self.started.set()
        self.streaming = True
        try:
            for chunk in chunks:
                yield chunk
                self.bytes += len(chunk)
        finally:
            self.streaming = False


def huge_multistatus(total: int) -> Iterator[bytes]:
    """A multistatus of ``total`` bytes of plausible ``<response>`` elements, 64 KiB a chunk."""
    yield (
        b'<?xml version="1.0" encoding="utf-8"?>\n'
        b'<multistatus xmlns="DAV:" xmlns:CS="http://calendarserver.org/ns/">'
    )
    one = (
        b"<response><href>/alice/cal/0123456789abcdef0123456789abcdef.ics</href><propstat>"
        b'<prop><CS:getctag>"6ff56be7e98357f56bd64924ef19ee89"</CS:getctag></prop>'
        b"<status>HTTP/1.1 200 OK</status></propstat></response>"
    )
    chunk = one * (65536 // len(one))
    for _ in range(total // len(chunk)):
        yield chunk
    yield b"</multistatus>"


def drip(head: bytes) -> Iterator[bytes]:
    """``head``, then a byte at a time for ever (the reply's ``drip`` paces it)."""
    yield head
    yield from itertools.repeat(b" ")


MULTISTATUS_HEAD = b'<?xml version="1.0" encoding="utf-8"?>\n<multistatus xmlns="DAV:">'
JSON_HEAD = b'{"kind": "calendar#events", "items": ['
FEED_HEAD = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hostile//EN\r\n"


def loop_507(calendar: str, token: int) -> bytes:
    """A sync-collection answer that says "truncated" (507 on the collection) and hands out
    sync token ``token`` with the same one member: no progress, ever."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<multistatus xmlns="DAV:">'
        f"<response><href>{calendar}</href>"
        "<status>HTTP/1.1 507 Insufficient Storage</status></response>"
        f"<response><href>{calendar}a.ics</href><propstat><prop>"
        '<getetag>"e1"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat>'
        f"</response><sync-token>http://x/sync/{token}</sync-token>"
        "</multistatus>"
    ).encode()


def billion_laughs() -> bytes:
    entities = '<!ENTITY l0 "ha">' + "".join(
        f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10)
    )
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE multistatus [{entities}]>\n'
        '<multistatus xmlns="DAV:"><response><href>/x.ics</href><propstat><prop>'
        "<getetag>&l9;</getetag></prop><status>HTTP/1.1 200 OK</status></propstat>"
        "</response></multistatus>"
    ).encode()


def quadratic_blowup() -> bytes:
    """One 10 kB entity referenced 20,000 times, each reference padded so that expat's own
    amplification limit (100x) lets it through: 2 MB in, 200 MB of text out."""
    reference = "&e;<!--" + "p" * 100 + "-->"
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE multistatus [<!ENTITY e "{"a" * 10_000}">]>\n'
        '<multistatus xmlns="DAV:"><response><href>/x.ics</href><propstat><prop>'
        f"<getetag>{reference * 20_000}</getetag></prop>"
        "<status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"
    ).encode()
