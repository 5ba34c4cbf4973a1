"""A personality record: its defaults, its settings and how each is checked, and its export form."""

from __future__ import annotations

import re
from typing import Any

from actors.state.names import display_problem, name_problem

# `config` key -> record field
CONFIG_KEYS = {
    "display": "display_name",
    "avatar": "avatar_url",
    "prompt": "prompt",
    "model": "model",
    "temperature": "temperature",
    "vision": "vision",
    "context-line": "context_line",
    "public": "public",
    "nsfw": "nsfw",
    "max-tokens": "max_tokens",
    "context": "context",
}
EXPORTED = ("name", "display_name", "avatar_url", "prompt", "model", "temperature", "vision", "context_line", "public",
            "nsfw", "max_tokens", "context")
CONTEXTS = ("channel", "user")  # what it sees: the channel's recent conversation, or only the user's own turns
PROMPT_MAX = 4_000
MAX_TOKENS_MAX = 100_000
_MODEL = re.compile(r"^[A-Za-z0-9/._:@-]{1,100}$")
_TRUE, _FALSE = {"on", "true", "yes", "1"}, {"off", "false", "no", "0"}


def default_prompt(display_name: str) -> str:
    return f"You are {display_name}. Stay in character and answer as {display_name} would, briefly and warmly."


def new_record(name: str, owner: int, display: str | None, now: float) -> dict[str, Any]:
    display_name = (display if display is not None else name[:1].upper() + name[1:]).strip()
    return {
        "name": name,
        "display_name": display_name,
        "avatar_url": "",
        "prompt": default_prompt(display_name),
        "model": "",  # empty: the operator's default model
        "temperature": None,
        "vision": False,
        "context_line": False,
        "public": True,
        "nsfw": False,  # age-restricted: see `age_gate`
        "max_tokens": None,  # None: the operator's AI_MAX_TOKENS
        "context": "channel",
        "owner_id": owner,
        "created": now,
    }


def apply_config(record: dict[str, Any], key: str, raw: str) -> str | None:
    """Set one setting from its text form; return why it cannot be set (and change nothing), or None."""
    value: Any = raw.strip() if key != "prompt" else raw.strip("\n ")
    if key == "display":
        problem = display_problem(value)
    elif key == "avatar":
        ok = value.startswith(("https://", "http://")) and len(value) <= 2048 and " " not in value
        problem = (
            None if ok or value in ("", "none") else "An avatar must be an http(s) URL of at most 2048 characters."
        )
        value = "" if value == "none" else value
    elif key == "prompt":
        problem = None if 0 < len(value) <= PROMPT_MAX else f"A prompt must be 1 to {PROMPT_MAX} characters."
    elif key == "model":
        problem = None if _MODEL.match(value) or value == "default" else "That does not look like a model name."
        value = "" if value == "default" else value
    elif key == "temperature":
        try:
            value = round(float(value), 2)
            problem = None if 0.0 <= value <= 2.0 else "Temperature must be between 0 and 2."
        except ValueError:
            problem = "Temperature must be a number between 0 and 2."
    elif key == "max-tokens":
        limit = f"Max tokens is a whole number from 1 to {MAX_TOKENS_MAX}, or default."
        value = None if value == "default" else int(value) if value.isascii() and value.isdigit() else 0
        problem = None if value is None or 1 <= value <= MAX_TOKENS_MAX else limit
    elif key == "context":
        value = value.lower()
        problem = None if value in CONTEXTS else "`context` is channel (the conversation here) or user (only yours)."
    else:  # vision, context-line, public, nsfw
        lowered = value.lower()
        problem = None if lowered in _TRUE | _FALSE else f"`{key}` is either on or off."
        value = lowered in _TRUE
    if problem:
        return problem
    record[CONFIG_KEYS[key]] = value
    return None


def describe(record: dict[str, Any], aliases: list[str]) -> str:
    lines = [
        f"**{record['display_name']}** (`{record['name']}`)",
        f"Owner: <@{record['owner_id']}>  ·  {'public' if record.get('public', True) else 'private'}"
        f"{'  ·  age-restricted' if record.get('nsfw') else ''}",
        f"Aliases: {', '.join(f'`@{a}`' for a in aliases) or 'none'}",
        f"Model: {record.get('model') or 'the default'}  ·  temperature "
        f"{'default' if record.get('temperature') is None else record['temperature']}"
        f"  ·  vision {'on' if record.get('vision') else 'off'}"
        f"  ·  max tokens {record.get('max_tokens') or 'default'}"
        f"  ·  context {record.get('context') or 'channel'}",
    ]
    if record.get("avatar_url"):
        lines.append(f"Avatar: {record['avatar_url']}")
    return "\n".join(lines)


def export_records(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": 1, "personalities": [{k: r.get(k) for k in EXPORTED} for r in records]}


def import_problem(item: Any) -> str | None:
    """Why one exported record cannot be imported, or None."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return "not a personality record"
    nested = [k for k in EXPORTED if not isinstance(item.get(k), str | int | float | bool | None)]
    if nested:
        return f"{nested[0]} is not a plain value"
    if problem := name_problem(item["name"]):
        return problem
    display = item.get("display_name")
    if display is not None and (not isinstance(display, str) or display_problem(display)):
        return "bad display name"
    prompt = item.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or len(prompt) > PROMPT_MAX):
        return "bad prompt"
    return None


def builtin_persona(bot_name: str) -> dict[str, Any]:
    """The bot's own voice, for mentions of the bot itself when no personality carries its name."""
    return {
        "name": bot_name.lower(),
        "display_name": bot_name,
        "prompt": default_prompt(bot_name),
        "model": "",
        "avatar_url": "",
        "vision": False,
        "context_line": False,
        "public": True,
        "owner_id": 0,
    }
