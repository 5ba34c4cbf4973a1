"""The discord.py client: gateway events in, actor messages out, through the bridge.

It never waits on an actor in the event loop: every hand-off runs on the bridge's thread pool. It drops
what addresses nobody (its own messages, its webhooks' echoes, other bots, chatter) before any actor wakes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import discord
import yarl

from actors.messages import Author, GetSlots, Incoming, Place, SlotsInfo, WebhooksChanged
from ai.breaker import SharedBreaker, breaker_path
from bridge import Bridge
from config import Settings
from discord_rest.invalid import read_invalid
from edge.durable import WorkLog, catch_up, resend_forever
from edge.notices import AuthorNotices
from edge.routing import Outline, RoutingTable
from observability.activity import Activity
from observability.events import EventLog
from observability.metrics import Metrics
from observability.status import collect

log = logging.getLogger("tzurot.edge")

DISCORD_API_BASE = "https://discord.com/api/v10"
ATTACHMENT_MAX = 256 * 1024


def point_discord_py_at(settings: Settings) -> None:
    """discord.py talks to Discord unless told otherwise: aim it at a compatible server (the emulator)."""
    discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url != "wss://gateway.discord.gg":
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def intents() -> discord.Intents:
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True
    wanted.webhooks = True  # WEBHOOKS_UPDATE: our pool must notice a deleted webhook
    return wanted


def utf8(text: str) -> str:
    """`text` as UTF-8 can carry it. JSON lets the gateway deliver a lone surrogate (`\\ud83d`), and one of those
    would fail every later save of the user's actor (the store, the AI request and Discord all need UTF-8)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def place_of(channel: Any) -> Place:
    guild = getattr(channel, "guild", None)
    if isinstance(channel, discord.DMChannel):
        kind = "dm"
    elif isinstance(channel, discord.Thread):
        kind = "thread"
    elif isinstance(channel, discord.ForumChannel):
        kind = "forum"
    elif isinstance(channel, discord.VoiceChannel):
        kind = "voice"
    else:
        kind = "text"
    parent_id = getattr(channel, "parent_id", None) if kind == "thread" else None
    nsfw = bool(channel.is_nsfw()) if hasattr(channel, "is_nsfw") else False
    return Place(
        channel.id,
        kind,
        guild.id if guild else None,
        parent_id,
        nsfw,
        utf8(getattr(channel, "name", "") or ""),
        utf8(guild.name) if guild else "",
    )


def replied_to(message: discord.Message) -> tuple[bool, discord.Message | None]:
    """Is `message` a reply, and the message it replies to when the gateway sent it (`referenced_message`).

    Only a reply counts: pins, thread starters and forwards carry a `message_reference` too."""
    ref = message.reference
    if ref is None or ref.message_id is None or message.type is not discord.MessageType.reply:
        return False, None
    return True, ref.resolved if isinstance(ref.resolved, discord.Message) else None


def outline_of(message: discord.Message, me: discord.ClientUser) -> Outline:
    is_reply, resolved = replied_to(message) if message.reference is not None else (False, None)
    return Outline(
        channel_id=message.channel.id,
        author_id=message.author.id,
        content=message.content,
        is_self=message.author.id == me.id,
        author_bot=message.author.bot,
        webhook_id=message.webhook_id,
        application_id=message.application_id,
        is_dm=isinstance(message.channel, discord.DMChannel),
        mentions_bot=any(u.id == me.id for u in message.mentions),
        parent_id=getattr(message.channel, "parent_id", None) if isinstance(message.channel, discord.Thread) else None,
        is_reply=is_reply,
        reply_resolved=resolved is not None,
        reply_author_id=resolved.author.id if resolved is not None else None,
        reply_webhook_id=resolved.webhook_id if resolved is not None else None,
        reply_application_id=resolved.application_id if resolved is not None else None,
        guild_id=message.guild.id if message.guild is not None else None,
    )


PERMISSIONS = ("manage_messages", "manage_guild", "administrator")


def perms_of(message: discord.Message) -> frozenset[str]:
    """The author's rights in this channel that commands check (none in DMs)."""
    if message.guild is None or not isinstance(message.author, discord.Member):
        return frozenset()
    granted = message.channel.permissions_for(message.author)
    return frozenset(name for name in PERMISSIONS if getattr(granted, name, False))


def incoming_of(
    message: discord.Message, me: discord.ClientUser, table: RoutingTable, attachment_text: str = "",
    attachment_error: str = "",
) -> Incoming:
    is_reply, resolved = replied_to(message)
    author = message.author
    images = tuple(utf8(a.url) for a in message.attachments if (a.content_type or "").startswith("image/"))
    found = table.mentioned(message.content)
    outline = outline_of(message, me)
    return Incoming(
        message_id=message.id,
        place=place_of(message.channel),
        author=Author(author.id, utf8(author.name), utf8(getattr(author, "display_name", author.name)), author.bot),
        content=utf8(message.content),
        mentions_bot=any(u.id == me.id for u in message.mentions),
        reply_to=message.reference.message_id if is_reply and message.reference is not None else None,
        # Only our webhooks speak as personalities: a reply to another webhook (a proxy, another bot) is not
        # one to a personality of that name.
        reply_to_webhook=resolved.webhook_id if resolved is not None and table.ours(
            resolved.webhook_id, resolved.application_id) else None,
        reply_content=utf8(resolved.content) if resolved is not None else "",
        reply_author=utf8(resolved.author.display_name) if resolved is not None else "",
        attachments=images,
        created_at=message.created_at.timestamp(),
        mentioned=tuple(name for _, name in found),
        mentioned_alias=found[0][0] if found else "",
        perms=perms_of(message),
        attachment_text=attachment_text,
        attachment_error=attachment_error,
        proxy=outline.is_proxy,
    )


def guard_parsers(parsers: dict[str, Any]) -> None:
    """discord.py lets an exception in a gateway event's parser end `Client.connect`, and with it the bot: one
    malformed payload (a MESSAGE_CREATE without an author) would stop everything. Log it and skip it instead
    (the event name and the error only: a payload may hold a user's text, even a key)."""

    def guarded(event: str, parse: Any) -> Any:
        def parse_or_skip(data: Any) -> None:
            try:
                parse(data)
            except Exception as exc:  # noqa: BLE001 - a bad event is skipped, the gateway goes on
                log.warning("skipped a malformed %s event from the gateway (%s: %.120s)", event,
                            type(exc).__name__, exc)

        return parse_or_skip

    for event, parse in list(parsers.items()):
        parsers[event] = guarded(event, parse)


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


class Edge(discord.Client):
    def __init__(self, bridge: Bridge, settings: Settings, table: RoutingTable, metrics: Metrics) -> None:
        super().__init__(intents=intents())
        guard_parsers(self._connection.parsers)
        self.bridge = bridge
        self.settings = settings
        self.table = table
        self.metrics = metrics
        self.usage = Activity()
        self.events = EventLog.in_dir(settings.data_dir, echo=False, max_bytes=settings.log_max_bytes,
                                     keep=settings.log_keep)
        self.work = WorkLog(settings)
        self.in_order = ThreadPoolExecutor(1, thread_name_prefix="hand-off")
        self.notices = AuthorNotices(self, self.work, self.events)
        self.breaker = SharedBreaker(breaker_path(settings.data_dir, settings.ai_model), settings.ai_breaker_failures,
                                     settings.ai_breaker_cooldown_s)  # the default model's: read for status only
        self._sweeping = False
        self.ready_once = asyncio.Event()
        self.started = time.time()
        self.disconnected_at: float | None = time.time()
        self.lost_at = self.started  # when the gateway was lost before the current connection (or the start)
        self.catch_ups = OneAtATime(lambda since: catch_up(self, since))
        self._status_cache: tuple[float, dict[str, Any]] | None = None

    async def setup_hook(self) -> None:
        """After login, before the gateway connects: the filter learns who we are, so a reply to the bot's own
        message (or one of our application's webhooks) is known as one to us from the first message on."""
        self.table.bot_id = self.user.id if self.user is not None else None
        self.table.application_id = self.application_id

    def connected(self) -> bool:
        return self.is_ready() and not self.is_closed() and self.disconnected_at is None

    async def on_connect(self) -> None:
        if self.disconnected_at is not None:
            self.lost_at = self.disconnected_at  # a new session reads back from here (on_ready comes next)
        self.disconnected_at = None
        self.metrics.gateway_connected.set(1)

    async def on_resumed(self) -> None:
        await self.on_connect()

    async def on_disconnect(self) -> None:
        if self.disconnected_at is None:
            self.disconnected_at = time.time()
        self.metrics.gateway_connected.set(0)

    async def status(self, max_age_s: float = 1.0, deadline: float | None = None) -> dict[str, Any]:
        """Everything `bot.py status` shows; asks every supervisor, so cached for a moment. Every ask ends by
        `deadline` (time.monotonic(); default: the ask timeout from now), so no bridge thread outlives it."""
        fresh = {"discord_invalid": read_invalid(self.settings.data_dir)}  # a file read: never from the cache
        if self._status_cache is not None and time.time() - self._status_cache[0] < max_age_s:
            return {**self._status_cache[1], **fresh}
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.settings.ask_timeout_s if deadline is None else deadline

        def left(cap: float = float("inf")) -> float:  # measured when the bridge thread starts, not before
            return max(0.0, min(cap, deadline - time.monotonic()))

        statuses = await loop.run_in_executor(self.bridge.pool, lambda: self.bridge.status(timeout=left()))
        extra = {
            "uptime_s": round(time.time() - self.started, 1),
            "gateway_connected": self.connected(),
            "edge": {"forwarded": self.table.forwarded, "dropped": dict(self.table.dropped),
                     "routing": {"webhooks": len(self.table.webhooks), "aliases": len(self.table.aliases),
                                 "activated": len(self.table.activated)}},
            "outboxes": self.metrics.deepest("channel_depth"),
            "inboxes": self.metrics.deepest("user_depth"),
            "top_users": self.usage.top(),
            "ai_slots": await self.slots_view(left),
            "breaker": await loop.run_in_executor(self.bridge.pool, self.breaker_state),
        }
        status = collect(statuses, extra, self.settings.data_dir)
        self._status_cache = (time.time(), status)
        return {**status, **fresh}

    async def slots_view(self, left: Callable[[float], float] = lambda cap: cap) -> dict[str, int]:
        """The operator's AI slots (capacity, in use, waiting), or {} while the slots actor does not answer
        within 3 s or what `left` says remains."""
        loop = asyncio.get_running_loop()
        try:
            info = await loop.run_in_executor(
                self.bridge.pool, lambda: self.bridge.ask("slots", "slots", GetSlots(), timeout=max(1e-3, left(3.0))))
        except Exception:  # noqa: BLE001 - status must still answer; the screen shows "?"
            return {}
        return {"capacity": info.capacity, "in_use": info.in_use, "waiting": info.waiting} if isinstance(
            info, SlotsInfo) else {}

    def breaker_state(self) -> str:
        """The operator's AI breaker as every actor process sees it: closed, open or half-open."""
        return self.breaker.state()

    async def refresh_gauges(self, deadline: float | None = None) -> None:
        status = await self.status(max_age_s=2.0, deadline=deadline)
        counts: dict[str, int] = {}
        for supervisor in status["supervisors"]:
            for child in supervisor["children"]:
                if child["pid"] is not None:
                    counts[child["kind"]] = counts.get(child["kind"], 0) + 1
        for kind in ("shard", "user", "channel", "registry", "blacklist", "slots"):
            self.metrics.live_actors.labels(kind).set(counts.get(kind, 0))

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("connected as %s (%s), %d guild(s)", self.user.name, self.user.id, len(self.guilds))
        self.ready_once.set()
        # discord.py calls this after every new session (IDENTIFY), never after a RESUME (the gateway replays
        # what was missed then): a new session means what was said since the gateway was lost was never seen.
        self.catch_ups.run(self.lost_at)
        if not self._sweeping:
            self._sweeping = True
            self.loop.create_task(resend_forever(self))

    async def on_message(self, message: discord.Message) -> None:
        await self.handle(message)

    async def handle(self, message: discord.Message, caught_up: bool = False) -> int:
        """Filter one message and hand it on (written down first); 1 when it was handed on."""
        me = self.user
        if me is None:
            return 0
        self.metrics.received.inc()
        try:
            reason = self.table.decide(outline_of(message, me))
            if reason is not None:
                self.metrics.dropped.labels(reason).inc()
                return 0
            self.metrics.forwarded.inc()
            self.usage.add(message.author.id)
            self.events.emit("info", "caught_up" if caught_up else "received", "edge", "edge",
                             f"from {message.author.name}", user=message.author.id, channel=message.channel.id,
                             trigger=message.id)
            incoming = incoming_of(message, me, self.table, *await self.small_attachment(message))
        except Exception:  # a malformed payload must not take the edge down
            log.exception("skipped a message the edge could not read (id %s)", getattr(message, "id", "?"))
            return 0
        # One thread, first in first out: messages reach their actors in the order Discord sent them.
        await asyncio.get_running_loop().run_in_executor(self.in_order, self.record_and_hand_on, incoming)
        return 1

    def record_and_hand_on(self, incoming: Incoming) -> None:
        try:
            self.work.record(incoming)
        except Exception:  # the store failing must not silence the bot: hand on anyway, and say so
            log.exception("store_failed: could not record message %s before handing it on", incoming.message_id)
        try:
            self.bridge.tell("channel", incoming.place.channel_id, incoming)
        except Exception:
            log.exception("could not hand message %s to its channel", incoming.message_id)

    async def small_attachment(self, message: discord.Message) -> tuple[str, str]:
        """(the text, or why it could not be read) of a command's attachment (`import`): only a small .json or
        .txt file is downloaded, and anything else gets a reason the command can answer with."""
        if not message.attachments or not message.content.lstrip().lower().startswith(self.table.prefix.strip()):
            return "", ""
        attachment = message.attachments[0]
        if not attachment.filename.lower().endswith((".json", ".txt")):
            return "", "it is not a .json or .txt file"
        if attachment.size > ATTACHMENT_MAX:
            return "", f"it is {attachment.size // 1024} KB, and at most {ATTACHMENT_MAX // 1024} KB are read"
        try:
            data = await attachment.read()
        except (discord.HTTPException, discord.NotFound):
            return "", "it could not be downloaded from Discord just now"
        try:
            return data.decode("utf-8"), ""
        except UnicodeDecodeError:
            return "", "it is not UTF-8 text"

    async def on_webhooks_update(self, channel: Any) -> None:
        await self.hand_off("channel", channel.id, WebhooksChanged(channel.id))

    async def hand_off(self, kind: str, key: int, body: Any) -> None:
        try:
            await self.bridge.tell_async(kind, key, body)
        except Exception:
            log.exception("could not hand %s to %s %s", type(body).__name__, kind, key)
