"""Synchronous client for OpenAI-compatible ``/chat/completions`` endpoints.

Meant to live inside one actor process that handles one message at a time, hence blocking
http.client (``ai.transport``: lighter than httpx in a forked actor) and short, bounded waits. It
must never be shared across processes: the connection pool is created lazily and recreated when
``os.getpid()`` changes (after a fork the parent's pooled sockets are not ours to use or close).

One ``complete`` call has a single whole-request deadline (``timeout_s``) that covers
connecting, every retry, every backoff wait and reading the body; see ``ai.deadline`` for how
it is enforced even against a server that trickles keep-alive bytes. Every error leaves as
an ``ai.errors.AIError`` with its message scrubbed of the keys in use.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any

from ai.deadline import DeadlineWatchdog
from ai.errors import (
    AIError,
    AITimeoutError,
    MalformedResponseError,
    UnavailableError,
    error_for_status,
    redacted_copy,
)
from ai.response import Completion, assemble_stream, error_from_body, parse_completion
from ai.retry import RetryPolicy, parse_retry_after, retry_delay
from ai.sse import parse_sse
from ai.tls import shared_context
from ai.transport import BodyDecodeError, Pool, Response, TransportError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class _Secret:
    """Holds a key so that ``repr``/``vars``/debuggers never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value or None

    def reveal(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "<secret>" if self._value else "<none>"


class AIClient:
    """Chat-completions client bound to one base URL and (optionally) the operator's key."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        referer: str | None = None,
        title: str | None = None,
        stream_usage: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        """``base_url`` ends before ``/chat/completions`` (e.g. ``https://openrouter.ai/api/v1``).

        ``referer``/``title`` become OpenRouter's ``HTTP-Referer``/``X-Title``. ``stream_usage``
        asks for a final usage chunk (``stream_options``); off by default because older
        OpenAI-compatible servers reject unknown fields.
        """
        if timeout_s <= 0 or connect_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        self.base_url = base_url.rstrip("/")
        self._api_key = _Secret(api_key)
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.retry = retry or RetryPolicy()
        self._referer = referer
        self._title = title
        self._stream_usage = stream_usage
        self._max_response_bytes = max_response_bytes
        self._http: Pool | None = None
        self._pid: int | None = None

    def __repr__(self) -> str:
        return f"AIClient(base_url={self.base_url!r}, timeout_s={self.timeout_s:g})"

    def __getstate__(self) -> dict[str, Any]:
        # Picklable for handing to an actor; the connection pool is never sent along.
        state = self.__dict__.copy()
        state["_http"] = None
        state["_pid"] = None
        return state

    def __enter__(self) -> AIClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections (only if this process created them)."""
        if self._http is not None and self._pid == os.getpid():
            self._http.close()
        self._http = None
        self._pid = None

    def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stream: bool = False,
        api_key: str | None = None,
        timeout_s: float | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> Completion:
        """Ask ``model`` for the next assistant message; raises ``AIError`` subclasses.

        ``api_key`` is a user's own key (BYOK) and replaces the operator's for this call.
        ``timeout_s`` overrides the client's whole-request deadline for this call.
        ``on_text`` (with ``stream``) is told the answer so far as it arrives; a retry starts it again.
        """
        started = time.monotonic()
        deadline = started + (timeout_s if timeout_s is not None else self.timeout_s)
        key = api_key or self._api_key.reveal()
        secrets = (key, self._api_key.reveal())
        payload = self._payload(messages, model, temperature, max_tokens, stream)
        headers = self._headers(key, stream)
        attempt = 0
        while True:
            try:
                result = self._attempt(payload, headers, deadline, stream, model, on_text)
                return replace(result, latency_ms=round((time.monotonic() - started) * 1000))
            except AIError as exc:
                # A scrubbed copy, raised outside this handler: no chained cause/context keeps the key.
                error = redacted_copy(exc, secrets)
            delay = retry_delay(self.retry, attempt, error, deadline - time.monotonic(), random.random())
            if delay is None:
                raise error
            attempt += 1
            log.info(
                "ai retry %d/%d in %.2fs after %s (status=%s) model=%s",
                attempt, self.retry.max_retries, delay, error.kind, error.status, model,
            )  # fmt: skip
            time.sleep(delay)

    def transcribe(
        self, audio: bytes, filename: str, *, model: str, api_key: str | None = None, timeout_s: float | None = None
    ) -> str:
        """The text of an audio file, from the OpenAI-compatible ``/audio/transcriptions`` (one attempt, the same
        whole-request deadline as a chat call); raises ``AIError`` subclasses, scrubbed of the keys in use."""
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.timeout_s)
        key = api_key or self._api_key.reveal()
        boundary = uuid.uuid4().hex
        body = _multipart({"model": model, "response_format": "json"}, ("file", filename, audio), boundary)
        headers = {"Accept": "application/json", "Content-Type": f"multipart/form-data; boundary={boundary}"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        try:
            raw = self._post_once("/audio/transcriptions", body, headers, deadline)
            try:
                text = json.loads(raw).get("text")
            except (ValueError, AttributeError):
                text = None
            if not isinstance(text, str):
                raise MalformedResponseError(f"transcription is not JSON with a text: {_snippet(raw)}")
            return text
        except AIError as exc:
            error = redacted_copy(exc, (key, self._api_key.reveal()))
        raise error

    def _post_once(self, path: str, body: bytes, headers: dict[str, str], deadline: float) -> bytes:
        with DeadlineWatchdog(deadline) as watchdog:
            try:
                with self._client().post(path, body, headers, deadline, self.connect_timeout_s,
                                         watchdog.attach) as response:
                    raw = b"".join(self._chunks(response, deadline))
                    if not response.is_success:
                        raise _status_error(response, raw)
                    return raw
            except BodyDecodeError as exc:
                raise MalformedResponseError(f"undecodable body: {exc}") from exc
            except TransportError as exc:
                raise _transport_error(exc, deadline, watchdog.expired) from exc

    def _payload(
        self,
        messages: Sequence[Mapping[str, Any]],
        model: str,
        temperature: float | None,
        max_tokens: int | None,
        stream: bool,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": model, "messages": [dict(m) for m in messages], "stream": stream}
        if temperature is not None:
            payload["temperature"] = temperature
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        if stream and self._stream_usage:
            payload["stream_options"] = {"include_usage": True}
        return payload

    def _headers(self, key: str | None, stream: bool) -> dict[str, str]:
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if self._referer:
            headers["HTTP-Referer"] = self._referer
        if self._title:
            headers["X-Title"] = self._title
        return headers

    def _client(self) -> Pool:
        pid = os.getpid()
        if self._http is None or self._pid != pid:
            # After a fork the inherited pool is dropped, not closed: its sockets are the parent's.
            self._http = Pool(self.base_url, shared_context(), max_idle=2, max_connections=8)
            self._pid = pid
        return self._http

    def _attempt(
        self,
        payload: dict[str, Any],
        headers: dict[str, str],
        deadline: float,
        stream: bool,
        model: str,
        on_text: Callable[[str], None] | None = None,
    ) -> Completion:
        if deadline - time.monotonic() <= 0:
            raise AITimeoutError("the request deadline passed before the attempt started")
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        with DeadlineWatchdog(deadline) as watchdog:
            try:
                with self._client().post(
                    "/chat/completions", body, headers, deadline, self.connect_timeout_s, watchdog.attach
                ) as response:  # fmt: skip
                    return self._read(response, deadline, stream, model, on_text)
            except BodyDecodeError as exc:
                raise MalformedResponseError(f"undecodable body: {exc}") from exc
            except TransportError as exc:
                raise _transport_error(exc, deadline, watchdog.expired) from exc

    def _read(
        self, response: Response, deadline: float, stream: bool, model: str,
        on_text: Callable[[str], None] | None = None,
    ) -> Completion:
        chunks = self._chunks(response, deadline)
        if not response.is_success:
            raise _status_error(response, b"".join(chunks))
        content_type = response.headers.get("content-type", "")
        if stream and "text/event-stream" in content_type:
            return assemble_stream(parse_sse(chunks), model, on_text)
        # Non-streaming, or a server that ignored ``stream`` and answered with plain JSON.
        body = b"".join(chunks)
        try:
            data = json.loads(body)  # leading whitespace keep-alives are valid JSON padding
        except ValueError:
            raise MalformedResponseError(f"response is not JSON: {_snippet(body)}") from None
        return parse_completion(data, model)

    def _chunks(self, response: Response, deadline: float) -> Iterator[bytes]:
        """Body chunks, bounded in size, with the deadline checked between reads (and at the end: the
        watchdog ends a read that outlives the deadline by closing the socket, which can look like an end)."""
        total = 0
        for chunk in response.iter_bytes(deadline):
            if time.monotonic() >= deadline:
                raise AITimeoutError("no complete answer before the request deadline")
            total += len(chunk)
            if total > self._max_response_bytes:
                raise MalformedResponseError(f"response larger than {self._max_response_bytes} bytes")
            yield chunk
        if time.monotonic() >= deadline:
            raise AITimeoutError("no complete answer before the request deadline")


def _transport_error(exc: TransportError, deadline: float, watchdog_fired: bool) -> AIError:
    """Classify a transport failure: past the deadline it is a timeout, otherwise an outage."""
    detail = str(exc)
    if watchdog_fired or time.monotonic() >= deadline:
        return AITimeoutError(f"no complete answer before the request deadline ({detail})")
    if exc.timed_out:
        return AITimeoutError(f"the provider stopped responding ({detail})")
    return UnavailableError(f"connection failed ({detail})")


def _status_error(response: Response, body: bytes) -> AIError:
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    error = error_from_body(data, response.status_code)
    if error is None:
        error = error_for_status(response.status_code, f"HTTP {response.status_code}: {_snippet(body)}")
    if error.retryable and retry_after is not None:
        error.retry_after = retry_after
    return error


def _multipart(fields: dict[str, str], file: tuple[str, str, bytes], boundary: str) -> bytes:
    """A multipart/form-data body: the text fields, then one file part."""
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    field, filename, data = file
    safe = filename.replace('"', "_").replace("\r", "_").replace("\n", "_") or "audio"
    out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{safe}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    out += data + f"\r\n--{boundary}--\r\n".encode()
    return bytes(out)


def _snippet(body: bytes, limit: int = 160) -> str:
    text = " ".join(body.decode("utf-8", errors="replace").split())
    return text[:limit] or "(empty body)"
