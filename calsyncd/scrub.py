"""The one scrubber: no secret leaves the process through any output, in any form.

Every resolved secret is registered here (by the configuration loader, and by providers for
what they derive: a ``Basic`` header, a token from a key file). Each output path passes its
text through :func:`scrub` — the command line's stdout and stderr (and so every log line and
``--json`` document), the HTTP endpoints, and every message stored in the state database.

A secret may leak in another shape than it was written, so each registered value is known in
every form it is likely to take on the way out: as written and stripped of surrounding
whitespace; URL-encoded (``quote``/``quote_plus``); Base64 (standard and URL-safe, the
``user:password`` of a ``Basic`` header among them); and escaped as Python ``repr``, a bytes
``repr`` (``b'Bearer …\\n'`` in an h11 error) and JSON would print it. A secret URL (a
private feed address) is also known by the parts a server echoes back: the request target
(path and query), the query and each of its values, the password of its user info, and
every token-like path segment. All forms are matched
by one compiled pattern, longest first, so a line costs one regular-expression pass.

Values shorter than :data:`MIN_LENGTH` are not registered: they would redact ordinary words.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from collections.abc import Iterable
from typing import Any, TextIO
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

REDACTED = "[redacted]"
MIN_LENGTH = 4

_lock = threading.Lock()
_forms: set[str] = set()
_pattern: re.Pattern[str] | None = None


_TOKEN_SEGMENT = re.compile(r"(?=[^/]*[0-9])(?=[^/]*[A-Za-z])[A-Za-z0-9_.~%+=-]{12,}")
"""A path segment that looks like a key (letters and digits, 12 characters or more)."""


def _url_parts(value: str) -> set[str]:
    """The parts of a URL that a server may echo on their own (empty for a non-URL)."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return set()
    if not (parts.scheme and parts.netloc):
        return set()
    found = {parts.password or ""}
    if parts.query:
        found |= {parts.query, f"{parts.path}?{parts.query}"}
        found |= {v for _, v in parse_qsl(parts.query, keep_blank_values=True)}
    for segment in parts.path.split("/"):
        if _TOKEN_SEGMENT.fullmatch(segment):
            found |= {segment, segment.rsplit(".", 1)[0]}
    return found


def forms(value: str) -> set[str]:
    """Every shape ``value`` is likely to take in an output (see the module docstring)."""
    found: set[str] = set()
    for text in {value, value.strip(), *_url_parts(value)}:
        if len(text) < MIN_LENGTH:
            continue
        raw = text.encode("utf-8")
        found.update(
            {
                text,
                quote(text, safe=""),
                quote(text),
                quote_plus(text),
                repr(text)[1:-1],
                repr(raw)[2:-1],
                json.dumps(text)[1:-1],
                json.dumps(text, ensure_ascii=False)[1:-1],
            }
        )
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(raw).decode("ascii")
            found.update({encoded, encoded.rstrip("=")})
    return {form for form in found if len(form) >= MIN_LENGTH}


def register(values: Iterable[str | None]) -> None:
    """Scrub ``values`` (and their other forms) from every output from now on."""
    global _pattern  # noqa: PLW0603 - one registry per process
    new: set[str] = set()
    for value in values:
        if value:
            new |= forms(value)
    with _lock:
        if new <= _forms:
            return
        _forms.update(new)
        alternatives = sorted(_forms, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(form) for form in alternatives))


def scrub(text: str) -> str:
    """``text`` with every registered secret, in any of its forms, replaced."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(REDACTED, text)


def scrub_data(data: Any) -> Any:
    """A JSON-like document (dicts, lists, strings) with every string scrubbed."""
    if isinstance(data, str):
        return scrub(data)
    if isinstance(data, dict):
        return {scrub_data(key): scrub_data(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [scrub_data(value) for value in data]
    return data


def forget_all() -> None:
    """Drop every registered value (tests only: a process keeps what it has seen)."""
    global _pattern  # noqa: PLW0603
    with _lock:
        _forms.clear()
        _pattern = None


class ScrubbedStream(io.TextIOBase):
    """A text stream that passes everything written through :func:`scrub` to ``inner``.

    The command line puts its stdout and stderr behind one each, so every line it prints —
    results, problems, ``--json`` documents, log lines — is scrubbed in one place.
    """

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(scrub(text))
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.inner.encoding

    def writable(self) -> bool:
        return True
