"""Parsing the commands about a user's own data: `memory`, `persona` and `data` (what `commands.py` dispatches to).

Each parser takes the words after the command and the parser's context (`ctx.error(reason, usage)`), and
returns a `Command` or a `CommandError`, never raising, as every other parser there.
"""

from __future__ import annotations

import re
from typing import Any

from actors.state.command_help import COMMANDS

PERSONA_MAX = 1_000
_ID = re.compile(r"[0-9]{1,18}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NAME = re.compile(r"[^\s]{1,50}")


def parse_memory(args: str, ctx: Any) -> Any:
    from actors.state.commands import Command

    usage = COMMANDS["memory"].usage
    words = args.split()
    if not words:
        return Command("memory", ("list",))
    action = words[0].lower()
    if action in ("list", "on", "off") and len(words) == 1:
        return Command("memory", (action,))
    if action == "forget" and len(words) == 2:
        if words[1].lower() == "all":
            return Command("memory", ("forget", "all"))
        if _ID.fullmatch(words[1]):
            return Command("memory", ("forget", str(int(words[1]))))
        return ctx.error("Give the memory's number from `memory list`, or `all`.", usage)
    return ctx.error("Choose list, forget <id>|all, on or off.", usage)


def parse_persona(args: str, ctx: Any) -> Any:
    """`persona [<name>] set <text>|show|clear`: without a name, for every personality."""
    from actors.state.commands import Command

    usage = COMMANDS["persona"].usage
    parts = args.strip().split(None, 1)
    if not parts:
        return Command("persona", ("show", ""))
    name = ""
    if parts[0].lower() not in ("set", "show", "clear"):
        if not _NAME.fullmatch(parts[0]):
            return ctx.error("Choose set, show or clear (optionally after a personality's name).", usage)
        name = parts[0].lower()
        parts = parts[1].strip().split(None, 1) if len(parts) > 1 else ["show"]
    action = parts[0].lower()
    rest = parts[1] if len(parts) > 1 else ""
    if action in ("show", "clear"):
        return Command("persona", (action, name)) if not rest.strip() else ctx.error(
            f"`persona {action}` takes nothing more.", usage)
    if action != "set":
        return ctx.error("Choose set, show or clear (optionally after a personality's name).", usage)
    text = rest.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return ctx.error("Say who you are after `set`, e.g. `persona set I'm Sam, a night-shift nurse.`", usage)
    if len(text) > PERSONA_MAX:
        return ctx.error(f"A persona can be at most {PERSONA_MAX} characters.", usage)
    if _CONTROL.search(text):
        return ctx.error("The persona contains control characters; write it as plain text.", usage)
    return Command("persona", ("set", name, text))


def parse_data(args: str, ctx: Any) -> Any:
    """`data export`, `data delete` (asks for confirmation), `data delete confirm keep|delete`."""
    from actors.state.commands import Command

    usage = COMMANDS["data"].usage
    words = [w.lower() for w in args.split()]
    if words == ["export"]:
        return Command("data", ("export",))
    if words == ["delete"]:
        return Command("data", ("delete",))
    if len(words) == 3 and words[:2] == ["delete", "confirm"] and words[2] in ("keep", "delete"):
        return Command("data", ("delete", "confirm", words[2]))
    return ctx.error("Choose `data export`, or `data delete` (then confirm it).", usage)
