"""A real discord.py 2.7 client against the emulator: login, gateway, messages, webhooks, resume."""

from __future__ import annotations

import asyncio
import io

import aiohttp
import discord
import yarl

from tests.emulator.helpers import default_intents, discord_bot, post_as, running, sandbox, wait_for


def test_client_sees_world_receives_messages_and_speaks_through_webhooks() -> None:
    original_base = discord.http.Route.BASE
    original_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY

    async def scenario() -> None:
        async with running() as emulator, discord_bot(emulator) as bot, aiohttp.ClientSession() as session:
            client = bot.client
            assert client.user is not None and client.user.name == "Tzurot" and client.user.bot
            guild = client.guilds[0]
            assert guild.name == "Sandbox"
            assert {c.name for c in guild.text_channels} == {"general", "lounge", "help"}
            lounge = discord.utils.get(guild.text_channels, name="lounge")
            assert lounge is not None and lounge.is_nsfw()
            assert [t.name for t in guild.threads] == ["ideas"]
            general = discord.utils.get(guild.text_channels, name="general")
            assert general is not None and general.permissions_for(guild.me).manage_webhooks

            hello_id = await post_as(session, emulator, general.id, "alice", "hello Tzurot")
            received = await bot.next_message()
            assert (received.id, received.content, received.author.name) == (hello_id, "hello Tzurot", "alice")

            reply_id = await post_as(session, emulator, general.id, "bob", "me too", reply_to=str(hello_id))
            reply = await bot.next_message()
            assert reply.id == reply_id and reply.reference is not None and reply.reference.message_id == hello_id

            webhook = await general.create_webhook(name="Lilith")
            sent = await webhook.send(
                "I am Lilith", username="Lilith (AI)", wait=True, allowed_mentions=discord.AllowedMentions.none()
            )
            echoed = await bot.next_message()
            assert echoed.id == sent.id and echoed.webhook_id == webhook.id
            assert echoed.author.name == "Lilith (AI)" and echoed.content == "I am Lilith"

            own = await general.send("plain bot message", reference=received)
            assert (await bot.next_message()).id == own.id
            assert emulator.violations() == []

    asyncio.run(scenario())
    assert discord.http.Route.BASE == original_base
    assert discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY == original_gateway
    assert isinstance(original_gateway, yarl.URL)


def test_direct_messages_both_ways() -> None:
    async def scenario() -> None:
        async with running() as emulator, discord_bot(emulator) as bot, aiohttp.ClientSession() as session:
            carol = emulator.world.user_named("carol")
            dm = emulator.world.dm_for(carol.id)
            assert dm is not None
            await post_as(session, emulator, dm.id, "carol", "psst")
            received = await bot.next_message()
            assert isinstance(received.channel, discord.DMChannel) and received.content == "psst"
            answer = await received.channel.send("hello carol", file=discord.File(io.BytesIO(b"notes"), "notes.txt"))
            echoed = await bot.next_message()
            assert echoed.id == answer.id and [(a.filename, a.size) for a in echoed.attachments] == [("notes.txt", 5)]
            assert [m.content for m in emulator.messages(dm.id)] == ["psst", "hello carol"]
            assert emulator.violations() == []

    asyncio.run(scenario())


def test_webhook_changes_are_announced_and_resume_replays_missed_events() -> None:
    intents = discord.Intents.none()
    intents.guilds = intents.guild_messages = intents.message_content = intents.webhooks = True

    async def scenario() -> None:
        async with running() as emulator, discord_bot(emulator, intents) as bot, aiohttp.ClientSession() as session:
            general = emulator.world.channel_named("general")
            channel = bot.client.get_channel(general.id)
            assert isinstance(channel, discord.TextChannel)
            await channel.create_webhook(name="Pool 1")
            await wait_for(lambda: bot.events.count("WEBHOOKS_UPDATE") == 1)
            fault = {"kind": "delete_webhooks", "channel_id": str(general.id)}
            assert (await sandbox(session, emulator, "POST", "/faults", json=fault)).status == 200
            await wait_for(lambda: bot.events.count("WEBHOOKS_UPDATE") == 2)
            assert emulator.world.webhooks_in(general.id) == []

            emulator.reconnect_gateway()
            missed = await post_as(session, emulator, general.id, "alice", "while you were away")
            await wait_for(lambda: "RESUMED" in bot.events)
            assert (await bot.next_message()).id == missed
            assert bot.messages.empty() and bot.events.count("READY") == 1

    asyncio.run(scenario())


def test_after_an_outage_discord_py_identifies_anew_and_never_sees_what_was_said_meanwhile() -> None:
    async def scenario() -> None:
        async with running() as emulator, discord_bot(emulator) as bot, aiohttp.ClientSession() as session:
            general = emulator.world.channel_named("general")
            await sandbox(session, emulator, "POST", "/gateway", json={"action": "outage"})
            # Its RESUME is refused, so it IDENTIFYs (discord.py waits 5 s before identifying again).
            await wait_for(lambda: emulator.gateway_state()["waiting"] == 1, timeout=15)
            await post_as(session, emulator, general.id, "alice", "while you were away")
            await sandbox(session, emulator, "POST", "/gateway", json={"action": "restore"})
            await wait_for(lambda: bot.events.count("READY") == 2)
            after = await post_as(session, emulator, general.id, "alice", "welcome back")
            assert (await bot.next_message()).id == after and "RESUMED" not in bot.events
            assert emulator.gateway_state() == {"down": False, "sessions": 1, "connected": 1, "waiting": 0,
                                                "shard_count": 1, "connected_shards": [0]}

    asyncio.run(scenario())


def test_message_content_is_blanked_without_the_intent() -> None:
    intents = discord.Intents.none()
    intents.guilds = intents.guild_messages = True

    async def scenario() -> None:
        async with running() as emulator, discord_bot(emulator, intents) as bot, aiohttp.ClientSession() as session:
            general = emulator.world.channel_named("general")
            await post_as(session, emulator, general.id, "alice", "secret words")
            assert (await bot.next_message()).content == ""
            mention = f"<@{emulator.world.bot_id}> hi"
            await post_as(session, emulator, general.id, "alice", mention)
            assert (await bot.next_message()).content == mention

    asyncio.run(scenario())


def test_typing_edits_and_deletions_reach_the_gateway() -> None:
    intents = default_intents()
    intents.guild_typing = True

    async def scenario() -> None:
        async with running() as emulator, discord_bot(emulator, intents, discord.AutoShardedClient) as bot:
            assert [r.route for r in emulator.requests()][-1] == "/gateway/bot"
            channel = bot.client.get_channel(emulator.world.channel_named("general").id)
            assert isinstance(channel, discord.TextChannel)
            await channel.typing()
            sent = await channel.send("first draft")
            await sent.edit(content="final")
            await sent.delete()
            await wait_for(lambda: "MESSAGE_DELETE" in bot.events)
            assert [e for e in bot.events if e.startswith(("TYPING", "MESSAGE"))] == [
                "TYPING_START",
                "MESSAGE_CREATE",
                "MESSAGE_UPDATE",
                "MESSAGE_DELETE",
            ]
            assert emulator.messages(channel.id) == [] and emulator.violations() == []

    asyncio.run(scenario())
