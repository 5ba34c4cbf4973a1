"""The edge's routing table and filter: drop what addresses nobody before any actor wakes.

The table holds facts that the owning actors push: our webhooks, activated channels, channels with a live
conversation, every personality alias (so `@name` is resolved here, longest match first, the moment an
alias exists), users' personal aliases, and the blacklist. The filter is a pure function of a message's
outline and the table, so the drop path costs microseconds and is tested without Discord.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from actors.messages import RouteFact

# PluralKit's and Tupperbox's application ids: their proxy webhooks speak for real users.
PROXY_APPLICATIONS = frozenset({466378653216014359, 431544605209788416})
_TRAILING = ".,!?:;)'\""


@dataclass(frozen=True)
class Outline:
    """What the filter needs to know about a message (built from a discord.Message by the edge)."""

    channel_id: int
    author_id: int
    content: str
    is_self: bool = False
    author_bot: bool = False
    webhook_id: int | None = None
    application_id: int | None = None
    is_dm: bool = False
    mentions_bot: bool = False
    parent_id: int | None = None  # a thread's channel
    is_reply: bool = False
    reply_resolved: bool = False  # the gateway sent the replied-to message (not left out, not deleted)
    reply_author_id: int | None = None  # who wrote the replied-to message, when resolved
    reply_webhook_id: int | None = None  # and the webhook it came through, if one
    reply_application_id: int | None = None  # and the application owning that webhook, if one
    guild_id: int | None = None

    @property
    def is_proxy(self) -> bool:
        return self.webhook_id is not None and self.application_id in PROXY_APPLICATIONS


def mentions(content: str, aliases: dict[str, str], max_words: int) -> list[tuple[str, str]]:
    """(alias, personality) for every `@alias` in `content`, the longest alias first."""
    words = content.split()
    found: list[tuple[str, str]] = []
    for i, word in enumerate(words):
        if not word.startswith("@") or len(word) < 2:
            continue
        phrase = [word[1:]] + words[i + 1 : i + max_words]
        for n in range(len(phrase), 0, -1):
            candidate = " ".join(phrase[:n]).lower().rstrip(_TRAILING)
            if candidate in aliases:
                found.append((candidate, aliases[candidate]))
                break
    return sorted(found, key=lambda pair: -len(pair[0]))


@dataclass
class RoutingTable:
    prefix: str = "!tz "
    webhooks: set[int] = field(default_factory=set)
    activated: dict[int, str] = field(default_factory=dict)
    conversations: dict[int, float] = field(default_factory=dict)  # channel id -> until (epoch seconds)
    aliases: dict[str, str] = field(default_factory=dict)  # bot-wide alias (and name) -> personality
    personal: set[str] = field(default_factory=set)  # users' own aliases: worth waking their actor for
    blacklist: set[int | str] = field(default_factory=set)  # user id, or "guild:user"
    bot_id: int | None = None  # who we are (the edge sets both at login, before any message arrives)
    application_id: int | None = None
    max_words: int = 1
    dropped: Counter[str] = field(default_factory=Counter)
    forwarded: int = 0
    _pruned_at_size: int = 64  # conversations are swept of expired ones whenever they double past this

    def apply(self, fact: RouteFact, now: float | None = None) -> None:
        """Take one fact. Nothing is ever refused here: every kind is bounded where it is created (the catalogue,
        the blacklists, each user's aliases, each channel's webhooks), and conversations expire."""
        kind, key, value = fact.kind, fact.key, fact.value
        if kind == "webhook":
            _put_set(self.webhooks, key, value)
        elif kind == "activated":
            _put_map(self.activated, key, value)
        elif kind == "conversation":
            now = time.time() if now is None else now
            until = max(self.conversations.get(key, 0.0), float(value)) if value else 0.0
            _put_map(self.conversations, key, until if until > now else None)
            if len(self.conversations) >= 2 * self._pruned_at_size:
                self.expire(now)
        elif kind == "alias":
            _put_map(self.aliases, str(key), value)
            if value:
                self.max_words = max(self.max_words, len(str(key).split()))
        elif kind == "personal":
            _put_set(self.personal, str(key), value)
            self.max_words = max(self.max_words, len(str(key).split()))
        elif kind == "blacklist":
            _put_set(self.blacklist, key, value)

    def expire(self, now: float) -> int:
        """Forget conversations that have ended; how many were forgotten."""
        # list(): a copy made under the GIL in one step, as the listener thread may apply a fact meanwhile
        ended = [channel for channel, until in list(self.conversations.items()) if until <= now]
        for channel in ended:
            self.conversations.pop(channel, None)
        self._pruned_at_size = max(64, len(self.conversations))
        return len(ended)

    def decide(self, m: Outline, now: float | None = None) -> str | None:
        """None when the message goes to its channel actor; otherwise why it was dropped."""
        reason = self._drop_reason(m, now if now is not None else time.time())
        if reason is None:
            self.forwarded += 1
        else:
            self.dropped[reason] += 1
        return reason

    def summary(self) -> dict[str, Any]:
        """What the filter did and what it knows, for the status screen."""
        return {"forwarded": self.forwarded, "dropped": dict(self.dropped),
                "routing": {"webhooks": len(self.webhooks), "aliases": len(self.aliases),
                            "activated": len(self.activated)}}

    def ours(self, webhook_id: int | None, application_id: int | None) -> bool:
        """A message through one of our webhooks: one we know, or any our application owns (even one deleted
        since, whose old messages people still reply to)."""
        return webhook_id is not None and (
            webhook_id in self.webhooks or (application_id is not None and application_id == self.application_id)
        )

    def replies_to_us(self, m: Outline) -> bool:
        """Does this reply answer one of our messages: a personality's (through our webhook) or the bot's own (in
        DMs and channels without webhooks it speaks as itself)? A reply to anyone else is chatter.

        When Discord does not say whose message it was, the reply goes on: it leaves `referenced_message` out
        when it did not fetch it, and sends null when it was deleted. The channel's reply map, which knows
        every message we sent, decides then; dropping it here could lose an answer somebody asked for.
        """
        if not m.reply_resolved:
            return True
        if m.reply_webhook_id is not None:
            return self.ours(m.reply_webhook_id, m.reply_application_id)
        return self.bot_id is not None and m.reply_author_id == self.bot_id

    def mentioned(self, content: str) -> list[tuple[str, str]]:
        return mentions(content, self.aliases, self.max_words) if "@" in content else []

    def _drop_reason(self, m: Outline, now: float) -> str | None:
        if m.is_self:
            return "own_message"
        if m.webhook_id is not None and m.webhook_id in self.webhooks:
            return "own_webhook"
        if m.author_bot and not m.is_proxy:
            return "other_bot"
        if self.blacklist and (m.author_id in self.blacklist or f"{m.guild_id}:{m.author_id}" in self.blacklist):
            return "blacklisted"
        if m.is_dm or m.mentions_bot or m.content.lstrip().lower().startswith(self.prefix.strip().lower()):
            return None
        if m.is_reply and self.replies_to_us(m):
            return None
        for channel in (m.channel_id, m.parent_id):
            if channel is not None and (channel in self.activated or self.conversations.get(channel, 0) > now):
                return None
        if "@" in m.content and (
            self.mentioned(m.content) or mentions(m.content, dict.fromkeys(self.personal, ""), self.max_words)
        ):
            return None
        return "chatter"


def _put_set(target: set, key: object, value: object) -> None:
    if value:
        target.add(key)
    else:
        target.discard(key)


def _put_map(target: dict, key: object, value: object) -> None:
    if value:
        target[key] = value
    else:
        target.pop(key, None)
