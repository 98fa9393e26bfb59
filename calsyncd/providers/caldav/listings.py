"""What the calendar keeps of each multistatus it reads, folded one response at a time.

A multistatus is parsed while it streams (:mod:`.davxml`); each ``<response>`` is handed to
one of these and then dropped, so a listing costs the memory of what it keeps — an href and
an etag per member — not of the answer. A server answering with more than was asked for
(responses for hrefs a multiget did not name, more than one response to a ``Depth: 0``
request) cannot make calsyncd keep the surplus.
"""

from __future__ import annotations

from collections.abc import Iterable

from calsyncd.providers.caldav import davxml, resources


class Members(davxml.Multistatus):
    """A sync-collection answer: members changed (href → etag, if given) and deleted, and
    whether the server truncated the answer (``507`` on the collection itself)."""

    def __init__(self, collection: str) -> None:
        super().__init__()
        self._collection = collection
        self._own = resources.canonical_path(collection, collection)
        self.changed: dict[str, str | None] = {}
        self.deleted: dict[str, None] = {}
        self.truncated = False

    def add(self, response: davxml.Response) -> None:
        href = resources.canonical_path(response.href, self._collection)
        if href == self._own:
            self.truncated = self.truncated or response.status == 507
        elif response.status in (404, 410):
            self.changed.pop(href, None)
            self.deleted[href] = None
        else:
            self.deleted.pop(href, None)
            self.changed[href] = response.text(davxml.GETETAG)


class Etags(davxml.Multistatus):
    """A calendar-query answer: the etag of each member that has one."""

    def __init__(self, collection: str) -> None:
        super().__init__()
        self._collection = collection
        self.etags: dict[str, str] = {}

    def add(self, response: davxml.Response) -> None:
        etag = response.text(davxml.GETETAG)
        if response.status is None and etag is not None:
            self.etags[resources.canonical_path(response.href, self._collection)] = etag


class Wanted(davxml.Multistatus):
    """The responses for the hrefs asked for (a calendar-multiget), by canonical path."""

    def __init__(self, collection: str, hrefs: Iterable[str]) -> None:
        super().__init__()
        self._collection = collection
        self._wanted = frozenset(hrefs)
        self.found: dict[str, davxml.Response] = {}

    def add(self, response: davxml.Response) -> None:
        href = resources.canonical_path(response.href, self._collection)
        if href in self._wanted:
            self.found[href] = response


class First(davxml.Multistatus):
    """The first response only: what a ``Depth: 0`` request is about."""

    def __init__(self) -> None:
        super().__init__()
        self.first: davxml.Response | None = None

    def add(self, response: davxml.Response) -> None:
        if self.first is None:
            self.first = response
