"""Making a personality's display name legal as a webhook username, the way PluralKit does it."""

from __future__ import annotations

import re

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
