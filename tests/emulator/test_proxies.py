"""PluralKit-style proxies: the original goes (MESSAGE_DELETE), a webhook owned by the proxy app speaks instead."""

from __future__ import annotations

import asyncio

import aiohttp
import discord
import httpx
import pytest

from emulator.discord import PLURALKIT_APPLICATION_ID, DiscordEmulator, World, default_world
from tests.emulator.helpers import discord_bot, post_as, running, sandbox, wait_for


def _pluralkit_world() -> World:
    world = default_world()
    world.add_proxy_app(name="PluralKit", application_id=PLURALKIT_APPLICATION_ID)
    return world


def test_add_proxy_app_makes_a_bot_user_and_application_in_every_guild() -> None:
    world = _pluralkit_world()
    app = world.applications[PLURALKIT_APPLICATION_ID]
    assert (app.name, app.bot_id) == ("PluralKit", PLURALKIT_APPLICATION_ID)
    user = world.users[PLURALKIT_APPLICATION_ID]
    assert user.bot and user.username == "PluralKit"
    assert all((guild_id, user.id) in world.members for guild_id in world.guilds)
    assert world.add_proxy_app() is app  # idempotent


def test_a_proxied_message_arrives_as_delete_then_create_with_the_application_id() -> None:
    intents = discord.Intents.none()
    intents.guilds = intents.guild_messages = intents.message_content = intents.webhooks = True

    async def scenario() -> None:
        world = _pluralkit_world()
        async with running(world) as emulator, discord_bot(emulator, intents) as bot, aiohttp.ClientSession() as s:
            general, ideas = world.channel_named("general"), world.channel_named("ideas")
            files = [{"filename": "card.txt", "content": "member card"}]
            original = await post_as(s, emulator, general.id, "alice", "pk;Lily: hello", attachments=files)
            assert (await bot.next_message()).id == original
            bot.events.clear()

            proxied_id = emulator.proxy_message(general.id, original, "Lily 🌸", "hello")
            proxied = await bot.next_message()
            assert [e for e in bot.events if e.startswith("MESSAGE")] == ["MESSAGE_DELETE", "MESSAGE_CREATE"]
            assert proxied.id == proxied_id and proxied.content == "hello" and proxied.author.name == "Lily 🌸"
            assert proxied.application_id == PLURALKIT_APPLICATION_ID and proxied.webhook_id is not None
            assert await proxied.attachments[0].read() == b"member card"
            (hook,) = world.webhooks_in(general.id)
            assert hook.id == proxied.webhook_id and hook.application_id == PLURALKIT_APPLICATION_ID
            assert [m.id for m in emulator.messages(general.id)] == [proxied_id]
            await wait_for(lambda: "WEBHOOKS_UPDATE" in bot.events)

            again = await post_as(s, emulator, general.id, "bob", "pk;Rex: woof")
            await bot.next_message()
            emulator.proxy_message(general.id, again, "Rex", "woof")
            assert (await bot.next_message()).webhook_id == hook.id  # the same webhook, reused

            in_thread = await post_as(s, emulator, ideas.id, "carol", "pk;Ivy: idea")
            await bot.next_message()
            thread_id = emulator.proxy_message(ideas.id, in_thread, "Ivy", "idea")
            in_thread_message = await bot.next_message()
            assert in_thread_message.id == thread_id and isinstance(in_thread_message.channel, discord.Thread)
            assert in_thread_message.application_id == PLURALKIT_APPLICATION_ID
            (parent_hook,) = world.webhooks_in(world.channel_named("help").id)
            assert in_thread_message.webhook_id == parent_hook.id and world.webhooks_in(ideas.id) == []

            listed = (await sandbox(s, emulator, "GET", f"/channels/{general.id}/messages")).body
            assert [m["application_id"] for m in listed] == [str(PLURALKIT_APPLICATION_ID)] * 2
            assert emulator.violations() == []

    asyncio.run(scenario())


def test_the_bots_own_webhooks_carry_its_application_id() -> None:
    async def scenario() -> None:
        async with running() as emulator, discord_bot(emulator) as bot:
            channel = bot.client.get_channel(emulator.world.channel_named("general").id)
            assert isinstance(channel, discord.TextChannel)
            webhook = await channel.create_webhook(name="Lilith")
            sent = await webhook.send("hi", wait=True)
            echoed = await bot.next_message()
            assert echoed.id == sent.id and echoed.application_id == emulator.world.bot_id

    asyncio.run(scenario())


def test_proxying_from_a_synchronous_test_and_its_refusals() -> None:
    handle = DiscordEmulator(default_world()).start_in_thread()
    try:
        world = handle.emulator.world
        general = world.channel_named("general")
        alice = world.user_named("alice")
        dm = world.dm_for(alice.id)
        assert dm is not None

        def post(channel_id: int) -> int:
            body = {"channel_id": str(channel_id), "author": {"id": str(alice.id), "username": "alice"}, "content": "x"}
            return int(httpx.post(handle.base_url + "/_sandbox/messages", json=body).json()["id"])

        first = post(general.id)
        with pytest.raises(ValueError, match="0 proxy applications"):
            handle.proxy_message(general.id, first, "Lily", "hi")
        handle.call(world.add_proxy_app)
        with pytest.raises(ValueError, match="is not in channel"):
            handle.proxy_message(general.id, 1, "Lily", "hi")
        with pytest.raises(ValueError, match="is a DM"):
            handle.proxy_message(dm.id, post(dm.id), "Lily", "hi")
        with pytest.raises(ValueError, match="Username cannot contain"):
            handle.proxy_message(general.id, first, "Lily@home", "hi")
        with pytest.raises(ValueError, match="no proxy application 5"):
            handle.call(handle.emulator.proxy_message, general.id, first, "Lily", "hi", None, 5)
        new_id = handle.call(handle.emulator.proxy_message, general.id, first, "Lily", "hi")
        assert [(m.id, m.application_id) for m in handle.call(world.messages, general.id)] == [
            (new_id, PLURALKIT_APPLICATION_ID)
        ]
        with pytest.raises(ValueError, match="by a bot or webhook"):
            handle.proxy_message(general.id, new_id, "Lily", "again")
    finally:
        handle.stop()
