"""The discord.py client: gateway events in, actor messages out, through the bridge.

It never waits on an actor in the event loop: every hand-off runs on the bridge's thread pool. It drops
what addresses nobody (its own messages, its webhooks' echoes, other bots, chatter) before any actor wakes.
It wires the parts and holds the gateway's state, per gateway shard it runs (edge/shards.py: the plain client
runs the one shard; with TZUROT_SHARD_COUNT above 1 or TZUROT_SHARD_IDS set, discord.py's AutoShardedClient runs
the shards named); each part lives apart: reading a message
(edge/translate.py), the filter (edge/routing.py), nothing accepted is lost (edge/durable.py), what the bot
says itself (edge/notices.py), and its status and gauges (observability/live.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import discord
import yarl

from actors.kinds import Kind
from actors.messages import Incoming, WebhooksChanged
from bridge import Bridge
from config import Settings
from edge.app_commands import SlashCommands
from edge.durable import OneAtATime, Redelivery, WorkLog
from edge.media import media_of
from edge.notices import AuthorNotices
from edge.routing import RoutingTable
from edge.shards import GatewayShards, guild_id_of
from edge.translate import incoming_of, outline_of, replied_to
from observability.activity import Activity
from observability.events import EventLog
from observability.live import LiveStatus
from observability.metrics import Metrics

log = logging.getLogger("tzurot.edge")

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


class Edge(discord.Client):
    """One message at a time: outline, filter, write down, hand on to its channel's actor (in gateway order)."""

    def __init__(self, bridge: Bridge, settings: Settings, table: RoutingTable, metrics: Metrics) -> None:
        self.sharded = isinstance(self, discord.AutoShardedClient)
        shards = {"shard_count": settings.shard_count, "shard_ids": list(settings.gateway_shards)}
        super().__init__(intents=intents(), **(shards if self.sharded else {}))
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
        self.redelivery = Redelivery(self.work, bridge, table, self.notices, self.events)
        self._sweeping = False
        self.ready_once = asyncio.Event()
        self.started = time.time()
        self.shard_state = GatewayShards(settings.gateway_shards if self.sharded else (0,),
                                         settings.shard_count if self.sharded else 1, self.started)
        self.catch_ups = {shard: OneAtATime(self._catch_up_of(shard)) for shard in self.shard_state.ids}
        self.live_status = LiveStatus(bridge, settings, metrics, table, self.usage, self.connected, self.started,
                                      gateway_shards=lambda: self.shard_state.view(time.time()))
        self.slash = SlashCommands(self)

    async def setup_hook(self) -> None:
        """After login, before the gateway connects: the filter learns who we are, so a reply to the bot's own
        message (or one of our application's webhooks) is known as one to us from the first message on."""
        self.table.bot_id = self.user.id if self.user is not None else None
        self.table.application_id = self.application_id
        log.info("%s", await self.slash.sync())  # only when the definitions changed since the last registration

    def connected(self) -> bool:
        """Ready, and every gateway shard this edge runs is connected."""
        return self.is_ready() and not self.is_closed() and self.shard_state.all_connected()

    def _catch_up_of(self, shard: int) -> Any:
        """The catch-up job of one shard: only the channels it carries (a DM is shard 0's)."""
        return lambda since: self.redelivery.catch_up(
            self, since, carries=lambda channel: self.shard_state.carries(guild_id_of(channel)) == shard)

    def _shard_up(self, shard: int) -> None:
        self.shard_state.connected(shard)
        self.metrics.gateway_connected.set(1 if self.shard_state.all_connected() else 0)

    def _shard_down(self, shard: int) -> None:
        self.shard_state.disconnected(shard, time.time())
        self.metrics.gateway_connected.set(0)

    # The plain client's events stand for its one shard; the sharded client also sends the on_shard_* ones.
    async def on_connect(self) -> None:
        if not self.sharded:
            self._shard_up(0)

    async def on_resumed(self) -> None:
        if not self.sharded:
            self._shard_up(0)

    async def on_disconnect(self) -> None:
        if not self.sharded:
            self._shard_down(0)

    async def on_shard_connect(self, shard: int) -> None:
        self._shard_up(shard)

    async def on_shard_resumed(self, shard: int) -> None:
        self._shard_up(shard)

    async def on_shard_disconnect(self, shard: int) -> None:
        self._shard_down(shard)

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("connected as %s (%s), %d guild(s), gateway shard(s) %s of %d", self.user.name, self.user.id,
                 len(self.guilds), ",".join(map(str, self.shard_state.ids)), self.shard_state.count)
        self.ready_once.set()
        if not self.sharded:
            await self.on_shard_ready(0)
        if not self._sweeping:
            self._sweeping = True
            self.loop.create_task(self.redelivery.resend_forever())

    async def on_shard_ready(self, shard: int) -> None:
        # discord.py calls this after every new session (IDENTIFY), never after a RESUME (the gateway replays
        # what was missed then): a new session means what was said since the shard was lost was never seen.
        if self.shard_state.runs(shard):
            self.catch_ups[shard].run(self.shard_state.lost_at(shard))

    async def on_message(self, message: discord.Message) -> None:
        await self.handle(message)

    async def handle(self, message: discord.Message, caught_up: bool = False) -> int:
        """Filter one message and hand it on (written down first); 1 when it was handed on."""
        me = self.user
        if me is None:
            return 0
        self.metrics.received.inc()
        try:
            outline = outline_of(message, me)
            reason = self.table.decide(outline)
            if reason is not None:
                self.metrics.dropped.labels(reason).inc()
                return 0
            self.metrics.forwarded.inc()
            self.usage.add(message.author.id)
            self.events.emit("info", "caught_up" if caught_up else "received", "edge", "edge",
                             f"from {message.author.name}", user=message.author.id, channel=message.channel.id,
                             trigger=message.id)
            incoming = incoming_of(message, outline, self.table, *await self.small_attachment(message))
            if not message.content.lstrip().lower().startswith(self.table.prefix.strip()):
                incoming = replace(incoming, **(await media_of(self, message, replied_to(message)[1])).fields())
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
            self.bridge.tell(Kind.CHANNEL, incoming.place.channel_id, incoming)
        except Exception:
            log.exception("could not hand message %s to its channel", incoming.message_id)

    async def small_attachment(self, message: discord.Message) -> tuple[str, str]:
        """(the text, or why it could not be read) of a command's attachment (`import`): only a small .json or
        .txt file is downloaded, and anything else gets a reason the command can answer with."""
        if not message.attachments or not message.content.lstrip().lower().startswith(self.table.prefix.strip()):
            return "", ""
        return await self.read_attachment(message.attachments[0])

    async def read_attachment(self, attachment: discord.Attachment) -> tuple[str, str]:
        """A command's file (a message's, or a slash command's option): its text, or why it was not read."""
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

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.slash.submitted(interaction)  # commands go through the tree; a modal's submit comes here

    async def on_webhooks_update(self, channel: Any) -> None:
        await self.hand_off(Kind.CHANNEL, channel.id, WebhooksChanged(channel.id))

    async def hand_off(self, kind: Kind, key: int, body: Any) -> None:
        try:
            await self.bridge.tell_async(kind, key, body)
        except Exception:
            log.exception("could not hand %s to %s %s", type(body).__name__, kind, key)


class ShardedEdge(Edge, discord.AutoShardedClient):
    """The edge on discord.py's AutoShardedClient: the gateway shards TZUROT_SHARD_IDS names, of
    TZUROT_SHARD_COUNT (each shard its own websocket; guilds on the shard Discord's rule gives them)."""


def make_edge(bridge: Bridge, settings: Settings, table: RoutingTable, metrics: Metrics) -> Edge:
    """The sharded edge when the bot is sharded or this edge runs chosen shards, the plain client otherwise."""
    return (ShardedEdge if settings.sharded else Edge)(bridge, settings, table, metrics)
