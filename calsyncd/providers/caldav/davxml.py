"""WebDAV/CalDAV XML: the request bodies calsyncd sends and the answers it reads.

Only the standard library (:mod:`xml.etree.ElementTree`). Elements are named in Clark
notation (``{DAV:}href``); requests use the namespaces' default prefixes chosen by
ElementTree, which every server accepts.

Answers come from servers calsyncd does not control. A multistatus is parsed as it streams
in (:class:`MultistatusReader`): each ``<response>`` is handed to a :class:`Multistatus`
the moment it ends and its elements are dropped, so memory follows what the caller keeps
(a sync listing: href and etag per member), not the answer's size. No answer may carry a
DTD: entity declarations are how XML bombs expand a few kilobytes into gigabytes (expat's
own amplification limit still lets a 100-fold expansion through), and no DAV server needs
one.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CS = "http://calendarserver.org/ns/"


def dav(name: str) -> str:
    return f"{{{DAV}}}{name}"


def cal(name: str) -> str:
    return f"{{{CALDAV}}}{name}"


def cs(name: str) -> str:
    return f"{{{CS}}}{name}"


MULTISTATUS = dav("multistatus")
RESPONSE = dav("response")
HREF = dav("href")
GETETAG = dav("getetag")
SYNC_TOKEN = dav("sync-token")
RESOURCETYPE = dav("resourcetype")
DISPLAYNAME = dav("displayname")
CURRENT_USER_PRINCIPAL = dav("current-user-principal")
CALENDAR_HOME_SET = cal("calendar-home-set")
CALENDAR_DATA = cal("calendar-data")
COMPONENT_SET = cal("supported-calendar-component-set")
GETCTAG = cs("getctag")
CALENDAR_TYPE = cal("calendar")

# -- requests ---------------------------------------------------------------------------------


def _document(root: ET.Element) -> bytes:
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _props(parent: ET.Element, names: Iterable[str]) -> None:
    prop = ET.SubElement(parent, dav("prop"))
    for name in names:
        ET.SubElement(prop, name)


def propfind(*names: str) -> bytes:
    """``<propfind><prop>…</prop></propfind>``."""
    root = ET.Element(dav("propfind"))
    _props(root, names)
    return _document(root)


def sync_collection(token: str) -> bytes:
    """An RFC 6578 ``sync-collection`` report for member etags (no ``<limit>``: see module
    :mod:`calsyncd.providers.caldav`)."""
    root = ET.Element(dav("sync-collection"))
    ET.SubElement(root, SYNC_TOKEN).text = token
    ET.SubElement(root, dav("sync-level")).text = "1"
    _props(root, [GETETAG])
    return _document(root)


def calendar_query_etags() -> bytes:
    """A ``calendar-query`` for the etags of every VEVENT resource (no time range)."""
    root = ET.Element(cal("calendar-query"))
    _props(root, [GETETAG])
    outer = ET.SubElement(ET.SubElement(root, cal("filter")), cal("comp-filter"), name="VCALENDAR")
    ET.SubElement(outer, cal("comp-filter"), name="VEVENT")
    return _document(root)


def calendar_multiget(hrefs: Iterable[str]) -> bytes:
    """A ``calendar-multiget`` for the etags and bodies of ``hrefs``."""
    root = ET.Element(cal("calendar-multiget"))
    _props(root, [GETETAG, CALENDAR_DATA])
    for href in hrefs:
        ET.SubElement(root, HREF).text = href
    return _document(root)


def mkcalendar(displayname: str | None = None) -> bytes:
    """A ``MKCALENDAR`` body (used by tests and tools that create calendars)."""
    root = ET.Element(cal("mkcalendar"))
    if displayname is not None:
        prop = ET.SubElement(ET.SubElement(root, dav("set")), dav("prop"))
        ET.SubElement(prop, DISPLAYNAME).text = displayname
    return _document(root)


# -- answers ----------------------------------------------------------------------------------


class XmlError(ValueError):
    """An answer that is not the XML it should be."""


_STATUS = re.compile(r"^\s*HTTP/\d(?:\.\d)?\s+(\d{3})")


def status_code(text: str | None) -> int | None:
    """The code of a ``<status>HTTP/1.1 404 Not Found</status>`` line."""
    match = _STATUS.match(text or "")
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class Response:
    """One ``<response>`` of a multistatus.

    ``status`` is the response-level status (a deleted member in a sync report: 404), else
    ``None``; ``props`` holds the properties found (status 200), ``missing`` the names of
    those the server reported with another status.
    """

    href: str
    status: int | None
    props: dict[str, ET.Element] = field(default_factory=dict)
    missing: frozenset[str] = frozenset()

    def text(self, name: str) -> str | None:
        element = self.props.get(name)
        if element is None or element.text is None:
            return None
        return element.text

    def hrefs(self, name: str) -> list[str]:
        """The ``<href>`` values inside property ``name`` (principal, home set)."""
        element = self.props.get(name)
        if element is None:
            return []
        return [h.text.strip() for h in element.iter(HREF) if h.text and h.text.strip()]

    def has_type(self, name: str) -> bool:
        """Whether ``<resourcetype>`` contains element ``name``."""
        element = self.props.get(RESOURCETYPE)
        return element is not None and element.find(name) is not None

    def components(self) -> set[str] | None:
        """The supported component names, ``None`` when the server did not say."""
        element = self.props.get(COMPONENT_SET)
        if element is None:
            return None
        return {c.get("name", "").upper() for c in element.iter(cal("comp"))}


class Multistatus:
    """What is kept of a ``207 Multi-Status`` answer: every response and (sync reports) the
    new token. Subclasses keep less: :meth:`add` receives each response as it is parsed."""

    def __init__(self) -> None:
        self.responses: list[Response] = []
        self.sync_token: str | None = None

    def add(self, response: Response) -> None:
        self.responses.append(response)


_DTD_REFUSED = "a DTD (refused: no DAV answer needs one, and entity declarations make XML bombs)"


class _Target:
    """ElementTree parser target: builds one ``<response>`` at a time, hands it on, and
    keeps nothing else; refuses a DTD before its internal subset is read."""

    def __init__(self, into: Multistatus) -> None:
        self._into = into
        self._depth = 0
        self._response: ET.TreeBuilder | None = None
        self._token: list[str] | None = None

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise XmlError(_DTD_REFUSED)

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self._depth += 1
        if self._depth == 1 and tag != MULTISTATUS:
            raise XmlError(f"expected a DAV multistatus, got <{tag}>")
        if self._depth == 2 and tag == RESPONSE:
            self._response = ET.TreeBuilder()
        elif self._depth == 2 and tag == SYNC_TOKEN:
            self._token = []
        if self._response is not None:
            self._response.start(tag, attrib)

    def end(self, tag: str) -> None:
        if self._response is not None:
            self._response.end(tag)
            if self._depth == 2:
                response = _response(self._response.close())
                self._response = None
                if response is not None:
                    self._into.add(response)
        elif self._depth == 2 and self._token is not None:
            self._into.sync_token = "".join(self._token).strip() or None
            self._token = None
        self._depth -= 1

    def data(self, text: str) -> None:
        if self._response is not None:
            self._response.data(text)
        elif self._token is not None:
            self._token.append(text)

    def close(self) -> None:
        return None


class MultistatusReader:
    """Parses a multistatus fed in pieces into ``into``; raises :class:`XmlError` as soon as
    the answer is not one (or carries a DTD)."""

    def __init__(self, into: Multistatus) -> None:
        self.into = into
        self._parser = ET.XMLParser(target=_Target(into))

    def feed(self, data: bytes) -> None:
        try:
            self._parser.feed(data)
        except ET.ParseError as exc:
            raise XmlError(f"not XML ({exc})") from None

    def close(self) -> Multistatus:
        try:
            self._parser.close()
        except ET.ParseError as exc:
            raise XmlError(f"not XML ({exc})") from None
        return self.into


def multistatus(body: bytes) -> Multistatus:
    """Parse a whole multistatus; raises :class:`XmlError` if it is not one."""
    reader = MultistatusReader(Multistatus())
    reader.feed(body)
    return reader.close()


class _SafeBuilder(ET.TreeBuilder):
    """A tree builder that refuses a DTD (see the module docs)."""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise XmlError(_DTD_REFUSED)


def _parse(body: bytes) -> ET.Element:
    parser = ET.XMLParser(target=_SafeBuilder())
    try:
        parser.feed(body)
        root: Any = parser.close()
    except ET.ParseError as exc:
        raise XmlError(f"not XML ({exc})") from exc
    assert isinstance(root, ET.Element)
    return root


def _response(element: ET.Element) -> Response | None:
    href = element.find(HREF)
    if href is None or not href.text or not href.text.strip():
        return None
    status = element.find(dav("status"))
    props: dict[str, ET.Element] = {}
    missing: set[str] = set()
    for propstat in element.findall(dav("propstat")):
        code = status_code(propstat.findtext(dav("status")))
        prop = propstat.find(dav("prop"))
        if prop is None:
            continue
        for child in prop:
            if code is not None and 200 <= code < 300:
                props[child.tag] = child
            else:
                missing.add(child.tag)
    return Response(
        href=href.text.strip(),
        status=status_code(status.text) if status is not None else None,
        props=props,
        missing=frozenset(missing),
    )


@dataclass(frozen=True, slots=True)
class DavError:
    """A ``<DAV:error>`` body (RFC 4918 §16): the precondition and postcondition elements it
    names (Clark names), each with the ``<DAV:href>`` values inside it — the resources the
    condition is about, such as the object already holding a UID. Nothing else is kept: the
    ``responsedescription`` is the server's own text."""

    conditions: dict[str, tuple[str, ...]] = field(default_factory=dict)


def dav_error(body: bytes) -> DavError:
    """The conditions of a ``<DAV:error>`` body; none when the body is not one (empty, HTML,
    not XML, or carrying a DTD)."""
    try:
        root = _parse(body)
    except XmlError:
        return DavError()
    if root.tag != dav("error"):
        return DavError()
    return DavError(
        {
            child.tag: tuple(h.text.strip() for h in child.iter(HREF) if h.text and h.text.strip())
            for child in root
            if child.tag != dav("responsedescription")
        }
    )


def conditions(body: bytes) -> set[str]:
    """The names of the conditions of a ``<DAV:error>`` body (see :func:`dav_error`)."""
    return set(dav_error(body).conditions)
