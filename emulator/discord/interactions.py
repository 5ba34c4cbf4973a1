"""Application commands and interactions, kept as Discord keeps them (no I/O here: the routes and the control
API in `routes_interactions.py` and `control_interactions.py` act on it).

What is enforced, as Discord does: registered commands' names and shapes; an interaction answered once
(40060 after that) and within 3 seconds of its creation (10062 "Unknown interaction" after); its token usable
for follow-ups and edits for 15 minutes (50027 after); autocomplete answered only with choices (at most 25);
an ephemeral message (flag 64) seen by the user who invoked the command and nobody else, so it is kept here,
apart from the channel's messages that everyone (and the history, and the gateway) sees.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .models import Message
from .schema import Problem

INITIAL_WINDOW_S = 3.0
TOKEN_WINDOW_S = 15 * 60.0
EPHEMERAL = 1 << 6
LOADING = 1 << 7
MAX_CHOICES = 25
MAX_GLOBAL_COMMANDS = 100
MAX_OPTIONS = 25
KEPT = 2_000  # interactions remembered (oldest forgotten first)
_NAME = re.compile(r"^[-_\w]{1,32}$")


class InteractionType(IntEnum):
    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class Callback(IntEnum):
    PONG = 1
    MESSAGE = 4
    DEFERRED_MESSAGE = 5
    DEFERRED_UPDATE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8
    MODAL = 9


class OptionType(IntEnum):
    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


@dataclass
class Interaction:
    """One interaction and what the application has answered to it so far."""

    id: int
    token: str
    type: InteractionType
    user_id: int
    channel_id: int
    guild_id: int | None
    created: float
    data: dict[str, Any]
    response: Callback | None = None
    ephemeral: bool = False
    original_id: int | None = None
    followups: list[int] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)  # set by the first callback


@dataclass
class Interactions:
    """Registered commands (None: global; else per guild), live interactions, and the ephemeral messages."""

    now: Callable[[], float] = time.monotonic  # tests move it to reach the 15-minute window
    initial_window_s: float = INITIAL_WINDOW_S  # Discord's 3 seconds (a test may shorten them)
    token_window_s: float = TOKEN_WINDOW_S
    commands: dict[int | None, list[dict[str, Any]]] = field(default_factory=dict)
    live: OrderedDict[int, Interaction] = field(default_factory=OrderedDict)
    ephemeral: dict[int, Message] = field(default_factory=dict)  # message id -> message (its viewer: `seen_by`)
    seen_by: dict[int, int] = field(default_factory=dict)  # ephemeral message id -> the only user who sees it

    def open(self, interaction_id: int, kind: InteractionType, user_id: int, channel_id: int,
             guild_id: int | None, data: dict[str, Any]) -> Interaction:
        token = f"aW50ZXJhY3Rpb24{secrets.token_urlsafe(48)}"
        made = Interaction(interaction_id, token, kind, user_id, channel_id, guild_id, self.now(), data)
        self.live[interaction_id] = made
        while len(self.live) > KEPT:
            self.live.popitem(last=False)
        return made

    def by_token(self, token: str) -> Interaction | None:
        return next((i for i in reversed(self.live.values()) if i.token == token), None)

    def initial_window_over(self, interaction: Interaction) -> bool:
        return self.now() - interaction.created > self.initial_window_s

    def token_expired(self, interaction: Interaction) -> bool:
        return self.now() - interaction.created > self.token_window_s

    def keep_ephemeral(self, message: Message, viewer: int) -> None:
        self.ephemeral[message.id] = message
        self.seen_by[message.id] = viewer

    def visible_to(self, channel_id: int, viewer: int) -> list[Message]:
        return [m for m in self.ephemeral.values() if m.channel_id == channel_id and self.seen_by[m.id] == viewer]

    def registered(self, guild_id: int | None) -> list[dict[str, Any]]:
        return self.commands.get(guild_id, [])

    def find_command(self, guild_id: int | None, name: str) -> dict[str, Any] | None:
        """A guild's own command first (as Discord's client lists them), then the global one."""
        for scope in ((guild_id, None) if guild_id is not None else (None,)):
            for command in self.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command
        return None


def invocable(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every command path a user can type (`tz info`), with its description and value options: the `/` menu."""
    out: list[dict[str, Any]] = []

    def walk(node: Mapping[str, Any], path: list[str]) -> None:
        subs = [o for o in node.get("options") or [] if o.get("type") in (1, 2)]
        if not subs:
            options = [{k: o.get(k) for k in ("name", "type", "description", "required", "autocomplete", "choices")}
                       for o in node.get("options") or []]
            out.append({"command": " ".join(path), "description": node.get("description", ""), "options": options})
        for sub in subs:
            walk(sub, [*path, sub["name"]])

    for command in commands:
        if command.get("type", 1) == 1:
            walk(command, [command["name"]])
    return out


# ---- registration rules ------------------------------------------------------------------------------


def command_problems(commands: list[Any], *, global_scope: bool) -> list[Problem]:
    """What Discord refuses in a bulk overwrite beyond the schema: names, counts, nesting, autocomplete."""
    problems: list[Problem] = []
    if global_scope and len(commands) > MAX_GLOBAL_COMMANDS:
        problems.append(Problem((), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_GLOBAL_COMMANDS} or fewer in length."))
    seen: set[tuple[str, int]] = set()
    for index, command in enumerate(commands):
        if not isinstance(command, Mapping):
            continue
        kind = int(command.get("type") or 1)
        name = str(command.get("name", ""))
        if (name, kind) in seen:
            problems.append(Problem((str(index), "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME",
                                    f"Application command names must be unique: {name}"))
        seen.add((name, kind))
        problems += _option_problems(command, (str(index),), depth=0, chat_input=kind == 1)
    return problems


def _option_problems(node: Mapping[str, Any], at: tuple[str, ...], depth: int, chat_input: bool) -> list[Problem]:
    problems: list[Problem] = []
    name = str(node.get("name", ""))
    if chat_input and (not _NAME.fullmatch(name) or name != name.lower()):
        problems.append(Problem((*at, "name"), "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name}"))
    if chat_input and not 1 <= len(str(node.get("description", ""))) <= 100:
        problems.append(Problem((*at, "description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."))
    options = node.get("options") or []
    if len(options) > MAX_OPTIONS:
        problems.append(Problem((*at, "options"), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_OPTIONS} or fewer in length."))
    for index, option in enumerate(options):
        if not isinstance(option, Mapping):
            continue
        where = (*at, "options", str(index))
        kind = int(option.get("type", 0))
        nested = kind in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP)
        if nested and (depth >= 2 or (depth == 1 and kind == OptionType.SUB_COMMAND_GROUP)):
            problems.append(Problem(where, "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                                    "Sub-commands nest at most group -> sub-command."))
        if option.get("autocomplete") and (option.get("choices") or kind not in (3, 4, 10)):
            problems.append(Problem((*where, "autocomplete"), "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                                    "Autocomplete cannot be set on an option with choices or of this type."))
        if option.get("required") and nested:
            problems.append(Problem((*where, "required"), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                                    "Sub-commands cannot be required."))
        problems += _option_problems(option, where, depth + 1 if nested else depth, chat_input)
    return problems


# ---- invoking: a user's path and values, checked against the registered command -------------------


class InvokeError(ValueError):
    """Why a user could not invoke this (no such command, a missing or wrong option): the control API says so."""


def build_options(command: Mapping[str, Any], path: list[str], values: Mapping[str, Any],
                  focused: str | None) -> list[dict[str, Any]]:
    """The interaction's `data.options` for `/name sub ... opt:value`: the sub-command path, then the values,
    each checked against its definition (type, choices, required; `focused` marks the autocompleted one)."""
    node: Mapping[str, Any] = command
    chain: list[dict[str, Any]] = []
    for word in path:
        sub = next((o for o in node.get("options") or [] if o.get("name") == word and o.get("type") in (1, 2)), None)
        if sub is None:
            raise InvokeError(f"/{command['name']} has no sub-command {word!r}")
        chain.append({"name": word, "type": int(sub["type"]), "options": []})
        node = sub
    defined = [o for o in node.get("options") or [] if o.get("type") not in (1, 2)]
    if any(o.get("type") in (1, 2) for o in node.get("options") or []):
        raise InvokeError(f"/{' '.join([command['name'], *path])} needs a sub-command")
    leaf: list[dict[str, Any]] = []
    unknown = set(values) - {o["name"] for o in defined}
    if unknown:
        raise InvokeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    for option in defined:
        name = option["name"]
        if name not in values:
            if option.get("required") and focused is None:
                raise InvokeError(f"option {name!r} is required")
            continue
        value = _typed(option, values[name], focused == name)
        entry: dict[str, Any] = {"name": name, "type": int(option["type"]), "value": value}
        if focused == name:
            if not option.get("autocomplete"):
                raise InvokeError(f"option {name!r} has no autocomplete")
            entry["focused"] = True
        leaf.append(entry)
    if not chain:
        return leaf
    chain[-1]["options"] = leaf
    for outer, inner in zip(chain[-2::-1], chain[:0:-1], strict=True):
        outer["options"] = [inner]
    return [chain[0]]


def _typed(option: Mapping[str, Any], raw: Any, partial: bool) -> Any:
    kind = int(option["type"])
    if partial:
        return str(raw)  # what is typed so far, whatever the option's type
    try:
        value: Any = {3: str, 4: int, 10: float, 5: bool}.get(kind, str)(raw)
    except (TypeError, ValueError) as exc:
        raise InvokeError(f"option {option['name']!r} must be a {OptionType(kind).name.lower()}") from exc
    if kind in (6, 7, 8, 9):
        value = str(raw)
        if not value.isdigit():
            raise InvokeError(f"option {option['name']!r} must be a snowflake id")
    choices = option.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise InvokeError(f"option {option['name']!r} must be one of {[c['value'] for c in choices]}")
    return value
