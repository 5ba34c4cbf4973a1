"""Rules for personality names and aliases, shared by every actor that accepts them."""

from __future__ import annotations

import re
import unicodedata

NAME_MIN, NAME_MAX = 2, 50
ALIAS_MAX = 50
DISPLAY_MAX = 80
# Letters and symbols to Unicode that render as nothing: a name made of them would be invisible.
_BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_ALIAS_CHARS = re.compile(r"^[a-z0-9_\- ]+$")


def normalize_alias(raw: str) -> str:
    """Lower-case and collapse runs of spaces, so `Big  Bob` and `big bob` are one alias."""
    return " ".join(raw.lower().split())


def alias_problem(alias: str) -> str | None:
    """Why `alias` (already normalized) cannot be used, or None when it can."""
    if not alias:
        return "An alias cannot be empty."
    if len(alias) > ALIAS_MAX:
        return f"An alias can be at most {ALIAS_MAX} characters long."
    if not _ALIAS_CHARS.match(alias):
        return "An alias may only use letters a-z, digits, spaces, '-' and '_'."
    return None


def normalize_name(raw: str) -> str:
    """NFC, so two spellings that look identical (composed and decomposed accents) are one name."""
    return unicodedata.normalize("NFC", raw.strip())


def _visible(text: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LNPS" and ch not in _BLANK_LOOKING for ch in text)


def name_problem(name: str) -> str | None:
    """Why `name` (already normalized) cannot name a personality, or None when it can."""
    if not NAME_MIN <= len(name) <= NAME_MAX:
        return f"A name must be {NAME_MIN} to {NAME_MAX} characters long."
    if any(ch.isspace() for ch in name):
        return "A name cannot contain spaces (add a multi-word alias instead)."
    if not name.isprintable():
        return "A name can only use printable characters."
    if not _visible(name):
        return "A name must have at least one visible letter, digit or symbol."
    return None


def display_problem(display: str) -> str | None:
    """Why `display` cannot be shown as a personality's name in Discord, or None when it can."""
    if not display or not _visible(display):
        return "A display name cannot be blank."
    if len(display) > DISPLAY_MAX:
        return f"A display name can be at most {DISPLAY_MAX} characters."
    if not display.isprintable():
        return "A display name can only use printable characters (no line breaks)."
    return None
