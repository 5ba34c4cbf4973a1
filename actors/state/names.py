"""Rules for personality names and aliases, shared by every actor that accepts them."""

from __future__ import annotations

import re

NAME_MIN, NAME_MAX = 2, 50
ALIAS_MAX = 50
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


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a personality, or None when it can."""
    if not NAME_MIN <= len(name) <= NAME_MAX:
        return f"A name must be {NAME_MIN} to {NAME_MAX} characters long."
    if any(ch.isspace() for ch in name):
        return "A name cannot contain spaces (add a multi-word alias instead)."
    if not name.isprintable():
        return "A name can only use printable characters."
    return None
