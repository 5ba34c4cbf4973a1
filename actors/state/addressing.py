"""Who a message addresses, in the original bot's order (after commands, which are decided first):

1. a reply to one of our personality messages goes to that personality;
2. `@name` mentions (the edge resolved bot-wide aliases, longest match first; this user's own aliases too);
3. an activated channel: its personality answers every plain message;
4. a live conversation (autorespond on): 30 minutes in servers, 2 hours in DMs;
5. otherwise nobody (in a DM, the user gets a hint).

And whether the personality addressed may answer in that place at all (`age_gate`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from actors.messages import Heard

SERVER_CONVERSATION_S = 30 * 60
DM_CONVERSATION_S = 2 * 60 * 60
_AT = re.compile(r"@([^\s@<>]+(?:\s+[^\s@<>]+)*)")


@dataclass(frozen=True)
class Target:
    name: str  # a personality name or alias, to be resolved by the Registry
    how: str  # reply, mention, activated, conversation, bot
    alias: str = ""  # the words used to address it, to strip from the text


def personal_alias(content: str, aliases: dict[str, str]) -> tuple[str, str] | None:
    """The longest of this user's own aliases written as `@alias` in `content`: (alias, personality)."""
    lowered = " ".join(content.lower().split())
    best: tuple[str, str] | None = None
    for alias, name in aliases.items():
        if re.search(r"(?:^|\s)@" + re.escape(alias) + r"(?=$|[\s,.!?:;])", lowered):
            if best is None or len(alias) > len(best[0]):
                best = (alias, name)
    return best


def conversation_timeout(kind: str) -> float:
    return DM_CONVERSATION_S if kind == "dm" else SERVER_CONVERSATION_S


def addressed(
    heard: Heard,
    own_aliases: dict[str, str],
    conversation: tuple[str, float] | None,
    autorespond: bool,
    bot_name: str,
    now: float,
) -> Target | None:
    msg = heard.incoming
    if heard.replied_personality:
        return Target(heard.replied_personality, "reply")
    if msg.reply_to_webhook is not None and msg.reply_author:
        return Target(msg.reply_author, "reply")  # not in the reply map (too old): by the webhook's name
    mine = personal_alias(msg.content, own_aliases)
    if mine is not None and (not msg.mentioned or len(mine[0]) >= len(msg.mentioned_alias)):
        return Target(mine[1], "mention", mine[0])
    if msg.mentioned:
        return Target(msg.mentioned[0], "mention", msg.mentioned_alias)
    if msg.mentions_bot or re.search(rf"(?:^|\s)@{re.escape(bot_name)}\b", msg.content, re.IGNORECASE):
        return Target(bot_name.lower(), "bot", bot_name.lower())
    if heard.activated:
        return Target(heard.activated, "activated")
    if autorespond and conversation is not None:
        name, last = conversation
        if now - last < conversation_timeout(msg.place.kind):
            return Target(name, "conversation")
    return None


def age_gate(record: dict[str, Any], place: Any, verified: bool, dm_verification: bool, prefix: str) -> str | None:
    """Why this personality may not answer here, or None. An age-restricted (`nsfw`) personality answers in a
    server only in an age-restricted channel, and in DMs only to a user who ran `verify` in one; the operator
    may require that verification for every DM (TZUROT_DM_REQUIRES_VERIFICATION)."""
    name = f"**{record['display_name']}**"
    if place.kind == "dm":
        if verified or not (record.get("nsfw") or dm_verification):
            return None
        where = "in an age-restricted channel of a server we share"
        if record.get("nsfw"):
            return f"{name} is age-restricted: first run `{prefix}verify` {where}."
        return f"Talking to personalities in DMs needs `{prefix}verify` first: run it {where}."
    if record.get("nsfw") and not place.nsfw:
        return f"{name} is age-restricted: it only talks in age-restricted channels."
    return None
