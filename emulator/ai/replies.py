"""What the emulator answers: pure functions, so any test can compute the expected text.

Reply rule (``expected_reply``):

* ``model`` is the request's ``"model"`` (``"unknown"`` if missing or not a string).
* ``persona`` is the first non-blank line of the first ``system`` message, stripped and cut to
  60 characters (then right-stripped); ``"assistant"`` when there is no system text.
* ``heard`` is the text of the user messages after the last ``assistant`` message (the turn: one line, or
  several when a bot merges a user's lines into one turn), joined with ``"\\n"``; each a string as is, or its
  text parts joined with ``"\\n"``; a message that carries ``image_url`` parts gets ``" [images: N]"``.
* If ``heard`` contains ``LONG:<N>`` the reply is ``long_text(N)``: exactly N characters
  (N clamped to 1..100000) of paragraphs (``"\\n\\n"``), lines (``"\\n"``) and sentences,
  never ending in whitespace, for exercising message splitting.
* ``SPREAD:<ms>`` in ``heard`` (up to 60,000) changes no text, only its pace: a streamed answer's pieces are spread
  evenly over that many milliseconds, and a plain answer comes whole after them (``spread_s``).
* Otherwise the reply is ``f"[{model}] {persona} heard: {heard}"``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

PERSONA_CHARS = 60
LONG_MAX = 100_000
_LONG = re.compile(r"LONG:(\d+)")
_SPREAD = re.compile(r"SPREAD:(\d+)")
SPREAD_MAX_MS = 60_000
_WORDS = (
    "amber", "brook", "cedar", "delta", "ember", "fjord", "grove", "harbor", "island", "juniper",
    "kestrel", "lantern", "meadow", "nectar", "orchard", "pebble", "quartz", "river", "summit",
    "thistle", "umber", "valley", "willow", "yarrow", "zephyr",
)  # fmt: skip


def message_text(content: Any) -> str:
    """Text of a message ``content``: a string, or the ``text`` parts of a list joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _image_count(content: Any) -> int:
    if not isinstance(content, list):
        return 0
    return sum(1 for part in content if isinstance(part, dict) and part.get("type") == "image_url")


def _messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    messages = request.get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def persona_of(request: dict[str, Any]) -> str:
    """First non-blank line of the first system message, trimmed to ``PERSONA_CHARS``."""
    for message in _messages(request):
        if message.get("role") == "system":
            for line in message_text(message.get("content")).splitlines():
                if line.strip():
                    return line.strip()[:PERSONA_CHARS].rstrip()
            break
    return "assistant"


def heard_of(request: dict[str, Any]) -> str:
    """Text of the user messages after the last assistant message (the turn), each with a ``[images: N]`` note
    when it carries images."""
    turn: list[str] = []
    for message in reversed(_messages(request)):
        if message.get("role") == "assistant":
            break
        if message.get("role") == "user":
            content = message.get("content")
            images = _image_count(content)
            turn.append(message_text(content) + (f" [images: {images}]" if images else ""))
    return "\n".join(reversed(turn))


def model_of(request: dict[str, Any]) -> str:
    """The requested model name, or ``"unknown"``."""
    model = request.get("model")
    return model if isinstance(model, str) and model else "unknown"


def expected_reply(request: dict[str, Any]) -> str:
    """The exact text the emulator answers to this chat-completions request body."""
    heard = heard_of(request)
    match = _LONG.search(heard)
    if match:
        return long_text(int(match.group(1)))
    return f"[{model_of(request)}] {persona_of(request)} heard: {heard}"


def spread_s(request: dict[str, Any]) -> float:
    """How long the answer to this request takes to write, in seconds (``SPREAD:<ms>`` in the turn; else 0)."""
    match = _SPREAD.search(heard_of(request))
    return min(SPREAD_MAX_MS, int(match.group(1))) / 1000 if match else 0.0


def long_text(n: int) -> str:
    """Deterministic text of exactly ``n`` characters (clamped to 1..LONG_MAX).

    Paragraph ``p`` has ``p % 4 + 2`` lines; line ``l`` has ``l % 3 + 1`` sentences, so
    splitters meet paragraph, line and sentence boundaries at varied positions.
    """
    n = max(1, min(LONG_MAX, n))
    paragraphs: list[str] = []
    size = sentence = line_no = 0
    while size < n:
        lines = []
        for _ in range(len(paragraphs) % 4 + 2):
            words = []
            for _ in range(line_no % 3 + 1):
                sentence += 1
                w = len(_WORDS)
                words.append(
                    f"Sentence {sentence} walks the {_WORDS[sentence % w]} {_WORDS[(sentence * 7) % w]} "
                    f"by the {_WORDS[(sentence * 3) % w]}."
                )
            line_no += 1
            lines.append(" ".join(words))
        paragraphs.append("\n".join(lines))
        size += len(paragraphs[-1]) + 2
    text = "\n\n".join(paragraphs)[:n]
    return text[:-1] + "." if text[-1].isspace() else text


def key_fingerprint(key: str | None) -> str:
    """How stats name a key: first 8 hex chars of its sha256 (``"none"`` when absent)."""
    if not key:
        return "none"
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def estimate_tokens(text: str) -> int:
    """Rough token count (4 characters each) so usage numbers look plausible and stay stable."""
    return len(text) // 4 + 1


def prompt_text(request: dict[str, Any]) -> str:
    """All message texts concatenated, for the usage estimate."""
    return "".join(message_text(m.get("content")) for m in _messages(request))
