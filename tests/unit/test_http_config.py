"""The HTTP server's settings: off loopback it must have a token, and the token is never shown."""

from __future__ import annotations

import pytest

import config
from config import ConfigError

TOKEN = "a-long-enough-http-token"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "bot.example.org", ""])
def test_off_loopback_without_a_token_is_refused_naming_tzurot_http_token(host: str) -> None:
    with pytest.raises(ConfigError, match="TZUROT_HTTP_TOKEN"):
        config.load({"TZUROT_HTTP_HOST": host})


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_needs_no_token(host: str) -> None:
    assert config.load({"TZUROT_HTTP_HOST": host}).http_token == ""


def test_off_loopback_with_a_token_is_accepted_and_the_token_stays_secret() -> None:
    settings = config.load({"TZUROT_HTTP_HOST": "0.0.0.0", "TZUROT_HTTP_TOKEN": TOKEN})
    assert settings.http_token == TOKEN
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(config.describe())


@pytest.mark.parametrize("bad", ["short", "has a space in it ok", "caf\u00e9-caf\u00e9-caf\u00e9-caf\u00e9"])
def test_a_weak_or_unsendable_token_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(ConfigError, match="^TZUROT_HTTP_TOKEN") as caught:
        config.load({"TZUROT_HTTP_TOKEN": bad})
    assert bad not in str(caught.value)


def test_ping_is_off_unless_opted_in() -> None:
    assert config.load({}).http_ping == 0
    assert config.load({"TZUROT_HTTP_PING": "1"}).http_ping == 1
    with pytest.raises(ConfigError, match="^TZUROT_HTTP_PING"):
        config.load({"TZUROT_HTTP_PING": "2"})
