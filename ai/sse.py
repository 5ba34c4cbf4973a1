"""Server-Sent Events for chat streams: httpx-sse decodes, this module adds three leniencies (no I/O).

httpx-sse follows the WHATWG event-stream rules (``\\n``, ``\\r\\n`` and ``\\r`` line ends even split
across chunks, comment lines such as OpenRouter's ``: OPENROUTER PROCESSING`` keep-alives, multi-line
``data:`` joined with ``\\n``, ``event:`` names). It reads an ``httpx.Response``, so the bounded chunks
the client yields (its byte limit and deadline checks stay between reads) are wrapped in one; nothing
is fetched. What httpx-sse does differently, and this layer restores:

- an unterminated final event is delivered at end of stream (the spec discards it), because some
  servers omit the blank line after ``[DONE]``: two line ends are appended to the stream;
- a leading byte-order mark is dropped, as the spec's UTF-8 decode does (the text is read as utf-8-sig);
- an event with no data is not delivered (httpx-sse yields one for a lone ``event:``/``id:``/``retry:``);
  a ``data:`` line with an empty value is dropped with it, which the stream assembly skips anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import httpx
from httpx_sse import EventSource

# SSE is always UTF-8; "utf-8-sig" also strips a leading BOM. Undecodable bytes become U+FFFD (httpx).
_EVENT_STREAM = {"content-type": "text/event-stream; charset=utf-8-sig"}
_END_OF_EVENT = b"\n\n"


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: its ``data`` (lines joined by newlines) and ``event`` name."""

    data: str
    event: str = "message"


def _terminated(chunks: Iterable[bytes | str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode() if isinstance(chunk, str) else chunk
    yield _END_OF_EVENT


def parse_sse(chunks: Iterable[bytes | str]) -> Iterator[SSEEvent]:
    """Lazily turn a stream of chunks into events; stops pulling when the consumer stops."""
    stream = httpx.Response(200, headers=_EVENT_STREAM, content=_terminated(chunks))
    for event in EventSource(stream).iter_sse():
        if event.data:
            yield SSEEvent(data=event.data, event=event.event)
