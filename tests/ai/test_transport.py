"""The AI client's own HTTP transport (ai/transport.py): keep-alive, a stale connection, encodings, proxies."""

from __future__ import annotations

import gzip
import socket
import zlib
from collections.abc import Callable

import pytest

from ai import AIClient, RetryPolicy
from ai.transport import BodyDecodeError, _decoder, proxy_for
from emulator.ai import EmulatorThread, expected_reply
from tests.ai.helpers import MESSAGES

Factory = Callable[..., AIClient]
ANSWER = expected_reply({"model": "m", "messages": MESSAGES})


def test_one_connection_serves_consecutive_calls(emulator: EmulatorThread, make_client: Factory) -> None:
    client = make_client()
    assert client.complete(MESSAGES, model="m").text == ANSWER
    first = client._http._idle[0]  # type: ignore[union-attr]
    assert client.complete(MESSAGES, model="m").text == ANSWER
    assert client._http._idle == [first]  # type: ignore[union-attr]
    assert emulator.stats()["requests"] == 2


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_second_request(
    emulator: EmulatorThread, make_client: Factory
) -> None:
    client = make_client(retry=RetryPolicy(max_retries=0))  # the transport alone must cope with it
    client.complete(MESSAGES, model="m")
    stale = client._http._idle[0]  # type: ignore[union-attr]
    socket.socket.shutdown(stale.sock, socket.SHUT_RDWR)  # as if the server had closed it meanwhile
    assert client.complete(MESSAGES, model="m").text == ANSWER
    assert emulator.stats()["requests"] == 2  # the failed send reached nobody; nothing was asked twice
    assert client._http._idle and client._http._idle[0] is not stale  # type: ignore[union-attr]


@pytest.mark.parametrize("encoding, encode", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
    ("identity", lambda data: data),
])
def test_bodies_are_decoded_across_chunks(encoding: str, encode: Callable[[bytes], bytes]) -> None:
    body = b'{"choices": []}' * 500
    wire = encode(body)
    decode = _decoder(encoding)
    out = b"".join(decode(wire[i:i + 7]) for i in range(0, len(wire), 7)) + decode(b"")
    assert out == body


def test_an_unknown_or_broken_encoding_is_a_decode_error() -> None:
    with pytest.raises(BodyDecodeError):
        _decoder("br")
    with pytest.raises(BodyDecodeError):
        _decoder("gzip")(b"not gzip at all")


def test_proxies_come_from_the_environment_as_httpx_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert proxy_for("https", "api.example") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://us%40er:pa:ss@proxy.local:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    scheme, host, port, auth = proxy_for("https", "api.example")  # type: ignore[misc]
    assert (scheme, host, port) == ("http", "proxy.local", 3128)
    assert auth == "Basic " + __import__("base64").b64encode(b"us@er:pa:ss").decode()
    assert proxy_for("https", "internal.example") is None
    assert proxy_for("http", "api.example") is None  # only HTTPS_PROXY is set
    monkeypatch.setenv("ALL_PROXY", "socks5://proxy.local:1080")
    assert proxy_for("http", "api.example") is None  # socks is not supported (as httpx without its extra)
