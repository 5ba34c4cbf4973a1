"""Discord's own rules that the OpenAPI description states loosely or not at all (the docs win)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .schema import Problem

CONTENT_LIMIT = 2000
NAME_LIMIT = 80
AVATAR_URL_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
WEBHOOKS_PER_CHANNEL = 15
WEBHOOKS_PER_GUILD = 1000
FORBIDDEN_NAME_PARTS = ("clyde", "discord")
FORBIDDEN_USERNAMES = ("everyone", "here")
FORBIDDEN_USERNAME_PARTS = ("@", "#", ":", "```")


def _too_long(field: str, limit: int) -> Problem:
    return Problem((field,), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _embed_size(embed: Mapping[str, Any]) -> int:
    """Characters that count towards the 6000 total: title, description, fields, footer, author."""
    texts = [embed.get("title"), embed.get("description")]
    texts += [(embed.get("footer") or {}).get("text"), (embed.get("author") or {}).get("name")]
    for item in embed.get("fields") or ():
        texts += [item.get("name"), item.get("value")]
    return sum(len(t) for t in texts if isinstance(t, str))


def message_problems(body: Mapping[str, Any]) -> list[Problem]:
    """Content length, total embed size, and allowed_mentions' parse/list exclusivity."""
    problems = []
    content = body.get("content")
    if isinstance(content, str) and len(content) > CONTENT_LIMIT:
        problems.append(_too_long("content", CONTENT_LIMIT))
    embeds = body.get("embeds")
    if isinstance(embeds, list):
        total = sum(_embed_size(e) for e in embeds if isinstance(e, Mapping))
        if total > EMBED_TOTAL_LIMIT:
            message = f"Embed size exceeds maximum size of {EMBED_TOTAL_LIMIT}"
            problems.append(Problem(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", message))
    allowed = body.get("allowed_mentions")
    if isinstance(allowed, Mapping):
        parse = allowed.get("parse") or ()
        for kind in ("users", "roles"):
            if kind in parse and allowed.get(kind):
                message = f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.'
                problems.append(Problem(("allowed_mentions",), "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", message))
    return problems


def _forbidden_parts(field: str, name: str, parts: tuple[str, ...]) -> list[Problem]:
    lowered = name.lower()
    return [
        Problem((field,), "USERNAME_INVALID_CONTAINS", f'Username cannot contain "{part}"')
        for part in parts
        if part in lowered
    ]


def webhook_name_problems(name: Any, field: str = "name") -> list[Problem]:
    """Creating or renaming a webhook: 1-80 characters, no "clyde" or "discord" in any case."""
    if not isinstance(name, str):
        return []
    if not 1 <= len(name) <= NAME_LIMIT:
        return [Problem((field,), "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {NAME_LIMIT} in length.")]
    return _forbidden_parts(field, name, FORBIDDEN_NAME_PARTS)


def execute_problems(body: Mapping[str, Any]) -> list[Problem]:
    """Executing a webhook: message rules plus the username override and avatar_url limits."""
    problems = message_problems(body)
    username = body.get("username")
    if isinstance(username, str):
        problems += webhook_name_problems(username, "username")
        problems += _forbidden_parts("username", username, FORBIDDEN_USERNAME_PARTS)
        if username.strip().lower() in FORBIDDEN_USERNAMES:
            problems.append(Problem(("username",), "USERNAME_INVALID", f'Username cannot be "{username}"'))
    avatar_url = body.get("avatar_url")
    if isinstance(avatar_url, str) and len(avatar_url) > AVATAR_URL_LIMIT:
        problems.append(_too_long("avatar_url", AVATAR_URL_LIMIT))
    return problems


def is_empty_message(body: Mapping[str, Any], file_count: int) -> bool:
    """Discord refuses a message with nothing to show (50006)."""
    shown = ("content", "embeds", "sticker_ids", "components", "poll", "attachments")
    return file_count == 0 and not any(body.get(key) for key in shown)
