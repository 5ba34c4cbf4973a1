"""What the edge itself says to a user: only when no actor can (the actor is parked, or a message was given up).

Each user hears each kind of notice at most once a window, so a flood of messages to a parked actor costs one
Discord request, not one per message. Bounded: the oldest entries are forgotten first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

import discord

from actors.messages import Incoming
from edge.durable import WorkLog
from observability.events import EventLog
from supervision.protocol import Undelivered

log = logging.getLogger("tzurot.edge")
WINDOW_S = 60.0
CAP = 10_000  # (user, kind) pairs remembered


class NoticeWindow:
    def __init__(self, window_s: float = WINDOW_S, cap: int = CAP) -> None:
        self.window_s, self.cap = window_s, cap
        self._until: OrderedDict[tuple[int, str], float] = OrderedDict()

    def due(self, user_id: int, kind: str, now: float) -> bool:
        """True (and the window starts) when `user_id` may be told a notice of `kind` now."""
        key = (user_id, kind)
        if self._until.get(key, 0.0) > now:
            return False
        self._until[key] = now + self.window_s
        self._until.move_to_end(key)
        while len(self._until) > self.cap:
            self._until.popitem(last=False)
        return True


class AuthorNotices:
    """The edge's own voice: a plain reply from the bot, through discord.py, once a window per user and kind."""

    def __init__(self, client: discord.Client, work: WorkLog, events: EventLog) -> None:
        self.client, self.work, self.events = client, work, events
        self.window = NoticeWindow()

    def on_undelivered(self, fact: Undelivered) -> None:
        """From the bridge's listener (via the edge's loop): an actor refused a message because it is parked."""
        self.client.loop.create_task(self.undelivered(fact))

    async def undelivered(self, fact: Undelivered) -> None:
        """A user's message reached a parked actor: keep it in the work table until the actor is back (the sweep
        hands it on then), and tell its author now, as an ask would have been told (once a window)."""
        body = fact.body
        incoming = body if isinstance(body, Incoming) else getattr(body, "incoming", None)
        if not isinstance(incoming, Incoming):
            log.warning("undelivered: a %s for %s %s was refused (%s)", type(body).__name__, fact.kind, fact.key,
                        fact.reason[:200])
            return
        until = time.time() + max(1.0, fact.retry_after_s)
        await asyncio.get_running_loop().run_in_executor(None, self.work.defer, incoming.message_id, until)
        self.events.emit("warning", "unavailable", "edge", "edge", f"{fact.kind} parked; kept until it is back",
                         user=incoming.author.id, channel=incoming.place.channel_id, trigger=incoming.message_id)
        minutes = max(1, round(fact.retry_after_s / 60))
        await self.tell_author(incoming, "I'm temporarily unavailable for this (it failed several times in a row). "
                                         f"I kept your message and will answer it when I'm back, in about {minutes} "
                                         "min.", kind="unavailable")

    async def tell_author(self, incoming: Incoming, text: str, kind: str = "edge") -> None:
        """Say `text` as the bot in reply to `incoming`, when no actor can: at most once a window per user and
        kind, never pinging anyone. A failure is logged, never raised (nothing depends on this reply)."""
        if not self.window.due(incoming.author.id, kind, time.time()):
            return
        cid = incoming.place.channel_id
        try:
            channel = self.client.get_channel(cid) or await self.client.fetch_channel(cid)
            reference = discord.MessageReference(message_id=incoming.message_id, channel_id=cid,
                                                 fail_if_not_exists=False)
            await channel.send(text, reference=reference, allowed_mentions=discord.AllowedMentions.none())
        except Exception as exc:  # noqa: BLE001 - the notice is a courtesy; the work row tells the rest
            log.warning("could not tell the author of message %s (%s)", incoming.message_id, type(exc).__name__)
