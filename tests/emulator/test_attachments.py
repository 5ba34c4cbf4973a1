"""Attachments (sandbox uploads, the bot's multipart files, the CDN route, the store's cap) and deletions."""

from __future__ import annotations

import asyncio
import io
import json

import aiohttp
import discord

from emulator.discord import DiscordEmulator, Overwrite, OverwriteType, World, default_world
from emulator.discord.permissions import MANAGE_MESSAGES
from tests.emulator.helpers import call, discord_bot, run_raw, running, sandbox


def _user(emulator: DiscordEmulator, name: str) -> dict[str, str]:
    return {"id": str(emulator.world.user_named(name).id), "username": name}


async def _post(
    session: aiohttp.ClientSession, emulator: DiscordEmulator, channel_id: int, name: str, **body: object
) -> tuple[int, dict]:
    body = {"channel_id": str(channel_id), "author": _user(emulator, name), "content": "", **body}
    reply = await sandbox(session, emulator, "POST", "/messages", json=body)
    return reply.status, reply.body


async def _listed(session: aiohttp.ClientSession, emulator: DiscordEmulator, channel_id: int) -> list[dict]:
    return (await sandbox(session, emulator, "GET", f"/channels/{channel_id}/messages")).body


def test_a_real_client_receives_a_sandbox_attachment_and_reads_it() -> None:
    notes = "line one\nline two ✓\n"

    async def scenario() -> None:
        async with running() as emulator, discord_bot(emulator) as bot, aiohttp.ClientSession() as session:
            general = emulator.world.channel_named("general")
            files = [{"filename": "notes.txt", "content": notes}, {"filename": "data.bin", "content": "x"}]
            files[1]["content_type"] = "application/x-custom"
            status, body = await _post(session, emulator, general.id, "alice", content="see files", attachments=files)
            assert status == 200, body
            received = await bot.next_message()
            assert received.id == int(body["id"]) and received.content == "see files"
            first, second = received.attachments
            assert (first.filename, first.size) == ("notes.txt", len(notes.encode()))
            assert first.content_type == "text/plain; charset=utf-8" and second.content_type == "application/x-custom"
            assert first.url == first.proxy_url and first.url.startswith(emulator.base_url + "/attachments/")
            assert await first.read() == notes.encode() and await second.read() == b"x"
            async with session.get(first.url) as response:
                assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
            async with session.get(first.url.replace("notes.txt", "other.txt")) as response:
                assert response.status == 404

            (listed,) = await _listed(session, emulator, general.id)
            assert [(a["filename"], a["size"], a["content"]) for a in listed["attachments"]] == [
                ("notes.txt", len(notes.encode()), notes),
                ("data.bin", 1, "x"),
            ]
            assert listed["attachments"][0]["url"] == first.url and listed["application_id"] is None
            assert emulator.violations() == []

    asyncio.run(scenario())


def test_sandbox_attachments_are_limited_with_clear_400s() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        general = emulator.world.channel_named("general").id
        five = [{"filename": f"{n}.txt", "content": "x"} for n in range(5)]
        too_big = [{"filename": "big.txt", "content": "x" * (512 * 1024 + 1)}]
        just_fits = [{"filename": "fits.txt", "content": "x" * 512 * 1024}]
        cases = [
            (five, "at most 4 attachments"),
            (too_big, "at most 524288 allowed"),
            ([{"filename": "a/b.txt", "content": "x"}], "without slashes"),
            ([{"filename": "a.txt", "content": 5}], "content must be a string"),
            ([{"filename": "a.txt", "content": "x", "content_type": "plain"}], "MIME type"),
            ({"filename": "a.txt"}, "must be a list"),
        ]
        for attachments, wording in cases:
            status, body = await _post(session, emulator, general, "bob", attachments=attachments)
            assert status == 400 and wording in body["error"], (wording, body)
        assert await _listed(session, emulator, general) == []
        status, _ = await _post(session, emulator, general, "bob", attachments=just_fits)
        assert status == 200
        (listed,) = await _listed(session, emulator, general)
        assert listed["attachments"][0]["size"] == 512 * 1024 and listed["attachments"][0]["content"] is None

    run_raw(scenario)


def test_the_bots_multipart_files_are_stored_and_served() -> None:
    export = json.dumps({"personality": "Lilith", "memories": ["a", "b"]}).encode()

    async def scenario() -> None:
        async with running() as emulator, discord_bot(emulator) as bot, aiohttp.ClientSession() as session:
            channel = bot.client.get_channel(emulator.world.channel_named("general").id)
            assert isinstance(channel, discord.TextChannel)
            sent = await channel.send("your export", file=discord.File(io.BytesIO(export), "lilith.json"))
            (attachment,) = sent.attachments
            assert attachment.content_type == "application/json; charset=utf-8" and attachment.size == len(export)
            assert await attachment.read() == export
            echoed = await bot.next_message()
            assert echoed.id == sent.id and await echoed.attachments[0].read() == export

            webhook = await channel.create_webhook(name="Pool")
            posted = await webhook.send("hook file", file=discord.File(io.BytesIO(b"\x00\xff"), "raw.bin"), wait=True)
            assert await posted.attachments[0].read() == b"\x00\xff"
            assert posted.attachments[0].content_type == "application/octet-stream"

            listed = await _listed(session, emulator, channel.id)
            assert listed[0]["attachments"][0]["content"] == export.decode()
            assert listed[1]["attachments"][0]["content"] is None  # not UTF-8 text
            assert emulator.violations() == []

    asyncio.run(scenario())


def test_the_file_store_forgets_the_oldest_files_past_its_cap() -> None:
    world = World(file_cap=16)
    guild = world.add_guild("Small", owner_id=world.add_user("ann").id)
    channel = world.add_channel(guild.id, "only")

    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        for name in ("one", "two", "three"):
            files = [{"filename": f"{name}.txt", "content": name * 2}]
            status, _ = await _post(session, emulator, channel.id, "ann", attachments=files)
            assert status == 200
        listed = await _listed(session, emulator, channel.id)
        assert [m["attachments"][0]["content"] for m in listed] == [None, "twotwo", "threethree"]
        assert world.files.total == 16 and len(world.files) == 2
        async with session.get(listed[0]["attachments"][0]["url"]) as response:
            assert response.status == 404
        async with session.get(listed[2]["attachments"][0]["url"]) as response:
            assert response.status == 200 and await response.read() == b"threethree"

    run_raw(scenario, world)


def test_deleting_other_peoples_messages_follows_discord() -> None:
    world = default_world()
    general, help_channel = world.channel_named("general"), world.channel_named("help")

    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        async def delete(channel_id: int, message_id: int) -> tuple[int, object]:
            reply = await call(session, emulator, "DELETE", f"/channels/{channel_id}/messages/{message_id}")
            return reply.status, reply.body if reply.status != 204 else None

        _, alice_says = await _post(session, emulator, general.id, "alice", content="in general")
        assert await delete(general.id, int(alice_says["id"])) == (204, None)
        hook = (await call(session, emulator, "POST", f"/channels/{general.id}/webhooks", json={"name": "P"})).body
        execute = f"/webhooks/{hook['id']}/{hook['token']}"
        said = await call(session, emulator, "POST", execute, json={"content": "w"}, params={"wait": "true"})
        assert await delete(general.id, int(said.body["id"])) == (204, None)
        assert emulator.messages(general.id) == []

        guild_id = help_channel.guild_id
        assert guild_id is not None
        deny = Overwrite(world.bot_id, OverwriteType.MEMBER, deny=MANAGE_MESSAGES)
        world.set_overwrite(help_channel.id, deny)
        _, bob_says = await _post(session, emulator, help_channel.id, "bob", content="in help")
        status, body = await delete(help_channel.id, int(bob_says["id"]))
        assert status == 403 and isinstance(body, dict) and body["code"] == 50013
        own = await call(session, emulator, "POST", f"/channels/{help_channel.id}/messages", json={"content": "mine"})
        assert (await delete(help_channel.id, int(own.body["id"])))[0] == 204

        dm = world.dm_for(world.user_named("carol").id)
        assert dm is not None
        _, carol_says = await _post(session, emulator, dm.id, "carol", content="psst")
        status, body = await delete(dm.id, int(carol_says["id"]))
        assert status == 403 and isinstance(body, dict) and body["code"] == 50003
        assert [m.content for m in emulator.messages(dm.id)] == ["psst"]
        mine = await call(session, emulator, "POST", f"/channels/{dm.id}/messages", json={"content": "hello"})
        assert (await delete(dm.id, int(mine.body["id"])))[0] == 204
        assert [m.content for m in emulator.messages(dm.id)] == ["psst"]

    run_raw(scenario, world)
