"""OpenAI chat-completions wire shapes the emulator sends (bodies, stream chunks, errors)."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from emulator.ai.replies import estimate_tokens, prompt_text

_ids = itertools.count(1)


def new_id() -> str:
    """A fresh ``chatcmpl-`` id (unique per process, not meaningful)."""
    return f"chatcmpl-emu{next(_ids)}"


def usage_for(request: dict[str, Any], reply: str) -> dict[str, int]:
    """Stable, plausible token counts for a request and its reply."""
    prompt, completion = estimate_tokens(prompt_text(request)), estimate_tokens(reply) if reply else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_body(request: dict[str, Any], model: str, reply: str) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` answer."""
    return {
        "id": new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": "stop",
            }
        ],
        "usage": usage_for(request, reply),
    }


def chunk(
    chunk_id: str,
    model: str,
    delta: dict[str, Any] | None,
    finish_reason: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One ``chat.completion.chunk``; ``delta=None`` gives the usage-only chunk (no choices)."""
    body: dict[str, Any] = {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    body.update(extra)
    return body


def stream_events(request: dict[str, Any], model: str, reply: str, piece_chars: int) -> list[bytes]:
    """The full SSE body of a successful streamed answer, one ``bytes`` per write.

    Starts with an OpenRouter-style keep-alive comment, sends the reply in ``piece_chars``
    slices, then the ``stop`` chunk, a usage chunk if ``stream_options.include_usage``, and
    ``[DONE]``.
    """
    cid = new_id()
    events = [b": OPENROUTER PROCESSING\n\n", sse(chunk(cid, model, {"role": "assistant", "content": ""}))]
    for start in range(0, len(reply), piece_chars):
        events.append(sse(chunk(cid, model, {"content": reply[start : start + piece_chars]})))
    events.append(sse(chunk(cid, model, {}, "stop")))
    options = request.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        events.append(sse(chunk(cid, model, None, usage=usage_for(request, reply))))
    events.append(b"data: [DONE]\n\n")
    return events


def stream_error_events(model: str, partial: str) -> list[bytes]:
    """A stream that starts answering, then fails the way OpenRouter reports it mid-stream."""
    cid = new_id()
    failure = chunk(
        cid, model, {"content": ""}, "error",
        error={"code": "server_error", "message": "emulated provider disconnect"},
    )  # fmt: skip
    return [sse(chunk(cid, model, {"role": "assistant", "content": partial})), sse(failure)]


def sse(data: dict[str, Any]) -> bytes:
    """One ``data:`` event."""
    return f"data: {json.dumps(data)}\n\n".encode()


def error_body(message: str, status: int, code: str | int | None = None) -> dict[str, Any]:
    """OpenAI/OpenRouter-style ``{"error": {...}}`` body."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "code": code if code is not None else status}}
