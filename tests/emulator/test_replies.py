"""Replies as Discord sends them (`message_reference` + `referenced_message`), and as the edge reads them."""

from __future__ import annotations

import asyncio

import aiohttp
import discord

from edge.routing import RoutingTable
from edge.translate import outline_of
from emulator.discord import World, default_world
from emulator.discord.models import Message
from emulator.discord.openapi import load_spec
from emulator.discord.payloads import message_payload
from tests.emulator.helpers import discord_bot, running, sandbox

MESSAGE = {"$ref": "#/components/schemas/MessageResponse"}


def _put(world: World, channel_id: int, content: str, reply_to: int | None = None) -> Message:
    channel = world.channels[channel_id]
    message = Message(world.ids.next(), channel_id, world.user_named("alice"), content, channel.guild_id,
                      reply_to=reply_to)
    world.put_message(message)
    return message


def test_a_reply_carries_the_replied_to_message_as_discord_sends_it() -> None:
    world, spec = default_world(), load_spec()
    general = world.channel_named("general").id
    dm = world.dm_for(world.user_named("alice").id)
    assert dm is not None
    for channel_id in (general, dm.id):
        first = _put(world, channel_id, "first")
        second = _put(world, channel_id, "second", reply_to=first.id)
        third = _put(world, channel_id, "third", reply_to=second.id)
        payload = message_payload(world, third)
        assert spec.validator.validate(MESSAGE, payload) == []
        assert payload["type"] == 19 and payload["message_reference"]["message_id"] == str(second.id)
        assert ("guild_id" in payload["message_reference"]) == (channel_id == general)  # never null in a DM
        nested = payload["referenced_message"]
        assert (nested["id"], nested["content"], nested["author"]["id"]) == (str(second.id), "second",
                                                                              str(second.author.id))
        # One level deep: the replied-to message says what it replied to, not the message itself.
        assert nested["message_reference"]["message_id"] == str(first.id) and "referenced_message" not in nested

        world.remove_message(channel_id, second.id)
        gone = message_payload(world, third)
        assert "referenced_message" in gone and gone["referenced_message"] is None  # deleted: null, not left out
        assert spec.validator.validate(MESSAGE, gone) == []


def test_the_edge_reads_who_wrote_the_replied_to_message() -> None:
    async def post(session: aiohttp.ClientSession, emulator, channel_id: int, name: str, content: str,
                   reply_to: int | None = None) -> None:
        user = emulator.world.user_named(name)
        body = {"channel_id": str(channel_id), "author": {"id": str(user.id), "username": name}, "content": content}
        if reply_to is not None:
            body["reply_to"] = str(reply_to)
        assert (await sandbox(session, emulator, "POST", "/messages", json=body)).status == 200

    async def scenario() -> None:
        async with running() as emulator, discord_bot(emulator) as bot, aiohttp.ClientSession() as session:
            client = bot.client
            assert client.user is not None
            table = RoutingTable(bot_id=client.user.id, application_id=client.application_id)
            general = client.get_channel(emulator.world.channel_named("general").id)
            assert isinstance(general, discord.TextChannel)

            await post(session, emulator, general.id, "alice", "nice weather")
            human = await bot.next_message()
            await post(session, emulator, general.id, "bob", "indeed", reply_to=human.id)
            to_human = outline_of(await bot.next_message(), client.user)
            assert (to_human.is_reply, to_human.reply_resolved) == (True, True)
            assert to_human.reply_author_id == human.author.id
            assert table.decide(to_human) == "chatter"

            # A personality speaks through a webhook of the bot's application (not yet in the table: still ours).
            hook = await general.create_webhook(name="Tzurot")
            spoken = await hook.send("I am Lilith", username="Lilith", wait=True)
            await bot.next_message()
            await post(session, emulator, general.id, "carol", "tell me more", reply_to=spoken.id)
            to_webhook = outline_of(await bot.next_message(), client.user)
            assert (to_webhook.reply_webhook_id, to_webhook.reply_application_id) == (hook.id, client.application_id)
            assert table.decide(to_webhook) is None

            # Without webhooks the bot speaks as itself.
            own = await general.send("**Lilith:** hello")
            await bot.next_message()
            await post(session, emulator, general.id, "carol", "and you?", reply_to=own.id)
            to_bot = outline_of(await bot.next_message(), client.user)
            assert to_bot.reply_author_id == client.user.id and table.decide(to_bot) is None
            assert emulator.violations() == []

    asyncio.run(scenario())
