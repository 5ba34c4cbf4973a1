"""Incremental Server-Sent Events decoding (pure: bytes in, events out, no I/O).

Follows the WHATWG event-stream rules that matter for chat streams: ``\\n``, ``\\r\\n`` and
``\\r`` line ends (even split across network chunks), UTF-8 split across chunks, comment
lines (OpenRouter's ``: OPENROUTER PROCESSING`` keep-alives), multi-line ``data:`` fields
joined with ``\\n``, and ``event:`` names. One leniency: an unterminated final event is still
delivered at end of stream, because some servers omit the blank line after ``[DONE]``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

_EOL = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: its ``data`` (lines joined by newlines) and ``event`` name."""

    data: str
    event: str = "message"


class SSEDecoder:
    """Feed it chunks as they arrive; it returns the events each chunk completes."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []
        self._event = ""
        self._started = False

    def feed(self, chunk: bytes | str) -> list[SSEEvent]:
        """Decode one chunk and return the events it completed (possibly none)."""
        text = self._utf8.decode(chunk) if isinstance(chunk, bytes) else chunk
        return self._consume(text, final=False)

    def close(self) -> list[SSEEvent]:
        """End of stream: flush any partial line and any unterminated event."""
        events = self._consume(self._utf8.decode(b"", final=True), final=True)
        if self._buffer:
            events.extend(self._line(self._buffer))
            self._buffer = ""
        events.extend(self._dispatch())
        return events

    def _consume(self, text: str, *, final: bool) -> list[SSEEvent]:
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        self._buffer += text
        events: list[SSEEvent] = []
        start = 0
        for match in _EOL.finditer(self._buffer):
            if match.group() == "\r" and match.end() == len(self._buffer) and not final:
                break  # may be the first half of a "\r\n" split across chunks
            events.extend(self._line(self._buffer[start : match.start()]))
            start = match.end()
        self._buffer = self._buffer[start:]
        return events

    def _line(self, line: str) -> list[SSEEvent]:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []  # comment / keep-alive
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        return []  # "id", "retry" and unknown fields do not matter for completions

    def _dispatch(self) -> list[SSEEvent]:
        data, event = self._data, self._event or "message"
        self._data, self._event = [], ""
        if not data:
            return []
        return [SSEEvent(data="\n".join(data), event=event)]


def parse_sse(chunks: Iterable[bytes | str]) -> Iterator[SSEEvent]:
    """Lazily turn a stream of chunks into events; stops pulling when the consumer stops."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()
