"""The one scrubber: every form a registered secret may take in an output is replaced."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from calsyncd import scrub
from calsyncd.scrub import REDACTED, ScrubbedStream


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    scrub.forget_all()
    yield
    scrub.forget_all()


SECRET = "pä ss/wörd+Zq9%x"


@pytest.mark.parametrize(
    "shown",
    [
        SECRET,
        quote(SECRET),
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        repr(SECRET + "\n")[1:-1],
        repr((SECRET + "\n").encode())[2:-1],
        json.dumps(SECRET)[1:-1],
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
    ],
)
def test_every_form_is_replaced(shown: str) -> None:
    scrub.register([SECRET])
    scrubbed = scrub.scrub(f"before {shown} after")
    assert scrubbed.startswith(f"before {REDACTED}")
    assert scrubbed.removeprefix(f"before {REDACTED}") in (" after", "\\n after")


def test_basic_header_of_a_registered_pair() -> None:
    scrub.register(["alice:" + SECRET])
    header = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
    assert (
        scrub.scrub(f"Illegal header value b'{header}'")
        == f"Illegal header value b'Basic {REDACTED}'"
    )


def test_a_value_with_surrounding_whitespace_is_known_stripped() -> None:
    scrub.register(["Zq9-token-value\n"])
    assert scrub.scrub("Bearer Zq9-token-value") == f"Bearer {REDACTED}"


def test_the_parts_of_a_secret_url_a_server_echoes() -> None:
    scrub.register(["https://cal.example/feeds/private-a8f3k2m9q7x1/basic.ics?key=k3y-Vq8Zt2x&x=1"])
    echoes = [
        "/feeds/private-a8f3k2m9q7x1/basic.ics?key=k3y-Vq8Zt2x&x=1",
        "key=k3y-Vq8Zt2x&x=1",
        "k3y-Vq8Zt2x",
        "private-a8f3k2m9q7x1",
    ]
    for echo in echoes:
        assert REDACTED in scrub.scrub(f"403 Forbidden {echo}"), echo
    assert scrub.scrub("feeds basic.ics") == "feeds basic.ics"  # ordinary words stay


def test_short_values_are_not_registered() -> None:
    scrub.register(["abc", "", None])
    assert scrub.scrub("abc") == "abc"


def test_longest_form_wins() -> None:
    scrub.register(["secret-one", "secret-one-and-more"])
    assert scrub.scrub("x secret-one-and-more y") == f"x {REDACTED} y"


def test_documents_and_streams() -> None:
    scrub.register([SECRET])
    document = {"rules": {"r": {"last_error": f"HTTP 401 {SECRET}", "n": 3}}, SECRET: [SECRET]}
    assert scrub.scrub_data(document) == {
        "rules": {"r": {"last_error": f"HTTP 401 {REDACTED}", "n": 3}},
        REDACTED: [REDACTED],
    }
    inner = io.StringIO()
    stream = ScrubbedStream(inner)
    print(json.dumps({"error": SECRET}), file=stream)
    assert SECRET not in inner.getvalue()
    assert json.dumps(SECRET)[1:-1] not in inner.getvalue()
    assert REDACTED in inner.getvalue()
