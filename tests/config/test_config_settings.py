"""Settings on their own: listen addresses and the model."""

from __future__ import annotations

import re

import pytest

from calsyncd.config.settings import Settings, parse_listen


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8787", ("127.0.0.1", 8787)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:8787", ("::1", 8787)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("", None),
    ],
)
def test_parse_listen(text: str, expected: tuple[str, int] | None) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8787", "expected host:port"),
        (":8787", "expected host:port"),
        ("::1:8787", "write an IPv6 address in brackets"),
        ("[::1]8787", "expected [IPv6]:port"),
        ("[nope]:1", "is not an IPv6 address"),
        ("host:http", "is not a port number"),
        ("host:70000", "is not a port number"),
        ("bad_host!:1", "is not a host name or IPv4 address"),
    ],
)
def test_parse_listen_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_listen(text)


def test_settings_from_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALSYNCD_RULES", '["a", "b/*.yaml"]')
    monkeypatch.setenv("CALSYNCD_HEALTH__LISTEN", "")

    settings = Settings()

    assert settings.rules == ("a", "b/*.yaml")
    assert settings.health.address is None
    assert settings.model_dump(mode="json")["defaults"] == {
        "interval": "5m",
        "window": {"past": "30d", "future": "365d"},
    }
