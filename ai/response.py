"""Turning provider bodies into a ``Completion`` (pure functions, no I/O).

Tolerates the shapes seen across OpenRouter, OpenAI, Ollama's ``/v1`` endpoint and vLLM:
content as a string or as a list of text parts, missing ``id``/``usage``, the usage-only
final chunk with empty ``choices``, and OpenRouter's ``{"error": {...}}`` bodies that arrive
with HTTP 200 or in the middle of a stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ai.errors import (
    AIError,
    EmptyAnswerError,
    MalformedResponseError,
    UnavailableError,
    error_for_status,
)
from ai.sse import SSEEvent


@dataclass(frozen=True)
class Usage:
    """Token counts when the provider reports them (either may be missing)."""

    prompt_tokens: int | None
    completion_tokens: int | None


@dataclass(frozen=True)
class Completion:
    """One answer. ``latency_ms`` covers the whole call, retries and waits included."""

    text: str
    model: str
    finish_reason: str | None
    usage: Usage | None
    latency_ms: int


# In-body error codes that are strings rather than HTTP numbers, mapped to the nearest status.
_STRING_CODES = {
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "invalid_api_key": 401,
    "unauthorized": 401,
    "forbidden": 403,
    "permission_denied": 403,
    "invalid_request_error": 400,
    "context_length_exceeded": 400,
    "model_not_found": 404,
}


def content_text(content: Any) -> str:
    """Text of a message ``content``: a string, None, or a list of parts (text ones kept)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return "".join(texts)
    raise MalformedResponseError(f"message content has unexpected type {type(content).__name__}")


def error_from_body(body: Any, http_status: int | None = None) -> AIError | None:
    """The error described by an ``{"error": ...}`` body, or None if the body is not one."""
    if not isinstance(body, dict) or not body.get("error"):
        return None
    error = body["error"]
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("type") or "provider error")
        code = error.get("code") if error.get("code") is not None else error.get("type")
    else:
        message, code = str(error), None
    status = http_status if http_status and http_status >= 400 else _status_from_code(code)
    return error_for_status(status, message)


def _status_from_code(code: Any) -> int:
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    if isinstance(code, str):
        if code.isdigit() and 400 <= int(code) <= 599:
            return int(code)
        return _STRING_CODES.get(code, 502)
    return 502  # an unexplained provider error: treat as a transient upstream failure


def parse_usage(usage: Any) -> Usage | None:
    """``Usage`` from a ``usage`` object; None when absent (Ollama, some vLLM streams)."""
    if not isinstance(usage, dict):
        return None

    def count(name: str) -> int | None:
        value = usage.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    prompt, completion = count("prompt_tokens"), count("completion_tokens")
    return None if prompt is None and completion is None else Usage(prompt, completion)


def _check_answer(text: str, finish_reason: str | None) -> None:
    if finish_reason == "error":
        raise UnavailableError("the provider ended the answer with an error")
    if not text.strip():
        raise EmptyAnswerError(f"the model returned no text (finish_reason={finish_reason})")


def parse_completion(body: Any, requested_model: str) -> Completion:
    """A non-streaming body as a ``Completion`` (``latency_ms`` left 0 for the caller)."""
    error = error_from_body(body)
    if error is not None:
        raise error
    if not isinstance(body, dict):
        raise MalformedResponseError("response body is not a JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedResponseError("response has no choices")
    choice = choices[0]
    message = choice.get("message")
    if isinstance(message, dict):
        text = content_text(message.get("content"))
    elif isinstance(choice.get("text"), str):
        text = choice["text"]  # legacy completions shape some vLLM builds still return
    else:
        raise MalformedResponseError("first choice has no message")
    finish = choice.get("finish_reason")
    finish = finish if isinstance(finish, str) else None
    _check_answer(text, finish)
    model = body.get("model")
    return Completion(
        text=text,
        model=model if isinstance(model, str) and model else requested_model,
        finish_reason=finish,
        usage=parse_usage(body.get("usage")),
        latency_ms=0,
    )


def assemble_stream(
    events: Iterable[SSEEvent], requested_model: str, on_text: Callable[[str], None] | None = None
) -> Completion:
    """Join the ``delta.content`` of chat-completion chunks until ``[DONE]``; ``on_text`` is told the text so far
    each time it grows (how a streamed answer is shown while it arrives).

    Stops consuming at ``[DONE]``. A stream that ends with neither ``[DONE]`` nor a
    ``finish_reason`` was cut short and raises ``UnavailableError`` (retryable).
    """
    parts: list[str] = []
    model: str | None = None
    finish: str | None = None
    usage: Usage | None = None
    done = False
    for event in events:
        data = event.data.strip()
        if data == "[DONE]":
            done = True
            break
        if not data:
            continue
        try:
            chunk = json.loads(data)
        except ValueError:
            if event.event == "error":
                raise UnavailableError(f"error event in stream: {data}") from None
            raise MalformedResponseError("stream event is not JSON") from None
        error = error_from_body(chunk)
        if error is None and event.event == "error":
            error = UnavailableError(f"error event in stream: {data}")
        if error is not None:
            raise error
        if not isinstance(chunk, dict):
            raise MalformedResponseError("stream chunk is not a JSON object")
        if isinstance(chunk.get("model"), str) and chunk["model"]:
            model = chunk["model"]
        usage = parse_usage(chunk.get("usage")) or usage
        choices = chunk.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            choice = choices[0]
            delta = choice.get("delta")
            if isinstance(delta, dict):
                piece = content_text(delta.get("content"))
                parts.append(piece)
                if piece and on_text is not None:
                    on_text("".join(parts))
            if isinstance(choice.get("finish_reason"), str):
                finish = choice["finish_reason"]
    if not done and finish is None:
        raise UnavailableError("the stream ended before the answer was complete")
    text = "".join(parts)
    _check_answer(text, finish)
    return Completion(text, model or requested_model, finish, usage, 0)
