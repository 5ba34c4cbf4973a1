"""Helpers for the emulator tests: a started emulator, raw HTTP calls, a real discord.py bot, waiting
(`wait_for`, awaited: testkit's)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
import yarl

from emulator.discord import DiscordEmulator, RateLimits, World
from testkit.process import await_for

TOKEN = "sandbox-token"
wait_for = await_for  # polling inside the event loop, named as the emulator tests call it


@asynccontextmanager
async def running(
    world: World | None = None, *, limits: RateLimits | None = None, shards: int = 1
) -> AsyncIterator[DiscordEmulator]:
    """An emulator on a free loopback port, always stopped afterwards."""
    emulator = DiscordEmulator(world, token=TOKEN, limits=limits, shards=shards)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


Scenario = Callable[[DiscordEmulator, aiohttp.ClientSession], Awaitable[None]]


def run_raw(
    scenario: Scenario, world: World | None = None, *, limits: RateLimits | None = None, shards: int = 1
) -> None:
    """Run `scenario(emulator, session)` against a fresh emulator with a plain HTTP session."""

    async def main() -> None:
        async with running(world, limits=limits, shards=shards) as emulator, aiohttp.ClientSession() as session:
            await scenario(emulator, session)

    asyncio.run(main())


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


async def call(
    session: aiohttp.ClientSession,
    emulator: DiscordEmulator,
    method: str,
    path: str,
    *,
    json: Any = None,
    auth: bool = True,
    params: dict[str, str] | None = None,
) -> Reply:
    """One REST request to /api/v10 (path relative to it), answered as status, headers and JSON body."""
    headers = {"Authorization": f"Bot {TOKEN}"} if auth else {}
    url = emulator.api_base + path
    async with session.request(method, url, json=json, headers=headers, params=params) as response:
        text = await response.text()
        body = await response.json() if response.content_type == "application/json" else text
        return Reply(response.status, dict(response.headers), body)


async def sandbox(
    session: aiohttp.ClientSession, emulator: DiscordEmulator, method: str, path: str, **kw: Any
) -> Reply:
    """One request to the /_sandbox control routes."""
    async with session.request(method, emulator.base_url + "/_sandbox" + path, **kw) as response:
        return Reply(response.status, dict(response.headers), await response.json())


async def post_as(
    session: aiohttp.ClientSession, emulator: DiscordEmulator, channel_id: int, name: str, content: str, **extra: Any
) -> int:
    """Post as a default-world user through the sandbox; returns the new message id."""
    user = emulator.world.user_named(name)
    body = {"channel_id": str(channel_id), "author": {"id": str(user.id), "username": name}, "content": content}
    reply = await sandbox(session, emulator, "POST", "/messages", json={**body, **extra})
    assert reply.status == 200, reply.body
    return int(reply.body["id"])


def default_intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = True
    return intents


@dataclass
class Bot:
    """A logged-in discord.py client and what it has received."""

    client: discord.Client
    messages: asyncio.Queue[discord.Message] = field(default_factory=asyncio.Queue)
    events: list[str] = field(default_factory=list)

    async def next_message(self, timeout: float = 5.0) -> discord.Message:
        return await asyncio.wait_for(self.messages.get(), timeout)


@contextmanager
def pointed_at(emulator: DiscordEmulator) -> Iterator[None]:
    """Point discord.py's REST base and gateway at the emulator, restoring both afterwards."""
    saved_base, saved_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = emulator.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emulator.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = saved_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved_gateway


@asynccontextmanager
async def discord_bot(
    emulator: DiscordEmulator,
    intents: discord.Intents | None = None,
    client_class: type[discord.Client] = discord.Client,
    **options: Any,
) -> AsyncIterator[Bot]:
    """A real discord.py client logged in to the emulator and past on_ready; closed afterwards. `options` go to
    the client (e.g. `shard_count` and `shard_ids` for an AutoShardedClient)."""
    client = client_class(intents=intents or default_intents(), guild_ready_timeout=0.05, **options)
    bot = Bot(client)
    ready = asyncio.Event()

    @client.event
    async def on_ready() -> None:
        ready.set()

    @client.event
    async def on_message(message: discord.Message) -> None:
        await bot.messages.put(message)

    @client.event
    async def on_socket_event_type(event: str) -> None:
        bot.events.append(event)

    with pointed_at(emulator):
        task: asyncio.Task[None] | None = None
        try:
            await client.login(TOKEN)
            task = asyncio.create_task(client.connect(reconnect=True))
            await asyncio.wait_for(ready.wait(), 5)
            yield bot
        finally:
            await client.close()
            if task is not None:
                await asyncio.wait_for(task, 5)
