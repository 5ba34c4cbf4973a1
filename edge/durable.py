"""Nothing accepted is lost: every message the edge hands on is written down first, until it is answered.

The edge records a message in the store's work table before handing it to its channel actor; the channel
closes the record when the answer's first message is sent (the user's actor closes it when nothing needed
an answer). A sweep hands on again whatever stayed open too long (an actor died with it in its mailbox); the
actors deduplicate, so that costs nothing when the first hand-off did arrive. After a full restart the edge
also reads back what was said while it was away (catch-up).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, Protocol

from actors.kinds import Kind
from actors.messages import Incoming
from actors.state.commands import Command, CommandError, parse_command
from actors.state.proxies import incoming_from, incoming_to
from config import Settings
from observability.events import EventLog
from store import SqlStore, open_store

log = logging.getLogger("tzurot.edge")

RESEND_AFTER_S = 20.0  # handed on this long ago and no actor said it has it: hand it on again
MAX_ATTEMPTS = 8  # hand-offs in a row that no actor acknowledged: given up as work_failed
MAX_AGE_S = 3600.0  # open for an hour (an actor kept it but never answered): given up as work_failed
WINDOW_S = 600.0  # nothing older than ten minutes is caught up after a start
CATCH_UP_LIMIT = 100  # messages read back per channel


class WorkLog:
    """The work table, seen from the edge's threads (one store connection per thread)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.prefix = settings.command_prefix
        self._local = threading.local()

    @property
    def store(self) -> SqlStore:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = open_store(self.settings)
        return store

    def record(self, incoming: Incoming) -> bool:
        if holds_secret(incoming.content, self.prefix):
            return False  # never written down: a lost `auth key` is sent again by its user, a stored one leaks
        return self.store.work_open(incoming.message_id, incoming.place.channel_id, incoming.author.id,
                                    incoming_to(incoming), RESEND_AFTER_S)

    def due(self) -> list[tuple[Incoming, int, bool]]:
        """(message, hand-offs so far, whether to give it up) for every open message that fell due."""
        out = []
        for row in self.store.work_due(RESEND_AFTER_S):
            try:
                incoming = incoming_from(row["incoming"])
            except (TypeError, KeyError, ValueError):
                self.store.work_give_up(row["message_id"])
                continue
            hopeless = row["attempts"] >= MAX_ATTEMPTS or time.time() - row["created"] > MAX_AGE_S
            out.append((incoming, row["attempts"], hopeless))
        return out

    def all_due(self) -> int:
        return self.store.work_all_due()

    def defer(self, message_id: int, until: float) -> None:
        self.store.work_defer(message_id, until)

    def give_up(self, message_id: int) -> None:
        self.store.work_give_up(message_id)

    def known(self, message_id: int) -> bool:
        return self.store.work_known(message_id)

    def last_seen(self, channel_id: int, before: float) -> int | None:
        return self.store.work_last_seen(channel_id, before)

    def prune(self) -> int:
        """Forget work closed long ago, and conversations that have ended (so the routing facts stay bounded)."""
        return self.store.work_prune() + self.store.expire_routes("conversation", time.time())


def holds_secret(content: str, prefix: str) -> bool:
    """An `auth` command (well-formed or not) may carry a key: such a message is not recorded anywhere."""
    parsed = parse_command(content, prefix)
    return (isinstance(parsed, Command) and parsed.name == "auth") or (
        isinstance(parsed, CommandError) and parsed.sensitive
    )


def snowflake_at(seconds: float) -> int:
    return (int(seconds * 1000) - 1_420_070_400_000) << 22


class HandOn(Protocol):
    """The bridge as redelivery uses it: its thread pool (for the store's calls), and a tell."""

    @property
    def pool(self) -> Executor | None: ...

    async def tell_async(self, kind: str, key: int | str, body: Any) -> None: ...


class Watched(Protocol):
    """The routing table as redelivery reads it: the channels where someone may be talking to us."""

    activated: dict[int, str]
    conversations: dict[int, float]  # channel id -> until (epoch seconds)

    def expire(self, now: float) -> int: ...


class Notices(Protocol):
    """Who tells a message's author when no actor can (edge/notices.py)."""

    async def tell_author(self, incoming: Incoming, text: str, kind: str = "edge") -> None: ...


class Reader(Protocol):
    """Where catch-up reads a channel's history, and who filters and hands on what it finds (the edge)."""

    def get_channel(self, id: int, /) -> Any: ...

    async def fetch_channel(self, channel_id: int, /) -> Any: ...

    async def handle(self, message: Any, caught_up: bool = False) -> int: ...


class Redelivery:
    """What keeps the promise: the sweep that hands on again what fell due, and the catch-up after a start or a
    new gateway session."""

    def __init__(self, work: WorkLog, bridge: HandOn, routes: Watched, notices: Notices, events: EventLog) -> None:
        self.work, self.bridge, self.routes, self.notices, self.events = work, bridge, routes, notices, events

    async def resend_forever(self, every_s: float = 10.0) -> None:
        """Hand on again what fell due: handed on, and no actor said it has it (it may have died with it
        unread), or held by an actor for longer than any answer takes (it is asked again, and says so if it
        still has it)."""
        pool, loop = self.bridge.pool, asyncio.get_running_loop()
        pruned_at = 0.0
        try:
            # A start: no actor holds anything any more. An answer that was made but never sent (its channel died
            # with it queued) is said again when its message is handed on, not after the 5 minutes an actor's
            # acknowledgement asked for; the restarted actors deduplicate the rest.
            if reopened := await loop.run_in_executor(pool, self.work.all_due):
                log.warning("%d message(s) open when the bot stopped are handed on again", reopened)
        except Exception:
            log.exception("could not reopen the work left open by the last run; the sweep will find it later")
        while True:
            await asyncio.sleep(every_s)
            try:
                due = await loop.run_in_executor(pool, self.work.due)
                for incoming, attempts, hopeless in due:
                    if hopeless:
                        await loop.run_in_executor(pool, self.work.give_up, incoming.message_id)
                        log.error("work_failed: message %s in channel %s got no answer after %d hand-offs",
                                  incoming.message_id, incoming.place.channel_id, attempts)
                        sorry = "I couldn't answer this message, sorry. Please send it again."
                        await self.notices.tell_author(incoming, sorry)
                        continue
                    self.events.emit("warning" if attempts else "info", "redelivered", "edge", "edge",
                                     f"hand-off {attempts + 2}", user=incoming.author.id,
                                     channel=incoming.place.channel_id, trigger=incoming.message_id)
                    await self.bridge.tell_async(Kind.CHANNEL, incoming.place.channel_id, incoming)
                if time.time() - pruned_at > 3600:
                    pruned_at = time.time()
                    await loop.run_in_executor(pool, self.work.prune)
                    self.routes.expire(pruned_at)
            except Exception:  # the sweep must outlive a bad moment (the store busy, the tree restarting)
                log.exception("work sweep failed; trying again")

    async def catch_up(self, reader: Reader, since: float, carries: Callable[[Any], bool] = lambda _: True) -> int:
        """After a start or a new gateway session: read back, in channels where someone may be talking to us,
        what came while we were away (since `since`, when the gateway was lost). Only the channels `carries`
        (those of the gateway shard whose session is new: another shard, or another edge, reads back its own)."""
        import discord

        loop = asyncio.get_running_loop()
        floor = snowflake_at(time.time() - WINDOW_S)
        live = list(self.routes.conversations.items())  # a copy in one step: the listener thread may add meanwhile
        channels = set(self.routes.activated) | {c for c, until in live if until > time.time()}
        handed = 0
        for channel_id in channels:
            try:
                channel = reader.get_channel(channel_id) or await reader.fetch_channel(channel_id)
                if not carries(channel):
                    continue
                # What we saw before we were away: messages arriving now must not hide the gap.
                seen = await loop.run_in_executor(self.bridge.pool, self.work.last_seen, channel_id, since)
                after = discord.Object(max(seen or 0, floor))
                async for message in channel.history(after=after, limit=CATCH_UP_LIMIT, oldest_first=True):
                    known = await loop.run_in_executor(self.bridge.pool, self.work.known, message.id)
                    if not known:
                        handed += await reader.handle(message, caught_up=True)
            except Exception:  # one unreadable channel must not stop the others
                log.exception("catch-up failed for channel %s", channel_id)
        if handed:
            log.warning("caught_up: %d message(s) said while the bot was away were handed on", handed)
        return handed


class OneAtATime:
    """Runs `job(since)` after each new gateway session, never two at once: a session that begins while one
    runs is caught up after it, from the earliest loss not yet read back."""

    def __init__(self, job: Callable[[float], Awaitable[Any]]) -> None:
        self.job = job
        self._since: float | None = None
        self._task: asyncio.Task[None] | None = None

    def run(self, since: float) -> asyncio.Task[None]:
        self._since = since if self._since is None else min(self._since, since)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return self._task

    async def _drain(self) -> None:
        while self._since is not None:
            since, self._since = self._since, None
            try:
                await self.job(since)
            except Exception:  # the next session must still be caught up
                log.exception("catch-up failed")
