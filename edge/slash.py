"""Slash commands, decided without discord.py: what a slash command says as a `!tz` command, who sees its answer,
and whether the registered definitions changed. Pure functions; `edge/app_commands.py` is the discord.py shell.

A slash command is read into the same command text a prefix command is (`/tz config lilith temperature 0.7` is
`!tz config lilith temperature 0.7`), so one parser and one actor decide both: only the rendering differs (an
interaction's answer, private unless the command changes the channel for everyone).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

PUBLIC = frozenset({"activate", "deactivate"})  # they change the channel for everyone: everyone sees the answer
ONE_WORD = {"add": 0, "alias": 0, "config": 0, "persona": 0}  # an option one word long in the prefix form
MODAL_ID = "tzurot:auth-key"
KEY_FIELD = "key"


def ephemeral(command: str) -> bool:
    """An answer that concerns only the caller is theirs alone (list, info, status, auth, errors, exports...)."""
    return command not in PUBLIC


def command_text(prefix: str, command: str, words: Sequence[str | int | None]) -> str:
    """The prefix command a slash command stands for: the words in order, empty options left out."""
    parts = [command, *(str(w).strip() for w in words if w is not None and str(w).strip())]
    return prefix + " ".join(parts)


def problem(command: str, words: Sequence[str | int | None]) -> str | None:
    """What the prefix form cannot say: a name (one word there) given with spaces. Said to the user at once."""
    at = ONE_WORD.get(command)
    if at is None or at >= len(words) or words[at] is None:
        return None
    if len(str(words[at]).split()) < 2:
        return None
    return "A personality's name is one word here (no spaces): use its name, not an alias of several words."


def modal_value(data: Any, field: str) -> str | None:
    """The text typed into a modal's field, wherever its component sits (action rows, or labels)."""
    if isinstance(data, dict):
        if data.get("custom_id") == field and isinstance(data.get("value"), str):
            return str(data["value"])
        found = (modal_value(v, field) for v in (data.get("components"), data.get("component")) if v is not None)
        return next((v for v in found if v is not None), None)
    if isinstance(data, list):
        return next((v for v in (modal_value(item, field) for item in data) if v is not None), None)
    return None


def definitions_hash(definitions: list[dict[str, Any]], scope: int) -> str:
    """What the registered commands are (and where: 0 global, else the guild): a change means a sync."""
    text = json.dumps({"scope": scope, "commands": definitions}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def describe(definitions: list[dict[str, Any]]) -> list[str]:
    """One line per command and sub-command, as `bot.py commands show` prints them."""
    lines = []
    for command in definitions:
        perms = command.get("default_member_permissions")
        needs = f"  (needs permissions {perms})" if perms else ""
        subs = [o for o in command.get("options", []) if o.get("type") in (1, 2)]
        if not subs:
            lines.append(f"/{command['name']}{_options(command)}{needs}")
        for sub in subs:
            lines.append(f"/{command['name']} {sub['name']}{_options(sub)}{needs}")
    return lines


def _options(node: dict[str, Any]) -> str:
    shown = []
    for option in node.get("options", []):
        if option.get("type") in (1, 2):
            continue
        name = option["name"]
        shown.append(f" <{name}>" if option.get("required") else f" [{name}]")
    return "".join(shown)
