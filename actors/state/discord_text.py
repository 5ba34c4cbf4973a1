"""Discord's rules for text, applied where the channel's state decides what to send (so they are pure too).

Splitting an answer into messages of at most 2000 characters, on the most natural boundary: paragraph (blank
line), line, sentence end, word; a run of text with no boundary at all (a 3000-character URL) is cut hard.
Nothing is lost: joining the chunks with what was split on gives back the text, give or take the whitespace at
the cut. And making a display name legal as a webhook username.
"""

from __future__ import annotations

import re

LIMIT = 2000
_SENTENCE_END = re.compile(r"[.!?…。！？][\"')\]]*\s+")


def _cut_at(text: str, limit: int) -> int:
    """Index where the first chunk of `text` ends (exclusive), at most `limit`."""
    window = text[:limit]
    # Cutting after the boundary keeps the break out of both chunks; a boundary too early would leave a
    # crumb of a chunk, so the boundary must come at least a quarter of the way in.
    floor = limit // 4
    for sep in ("\n\n", "\n"):
        at = window.rfind(sep)
        if at >= floor:
            return at + len(sep)
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() >= floor]
    if ends:
        return ends[-1]
    at = max(window.rfind(" "), window.rfind("\t"))
    if at >= floor:
        return at + 1
    return limit


def split_message(text: str, limit: int = LIMIT) -> list[str]:
    """Chunks of at most `limit` characters; an empty or blank text gives no chunk."""
    chunks: list[str] = []
    rest = text.strip()
    while rest:
        if len(rest) <= limit:
            chunks.append(rest)
            break
        at = _cut_at(rest, limit)
        head = rest[:at].rstrip()
        if head:
            chunks.append(head)
        rest = rest[at:].lstrip()
    return chunks


# ---- a personality's display name as a webhook username, the way PluralKit does it ----------------------
USERNAME_MAX = 80
_HAIR_SPACE = "\u200a"
_RESERVED = re.compile(r"(clyde|discord)", re.IGNORECASE)
_FORBIDDEN = {"@": "\uff20", "#": "\uff03", ":": "\uff1a"}  # full-width look-alikes keep the name readable


def legal_username(name: str, fallback: str = "Personality") -> str:
    """A username Discord accepts at webhook execute: <= 80 chars, no clyde/discord, @ # : or ```."""
    text = " ".join(name.split())  # newlines and runs of spaces are not allowed either
    text = text.replace("```", "'''")
    text = "".join(_FORBIDDEN.get(ch, ch) for ch in text)
    # A hair space inside the word defuses it without changing how the name looks.
    text = _RESERVED.sub(lambda m: m.group(1)[0] + _HAIR_SPACE + m.group(1)[1:], text)
    if text.lower() in ("everyone", "here"):
        text = text[0] + _HAIR_SPACE + text[1:]
    text = text[:USERNAME_MAX].strip()
    return text or fallback
