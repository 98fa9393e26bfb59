"""Plain HTTP on the servers, outside either tool: listings, reads and edits by "another
client", and the raw loop of PUTs that bounds what any tool can reach."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

from bench.caldav.servers import Server

_PROPFIND = b"""<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>
"""
_DAV = "{DAV:}"
ICS = {"Content-Type": "text/calendar; charset=utf-8"}


def etags(server: Server, calendar: str) -> dict[str, str]:
    """{resource name: etag} of every object in ``calendar`` (``PROPFIND Depth: 1``)."""
    path = server.path(calendar)
    with server.client() as client:
        answer = client.request(
            "PROPFIND",
            path,
            content=_PROPFIND,
            headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
        )
    if answer.status_code != 207:
        raise RuntimeError(f"PROPFIND {path} on {server.kind}: {answer.status_code}")
    found = {}
    for response in ET.fromstring(answer.content).iter(f"{_DAV}response"):
        href = unquote(response.findtext(f"{_DAV}href") or "")
        name = href.rstrip("/").rsplit("/", 1)[-1]
        etag = response.findtext(f".//{_DAV}getetag")
        if href.rstrip("/") != path.rstrip("/") and etag:
            found[name] = etag
    return found


def summary(body: str) -> str | None:
    for line in body.splitlines():
        if line.startswith("SUMMARY"):
            return line.split(":", 1)[1]
    return None


def uid(body: str) -> str | None:
    for line in body.splitlines():
        if line.startswith("UID:"):
            return line[4:]
    return None


def summaries_by_uid(server: Server, calendar: str, names: Iterable[str]) -> dict[str, str | None]:
    """{UID: SUMMARY} of the named objects, read one by one."""
    found = {}
    with server.client() as client:
        for name in names:
            answer = client.get(server.path(calendar) + name)
            answer.raise_for_status()
            found[uid(answer.text) or name] = summary(answer.text)
    return found


def put_all(server: Server, calendar: str, files: Mapping[str, bytes]) -> None:
    """Overwrite (or create) the named objects, as another client editing them would."""
    with server.client() as client:
        for name, body in files.items():
            answer = client.put(server.path(calendar) + name, content=body, headers=ICS)
            if answer.status_code not in (201, 204):
                raise RuntimeError(f"PUT {name} on {server.kind}: {answer.status_code}")


def raw_put_loop(server: Server, calendar: str, files: Mapping[str, bytes]) -> float:
    """Seconds for a plain sequential loop of ``PUT If-None-Match: *`` creating ``files``
    in ``calendar`` on one kept-alive connection: the server's own limit for an initial
    copy, with no listing, no reading and no bookkeeping."""
    path = server.path(calendar)
    headers = {**ICS, "If-None-Match": "*"}
    with server.client() as client:
        started = time.perf_counter()
        for name, body in files.items():
            answer = client.put(path + name, content=body, headers=headers)
            if answer.status_code != 201:
                raise RuntimeError(f"raw PUT {name} on {server.kind}: {answer.status_code}")
        return time.perf_counter() - started
