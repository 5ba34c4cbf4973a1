"""The edge's routing table and filter: drop what addresses nobody before any actor wakes.

The table holds facts that the owning actors push (our webhooks, activated channels, channels with a live
conversation, the first words of every personality name and alias). The filter is a pure function of a
message's outline and the table, so the drop path is cheap (microseconds) and tested without Discord.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field

from actors.messages import RouteFact

# PluralKit's and Tupperbox's application ids: their proxy webhooks speak for real users.
PROXY_APPLICATIONS = frozenset({466378653216014359, 431544605209788416})
_AT_WORD = re.compile(r"@([^\s@<>]+)")
CAP = 100_000  # per fact kind: the table stays bounded whatever the actors push


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
    reply_webhook_id: int | None = None  # the replied-to message's webhook, when known
    is_reply: bool = False


@dataclass
class RoutingTable:
    prefix: str = "!tz "
    webhooks: set[int] = field(default_factory=set)
    activated: dict[int, str] = field(default_factory=dict)
    conversations: dict[int, float] = field(default_factory=dict)  # channel id -> until (epoch seconds)
    names: set[str] = field(default_factory=set)  # lower-cased first words of names and aliases
    dropped: Counter[str] = field(default_factory=Counter)
    forwarded: int = 0

    def apply(self, fact: RouteFact) -> None:
        if fact.kind == "webhook":
            _put(self.webhooks, fact.key, fact.value)
        elif fact.kind == "activated":
            _put_map(self.activated, fact.key, fact.value)
        elif fact.kind == "conversation":
            current = self.conversations.get(fact.key, 0.0)
            _put_map(self.conversations, fact.key, max(current, float(fact.value)) if fact.value else None)
        elif fact.kind == "name" and isinstance(fact.value, str):
            if len(self.names) < CAP:
                self.names.add(fact.value.split()[0].lower())

    def decide(self, m: Outline, now: float | None = None) -> str | None:
        """None when the message goes to its channel actor; otherwise why it was dropped."""
        reason = self._drop_reason(m, now if now is not None else time.time())
        if reason is None:
            self.forwarded += 1
        else:
            self.dropped[reason] += 1
        return reason

    def _drop_reason(self, m: Outline, now: float) -> str | None:
        if m.is_self:
            return "own_message"
        if m.webhook_id is not None and m.webhook_id in self.webhooks:
            return "own_webhook"
        if m.author_bot and m.application_id not in PROXY_APPLICATIONS:
            return "other_bot"
        if m.is_dm or m.mentions_bot or m.content.startswith(self.prefix) or m.content.strip() == self.prefix.strip():
            return None
        if m.is_reply and (m.reply_webhook_id is None or m.reply_webhook_id in self.webhooks):
            return None  # a reply to one of ours (or to a message the gateway did not resolve)
        for channel in (m.channel_id, m.parent_id):
            if channel is not None and (channel in self.activated or self.conversations.get(channel, 0) > now):
                return None
        if any(word.lower() in self.names for word in _AT_WORD.findall(m.content)):
            return None
        return "chatter"


def _put(target: set[int], key: int, value: object) -> None:
    if value:
        if len(target) < CAP:
            target.add(key)
    else:
        target.discard(key)


def _put_map(target: dict[int, object], key: int, value: object) -> None:
    if value:
        if len(target) < CAP or key in target:
            target[key] = value
    else:
        target.pop(key, None)
