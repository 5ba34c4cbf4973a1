"""What the model is told: the personality's prompt, this user's recent turns with it here, and the message.

Also what a user is told when the model fails: errors are spoken in character, each with a short reference id
that is written to the log too, so an operator can find the details of the one failure a user reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_TURNS = 20
MAX_CHARS = 8_000


@dataclass(frozen=True)
class Speaker:
    """The parts of a personality record the prompt needs."""

    name: str
    display_name: str
    prompt: str
    vision: bool = False
    context_line: bool = False


def author_label(display_name: str, username: str) -> str:
    """`Display (username)`, or just the username when they are the same."""
    if not display_name or display_name == username:
        return username
    return f"{display_name} ({username})"


def context_line(guild_name: str, channel_name: str, kind: str, at: float) -> str:
    when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    if kind == "dm":
        return f"[direct message | {when}]"
    return f"[{guild_name} > #{channel_name} | {when}]"


def trim_history(
    turns: list[dict[str, str]], max_turns: int = MAX_TURNS, max_chars: int = MAX_CHARS
) -> list[dict[str, str]]:
    """The newest turns that fit both bounds; a conversation never starts on an assistant turn."""
    kept: list[dict[str, str]] = []
    total = 0
    for turn in reversed(turns[-max_turns:]):
        size = len(turn["content"])
        if total + size > max_chars:
            break
        kept.append(turn)
        total += size
    kept.reverse()
    while kept and kept[0]["role"] == "assistant":
        kept.pop(0)
    return kept


def user_turn(
    speaker: Speaker,
    author: str,
    text: str,
    reply_author: str = "",
    reply_content: str = "",
    images: tuple[str, ...] = (),
    line: str = "",
) -> dict[str, Any]:
    """One user message for the model: who wrote it, what it answers, and its images when the model sees."""
    parts = []
    if line:
        parts.append(line)
    if reply_content:
        quoted = reply_content if len(reply_content) <= 1_000 else reply_content[:1_000] + "…"
        parts.append(f'(replying to {reply_author or "a message"}: "{quoted}")')
    parts.append(f"{author}: {text}")
    body = "\n".join(parts)
    if speaker.vision and images:
        content: Any = [{"type": "text", "text": body}] + [
            {"type": "image_url", "image_url": {"url": url}} for url in images[:4]
        ]
        return {"role": "user", "content": content}
    return {"role": "user", "content": body}


def build_messages(speaker: Speaker, history: list[dict[str, str]], *turn: dict[str, Any]) -> list[dict[str, Any]]:
    """The prompt, the conversation so far, then the turn: each of its lines as its own user message."""
    return [{"role": "system", "content": speaker.prompt}, *trim_history(history), *turn]


def strip_mention(text: str, alias: str) -> str:
    """`@big bob hello` -> `hello`: the model needs the message, not the way it was addressed."""
    if not alias:
        return text.strip()
    pattern = re.compile(r"@" + r"\s+".join(re.escape(w) for w in alias.split()) + r"\b[,:]?", re.IGNORECASE)
    return pattern.sub("", text, count=1).strip() or text.strip()


# ---- failures, spoken in character ---------------------------------------------------------------

_ERROR_TEXTS = {
    "rate_limited": "I'm getting too many requests right now. Give me a moment and try again.",
    "unavailable": "My connection to the AI service is having trouble. Please try again shortly.",
    "timeout": "That took me too long to think through, sorry. Could you ask again?",
    "auth": "The AI service refused the key in use. If you set your own key, check it with `auth status`.",
    "empty": "I couldn't come up with a response to that. Could you try rephrasing?",
}
_GENERIC = "Something went wrong on my side while answering that."
_ERROR_LOOKING = re.compile(
    r"^\s*((?:error|exception)\s*(?::|\d|$)|traceback \(most recent call last\)|internal server error|\{\s*\"error\"|"
    r"upstream (?:connect )?error|bad gateway|service unavailable)",
    re.IGNORECASE,
)


def error_kind(result: Any) -> str:
    """The user-facing kind of a failed AI call (an exception the AI client raised, or anything else)."""
    kind = getattr(result, "kind", None)
    return kind if kind in _ERROR_TEXTS else "generic"


def spoken_error(kind: str, reference: str) -> str:
    return f"{_ERROR_TEXTS.get(kind, _GENERIC)} (reference: `{reference}`)"


def looks_like_error(text: str) -> bool:
    """An empty answer, or one that is really an error message the provider passed through as text."""
    return not text.strip() or bool(_ERROR_LOOKING.match(text))
