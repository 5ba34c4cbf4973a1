"""Who a message pings: mentions found in the content, filtered by `allowed_mentions` as Discord does."""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from typing import Any

from .models import Mentions

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EVERYONE_MENTION = re.compile(r"@(?:everyone|here)\b")


def _ids(values: Any) -> set[int]:
    return {int(v) for v in values or () if v is not None}


def resolve_mentions(
    content: str,
    allowed: Mapping[str, Any] | None,
    *,
    known_users: Container[int],
    known_roles: Container[int],
    may_mention_everyone: bool,
    replied_author: int | None = None,
) -> Mentions:
    """Without allowed_mentions everything in the content pings (and a reply pings its author);
    with it, only the parsed kinds, the listed ids, and the replied user when `replied_user` is true."""
    if allowed is None:
        parse, users_ok, roles_ok, ping_replied = {"users", "roles", "everyone"}, set(), set(), True
    else:
        parse = set(allowed.get("parse") or ())
        users_ok, roles_ok = _ids(allowed.get("users")), _ids(allowed.get("roles"))
        ping_replied = bool(allowed.get("replied_user", False))
    users = [
        uid
        for uid in dict.fromkeys(int(x) for x in USER_MENTION.findall(content))
        if uid in known_users and ("users" in parse or uid in users_ok)
    ]
    if replied_author is not None and ping_replied and replied_author not in users:
        users.append(replied_author)
    roles = [
        rid
        for rid in dict.fromkeys(int(x) for x in ROLE_MENTION.findall(content))
        if rid in known_roles and ("roles" in parse or rid in roles_ok)
    ]
    everyone = may_mention_everyone and "everyone" in parse and EVERYONE_MENTION.search(content) is not None
    return Mentions(users=tuple(users), roles=tuple(roles), everyone=everyone)
